"""The Strategic Needs Assessment as publishable tables, and what is derived from them.

`draft(assessment)` says, for every result, which columns are counts and what they add up to;
`derive(publication)` computes every ratio, share, rolling total, seasonal index, year-on-year
test and key finding from the published counts only, so nothing derived can give back a hidden
count."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from svduty.analysis.assessment import Assessment
from svduty.analysis.coverage import financial_year
from svduty.analysis.stats import compare_counts
from svduty.errors import InputError
from svduty.publish import Draft, Publication, board, conclusions
from svduty.publish.measures import derive_measures
from svduty.publish.tables import Parent, Table, note, value
from svduty.vocabulary import AGE_BANDS, FULL, NO_DATA, PARTIAL, label

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
RATES = {"rate": ["count"], "low": ["count"], "high": ["count"]}


def draft(found: Assessment) -> Draft:
    """Every count table the assessment offers for publication."""
    r = found.results
    tables: list[Table] = []
    tables += _sources(r["sources"])
    if found.records:
        for part in (
            _trends, _where, _when, _what, _who, _themes, _need, _concentration, _health
        ):  # fmt: skip
            tables += part(r)
    else:
        tables += _aggregate(r)
    tables += board.draft_board(r, found.records)
    district = found.selection.district
    if district:
        # a table whose columns are CSPs would file the district's counts as its CSP's
        tables = [t for t in tables if not t.by_area]
        for table in tables:
            if table.id == "where/csp_rates":
                table.owner = found.selection.csp  # the CSP's own row, to compare with
    provenance = {
        **found.provenance.as_dict(),
        "records": found.records,
        "csp": found.selection.csp,
        **({"district": district} if district else {}),
    }
    return Draft(found.area, tables, provenance)


def draft_places(area: str, places: dict[str, Any]) -> Draft:
    """Hotspot classes and near-repeat pairs of one area; the maps' inputs ride along as
    extras (cell classes and places, never counts)."""
    return Draft(area, [*_hotspots(places), *_near_repeats(places)], extras=_map_inputs(places))


def _sources(sources: dict[str, Any]) -> list[Table]:
    batches = sources["batches"].copy()
    batches["synthetic"] = batches["synthetic"].map({True: "yes", False: "no"})
    gaps = sources["gaps"]
    return [
        Table(
            "sources",
            "batches",
            batches,
            ["source_kind"],
            ["rows", "rejected"],
            across_areas=False,
            partnership=True,
        ),
        value("sources", "synthetic_records", sources["synthetic"], count=True),
        note("sources", "gaps", gaps.to_dict(orient="records") if len(gaps) else []),
    ]


def _trends(r: dict[str, Any]) -> list[Table]:
    t, cover = r["trend"], r["coverage"]
    columns = ["month", "financial_year", "count", "coverage"]
    monthly = (
        t.monthly.assign(financial_year=[financial_year(m) for m in t.monthly["month"]])[columns]
        if len(t.monthly)
        else pd.DataFrame(columns=columns)
    )
    year_columns = ["financial_year", "count", "months", "coverage"]
    years = (
        t.financial_years[year_columns]
        if len(t.financial_years)
        else pd.DataFrame(columns=year_columns)
    )
    return [
        note("report", "period", cover.span if len(t.monthly) else "no records"),
        note("report", "months", len(cover.months)),
        note("report", "months_with_data", len(cover.with_data)),
        Table("trends", "financial_years", years, ["financial_year"], ["count"], total="selection"),
        Table(
            "trends",
            "monthly",
            monthly,
            ["month"],
            ["count"],
            total="selection",
            # months add up to their financial year, and to their calendar year's incidents in
            # the concentration table
            parent=(
                Parent("financial_years", "financial_year"),
                Parent("concentration/table", "month", column="total", chars=4),
            ),
        ),
        note("trends", "change_periods", list(t.change_periods or [])),
        note("trends", "gaps", cover.gaps()),
        Table("trends", "sources", cover.table(), ["source", "force"], across_areas=False),
    ]


def _where(r: dict[str, Any]) -> list[Table]:
    rated = {**RATES, "share": ["count"]}
    out = [
        Table(
            "where",
            "csp_rates",
            r["csp_rates"].round(3),
            ["area"],
            ["count"],
            rated,
            total="selection",
        ),
        Table(
            "where",
            "district_rates",
            r["district_rates"].round(3),
            ["area"],
            ["count"],
            rated,
            total="selection",
            parent=Parent("csp_rates", "csp"),
        ),
        Table(
            "where",
            "deprivation",
            r["deprivation"].round(3),
            ["decile"],
            ["count"],
            RATES,
            total="selection",
        ),
        note("where", "population_note", r["population_note"]),
        note("where", "rate_months", len(r["coverage"].with_data)),
        note("where", "rate_basis", f"per 1,000 residents a year, {r['coverage'].basis()}"),
    ]
    if "area_rate" in r:
        # the whole area's count is the total of its CSPs' rows in the area's own report
        area = r["area_rate"].round(3)
        out.append(
            Table("where", "area_rate", area, ["area"], ["count"], RATES, total="where/csp_rates")
        )
        out[-1].partnership = True
    change = r["csp_change"]
    if change is not None:
        years = [c for c in change.columns if "/" in str(c)]
        derived = {c: years for c in ("ratio", "p_value", "verdict")}
        out.append(Table("where", "csp_change", change, ["area"], years, derived))
    return out


def _by_class(classes: pd.Series) -> pd.Series:
    """How many cells (or LSOAs) fall in each Gi* class, hottest first."""
    from svduty.spatial.gistar import CLASS_ORDER

    counted = classes.value_counts()
    return counted.reindex([c for c in CLASS_ORDER if c in counted.index]).rename_axis("class")


def _hotspots(r: dict[str, Any]) -> list[Table]:
    """Cells coloured by class only: counts of grid cells or LSOAs, not of people."""
    out: list[Table] = []
    spots = r["hotspots"]
    if isinstance(spots, InputError):
        return [note("hotspots", "unavailable", str(spots))]
    out.append(note("hotspots", "method", spots.notes))
    classes = _by_class(spots.frame["class"]).reset_index(name="cells")
    out.append(Table("hotspots", "cells_by_class", classes, ["class"]))
    harm = r.get("harm_hotspots")
    if harm is not None and not isinstance(harm, InputError):
        out.append(note("hotspots", "harm_method", harm.notes))
    lsoa = r["lsoa_hotspots"]
    if isinstance(lsoa, InputError):
        out.append(note("hotspots", "lsoa_unavailable", str(lsoa)))
    else:
        out.append(note("hotspots", "lsoa_method", [*lsoa.notes, lsoa.method]))
        by_class = _by_class(lsoa.frame["class"])
        out.append(
            Table("hotspots", "lsoas_by_class", by_class.reset_index(name="LSOAs"), ["class"])
        )
        out.append(_hot_lsoas(lsoa.frame, r["lsoa_names"]))
    emerging = r["emerging"]
    if isinstance(emerging, InputError):
        out.append(note("hotspots", "emerging_unavailable", str(emerging)))
    else:
        from svduty.spatial.emerging import PATTERNS

        inside = emerging.frame[emerging.frame["in_area"]]
        patterns = (
            inside["pattern"]
            .value_counts()
            .reindex(PATTERNS)
            .dropna()
            .astype(int)
            .rename_axis("pattern")
            .reset_index(name="cells")
        )
        out.append(Table("hotspots", "cells_by_pattern", patterns, ["pattern"]))
        out.append(note("hotspots", "emerging_method", [*emerging.notes, emerging.method]))
        out.append(note("hotspots", "emerging_periods", list(emerging.periods)))
    return out


def _map_inputs(r: dict[str, Any]) -> dict[str, Any]:
    """What the maps draw: each cell's class or density and where it is, never its count."""
    out: dict[str, Any] = {"outlines": r["outlines"]}
    keep = ["cell_id", "x", "y", "class", "in_area"]
    for name in ("hotspots", "harm_hotspots"):
        spots = r.get(name)
        if spots is not None and not isinstance(spots, InputError):
            out[name] = {
                "frame": spots.frame[[c for c in keep if c in spots.frame.columns]],
                "grid": spots.grid,
                "density": spots.density.values if name == "hotspots" else None,
                "notes": spots.notes,
            }
    lsoa = r["lsoa_hotspots"]
    if not isinstance(lsoa, InputError):
        out["lsoa_hotspots"] = {
            "frame": lsoa.frame[["lsoa_code", "class"]],
            "shapes": lsoa.areas.shapes,
        }
    emerging = r["emerging"]
    if not isinstance(emerging, InputError):
        columns = ["cell_id", "x", "y", "pattern", "in_area"]
        out["emerging"] = {"frame": emerging.frame[columns], "grid": emerging.grid}
    return out


