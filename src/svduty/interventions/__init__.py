"""The interventions catalogue: what a partnership does, where, for whom, and on what evidence.

    from svduty import interventions
    with svduty.open("my-area") as ws:
        interventions.import_catalogue(ws, "catalogue.xlsx")
        interventions.end(ws, "CLIMB", "2026-03-31")
        frame = interventions.catalogue(ws)      # typed columns, one row per intervention

See `model` (the fields), `layout` (the spreadsheet and its checks), `evidence` (the YEF
Toolkit list) and `store` (versions and audit).
"""

from importlib import import_module
from typing import Any

_WHERE: dict[str, str] = {
    **dict.fromkeys(
        ("CatalogueProblems", "Imported", "add", "check_file", "edit", "end", "export",
         "import_catalogue"),
        "api",
    ),
    "Approach": "evidence", "approaches": "evidence",
    "Funding": "model", "Intervention": "model",
    **dict.fromkeys(("catalogue", "current", "get", "history"), "store"),
}  # fmt: skip
"""Where each public name lives: loaded on first use, so the command line starts without the
engine (the catalogue's store imports Ibis)."""


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)


__all__ = [
    "Approach",
    "CatalogueProblems",
    "Funding",
    "Imported",
    "Intervention",
    "add",
    "approaches",
    "catalogue",
    "check_file",
    "current",
    "edit",
    "end",
    "export",
    "get",
    "history",
    "import_catalogue",
]
