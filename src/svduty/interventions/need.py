"""Need: each area × theme × cohort of the published assessment, with the facts a board weighs
(incidents a year, rate, rate against the whole area, trend, hotspots, success measures) and a
score made of points anyone can check.

Everything here is read from published (disclosure-controlled) tables, so a need figure is
hidden exactly when the assessment hides it, and nothing derived gives a hidden count back. The
method is `NeedMethod`: its defaults are written out in the methods annex and any of them can be
set in `svduty.toml` under `[need]`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from svduty.errors import InputError
from svduty.vocabulary import COHORT_AGES, GAP_COHORTS, NEED_THEMES

if TYPE_CHECKING:
    import pandas as pd

    from svduty.publish import Publication

LEVELS = ("high", "medium", "low")


@dataclass(frozen=True)
class NeedMethod:
    """How need is scored: points for each fact, added up, and the totals that make a need high
    or medium. Transparent by design: a board can redo any score by hand."""

    ratio_high: float = 1.25  # the area's rate at least this times the whole area's: 2 points
    ratio_above: float = 1.0  # above the whole area's rate: 1 point
    alpha: float = 0.05  # rate points only when the exact test puts the rate above at this level
    rising_points: int = 2  # a significant increase between the last two complete years
    volume: int = 50  # at least this many incidents a year: 1 point
    hotspot_points: int = 1  # a 95 % or 99 % LSOA hotspot in the area (all serious violence)
    measure_points: int = 1  # a success measure of the theme shows concern or a rise
    high: int = 4  # a score of at least this is high need
    medium: int = 2  # at least this is medium; below it, low
    gaps_from: str = "medium"  # needs of this level and above are searched for gaps
    capacity_share: float = 1.0  # places a year needed per incident a year

    @classmethod
    def of(cls, settings: dict[str, Any] | None) -> NeedMethod:
        """From the `[need]` table of svduty.toml; an unknown key or bad value is refused with
        its name."""
        chosen = dict(settings or {})
        known = {f.name: f.type for f in fields(cls)}
        for key, value in chosen.items():
            if key not in known:
                raise InputError(
                    f"svduty.toml [need]: unknown setting {key!r}; known: {', '.join(known)}"
                )
            if key == "gaps_from":
                if value not in LEVELS:
                    raise InputError(
                        f"svduty.toml [need] gaps_from: {value!r} is not one of {', '.join(LEVELS)}"
                    )
            elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise InputError(f"svduty.toml [need] {key}: give a number of 0 or more")
        return cls(**chosen)

    def rules(self) -> list[str]:
        """The method in words, for the methods annex and the gaps output."""
        return [
            f"{self.rising_points} points when incidents rose significantly between the last "
            "two complete financial years (exact test of two counts, 5 % level)",
            f"2 points when the area's rate is at least {self.ratio_high:g} times the whole "
            f"area's for the same theme and cohort, 1 point when above it, each only when an "
            f"exact one-sided Poisson test puts it above at the {self.alpha:g} level (rates per "
            "1,000 residents a year: of the band's ages when the workspace has residents by "
            "age, else of all ages; the whole area's own rows score no rate points)",
            f"1 point for at least {self.volume} incidents a year",
            f"{self.hotspot_points} point when a 95 % or 99 % LSOA hotspot (Gi*) of all "
            "serious violence lies in the area",
            f"{self.measure_points} point when a success measure of the theme shows special "
            "cause concern or a significant increase",
            f"high need at {self.high} points or more, medium at {self.medium} or more, low "
            f"below; gaps are sought for {self.gaps_from} need and above",
        ]


@dataclass(frozen=True)
class Needs:
    """Every need row of one published set, and what they were read from."""

    frame: pd.DataFrame
    definition: str
    period: str
    area: str  # the whole area's name
    method: NeedMethod
    unplaced_ages: dict[str, int | None]  # each area's incidents with no recorded age, if shown
    synthetic: int = 0  # synthetic records among those counted


NEED_COLUMNS = (
    "area", "theme", "theme_name", "cohort", "cohort_name", "age_min", "age_max", "count",
    "per_year", "rate", "rate_of", "ratio", "p_ratio", "change", "harm_per_year", "hotspots",
    "measure", "score", "level", "reasons",
)  # fmt: skip


def needs(
    pubs: dict[str | None, Publication],
    method: NeedMethod | None = None,
    hot_lsoas: dict[str, int] | None = None,
    by_age: dict[tuple[str, str], int] | None = None,
) -> Needs:
    """Need rows of the whole area (first) and each CSP from a published set; `hot_lsoas`
    holds the hot LSOAs of each CSP when LSOA hotspots were found (None: not assessed);
    `by_age` the residents of each area and age band, when the workspace has them: a band's
    rate is then per resident of its ages, else per resident of all ages."""
    method = method or NeedMethod()
    whole = pubs[None]
    if not whole.has("need", "all"):
        raise InputError(
            "this workspace's assessment has no need tables: need is read from crime records "
            "(an extract or data.police.uk), not from the Home Office tables alone"
        )
    months = int(whole.value("where", "rate_months") or 0)
    area = str(whole.provenance.get("area") or "the whole area")
    residents = _residents(pubs, area)
    whole_rows = _rows(whole, area)
    rows = [*whole_rows]
    for csp, pub in pubs.items():
        if csp is not None:
            rows += _rows(pub, csp)
    reference = {(r["theme"], r["cohort"]): r["count"] for r in whole_rows}
    concerns = {a: _measure_concerns(p) for a, p in pubs.items()}
    ages = by_age or {}
    for row in rows:
        mine, key = row["area"], (row["theme"], row["cohort"])
        count = row["count"]
        row["per_year"] = None if count is None or not months else round(count * 12 / months)
        harm = row["harm"]
        row["harm_per_year"] = None if harm is None or not months else round(harm * 12 / months)
        cohort = row["cohort"]
        own: int | None
        if ages.get((mine, cohort)) and ages.get((area, cohort)):
            own, everyone = ages[(mine, cohort)], ages[(area, cohort)]
            row["rate_of"] = f"residents aged {row['age_min']} to {row['age_max']}"
        else:
            own, everyone = residents.get(mine), residents[area]
            row["rate_of"] = "residents of all ages"
        row["rate"] = _rate(count, own, months)
        row["ratio"], row["p_ratio"] = (
            (None, None) if mine == area else _against(count, own, reference.get(key), everyone)
        )
        if hot_lsoas is None:
            row["hotspots"] = None
        else:
            row["hotspots"] = sum(hot_lsoas.values()) if mine == area else hot_lsoas.get(mine, 0)
        row["measure"] = concerns.get(None if mine == area else mine, {}).get(key)
        row["score"], reasons = _score(row, area, method)
        row["reasons"] = "; ".join(reasons)
        row["level"] = _level(row["score"], count, method)
        if row["ratio"] is not None:  # scored unrounded; shown to two places
            row["ratio"], row["p_ratio"] = round(row["ratio"], 2), round(row["p_ratio"], 4)
    import pandas as pd

    # object columns: a hidden figure stays None and a count stays a whole number
    frame = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in NEED_COLUMNS})
    definition = whole.provenance.get("definition", {})
    synthetic = (
        whole.value("sources", "synthetic_records")
        if whole.has("sources", "synthetic_records")
        else 0
    )
    return Needs(
        frame,
        f"{definition.get('id')} v{definition.get('version')}",
        _period(whole),
        area,
        method,
        {area if csp is None else csp: _unplaced(pub) for csp, pub in pubs.items()},
        int(synthetic or 0),
    )


def _unplaced(pub: Publication) -> int | None:
    """Incidents of the area with no recorded age (in no age band), if shown."""
    frame = pub.table("need", "all")
    found = frame.loc[frame["cohort_id"] == "age_unknown", "count"]
    return None if found.empty or found.iloc[0] is None else int(found.iloc[0])


def _against(
    count: int | None, residents: int | None, whole: int | None, everyone: int
) -> tuple[float | None, float | None]:
    """An area's rate against the whole area's for the same theme and cohort (the ratio of
    the two, unrounded) and the one-sided exact Poisson p-value of a count at least this high
    were the area's rate the whole area's."""
    if count is None or not residents or not whole or not everyone:
        return None, None
    from scipy.stats import poisson

    expected = whole * residents / everyone
    return count / expected, float(poisson.sf(count - 1, expected))


def _period(pub: Publication) -> str:
    """The months counted, as the report names them."""
    if pub.has("report", "period") and pub.value("report", "period"):
        return str(pub.value("report", "period"))
    return str(pub.provenance.get("period") or "all months held")


def _residents(pubs: dict[str | None, Publication], area: str) -> dict[str, int]:
    """Residents of each CSP (its own, never the force's) and of the whole area."""
    rates = pubs[None].table("where", "csp_rates")
    found = {
        str(row["area"]): int(row["population"])
        for row in rates.to_dict(orient="records")
        if row["population"]
    }
    found[area] = sum(found.values())
    return found


def _rate(count: Any, residents: int | None, months: int) -> float | None:
    if count is None or not residents or not months:
        return None
    return round(count / residents * 1000 * 12 / months, 3)


def _rows(pub: Publication, area: str) -> list[dict[str, Any]]:
    """The area's need rows: each theme for all ages (its total) and each age band."""
    everything = pub.table("need", "all")
    themes = pub.table("need", "themes")
    totals: dict[str, Any] = {}
    if pub.has("themes", "themes"):
        shown = pub.table("themes", "themes").set_index("theme")["count"].to_dict()
        totals.update({key: shown.get(name) for key, name in NEED_THEMES.items() if key != "all"})
    totals["all"] = _selection_total(pub)
    out = []
    for theme, name in NEED_THEMES.items():
        mine = everything if theme == "all" else themes[themes["theme_id"] == theme]
        by_cohort = mine.set_index("cohort_id")
        for cohort in GAP_COHORTS:
            words, low, high = COHORT_AGES[cohort]
            if cohort == "all_ages":
                count = totals.get(theme)
                if count is None and not mine["count"].isna().any():
                    count = int(sum(mine["count"]))  # a theme with no row of its own
                change = mine["theme_change"].iloc[0] if len(mine) else None
                harm: Any = _harm_total(mine)
            else:
                count = by_cohort.at[cohort, "count"] if cohort in by_cohort.index else None
                change = by_cohort.at[cohort, "change"] if cohort in by_cohort.index else None
                harm = (
                    by_cohort.at[cohort, "harm"]
                    if "harm" in by_cohort and cohort in by_cohort.index
                    else None
                )
            out.append(
                {
                    "area": area,
                    "theme": theme,
                    "theme_name": name,
                    "cohort": cohort,
                    "cohort_name": words,
                    "age_min": low,
                    "age_max": high,
                    "count": None if count is None else int(count),
                    "change": change,
                    "harm": None if harm is None else float(harm),
                }
            )
    return out


def _harm_total(mine: pd.DataFrame) -> float | None:
    """A theme's harm for all ages: its bands' and the unplaced incidents', when all shown."""
    if "harm" not in mine or mine["harm"].isna().any() or not len(mine):
        return None
    return float(sum(mine["harm"]))


def _selection_total(pub: Publication) -> int | None:
    """All serious violence in the area: the selection's total, public in every report."""
    if pub.has("who", "incidents") and pub.value("who", "incidents") is not None:
        return int(pub.value("who", "incidents"))
    shown = pub.table("need", "all")["count"]
    return None if shown.isna().any() else int(sum(shown))


MEASURE_THEMES: dict[str, tuple[str, ...]] = {
    "knife": ("knife", "weapon_enabled"),
    "violence-with-injury": ("all",),
}
"""The themes a success measure bears on, by the start of its id (the Home Office's knife
measures; violence with injury for all serious violence). A measure ending "-under-25" bears
on the under-18 and 18-24 cohorts, any other on all ages."""


def _measure_concerns(pub: Publication) -> dict[tuple[str, str], str]:
    """Success measures of a theme that show concern or a rise, keyed by theme and cohort."""
    if not pub.has("measures", "summary"):
        return {}
    found: dict[tuple[str, str], str] = {}
    for row in pub.value("measures", "summary") or []:
        measure = str(row.get("measure") or "")
        worrying = row.get("variation") == "concern" or "significant increase" in str(
            row.get("change") or ""
        )
        themes = next((t for k, t in MEASURE_THEMES.items() if measure.startswith(k)), ())
        if not worrying or not themes:
            continue
        words = f"{row.get('name')}: {row.get('change')}"
        cohorts = ("under_18", "18_24") if measure.endswith("under-25") else ("all_ages",)
        for theme in themes:
            for cohort in cohorts:
                found[(theme, cohort)] = words
    return found


def _score(row: dict[str, Any], area: str, method: NeedMethod) -> tuple[int, list[str]]:
    points, reasons = 0, []
    if row["change"] == "significant increase":
        points += method.rising_points
        reasons.append(f"rising significantly (+{method.rising_points})")
    ratio, p = row["ratio"], row["p_ratio"]
    if ratio is not None and p is not None and p < method.alpha:
        if ratio >= method.ratio_high:
            points += 2
            reasons.append(f"rate {ratio:.2f} times the whole area's, p {p:.3f} (+2)")
        elif ratio > method.ratio_above:
            points += 1
            reasons.append(f"rate {ratio:.2f} times the whole area's, p {p:.3f} (+1)")
    if row["per_year"] is not None and row["per_year"] >= method.volume:
        points += 1
        reasons.append(f"{row['per_year']:,} incidents a year (+1)")
    if row["hotspots"] and row["theme"] == "all":
        points += method.hotspot_points
        reasons.append(f"{row['hotspots']} hot LSOAs (+{method.hotspot_points})")
    if row["measure"]:
        points += method.measure_points
        reasons.append(f"success measure of concern (+{method.measure_points})")
    return points, reasons


def _level(score: int, count: Any, method: NeedMethod) -> str:
    if count is None:
        return "not shown"
    if score >= method.high:
        return "high"
    return "medium" if score >= method.medium else "low"
