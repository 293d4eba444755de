"""Published tables drawn as HTML, hidden cells shown as [c] as the ONS marks them."""

from __future__ import annotations

import pandas as pd
from markupsafe import Markup, escape


def html_table(frame: pd.DataFrame) -> Markup:
    """A published table; hidden cells read [c] as the ONS marks them."""
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if value is None or (isinstance(value, float) and pd.isna(value)):
                cells.append('<td class="n" title="suppressed">[c]</td>')
            elif isinstance(value, float):
                cells.append(f'<td class="n">{value:,.2f}</td>')
            elif isinstance(value, int):
                cells.append(f'<td class="n">{value:,}</td>')
            else:
                cells.append(f"<td>{escape(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
