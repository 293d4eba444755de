"""What a report publishes: every table after disclosure control, kept by section for
summary.json, and drawn as HTML with hidden cells shown as [c]."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from markupsafe import Markup, escape

from svduty.disclosure import control


@dataclass
class Published:
    """Every table shown, after disclosure control, keyed by section."""

    threshold: int
    unsuppressed: bool
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    count_columns: dict[str, list[str]] = field(default_factory=dict)  # "section/name" -> counts

    def table(
        self,
        section: str,
        name: str,
        frame: pd.DataFrame,
        counts: list[str],
        derived: dict[str, str] | None = None,
    ) -> pd.DataFrame:
        if self.unsuppressed:
            shown = frame.astype(object).where(frame.notna(), None)
        else:
            shown = control(
                frame.reset_index(drop=True), counts, self.threshold, derived=derived
            ).values
        self.sections.setdefault(section, {})[name] = records(shown)
        self.count_columns[f"{section}/{name}"] = list(counts)
        return shown

    def figure(self, section: str, name: str, value: Any) -> Any:
        self.sections.setdefault(section, {})[name] = value
        return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if v is None or (isinstance(v, float) and pd.isna(v)):
                clean[str(k)] = None
            elif hasattr(v, "item"):
                clean[str(k)] = v.item()
            else:
                clean[str(k)] = v
        out.append(clean)
    return out


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
