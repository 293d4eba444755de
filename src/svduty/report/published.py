"""Published tables drawn as HTML: hidden cells shown as [c] as the ONS marks them, cells of a
row whose coverage is "no data" as no data (a gap, not a zero and not a hidden count)."""

from __future__ import annotations

import pandas as pd
from markupsafe import Markup, escape

from svduty.vocabulary import NO_DATA


def html_table(frame: pd.DataFrame) -> Markup:
    """A published table; hidden cells read [c], cells with no data read "no data"."""
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    coverage = list(frame["coverage"]) if "coverage" in frame.columns else [None] * len(frame)
    body = []
    for row, covered in zip(frame.itertuples(index=False), coverage, strict=True):
        cells = []
        for value in row:
            if _missing(value) and covered == NO_DATA:
                cells.append('<td class="n gap">no data</td>')
            elif _missing(value):
                cells.append('<td class="n" title="suppressed">[c]</td>')
            elif isinstance(value, float):
                cells.append(f'<td class="n">{value:,.2f}</td>')
            elif isinstance(value, int):
                cells.append(f'<td class="n">{value:,}</td>')
            else:
                cells.append(f"<td>{escape(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))
