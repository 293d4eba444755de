"""The gap analysis as tables of one report: what the SNA's "Interventions and gaps" section
and the summary JSON show. Every figure in them is read from published cells, so they need no
control of their own; a CSP's report keeps its own area's rows only."""

from __future__ import annotations

from typing import Any

import pandas as pd

from svduty.interventions.gaps import GAP_KINDS, age_words, covers, evidence_words, need_rows
from svduty.interventions.gaps_map import cover_rows
from svduty.interventions.provision import COLUMNS, Provision
from svduty.publish import Publication
from svduty.publish.tables import Table, note

NEED_SHOWN = [
    "theme_name", "cohort_name", "count", "per_year", "rate", "ratio", "change", "level", "score",
    "reasons",
]  # fmt: skip


def add_gaps(pub: Publication, found: Provision, csp: str | None) -> None:
    """The report's gaps, need, interventions and map rows, for the whole area (`csp` None:
    every area's gaps) or one CSP (its own)."""
    area = csp or found.needs.area
    findings = found.table()
    if csp is not None:
        findings = findings[findings["area"] == csp]
    needs = found.needs.frame
    shown = [c for c in NEED_SHOWN if c != "ratio" or csp is not None]  # the whole area's is 1
    mine = needs[needs["area"] == area][shown].rename(
        columns={"theme_name": "theme", "cohort_name": "cohort"}
    )
    top = findings[findings["kind"].isin(GAP_KINDS)].head(1)
    theme, cohort = ("all", "all_ages")
    if len(top):
        row = needs[
            (needs["theme_name"] == top["theme"].iloc[0])
            & (needs["cohort_name"] == top["cohort"].iloc[0])
        ]
        theme, cohort = str(row["theme"].iloc[0]), str(row["cohort"].iloc[0])
    drawn = cover_rows(found, theme, cohort)
    if csp is not None:
        drawn = drawn[drawn["area"] == csp]
    serving = [i for i in found.catalogue if _serves(found, i, area)]
    about: dict[str, Any] = {
        "area": area,
        "definition": found.needs.definition,
        "period": found.needs.period,
        "as_of": found.as_of.isoformat(),
        "hotspots": found.hotspots,
        "method": found.needs.method.rules(),
        "catalogue": len(found.catalogue),
        "unplaced_ages": found.needs.unplaced_ages.get(area),
    }
    for table in (
        note("gaps", "about", about),
        Table("gaps", "findings", findings.reset_index(drop=True)[list(COLUMNS)]),
        Table("gaps", "needs", mine.reset_index(drop=True), counts=["count"]),
        Table("gaps", "interventions", _interventions(found, serving, area)),
        Table("gaps", "map", drawn.reset_index(drop=True)),
    ):
        pub.add(table)


def with_gaps(
    ws: Any, selection: Any, policy: Any, pubs: dict[str | None, Publication]
) -> dict[str | None, Publication]:
    """A published set with each report's gap tables (and its outlines, for the map) added to
    a copy of it: what the dashboard shows beside the other pages."""
    from svduty.analysis.assessment import csp_districts
    from svduty.interventions.provision import provision
    from svduty.spatial.maps import outlines

    if not all(pub.has("need", "all") for pub in pubs.values()):
        return pubs
    found = provision(ws, selection.for_area(None), policy, pubs=pubs)
    boundaries = ws.boundaries()
    out: dict[str | None, Publication] = {}
    for csp, pub in pubs.items():
        copy = Publication(
            pub.id, pub.policy, dict(pub.tables), dict(pub.count_columns), pub.provenance,
            dict(pub.extras), pub.primary, pub.secondary, pub.unprotected,
        )  # fmt: skip
        add_gaps(copy, found, csp)
        if boundaries is not None and "outlines" not in copy.extras:
            copy.extras["outlines"] = outlines(
                boundaries, csp_districts(ws.store, ws.settings, csp)
            )
        out[csp] = copy
    return out


def _serves(found: Provision, item: Any, area: str) -> bool:
    """Whether an intervention serves any part of the area (whatever its ages or themes)."""
    return found.where.serves(item.areas, area) is not None


def _interventions(found: Provision, items: list[Any], area: str) -> pd.DataFrame:
    from svduty.interventions.gaps import state

    rows = []
    for item in items:
        status, words = state(item, found.as_of)
        covered = sum(
            1
            for need in need_rows(found.needs)
            if need["area"] == area
            and (c := covers(item, need, found.where, found.as_of))
            and c.state == "running"
        )
        band, _ = evidence_words(item)
        rows.append(
            {
                "intervention": item.name,
                "tier": item.tier,
                "ages": age_words(item).removeprefix("ages "),
                "themes": ", ".join(t.replace("_", " ") for t in item.themes) or "any",
                "where": found.where.words(item.areas),
                "state": words,
                "capacity_per_year": item.capacity_per_year,
                "evidence": band or "none recorded",
                "needs_covered": covered if status == "running" else 0,
                "illustrative": ", ".join(f.replace("_", " ") for f in item.illustrative),
            }
        )
    return pd.DataFrame(rows, columns=INTERVENTION_COLUMNS)


INTERVENTION_COLUMNS = [
    "intervention", "tier", "ages", "themes", "where", "state", "capacity_per_year", "evidence",
    "needs_covered", "illustrative",
]  # fmt: skip
