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
    found = needs(pubs, NeedMethod.of(ws.settings.need), hot)
    catalogue = current(ws)
    area = found.area
    where = Geography.of(area, _partnership_places(ws), ws.settings.forces)
    return Provision(found, gaps(found, catalogue, where, as_of), catalogue, as_of, how, where)


def _partnership_places(ws: Workspace) -> pd.DataFrame:
    frame = places(ws.store)
    if ws.settings.csps:
        frame = frame[frame["csp_name"].isin(list(ws.settings.csps))]
    return frame


def hot_lsoas(
    ws: Workspace, selection: Selection, policy: Policy
) -> tuple[dict[str, int] | None, str]:
    """Hot LSOAs (95 % and 99 %) of all serious violence in each CSP, from the whole area's
    LSOA hotspots; None, with the reason, when there are none to read."""
    from svduty.sna import places as hotspots_of

    try:
        found = hotspots_of(ws, selection.for_area(None), policy, ws.weights())
    except InputError as error:
        return None, f"hotspots not assessed: {error}"
    if not found.has("hotspots", "lsoas_hot"):
        return None, (
            "hotspots not scored: no 2021 LSOA boundaries for LSOA hotspots (set `boundaries` "
            "in svduty.toml or run `svduty fetch boundaries`)"
        )
    hot = found.table("hotspots", "lsoas_hot")
    csp_of = places(ws.store).drop_duplicates("lsoa_code").set_index("lsoa_code")["csp_name"]
    counted = hot["LSOA"].map(csp_of).value_counts()
    return {str(k): int(v) for k, v in counted.items()}, "95 % and 99 % LSOA hotspots (Gi*)"