def _when(r: dict[str, Any]) -> list[Table]:
    """Aoristic cells are fractions of incidents: each is rounded half up to a whole number
    before control, so a cell holding one exact-time crime is a 1 and is hidden like any 1."""
    w = r["when"]
    hours = [f"{h:02d}" for h in range(24)]
    matrix = np.floor(w.matrix.to_numpy(dtype=float) + 0.5).astype("int64")
    frame = pd.DataFrame(matrix, columns=hours)
    frame.insert(0, "day", list(DAYS)[: len(frame)])
    return [
        Table("when", "hour_by_day", frame, ["day"], hours, row_total="day_totals"),
        value("when", "exact", w.exact, count=True),
        value("when", "spread", w.spread, count=True),
        value("when", "excluded", w.excluded, count=True),
        note("when", "max_span_hours", w.max_span_hours),
    ]


def _what(r: dict[str, Any]) -> list[Table]:
    offences = r["what"]
    out = [
        Table(
            "what",
            "offence_groups",
            offences.groups,
            ["offence_group"],
            ["count"],
            total="selection",
        ),
        Table(
            "what",
            "offence_subgroups",
            offences.subgroups,
            ["offence_subgroup"],
            ["count"],
            total="selection",
            parent=Parent("offence_groups", "offence_group"),
        ),
    ]
    weights = r["weights"]
    if weights is None:
        return out
    codes = offences.codes.assign(harm=offences.codes["harm"].round(1))
    top = codes.dropna(subset=["harm"]).sort_values("harm", ascending=False).head(15)
    out += [
        Table(
            "what",
            "harm_by_code",
            top[["offence_code", "description", "count", "weight", "harm"]].reset_index(drop=True),
            ["offence_code"],
            ["count"],
            {"harm": ["count"]},
        ),
        note("what", "weights_source", offences.weights_source),
        note("what", "weighted_total", offences.weighted_total),
        value("what", "residents", r["residents"]),
    ]
    out.append(note("what", "unweighted_codes", offences.unweighted_codes))
    if offences.unweighted_codes:
        missing = codes[codes["offence_code"].isin(offences.unweighted_codes)]
        out.append(
            Table(
                "what",
                "codes_without_weight",
                missing[["offence_code", "description", "count"]].reset_index(drop=True),
                ["offence_code"],
                ["count"],
            )
        )
    return out


