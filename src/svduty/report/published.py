"""Published tables drawn as HTML: headings and values in words from the vocabulary, hidden
cells shown as [c] as the ONS marks them, cells of a row whose coverage is "no data" as no data
(a gap, not a zero and not a hidden count)."""

from __future__ import annotations

import numbers
import re

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from svduty.vocabulary import NO_DATA, PERCENT, POINTS, heading, label

SHORT = 15
"""Tables of this many rows or fewer are not split across pages."""


def prose(text: str) -> Markup:
    """A sentence written for the command line as HTML: `commands` and settings in code type,
    and a full stop at the end."""
    escaped = str(escape(text.strip()))
    if escaped and escaped[-1] not in ".?!:":
        escaped += "."
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


def html_table(frame: pd.DataFrame) -> Markup:
    """A published table; hidden cells read [c], cells with no data read "no data"."""
    head = "".join(f"<th>{escape(heading(str(c)))}</th>" for c in frame.columns)
    coverage = list(frame["coverage"]) if "coverage" in frame.columns else [None] * len(frame)
    body = []
    for row, covered in zip(frame.itertuples(index=False), coverage, strict=True):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            if _missing(value) and covered == NO_DATA:
                cells.append('<td class="n gap">no data</td>')
            elif _missing(value):
                cells.append('<td class="n" title="suppressed">[c]</td>')
            elif isinstance(value, bool | np.bool_):
                cells.append(f"<td>{'yes' if value else 'no'}</td>")
            elif isinstance(value, numbers.Real):
                figure = int(value) if isinstance(value, numbers.Integral) else float(value)
                cells.append(f'<td class="n">{number(str(column), figure)}</td>')
            else:
                cells.append(f"<td>{escape(label(str(column), str(value)))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    # a short table is kept on one page (a long one repeats its headings on the next)
    short = ' class="short"' if len(frame) <= SHORT else ""
    return Markup(
        f"<table{short}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def number(column: str, value: int | float) -> str:
    """A figure as a reader sees it: shares as percentages, differences of shares in points,
    p-values to the precision they have, whole numbers with thousands separators; never -0."""
    if column in PERCENT:
        text = f"{value:.0%}" if value == 0 or abs(value) >= 0.01 else f"{value:.1%}"
    elif column in POINTS:
        text = f"{100 * value:+.0f}"
    elif column == "p_value":
        text = "<0.001" if value < 0.001 else f"{value:.3f}" if value < 0.01 else f"{value:.2f}"
    elif isinstance(value, int) or (value.is_integer() and abs(value) >= 1000):
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.2f}"
    return plain_zero(text)


def plain_zero(text: str) -> str:
    """ "-0.00", "+0" or "-0%" as the zero it is."""
    return text[1:] if re.fullmatch(r"[-+−]0+(\.0+)?%?", text) else text


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))
