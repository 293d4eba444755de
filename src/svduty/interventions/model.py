"""One intervention of a partnership's catalogue, and the fixed vocabularies its fields use.

The vocabularies are closed lists so that a catalogue can be joined to the data: a theme is one
of the definitions' markers or the SNA's themes (`svduty.vocabulary.MARKERS`,
`svduty.analysis.themes.THEMES`), a role is how a person stands to violence, and an area is a
force, a CSP or a code of the bundled reference areas. Text given by a person is normalised
(lower case; spaces and hyphens become underscores) so that "Night-time economy" and
"night_time_economy" name the same theme.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from typing import Any

TIERS: tuple[str, ...] = ("primary", "secondary", "tertiary", "enforcement")
"""Primary prevention (everyone), secondary (those at risk), tertiary (those already involved),
or enforcement."""

STATUSES: tuple[str, ...] = ("planned", "running", "ended")
SEXES: tuple[str, ...] = ("any", "female", "male")
ROLES: tuple[str, ...] = ("victim", "perpetrator", "at_risk", "family", "community")
SETTINGS: tuple[str, ...] = ("school", "a_and_e", "custody", "community", "online", "other")
THEMES: tuple[str, ...] = (
    "knife", "firearm", "corrosive", "weapon_enabled", "domestic_abuse", "sexual_violence",
    "exploitation", "county_lines", "modern_slavery", "hate", "alcohol", "night_time_economy",
    "public_place", "intimidation", "youth",
)  # fmt: skip
"""The definitions' markers (knife, firearm, corrosive, domestic abuse, county lines, modern
slavery, hate, alcohol, night-time economy, intimidation), the SNA's themes (weapon-enabled,
sexual violence, public place, youth) and exploitation (criminal and sexual exploitation of
children, which no marker records on its own)."""

ALIASES: dict[str, str] = {
    "a&e": "a_and_e", "ae": "a_and_e", "emergency_department": "a_and_e",
    "nte": "night_time_economy", "at-risk": "at_risk", "offender": "perpetrator",
    "knife_crime": "knife", "da": "domestic_abuse", "vawg": "sexual_violence",
    "cce": "exploitation", "cse": "exploitation", "all": "any", "both": "any",
}  # fmt: skip
"""Words partnerships use for a vocabulary term."""

MAX_AGE = 120


def term(text: str) -> str:
    """A vocabulary term as stored: lower case, spaces and hyphens as underscores, aliases
    resolved."""
    key = text.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    key = re.sub(r"[\s\-]+", "_", key)
    return ALIASES.get(key, key)


@dataclass(frozen=True)
class Funding:
    """One funded period of an intervention: who pays, from and to (inclusive)."""

    source: str
    start: date | None
    end: date | None

    def overlaps(self, other: Funding) -> bool:
        low, high = date.min, date.max
        return (self.start or low) <= (other.end or high) and (other.start or low) <= (
            self.end or high
        )


@dataclass(frozen=True)
class Intervention:
    """What a partnership does, where and for whom, and the evidence for it.

    `areas` holds force names, CSP names, district (local authority) codes or LSOA codes;
    `yef_approach` names an approach of the bundled YEF Toolkit list (its band is looked up,
    never stored, so a corrected list corrects every intervention); `evaluation_url` a local
    evaluation. `illustrative` names fields whose values are invented (the example's)."""

    id: str
    name: str
    provider: str = ""
    description: str = ""
    tier: str = "secondary"
    age_min: int | None = None
    age_max: int | None = None
    sex: str = "any"
    roles: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    setting: tuple[str, ...] = ()
    referral: str = ""
    capacity_per_year: int | None = None
    cost_per_year: float | None = None
    funding: tuple[Funding, ...] = ()
    status: str = "running"
    ended_on: date | None = None
    yef_approach: str = ""
    evaluation_url: str = ""
    contact: str = ""
    notes: str = ""
    illustrative: tuple[str, ...] = field(default=())

    def record(self) -> dict[str, Any]:
        """The fields as plain values (funding as a list of dicts): what is stored and diffed."""
        found = asdict(self)
        found["funding"] = [
            {"source": f.source, "start": _iso(f.start), "end": _iso(f.end)} for f in self.funding
        ]
        found["ended_on"] = _iso(self.ended_on)
        for name in LIST_FIELDS:
            found[name] = list(found[name])
        return found

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Intervention:
        values = {f.name: record[f.name] for f in fields(cls) if f.name in record}
        for name in LIST_FIELDS:
            values[name] = tuple(values.get(name) or ())
        values["funding"] = tuple(
            Funding(f["source"] or "", _date(f["start"]), _date(f["end"]))
            for f in values.get("funding") or ()
        )
        values["ended_on"] = _date(values.get("ended_on"))
        return cls(**values)


LIST_FIELDS: tuple[str, ...] = ("roles", "themes", "areas", "setting", "illustrative")
FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Intervention))


def changes(old: Intervention | None, new: Intervention) -> dict[str, list[Any]]:
    """Each changed field with its old and new value (every field when there was none)."""
    before = old.record() if old else {}
    after = new.record()
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