def _who(r: dict[str, Any]) -> list[Table]:
    people = r["who"]
    out = [value("who", "incidents_with_people", people.incidents_with_people, count=True)]
    if people.incidents_with_people == 0:
        return out
    incidents = value("who", "incidents", people.incidents, count=True)
    incidents.total = "selection"
    out.append(incidents)
    for role in (people.victims, people.suspects):
        total = f"who/{role.role}_people"
        people_cell = value("who", f"{role.role}_people", role.people, count=True)
        people_cell.total = total
        out += [
            people_cell,
            Table(
                "who",
                f"{role.role}_age_bands",
                role.age_bands,
                ["age_band"],
                ["count"],
                total=total,
            ),
            Table("who", f"{role.role}_sex", role.sex, ["sex"], ["count"], total=total),
            Table(
                "who",
                f"{role.role}_ethnicity",
                role.ethnicity,
                ["ethnicity"],
                ["count"],
                total=total,
            ),
        ]
        repeat = value("who", f"{role.role}_repeat_people", role.repeat_people, count=True)
        repeat.across_areas = False  # one person can be in two CSPs
        out.append(repeat)
    out.append(Table("who", "relationships", people.relationships, ["relationship"], ["count"]))
    return out


def _themes(r: dict[str, Any]) -> list[Table]:
    th = r["themes"]
    frame = pd.DataFrame(
        [
            {
                "theme": x.name,
                "count": x.count,
                "assessable": x.assessable,
                "share": round(x.share, 3) if x.share is not None else None,
            }
            for x in th.themes
        ]
    )
    out = [
        Table(
            "themes",
            "themes",
            frame,
            ["theme"],
            ["count", "assessable"],
            {"share": ["count", "assessable"]},
        ),
    ]
    cover = r["coverage"]
    months = cover.months
    for x in th.themes:
        if x.count == 0:
            continue
        found = x.monthly.set_index("month")["count"].reindex(months, fill_value=0)
        monthly = pd.DataFrame(
            {
                "month": months,
                "count": pd.array(
                    [None if cover.status(m) == NO_DATA else int(found[m]) for m in months],
                    dtype="Int64",
                ),
                "coverage": [cover.status(m) for m in months],
                "theme": x.name,
            }
        )
        out.append(
            Table(
                "themes",
                f"{x.id}_monthly",
                monthly,
                ["month"],
                ["count"],
                parent=Parent("themes", "theme"),
            )
        )
    by_csp = (
        pd.concat(
            [
                x.by_csp.dropna(subset=["csp"]).set_index("csp")["count"].rename(x.name)
                for x in th.themes
            ],
            axis=1,
        )
        .fillna(0)
        .astype("int64")
    )
    csps = sorted(by_csp.index)
    if csps:
        place = by_csp.reindex(csps).T.rename_axis("theme").reset_index()
        place.columns = ["theme", *csps]
        # each CSP's column is that CSP's own themes table: one cell in both reports
        by_csp = Table("themes", "by_csp", place, ["theme"], csps, row_total="themes", by_area=True)
        out.append(by_csp)
    return out


