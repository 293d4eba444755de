"""Mapping and gapping: each need set against the interventions that cover it.

An intervention covers a need when it serves the need's area, overlaps its cohort's ages and
works on its theme. What is wrong with the cover is a gap, ranked by need; what is doubtful
about the provision is a flag:

- gaps: nothing covers the need (`uncovered`), only ended interventions did (`ended`), only
  planned ones will (`planned`), or the running ones have fewer places a year than the need
  has incidents (`capacity`);
- flags: a covering intervention's evidence is harmful (`harmful`) or weak (`weak_evidence`),
  two running interventions of the same tier serve the same need in full (`overlap`), or an
  intervention serves only needs scored low (`low_need`).

Every sentence names the need's numbers, its definition and its period, so a gap read out of
context still says what it rests on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from svduty.interventions.evidence import find
from svduty.interventions.model import Intervention
from svduty.interventions.need import LEVELS, Needs

GAP_KINDS = ("uncovered", "ended", "planned", "capacity")
FLAG_KINDS = ("harmful", "weak_evidence", "overlap", "low_need")
WEAK_BANDS = (None, "no clear evidence", "harmful")
RELATED_THEMES: dict[str, frozenset[str]] = {
    "knife": frozenset({"weapon_enabled"}),
    "weapon_enabled": frozenset({"knife", "firearm", "corrosive"}),
    "county_lines": frozenset({"exploitation"}),
    "night_time_economy": frozenset({"alcohol"}),
    "sexual_violence": frozenset({"exploitation"}),
}
"""Intervention themes that cover part of a need's theme (an intervention on knives works on
part of weapon-enabled violence; on exploitation, on part of county lines)."""


@dataclass(frozen=True)
class Geography:
    """Which CSP each district and LSOA code lies in, and the names that mean the whole area
    (the partnership and its forces)."""

    area: str
    csps: frozenset[str]
    csp_of: dict[str, str]  # district or LSOA code -> CSP
    whole_names: frozenset[str]

    @classmethod
    def of(cls, area: str, places: pd.DataFrame, forces: Iterable[str]) -> Geography:
        """From the workspace's places (lsoa_code, la_code, csp_name)."""
        found: dict[str, str] = {}
        for row in places.dropna(subset=["csp_name"]).itertuples(index=False):
            found[str(row.la_code)] = str(row.csp_name)
            found[str(row.lsoa_code)] = str(row.csp_name)
        csps = frozenset(str(c) for c in places["csp_name"].dropna().unique())
        return cls(area, csps, found, frozenset({area, *forces}))

    def serves(self, named: tuple[str, ...], need_area: str) -> str | None:
        """How the named places serve a need's area: "full", "part" or None."""
        if not named or any(n in self.whole_names for n in named):
            return "full"
        if need_area == self.area:
            return "part"
        if need_area in named:
            return "full"
        if any(self.csp_of.get(n) == need_area for n in named):
            return "part"
        return None

    def words(self, named: tuple[str, ...]) -> str:
        return ", ".join(named) if named else self.area


def ages(item: Intervention) -> tuple[int, int]:
    return (item.age_min or 0, 120 if item.age_max is None else item.age_max)


def age_words(item: Intervention) -> str:
    low, high = ages(item)
    if low == 0 and high == 120:
        return "all ages"
    if high == 120:
        return f"ages {low} and over"
    return f"ages {low} to {high}"


def _cohort_cover(item: Intervention, low: int, high: int) -> str | None:
    mine_low, mine_high = ages(item)
    if mine_low > high or mine_high < low:
        return None
    return "full" if mine_low <= low and mine_high >= high else "part"


def _theme_cover(item: Intervention, theme: str) -> str | None:
    if not item.themes:
        return "full"
    if theme == "all":
        return "part"
    if theme in item.themes:
        return "full"
    if "youth" in item.themes or RELATED_THEMES.get(theme, frozenset()) & set(item.themes):
        return "part"  # youth work bears on young people's violence of every kind
    return None


def state(item: Intervention, as_of: date) -> tuple[str, str]:
    """Whether an intervention is running, planned or ended on a day, and why in words."""
    if item.status == "ended" or (item.ended_on is not None and item.ended_on <= as_of):
        when = f" on {item.ended_on.isoformat()}" if item.ended_on else ""
        return "ended", f"ended{when}"
    if item.status == "planned":
        starts = [f.start for f in item.funding if f.start]
        return "planned", f"planned from {min(starts).isoformat()}" if starts else "planned"
    if item.funding:
        ends = [f.end for f in item.funding]
        if all(e is not None and e < as_of for e in ends):
            last = max(e for e in ends if e is not None)
            return "ended", f"funded to {last.isoformat()}"
        if all(f.start is not None and f.start > as_of for f in item.funding):
            first = min(f.start for f in item.funding if f.start is not None)
            return "planned", f"funded from {first.isoformat()}"
    return "running", "running"


