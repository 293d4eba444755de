"""The cohort in aggregate: how many members, of how many people with a record counted (by
source), by age band and by factor, for the whole area and each CSP, through the project's
disclosure control. The only form of the cohort that may be published.

The whole area's report and each CSP's are controlled together (as the SNA's are), so no count
from 1 to threshold - 1 is shown, and no hidden cell can be worked out from a table's other
cells, its total, or the whole area as the sum of its CSPs and of members placed in none.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from svduty.linkage.cohort import UNKNOWN, Cohort
from svduty.publish import Draft, Policy, Publication, publish
from svduty.publish.tables import Table
from svduty.vocabulary import AGE_BANDS

SECTION = "cohort"
OF = (
    "members are of the people with any record counted in the period (table people: in any "
    "source, then in each; a person in several sources is counted in each)"
)
MEMBERS = "members"  # the total the members figure and the age bands share


def publications(cohort: Cohort, area: str, csps: list[str], policy: Policy) -> list[Publication]:
    """The whole area's publication (first) and each CSP's, controlled together."""
    drafts = [_draft(cohort, area, None)]
    drafts += [_draft(cohort, csp, csp) for csp in csps]
    return publish(drafts, policy)


def _draft(cohort: Cohort, name: str, csp: str | None) -> Draft:
    members = cohort.members
    if csp is not None:
        members = members[members["area"] == csp]
    bands = [label for _, _, label in AGE_BANDS] + [UNKNOWN]
    by_band = members["age_band"].value_counts()
    ages = pd.DataFrame({"age_band": bands, "count": [int(by_band.get(b, 0)) for b in bands]})
    factors = pd.DataFrame(
        {
            "factor": [f.name for f in cohort.factors],
            "count": [int(members[f"{f.id}_met"].fillna(False).astype(bool).sum())
                      for f in cohort.factors],
        }
    )  # fmt: skip
    counted = cohort.people_by_source(csp)
    people = pd.DataFrame({"source": list(counted), "count": list(counted.values())})
    tables = [
        Table(SECTION, "people", people, key=["source"], counts=["count"]),
        Table(
            SECTION,
            "members",
            pd.DataFrame({"value": [len(members)]}),
            counts=["value"],
            total=MEMBERS,
        ),
        Table(SECTION, "age_bands", ages, key=["age_band"], counts=["count"], total=MEMBERS),
        Table(SECTION, "factors", factors, key=["factor"], counts=["count"]),
    ]
    provenance: dict[str, Any] = {
        "area": name,
        "csp": csp,
        "period": f"{cohort.first_month} to {cohort.last_month}",
        "definition": cohort.definition,
        "rules": cohort.thresholds(),
        "of": OF,
        "person": f"one person is one {cohort.person}",
        "synthetic": bool(cohort.members["synthetic"].any()) if len(cohort.members) else False,
    }
    return Draft(name, tables, provenance)


ABOUT = ("period", "definition", "synthetic")
"""What each row of the long table carries of its publication's provenance."""


def summary(publication: Publication) -> dict[str, Any]:
    """A publication as its JSON: the figures (hidden ones as null), which columns are counts,
    and what they are about."""
    return {
        "area": publication.id,
        "sections": publication.sections(),
        "count_columns": publication.count_columns,
        "provenance": publication.provenance,
        "suppressed": {"primary": publication.primary, "secondary": publication.secondary},
    }


def long_table(pubs: list[Publication]) -> pd.DataFrame:
    """Every published figure as one row: area, table, category, count (None when hidden),
    with the period, definition and whether the records were synthetic, so a table copied
    elsewhere still says what it counts."""
    rows = []
    for pub in pubs:
        about = {key: pub.provenance[key] for key in ABOUT}
        figures = _rows(pub, "people", "source")
        figures.append(("members", "all members", pub.value(SECTION, "members")))
        figures += _rows(pub, "age_bands", "age_band") + _rows(pub, "factors", "factor")
        for table, category, count in figures:
            shown = None if count is None or pd.isna(count) else int(count)
            rows.append({"area": pub.id, "table": table, "category": category, "count": shown,
                         **about})  # fmt: skip
    frame = pd.DataFrame(rows, columns=["area", "table", "category", "count", *ABOUT], dtype=object)
    return frame.astype({"count": "Int64"})


def _rows(pub: Publication, name: str, column: str) -> list[tuple[str, Any, Any]]:
    frame = pub.table(SECTION, name)
    return [(name, c, n) for c, n in zip(frame[column], frame["count"], strict=True)]