def _need(r: dict[str, Any]) -> list[Table]:
    """Each theme's incidents by cohort (the youngest person's age band), with the change
    between the last two complete years in words. A theme of the themes section adds up to its
    row there; all serious violence adds up to the selection."""
    from svduty.vocabulary import COHORTS, NEED_THEMES

    cohorts = {key: words for key, words, *_ in COHORTS}
    frame = r["need"].assign(
        theme_id=lambda f: f["theme"],
        theme=lambda f: f["theme"].map(NEED_THEMES),
        cohort_id=lambda f: f["cohort"],
        cohort=lambda f: f["cohort"].map(cohorts),
    )
    columns = [
        "theme_id", "theme", "cohort_id", "cohort", "count", "change", "theme_change", "years",
        *(["harm"] if "harm" in frame else []),
    ]  # fmt: skip
    derived = {"change": ["count"], "harm": ["count"]}
    everything = frame["theme_id"] == "all"
    return [
        Table(
            "need",
            "all",
            frame.loc[everything, columns].reset_index(drop=True),
            ["cohort_id"],
            ["count"],
            derived,
            total="selection",
        ),
        Table(
            "need",
            "themes",
            frame.loc[~everything, columns].reset_index(drop=True),
            ["theme_id", "cohort_id"],
            ["count"],
            derived,
            parent=Parent("themes/themes", "theme"),
        ),
    ]


def _concentration(r: dict[str, Any]) -> list[Table]:
    conc = r["concentration"]
    frame = conc.table
    if not len(frame):
        return [Table("concentration", "table", frame)]
    frame = frame[frame["measure"] == "incidents"].round(3).astype({"year": str})
    tops = [c for c in frame.columns if c.startswith("in_top_")]
    derived = {c.removeprefix("in_"): [c, "total"] for c in tops}
    table = Table(
        "concentration",
        "table",
        frame.reset_index(drop=True),
        ["year"],
        ["total", *tops],
        derived,
        across_areas=False,
    )
    return [table]


def _health(r: dict[str, Any]) -> list[Table]:
    h = r["health"]
    attendances = value("health", "attendances", h.attendances, count=True)
    attendances.total = "health/attendances"
    admissions = value("health", "admissions", h.admissions, count=True)
    admissions.total = "health/admissions"
    out = [attendances, admissions]
    if h.attendances:
        locations = h.by_location.round(3)
        compared = "police" in locations.columns
        out += [
            Table("health", "by_hour", h.by_hour, ["hour"], ["count"], total="health/attendances"),
            Table(
                "health",
                "locations",
                locations,
                ["location_type"],
                ["ae", "police"] if compared else ["ae"],
                {"ae_share": ["ae"], "police_share": ["police"], "gap": ["ae", "police"]}
                if compared
                else {"ae_share": ["ae"]},
                total={"ae": "health/attendances", "police": "selection"}
                if compared
                else {"ae": "health/attendances"},
            ),
            Table(
                "health",
                "means_of_assault",
                h.by_means,
                [h.by_means.columns[0]],
                ["count"],
                total="health/attendances",
            ),
        ]
    for table in out:
        if table.name != "admissions":
            table.partnership = True  # A&E records the hospital, not the CSP of the assault
    if h.admissions:
        sharp = h.sharp_admissions_by_age
        out.append(Table("health", "sharp_object_admissions", sharp, [sharp.columns[0]], ["count"]))
    return out


HOT_LSOA_CLASSES = {"hot 99%": "99%", "hot 95%": "95%"}
"""The LSOA hotspot classes named in the report, with the confidence each is shown with."""


def _hot_lsoas(frame: pd.DataFrame, names: pd.DataFrame) -> Table:
    """LSOAs at the centre of 99% and 95% hotspots, most confident then hottest first, with
    their ward, district and incidents (controlled like any other count). A name the reference
    data lack (e.g. no ward for an LSOA of 2011 only) reads "not known", as a blank would read
    as hidden."""
    hot = frame[frame["class"].isin(list(HOT_LSOA_CLASSES))].merge(
        names, on="lsoa_code", how="left"
    )
    hot = hot.assign(
        confidence=hot["class"].map(HOT_LSOA_CLASSES),
        order=hot["class"].map({c: i for i, c in enumerate(HOT_LSOA_CLASSES)}),
    ).sort_values(["order", "gi_star_z", "lsoa_code"], ascending=[True, False, True])
    table = pd.DataFrame(
        {
            "LSOA": hot["lsoa_code"],
            "name": hot["lsoa_name"].fillna("not known"),
            "ward": hot["ward_name"].fillna("not known"),
            "district": hot["la_name"].fillna("not known"),
            "confidence": hot["confidence"],
            "count": hot["count"].astype("int64"),
        }
    ).reset_index(drop=True)
    return Table("hotspots", "lsoas_hot", table, ["LSOA"], ["count"])


