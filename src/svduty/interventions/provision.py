"""The gap analysis of a workspace: its published assessment read as need, its catalogue as
provision, and its places to join them. What the CLI, the report and the dashboard show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from svduty.analysis.assessment import Selection
from svduty.errors import InputError
from svduty.interventions.gaps import Finding, Geography, gaps
from svduty.interventions.model import Intervention
from svduty.interventions.need import NeedMethod, Needs, needs
from svduty.interventions.store import current
from svduty.publish import Policy, Publication
from svduty.reference.places import places
from svduty.workspace import Workspace


@dataclass(frozen=True)
class Provision:
    needs: Needs
    findings: list[Finding]
    catalogue: list[Intervention]
    as_of: date
    hotspots: str  # how hotspot presence was read, or why it was not
    where: Geography

    def table(self) -> pd.DataFrame:
        """One row a finding, gaps first."""
        return pd.DataFrame([f.row() for f in self.findings], columns=list(COLUMNS))


COLUMNS = (
    "kind", "area", "theme", "cohort", "level", "score", "per_year", "rate", "ratio", "change",
    "interventions", "sentence",
)  # fmt: skip


def provision(
    ws: Workspace,
    selection: Selection,
    policy: Policy,
    as_of: date | None = None,
    pubs: dict[str | None, Publication] | None = None,
) -> Provision:
    """Need from the published set of `selection` (made when not given), gaps against the
    catalogue current on `as_of` (today by default)."""
    from svduty.sna import publications

    as_of = as_of or date.today()
    pubs = pubs if pubs is not None else publications(ws, selection, policy, ws.weights())
    hot, how = hot_lsoas(ws, selection, policy)
    found = needs(pubs, NeedMethod.of(ws.settings.need), hot, residents_by_age(ws))
    catalogue = current(ws)
    area = found.area
    where = Geography.of(area, _partnership_places(ws), ws.settings.forces)
    return Provision(found, gaps(found, catalogue, where, as_of), catalogue, as_of, how, where)


def residents_by_age(ws: Workspace) -> dict[tuple[str, str], int]:
    """Residents of each area (each CSP and the whole area) in each age band, from the file
    the setting `population_by_age` names; a band the file cannot give exactly is left out
    (its rates are then per resident of all ages, as the sentences say)."""
    from svduty.analysis.assessment import csp_districts
    from svduty.analysis.measure_series import population_by_age
    from svduty.vocabulary import COHORTS

    table = population_by_age(ws.store)
    if table is None:
        return {}
    groups = csp_districts(ws.store, ws.settings, None)
    groups[ws.settings.area or "the whole area"] = tuple(
        code for codes in groups.values() for code in codes
    )
    found: dict[tuple[str, str], int] = {}
    for area, districts in groups.items():
        for cohort, _, low, high in COHORTS:
            if low is None or high is None:
                continue
            try:
                residents, _ = table.residents(districts, low, high)
            except InputError:
                continue  # a band across the cohort's edge: all ages instead
            if residents:
                found[(area, cohort)] = residents
    return found


def _partnership_places(ws: Workspace) -> pd.DataFrame:
    frame = places(ws.store)
    if ws.settings.csps:
        frame = frame[frame["csp_name"].isin(list(ws.settings.csps))]
    return frame


NO_LSOA_HOTSPOTS = (
    "hotspots not scored: no 2021 LSOA boundaries for LSOA hotspots (set `boundaries` in "
    "svduty.toml or run `svduty fetch boundaries`)"
)


def hot_lsoas(
    ws: Workspace, selection: Selection, policy: Policy
) -> tuple[dict[str, int] | None, str]:
    """Hot LSOAs (95 % and 99 %) of all serious violence in each CSP, from the whole area's
    LSOA hotspots; None, with the reason, when there are none to read."""
    from svduty.analysis.assessment import lsoa_vintage_reason
    from svduty.sna import places as hotspots_of

    if lsoa_vintage_reason(ws.boundaries()) is not None:  # no 2021 LSOAs: nothing to run
        return None, NO_LSOA_HOTSPOTS
    try:
        found = hotspots_of(ws, selection.for_area(None), policy, ws.weights())
    except InputError as error:
        return None, f"hotspots not assessed: {error}"
    if not found.has("hotspots", "lsoas_hot"):
        return None, NO_LSOA_HOTSPOTS
    hot = found.table("hotspots", "lsoas_hot")
    csp_of = places(ws.store).drop_duplicates("lsoa_code").set_index("lsoa_code")["csp_name"]
    counted = hot["LSOA"].map(csp_of).value_counts()
    return {str(k): int(v) for k, v in counted.items()}, "95 % and 99 % LSOA hotspots (Gi*)"
