"""Mapping and gapping: each need set against the interventions that cover it.

An intervention covers a need when it serves the need's area, overlaps its cohort's ages and
works on its theme. What is wrong with the cover is a gap, ranked by need; what is doubtful
about the provision is a flag:

- gaps: nothing covers the need (`uncovered`), only ended interventions did (`ended`), only
  planned ones will (`planned`), running ones cover only part of its area, ages or theme
  (`partial`), or those covering all of it have fewer places a year, apportioned to the area,
  than the need has incidents (`capacity`);
- flags: a covering intervention's evidence is harmful (`harmful`: it is not counted as cover)
  or weak (`weak_evidence`), a covering intervention gives no capacity (`no_capacity`), one
  names no theme, ages or area and so counts for all of them (`unspecific`), two running
  interventions of the same tier serve the same need in full (`overlap`), or an intervention
  serves only needs scored low (`low_need`).

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

GAP_KINDS = ("uncovered", "ended", "planned", "partial", "capacity")
FLAG_KINDS = (
    "harmful", "weak_evidence", "no_capacity", "unspecific", "overlap", "low_need",
)  # fmt: skip
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
    names: dict[str, str] = field(default_factory=dict)  # district code -> name

    @classmethod
    def of(cls, area: str, places: pd.DataFrame, forces: Iterable[str]) -> Geography:
        """From the workspace's places (lsoa_code, la_code, la_name, csp_name)."""
        found: dict[str, str] = {}
        names: dict[str, str] = {}
        for row in places.dropna(subset=["csp_name"]).to_dict(orient="records"):
            found[str(row["la_code"])] = str(row["csp_name"])
            found[str(row["lsoa_code"])] = str(row["csp_name"])
            if isinstance(row.get("la_name"), str):
                names[str(row["la_code"])] = row["la_name"]
        csps = frozenset(str(c) for c in places["csp_name"].dropna().unique())
        return cls(area, csps, found, frozenset({area, *forces}), names)

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
        """Places as a reader knows them: districts by name, LSOAs with their CSP."""
        if not named:
            return self.area
        shown = []
        for code in named:
            if code in self.names:
                shown.append(self.names[code])
            elif code in self.csp_of and code not in self.csps:
                shown.append(f"LSOA {code} ({self.csp_of[code]})")
            else:
                shown.append(code)
        return ", ".join(shown)


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
    """Whether an intervention is running, planned or ended on a day, and why in words. Dates
    decide where they are given (so a day past or to come reads as it was or will be); the
    stored status decides where they are not."""
    if item.ended_on is not None and item.ended_on <= as_of:
        return "ended", f"ended on {item.ended_on.isoformat()}"
    if item.status == "ended" and item.ended_on is None:
        return "ended", "ended"
    if item.funding:
        ends = [f.end for f in item.funding]
        if all(e is not None and e < as_of for e in ends):
            last = max(e for e in ends if e is not None)
            return "ended", f"funded to {last.isoformat()}"
        if all(f.start is not None and f.start > as_of for f in item.funding):
            first = min(f.start for f in item.funding if f.start is not None)
            return "planned", f"funded from {first.isoformat()}"
        if item.status == "planned" and any(f.start for f in item.funding):
            first = min(f.start for f in item.funding if f.start is not None)
            return "running", f"running (planned from {first.isoformat()})"
    if item.status == "planned":
        return "planned", "planned"
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


def harmful(item: Intervention) -> bool:
    return evidence_words(item)[0] == "harmful"


def gaps(
    found: Needs,
    catalogue: list[Intervention],
    where: Geography,
    as_of: date,
) -> list[Finding]:
    """Every gap (ranked by need: score, then kind, then incidents a year) then every flag.
    An approach the YEF Toolkit finds harmful is flagged and not counted as cover."""
    method = found.method
    wanted = LEVELS[: LEVELS.index(method.gaps_from) + 1]
    out: list[Finding] = []
    rows = need_rows(found)
    per_year = {(r["area"], r["theme"], r["cohort"]): r["per_year"] for r in rows}
    for need in rows:
        cover = [c for item in catalogue if (c := covers(item, need, where, as_of))]
        counted = [c for c in cover if not harmful(c.item)]
        if need["level"] in wanted:
            gap = _gap(found, need, counted, catalogue, where, as_of, per_year)
            if gap is not None:
                out.append(gap)
        out += _flags(found, need, cover)
    out += _unspecific(found, catalogue, as_of)
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
    per_year: dict[tuple[str, str, str], Any],
) -> Finding | None:
    running = [c for c in cover if c.state == "running"]
    planned = [c for c in cover if c.state == "planned"]
    ended = [c for c in cover if c.state == "ended"]
    lead = need_words(found, need)
    if not cover:
        near = nearest(need, catalogue, where, as_of)
        tail = f"; nearest is {near}" if near else "; nothing in the catalogue comes near"
        return Finding("uncovered", need, (), f"{lead}: no intervention covers it{tail}.")
    if not running and not planned:
        return Finding(
            "ended",
            need,
            tuple(c.item.id for c in ended),
            f"{lead}: covered only by interventions no longer running: {_names(ended)}.",
        )
    if not running:
        return Finding(
            "planned",
            need,
            tuple(c.item.id for c in planned),
            f"{lead}: nothing running covers it; planned: {_names(planned)}.",
        )
    full = [c for c in running if c.full]
    if not full:
        parts = "; ".join(f"{short(c.item, c.state_words)}: {_part(c, where)}" for c in running[:3])
        more = f"; and {len(running) - 3} more" if len(running) > 3 else ""
        return Finding(
            "partial",
            need,
            tuple(c.item.id for c in running),
            f"{lead}: running interventions cover only part of it: {parts}{more}.",
        )
    if not known(need["per_year"]):
        return None
    shares = [(c, _share(c, need, where, per_year)) for c in full]
    given = [(c, s) for c, s in shares if s is not None and c.item.capacity_per_year is not None]
    if not given:
        return None  # no capacity to weigh: flagged as no_capacity
    places = round(sum(int(c.item.capacity_per_year or 0) * s for c, s in given))
    needed = need["per_year"] * found.method.capacity_share
    if places >= needed:
        return None
    apportioned = any(s < 1 for _, s in given)
    unknown = [c for c, s in shares if s is None or c.item.capacity_per_year is None]
    said = f"; capacity not given for {', '.join(c.item.name for c in unknown)}" if unknown else ""
    return Finding(
        "capacity",
        need,
        tuple(c.item.id for c, _ in given),
        f"{lead}: the interventions covering all of it give {places:,} places a year"
        + (" (their area-wide places shared by incidents)" if apportioned else "")
        + f" against {round(need['per_year']):,} incidents a year: {_names([c for c, _ in given])}"
        + f"{said}.",
        {"places": places, "needed": needed},
    )