def _near_repeats(r: dict[str, Any]) -> list[Table]:
    result = r["near_repeat"]
    if isinstance(result, InputError):
        return [note("near_repeats", "unavailable", str(result))]
    table = result.table.reset_index(drop=True)
    return [
        value("near_repeats", "events", result.events, count=True),
        Table(
            "near_repeats",
            "knox",
            table,
            ["space_band", "time_band"],
            ["observed"],
            {"expected": ["observed"], "knox_ratio": ["observed"], "p_value": ["observed"]},
            across_areas=False,
        ),
        note("near_repeats", "method", result.method),
    ]


def _aggregate(r: dict[str, Any]) -> list[Table]:
    t, found = r["aggregate_trend"], r["aggregate"]
    frame = found.frame
    quarterly = t.quarterly.assign(financial_year=[q.split(" ")[0] for q in t.quarterly["quarter"]])
    groups = (
        frame.groupby(["offence_group", "offence_subgroup"])["count"]
        .sum()
        .reset_index()
        .sort_values("count", ascending=False)
        .reset_index(drop=True)
    )
    level = r["aggregate_level"]
    period = (
        f"{t.quarterly['quarter'].iloc[0]} to {t.quarterly['quarter'].iloc[-1]}"
        if len(t.quarterly)
        else "no counts"
    )
    out = [
        note("report", "period", period),
        note("where", "level", level),
        Table(
            "trends",
            "financial_years",
            t.financial_years,
            ["financial_year"],
            ["count"],
            total="selection",
        ),
        Table(
            "trends",
            "quarterly",
            quarterly,
            ["quarter"],
            ["count"],
            total="selection",
            parent=Parent("financial_years", "financial_year"),
        ),
        note("trends", "change_periods", list(t.change_periods or [])),
        Table("where", f"{level}_rates", r["aggregate_rates"].round(3), ["area"], ["count"], RATES),
        note("where", "rate_months", r["rate_months"]),
        note(
            "where",
            "rate_basis",
            f"per 1,000 residents a year, over the {r['rate_months'] // 3} quarters "
            f"({r['rate_months']} months) in the tables",
        ),
        Table(
            "what", "offence_subgroups", groups, ["offence_subgroup"], ["count"], total="selection"
        ),
        Table("what", "clauses", found.clauses, ["clause"], ["counted", "unassessable"]),
        note("what", "unassessable_clauses", list(found.unassessable)),
    ]
    weights = r["weights"]
    if weights is not None:
        codes = frame.groupby("offence_code", as_index=False)["count"].sum()
        codes["weight"] = codes["offence_code"].map(weights.weights)
        codes["harm"] = (codes["count"] * codes["weight"]).round(1)
        out += [
            note("what", "weights_source", weights.source),
            note("what", "weighted_total", float(codes["harm"].sum())),
            note(
                "what",
                "unweighted_codes",
                sorted(codes.loc[codes["weight"].isna(), "offence_code"]),
            ),
        ]
    return out


# ---- derived from published counts ----------------------------------------------------------


def derive(pub: Publication) -> Publication:
    """Add every derived figure, computed from `pub`'s published counts only."""
    if pub.has("trends", "monthly"):
        _derive_trends(pub)
    elif pub.has("trends", "quarterly"):
        _derive_change(pub)
    if pub.has("who", "victim_age_bands"):
        for role in ("victim", "suspect"):
            _derive_ages(pub, role)
    derive_measures(pub)
    pub.add(note("summary", "findings", findings(pub)))
    pub.add(note("records", "statement", board.records_statement(pub)))
    pub.add(note("limitations", "items", board.limitations(pub)))
    return conclusions.conclude(pub)


def derive_places(pub: Publication) -> Publication:
    """The near-repeat conclusion in words, from the published Knox table only."""
    if pub.has("near_repeats", "knox"):
        words = near_repeat_words(pub.table("near_repeats", "knox"))
        pub.add(note("near_repeats", "conclusion", words))
    return pub


