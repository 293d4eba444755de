"""The interventions catalogue: what a partnership does, where, for whom, and on what evidence.

    from svduty import interventions
    with svduty.open("my-area") as ws:
        interventions.import_catalogue(ws, "catalogue.xlsx")
        interventions.end(ws, "CLIMB", "2026-03-31")
        frame = interventions.catalogue(ws)      # typed columns, one row per intervention

See `model` (the fields), `layout` (the spreadsheet and its checks), `evidence` (the YEF
Toolkit list) and `store` (versions and audit).
"""

from svduty.interventions.api import (
    CatalogueProblems,
    Imported,
    add,
    check_file,
    edit,
    end,
    export,
    import_catalogue,
)
from svduty.interventions.evidence import Approach, approaches
from svduty.interventions.model import Funding, Intervention
from svduty.interventions.store import catalogue, current, get, history

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