def evidence_words(item: Intervention) -> tuple[str | None, str]:
    """The YEF band (None when not known) and the evidence in words."""
    approach = find(item.yef_approach) if item.yef_approach else None
    if approach is not None:
        return approach.band, f"{approach.rating} evidence ({approach.name}, YEF Toolkit)"
    if item.evaluation_url:
        return "local evaluation", f"a local evaluation ({item.evaluation_url})"
    return None, "no evidence recorded"


@dataclass(frozen=True)
class Cover:
    item: Intervention
    state: str
    state_words: str
    area: str
    cohort: str
    theme: str

    @property
    def full(self) -> bool:
        return self.area == self.cohort == self.theme == "full"


@dataclass(frozen=True)
class Finding:
    """One gap or flag: what it is, the need it is about and the sentence saying both."""

    kind: str
    need: dict[str, Any]
    interventions: tuple[str, ...]
    sentence: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def is_gap(self) -> bool:
        return self.kind in GAP_KINDS

    def row(self) -> dict[str, Any]:
        need = self.need
        return {
            "kind": self.kind,
            "area": need["area"],
            "theme": need["theme_name"],
            "cohort": need["cohort_name"],
            "level": need["level"],
            "score": need["score"],
            "per_year": need["per_year"],
            "rate": need["rate"],
            "ratio": need["ratio"],
            "change": need["change"],
            "interventions": "; ".join(self.interventions),
            "sentence": self.sentence,
        }


def covers(item: Intervention, need: dict[str, Any], where: Geography, as_of: date) -> Cover | None:
    """How `item` covers `need`, or None when it misses the area, the ages or the theme."""
    area = where.serves(item.areas, need["area"])
    cohort = _cohort_cover(item, int(need["age_min"]), int(need["age_max"]))
    theme = _theme_cover(item, need["theme"])
    if area is None or cohort is None or theme is None:
        return None
    running, words = state(item, as_of)
    return Cover(item, running, words, area, cohort, theme)


def gaps(
    found: Needs,
    catalogue: list[Intervention],
    where: Geography,
    as_of: date,
) -> list[Finding]:
    """Every gap (ranked by need: score, then incidents a year) then every flag."""
    method = found.method
    wanted = LEVELS[: LEVELS.index(method.gaps_from) + 1]
    out: list[Finding] = []
    rows = need_rows(found)
    for need in rows:
        cover = [c for item in catalogue if (c := covers(item, need, where, as_of))]
        if need["level"] in wanted:
            gap = _gap(found, need, cover, catalogue, where, as_of)
            if gap is not None:
                out.append(gap)
        out += _flags(found, need, cover)
    out += _low_need(found, rows, catalogue, where, as_of)
    return _ranked(out)


def need_rows(found: Needs) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in found.frame.to_dict(orient="records")]


def _ranked(found: list[Finding]) -> list[Finding]:
    def key(f: Finding) -> tuple[Any, ...]:
        need = f.need
        per_year = need["per_year"] if known(need["per_year"]) else 0
        if f.is_gap:
            return (0, -need["score"], GAP_KINDS.index(f.kind), -per_year, need["area"])
        return (1, FLAG_KINDS.index(f.kind), -need["score"], -per_year, need["area"])

    return sorted(found, key=key)


def _gap(
    found: Needs,
    need: dict[str, Any],
    cover: list[Cover],
    catalogue: list[Intervention],
    where: Geography,
    as_of: date,
) -> Finding | None:
    running = [c for c in cover if c.state == "running"]
    planned = [c for c in cover if c.state == "planned"]
    ended = [c for c in cover if c.state == "ended"]
    lead = need_words(found, need)
    if not cover:
        near = nearest(need, catalogue, where, as_of)
        tail = f"; nearest is {near}" if near else ""
        return Finding("uncovered", need, (), f"{lead}: no intervention covers it{tail}.")
    if not running and not planned:
        names = _names(ended)
        return Finding(
            "ended",
            need,
            tuple(c.item.id for c in ended),
            f"{lead}: covered only by interventions no longer running: {names}.",
        )
    if not running:
        return Finding(
            "planned",
            need,
            tuple(c.item.id for c in planned),
            f"{lead}: nothing running covers it; planned: {_names(planned)}.",
        )
    given = [c.item.capacity_per_year for c in running]
    if not known(need["per_year"]) or any(g is None for g in given):
        return None
    places = sum(int(g or 0) for g in given)
    needed = need["per_year"] * found.method.capacity_share
    if places < needed:
        return Finding(
            "capacity",
            need,
            tuple(c.item.id for c in running),
            f"{lead}: {places:,} places a year in {_names(running)} against "
            f"{round(need['per_year']):,} incidents a year.",
            {"places": places, "needed": needed},
        )
    return None