def near_repeat_words(knox: pd.DataFrame) -> str:
    """What the Knox table says: whether incidents close in space are also close in time more
    often than chance gives, judged on the bands below the last distance and time."""
    space, time = knox["space_band"].astype(str), knox["time_band"].astype(str)
    close = knox[~space.str.startswith("more than") & ~time.str.startswith("more than")]
    if not len(close):
        return "There is no band closer than the last distance and time: nothing to judge."
    far_space = next((s for s in space if s.startswith("more than")), "the last distance")
    far_time = next((t for t in time if t.startswith("more than")), "the last time")
    within = f"{far_space.removeprefix('more than ')} and {far_time.removeprefix('more than ')}"
    shown = close.dropna(subset=["knox_ratio", "p_value"])
    hidden = len(close) - len(shown)
    found = shown[(shown["knox_ratio"] > 1) & (shown["p_value"] < 0.05)]
    tested = len(shown)
    tail = f" ({hidden} of the bands are hidden: too few pairs to show.)" if hidden else ""
    if not len(found):
        return (
            f"No near-repeat pattern: in none of the {tested} bands closer than {within} are "
            "there more pairs of incidents than chance gives (a Knox ratio above 1 with p below "
            f"0.05).{tail}"
        )
    listed = "; ".join(
        f"{row['space_band']} and {row['time_band']} apart (ratio {row['knox_ratio']:.2f}, "
        f"p = {row['p_value']:.2f})"
        for _, row in found.iterrows()
    )
    first = close.iloc[0]
    if first.name in found.index:
        return (
            f"A near-repeat pattern: pairs of incidents within {first['space_band']} and "
            f"{first['time_band']} of each other are {first['knox_ratio']:.2f} times as many "
            f"as chance gives. Bands with more pairs than chance (p below 0.05): {listed}.{tail}"
        )
    return (
        f"Little sign of a near-repeat pattern: {len(found)} of the {tested} bands closer than "
        f"{within} have more pairs than chance gives ({listed}), but the closest band "
        f"{'is hidden' if first.name not in shown.index else 'does not'}, "
        f"and with {tested} bands tested at p below 0.05 about {tested / 20:.0f} would pass by "
        f"chance alone.{tail}"
    )


def _derive_trends(pub: Publication) -> None:
    monthly = pub.table("trends", "monthly")
    coverage = list(monthly["coverage"])
    # only months every source of the counts holds: a gap or a partial month is not comparable
    counts = pd.Series(
        [
            float(v) if v is not None and c == FULL else np.nan
            for v, c in zip(monthly["count"], coverage, strict=True)
        ]
    )
    if len(monthly) >= 12:
        # a window with a hidden month is hidden, so no rolling total gives a month back
        rolling = counts.rolling(12).sum().iloc[11:]
        windows = [coverage[i - 11 : i + 1] for i in range(11, len(coverage))]
        frame = pd.DataFrame(
            {
                "month": list(monthly["month"])[11:],
                "rolling_12_months": rolling.to_numpy(),
                "coverage": [_worst(w) for w in windows],
            }
        )
        pub.add(Table("trends", "rolling_12_months", frame))
    full = [c == FULL for c in coverage]
    calendar = pd.Series([int(m[5:7]) for m in monthly["month"]])[full]
    shown = counts[full]
    if (
        len(shown) >= 24
        and shown.notna().all()
        and calendar.value_counts().reindex(range(1, 13), fill_value=0).min() >= 2
    ):
        season = pd.DataFrame({"month": calendar, "count": shown}).groupby("month")["count"].mean()
        frame = pd.DataFrame(
            {
                "month": [pd.Timestamp(2000, m, 1).strftime("%b") for m in season.index],
                "index": (season / season.mean()).round(3).to_numpy(),
            }
        )
        pub.add(Table("trends", "seasonality", frame))
    _derive_change(pub)


def _worst(statuses: list[str]) -> str:
    """A window's coverage: no data if any month has none, partial if any lacks a source."""
    for status in (NO_DATA, PARTIAL):
        if status in statuses:
            return status
    return FULL


def _derive_change(pub: Publication) -> None:
    """Year on year from the two published financial-year counts, or why there is none."""
    periods = pub.value("trends", "change_periods")
    years = pub.table("trends", "financial_years")
    text = _no_change(years)
    change = None
    if periods:
        counted = years.set_index("financial_year")["count"]
        a, b = counted.get(periods[0]), counted.get(periods[1])
        if a is None or b is None:
            text = "Year on year: not shown, as one of the two years' counts is suppressed."
        else:
            change = compare_counts(int(a), int(b), minimum=20)
            text = f"{periods[1]} against {periods[0]}: {change_words(change)}."
    pub.add(note("trends", "change", text))
    pub.add(note("trends", "change_verdict", None if change is None else change.verdict))