def _part(c: Cover, where: Geography) -> str:
    """What part of a need an intervention misses."""
    missing = []
    if c.area == "part":
        missing.append(f"serves {where.words(c.item.areas)} only")
    if c.cohort == "part":
        missing.append(f"{age_words(c.item)} only")
    if c.theme == "part":
        missing.append("works on " + (", ".join(c.item.themes).replace("_", " ")))
    return ", ".join(missing)


def _share(
    c: Cover, need: dict[str, Any], where: Geography, per_year: dict[tuple[str, str, str], Any]
) -> float | None:
    """The part of an intervention's places that falls to the need's area: all of them when it
    serves that area alone; else the area's share of the incidents of the areas it serves (the
    same theme and cohort). None when an incident count it needs is hidden."""
    area, key = need["area"], (need["theme"], need["cohort"])
    named = c.item.areas
    if area == where.area:
        return 1.0
    if not named or any(n in where.whole_names for n in named):
        served = [where.area]
    else:
        served = [n for n in named if n in where.csps]
    if served == [area]:
        return 1.0
    counts: list[Any] = [per_year.get((s, *key)) for s in served]
    mine: Any = per_year.get((area, *key))
    if not known(mine) or not all(known(t) for t in counts):
        return None
    total = sum(float(t) for t in counts)
    return float(mine) / total if total else None


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
    blank = [c for c in running if c.full and c.item.capacity_per_year is None]
    if blank and need["level"] in ("high", "medium"):
        out.append(
            Finding(
                "no_capacity",
                need,
                tuple(c.item.id for c in blank),
                f"{lead}: covered by interventions that give no capacity, so whether they "
                f"are enough cannot be told: {_names(blank)}.",
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


def _unspecific(found: Needs, catalogue: list[Intervention], as_of: date) -> list[Finding]:
    """Running interventions that name no theme, no ages and no area: they count as covering
    every need, which a catalogue rarely means."""
    out = []
    for item in catalogue:
        blank = not item.themes and item.age_min is None and item.age_max is None
        if blank and not item.areas and state(item, as_of)[0] == "running":
            top = max(need_rows(found), key=lambda n: (n["score"], n["per_year"] or 0))
            out.append(
                Finding(
                    "unspecific",
                    top,
                    (item.id,),
                    f"{item.name} ({item.id}) names no theme, ages or area, so it counts as "
                    "covering every need of every area: give its themes, ages and areas in "
                    "the catalogue.",
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
        served = [need for need in rows if (c := covers(item, need, where, as_of)) and c.full]
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
    return f"{item.name} ({capacity}; evidence: {band or 'none recorded'}; {status})"


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
        if state(item, as_of)[0] != "running" or harmful(item):
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
    if chosen is None or len(chosen[1]) == 3:
        return None  # nothing matches even one of area, ages and theme
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
        whom = need.get("rate_of") or "residents of all ages"
        facts.append(f"{need['rate']:.2f} per 1,000 {whom} a year")
    if known(need["ratio"]):
        facts.append(f"{need['ratio']:.2f} times {found.area}'s rate")
    if known(need["change"]):
        facts.append(str(need["change"]))
    if known(need.get("harm_per_year")):
        facts.append(f"harm {need['harm_per_year']:,} a year (severity weights)")
    facts.append(f"need {need['level']} (score {need['score']})")
    theme = need["theme_name"].lower() if need["theme"] != "all" else "serious violence"
    return (
        f"{need['area']}, {theme}, {need['cohort_name']} ({found.definition}, {found.period}): "
        + ", ".join(facts)
    )