def _flags(found: Needs, need: dict[str, Any], cover: list[Cover]) -> list[Finding]:
    running = [c for c in cover if c.state == "running"]
    out = []
    lead = need_words(found, need)
    bands = {c.item.id: evidence_words(c.item) for c in running}
    harmful = [c for c in running if bands[c.item.id][0] == "harmful"]
    if harmful:
        out.append(
            Finding(
                "harmful",
                need,
                tuple(c.item.id for c in harmful),
                f"{lead}: covered by an approach the YEF Toolkit finds harmful: {_names(harmful)}.",
            )
        )
    if running and need["level"] in ("high", "medium"):
        weak = [c for c in running if bands[c.item.id][0] in WEAK_BANDS]
        if len(weak) == len(running):
            out.append(
                Finding(
                    "weak_evidence",
                    need,
                    tuple(c.item.id for c in weak),
                    f"{lead}: every intervention covering it has weak or no recorded "
                    f"evidence: {_names(weak)}.",
                )
            )
    full = [c for c in running if c.full]
    by_tier: dict[str, list[Cover]] = {}
    for c in full:
        by_tier.setdefault(c.item.tier, []).append(c)
    for tier, same in by_tier.items():
        if len(same) > 1:
            out.append(
                Finding(
                    "overlap",
                    need,
                    tuple(c.item.id for c in same),
                    f"{lead}: served {len(same)} times over by {tier} interventions covering "
                    f"all of it: {_names(same)}.",
                )
            )
    return out


def _low_need(
    found: Needs,
    rows: list[dict[str, Any]],
    catalogue: list[Intervention],
    where: Geography,
    as_of: date,
) -> list[Finding]:
    """Running interventions every need of which (in full area cover) is scored low."""
    out = []
    for item in catalogue:
        if state(item, as_of)[0] != "running":
            continue
        served = [
            need
            for need in rows
            if (c := covers(item, need, where, as_of)) and c.area == "full" and c.theme == "full"
        ]
        levels = {n["level"] for n in served}
        if served and levels <= {"low"}:
            top = max(
                served, key=lambda n: (n["score"], n["per_year"] if known(n["per_year"]) else 0)
            )
            out.append(
                Finding(
                    "low_need",
                    top,
                    (item.id,),
                    f"{item.name} ({item.id}) serves only needs scored low: the highest is "
                    f"{need_words(found, top)}.",
                )
            )
    return out


def _names(cover: list[Cover], most: int = 3) -> str:
    """The first few interventions in short (name, capacity, evidence, state), largest
    first, and how many more."""
    ranked = sorted(cover, key=lambda c: (-(c.item.capacity_per_year or 0), c.item.id))
    named = "; ".join(short(c.item, c.state_words) for c in ranked[:most])
    return named + (f"; and {len(ranked) - most} more" if len(ranked) > most else "")


def short(item: Intervention, status: str) -> str:
    """An intervention in a few words: name, capacity, evidence band and state."""
    capacity = (
        f"capacity {item.capacity_per_year:,} a year"
        if item.capacity_per_year is not None
        else "capacity not given"
    )
    band, _ = evidence_words(item)
    return f"{item.name} ({capacity}; {band or 'no recorded'} evidence; {status})"


def describe(item: Intervention, status: str) -> str:
    """An intervention in one phrase: name, ages, themes, where, capacity, evidence, state."""
    capacity = (
        f"capacity {item.capacity_per_year:,} a year"
        if item.capacity_per_year is not None
        else "capacity not given"
    )
    themes = ", ".join(t.replace("_", " ") for t in item.themes) or "any theme"
    where = ", ".join(item.areas) or "the whole area"
    _, evidence = evidence_words(item)
    return f"{item.name} ({age_words(item)}, {themes}, {where}; {capacity}; {evidence}; {status})"


def nearest(
    need: dict[str, Any], catalogue: list[Intervention], where: Geography, as_of: date
) -> str | None:
    """The running intervention that matches most of the need (area, ages, theme), and what
    it misses."""
    best: tuple[int, int, str] | None = None
    chosen: tuple[Intervention, list[str]] | None = None
    for item in catalogue:
        if state(item, as_of)[0] != "running":
            continue
        misses = []
        if where.serves(item.areas, need["area"]) is None:
            misses.append(f"serves {where.words(item.areas)}")
        if _cohort_cover(item, int(need["age_min"]), int(need["age_max"])) is None:
            misses.append(f"serves {age_words(item)}")
        if _theme_cover(item, need["theme"]) is None:
            misses.append("works on " + ", ".join(t.replace("_", " ") for t in item.themes))
        rank = (len(misses), -(item.capacity_per_year or 0), item.id)
        if best is None or rank < best:
            best, chosen = rank, (item, misses)
    if chosen is None:
        return None
    item, misses = chosen
    return f"{describe(item, 'running')}, which {' and '.join(misses)}"


def known(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value)


def need_words(found: Needs, need: dict[str, Any]) -> str:
    """A need with its numbers, definition and period."""
    facts = []
    if known(need["per_year"]):
        facts.append(f"{round(need['per_year']):,} incidents a year")
    if known(need["rate"]):
        facts.append(f"{need['rate']:.2f} per 1,000 residents a year")
    if known(need["ratio"]):
        facts.append(f"{need['ratio']:.2f} times {found.area}'s rate")
    if known(need["change"]):
        facts.append(str(need["change"]))
    facts.append(f"need {need['level']} (score {need['score']})")
    theme = need["theme_name"].lower() if need["theme"] != "all" else "serious violence"
    return (
        f"{need['area']}, {theme}, {need['cohort_name']} ({found.definition}, {found.period}): "
        + ", ".join(facts)
    )