def _no_change(years: pd.DataFrame) -> str:
    """Why no year is compared with the one before, from the years' coverage."""
    if "coverage" not in years.columns:
        return "Fewer than two complete financial years: no year-on-year comparison."
    pairs = list(zip(years["financial_year"], years["coverage"], strict=True))
    complete = [str(y) for y, c in pairs if c == "complete"]
    text = (
        "No year-on-year comparison: it needs two consecutive complete financial years (all "
        "twelve months, each with data from every source of the counts)."
    )
    if len(complete) >= 2:
        last = f"{complete[-2]} and {complete[-1]}"
        return f"{text} The last two complete years, {last}, are not consecutive."
    others = "; ".join(f"{y} ({c})" for y, c in pairs if c != "complete")
    text += f" Complete: {', '.join(complete) or 'none'}."
    return text + (f" Not complete: {others}." if others else "")


def change_words(change: Any) -> str:
    words = str(change.verdict)
    if change.ratio:
        words += (
            f" (rate ratio {change.ratio:.2f}, 95% interval {change.low:.2f} to "
            f"{change.high:.2f}, exact test {p_words(change.p_value)})"
        )
    return words


def p_words(p: float) -> str:
    """A p-value as a reader reads it: "p < 0.001", else to three places."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _derive_ages(pub: Publication, role: str) -> None:
    """Shares under 18 and under 25 of people with a known age, only when every band they
    need is shown."""
    bands = pub.table("who", f"{role}_age_bands").set_index("age_band")["count"]
    known = [label for _, _, label in AGE_BANDS if label in bands.index]
    shares: dict[str, float | None] = {"under_18": None, "under_25": None}
    if known and all(bands[b] is not None for b in known):
        total = sum(int(bands[b]) for b in known)
        for name, below in (("under_18", 18), ("under_25", 25)):
            young = sum(
                int(bands[lab]) for low, _, lab in AGE_BANDS if lab in known and low < below
            )
            shares[name] = round(young / total, 3) if total else None
    pub.add(note("who", f"{role}_under_18", shares["under_18"]))
    pub.add(note("who", f"{role}_under_25", shares["under_25"]))


def findings(pub: Publication) -> list[str]:
    """Key findings as sentences, each number taken from a published cell, each saying when
    it rests on synthetic data."""
    if pub.has("trends", "quarterly"):
        return _aggregate_findings(pub) + board.benchmark_findings(pub)[:1]
    out: list[str] = []
    if pub.has("trends", "monthly"):
        monthly = pub.table("trends", "monthly")
        held = [
            v for v, c in zip(monthly["count"], monthly["coverage"], strict=True) if c != NO_DATA
        ]
        name = pub.provenance["definition"]["id"]
        period = pub.value("report", "period")
        if held and len(held) < len(monthly):
            period += f" ({len(held)} months with data)"
        total = _published_total(pub, held)
        if total is not None:
            out.append(f"{total:,} incidents met the {name} definition in {period}.")
        else:
            out.append(
                f"Incidents meeting the {name} definition in {period}: some months and "
                "financial years are hidden (small counts), so no total is given."
            )
        out += _gap_finding(monthly)
    verdict = pub.value("trends", "change_verdict") if pub.has("trends", "change_verdict") else None
    periods = pub.value("trends", "change_periods") if pub.has("trends", "change_periods") else []
    if verdict and periods:
        out.append(f"Year on year ({periods[1]} against {periods[0]}): {verdict}.")
    if pub.has("where", "area_rate"):
        out += _area_rate_finding(pub)
    elif pub.has("where", "csp_rates"):
        out += _rate_finding(pub)
    if pub.has("themes", "themes"):
        shares = pub.table("themes", "themes").set_index("theme")["share"]
        for theme in ("Domestic abuse", "Youth (a victim or suspect under 25)"):
            if shares.get(theme) is not None:
                out.append(f"{theme}: {shares[theme]:.0%} of incidents where recorded.")
    if pub.has("concentration", "table"):
        conc = pub.table("concentration", "table")
        if len(conc) and conc.iloc[-1].get("top_5") is not None:
            last = conc.iloc[-1]
            out.append(
                f"In {last['year']}, {last['top_5']:.0%} of incidents fell in the 5% of "
                "neighbourhoods (LSOAs) with the most."
            )
    out = board.findings_lead(pub) + board.as_data(out, board.basis(pub))
    health = []
    if pub.has("health", "locations") and "gap" in pub.table("health", "locations"):
        loc = pub.table("health", "locations")
        if len(loc) and loc.iloc[0]["gap"] is not None and loc.iloc[0]["gap"] > 0:
            top = loc.iloc[0]
            place = label("location_type", str(top["location_type"])).lower()
            health.append(
                "The place where A&E assaults are most over-represented against police records: "
                f"{place} ({top['ae_share']:.0%} of attendances against "
                f"{top['police_share']:.0%} of police-recorded incidents)."
            )
    return out + board.as_data(health, board.health_basis(pub)) + board.benchmark_findings(pub)[:1]


def _published_total(pub: Publication, months: list[Any]) -> int | None:
    """The selection's total as the tables show it: the sum of its financial years, or of its
    months with data, when every one is shown, or a CSP's count in its rate table (None when
    no table shows it)."""
    shown: list[list[Any]] = [months]
    if pub.has("trends", "financial_years"):
        shown.insert(0, list(pub.table("trends", "financial_years")["count"]))
    if pub.has("where", "area_rate"):  # a CSP's or district's report: its one rate row
        own = "district_rates" if pub.provenance.get("district") else "csp_rates"
        shown.append(list(pub.table("where", own)["count"]))
    for counted in shown:
        if counted and all(v is not None for v in counted):
            return int(sum(counted))
    return None


def _area_rate_finding(pub: Publication) -> list[str]:
    """A CSP's rate against its whole area's, or a district's against its CSP's and the whole
    area's, by the CSP's (district's) exact 95% interval."""
    district = pub.provenance.get("district")
    own = pub.table("where", "district_rates" if district else "csp_rates")
    area = pub.table("where", "area_rate")
    months = pub.value("where", "rate_months")
    if len(own) != 1 or not len(area) or not months:
        return []
    compared = [area.iloc[0]]
    if district:
        compared.insert(0, pub.table("where", "csp_rates").iloc[0])
    mine = own.iloc[0]
    if mine["rate"] is None or any(c["rate"] is None for c in compared):
        return []
    against = " and ".join(
        f"{board.compare(mine, float(c['rate']))} {c['area']}'s {c['rate']:.1f}" for c in compared
    )
    return [
        f"{mine['area']}'s rate was {mine['rate']:.1f} per 1,000 residents a year (95% interval "
        f"{mine['low']:.1f} to {mine['high']:.1f}; {months} months with data), {against}."
    ]


def _gap_finding(monthly: pd.DataFrame) -> list[str]:
    """Months without data, or without every source, said plainly: they are not zeros."""
    coverage = list(monthly["coverage"])
    gaps, partial = coverage.count(NO_DATA), coverage.count(PARTIAL)
    if not gaps and not partial:
        return []
    parts = []
    if gaps:
        parts.append(f"{gaps} of the {len(coverage)} months have no data (gaps, not zeros)")
    if partial:
        parts.append(f"{partial} have data from only some of the sources")
    return [
        f"The monthly counts are incomplete: {' and '.join(parts)}; no change is tested "
        "across them."
    ]


def _rate_finding(pub: Publication) -> list[str]:
    own = pub.table("where", "csp_rates")
    months = pub.value("where", "rate_months")
    if len(own) < 2 or any(v is None for v in own["count"]) or not months:
        return []
    top = own.iloc[0]
    overall = sum(own["count"]) / sum(own["population"]) * 1000 * 12 / months
    clear = "significantly above" if top["low"] > overall else "not significantly above"
    sentence = (
        f"{top['area']} had the highest rate, {top['rate']:.1f} per 1,000 residents a year "
        f"(95% interval {top['low']:.1f} to {top['high']:.1f}; {months} months with data), "
        f"{clear} the area's {overall:.1f}"
    )
    if pub.has("where", "csp_change"):
        change = pub.table("where", "csp_change")
        mine = change[change["area"] == top["area"]]
        if len(mine) and mine.iloc[0]["verdict"] is not None:
            sentence += f"; its change between the last two years: {mine.iloc[0]['verdict']}"
    return [sentence + "."]


def _aggregate_findings(pub: Publication) -> list[str]:
    quarters = pub.table("trends", "quarterly")["count"]
    name, period = pub.provenance["definition"]["id"], pub.value("report", "period")
    unassessable = pub.value("what", "unassessable_clauses")
    clauses = pub.table("what", "clauses")
    out = [
        f"{int(sum(quarters)):,} offences in the Home Office tables fall under the offence-code "
        f"clauses of {name} in {period}."
        if all(v is not None for v in quarters)
        else f"Offences under {name} in {period}: some quarters are suppressed."
    ]
    if unassessable:
        out.append(
            f"{len(unassessable)} of {len(clauses)} clauses need markers the tables do not "
            f"carry ({', '.join(unassessable)}): the count above leaves them out."
        )
    verdict, periods = pub.value("trends", "change_verdict"), pub.value("trends", "change_periods")
    if verdict and periods:
        out.append(f"Year on year ({periods[1]} against {periods[0]}): {verdict}.")
    rates = pub.table("where", f"{pub.value('where', 'level')}_rates")
    if len(rates) and rates["rate"].iloc[0] is not None:
        top = rates.iloc[0]
        out.append(f"{top['area']}: {top['rate']:.1f} offences a year per 1,000 residents.")
    return out
