"""Success measures as publishable tables, and the SPC charts, changes and funnels derived from
what is published.

Each measure's monthly counts are controlled like every other count: the months of a financial
year add up to the year, the whole area's month is its CSPs' months added up. An SPC chart is
drawn from the published months only, so it is drawn only when none of its months is hidden (a
mean and a limit computed over hidden months would give their sum back); otherwise the reader is
told how many months are below the threshold and the chart is in the internal report."""

from __future__ import annotations

from typing import Any

import pandas as pd

from svduty.analysis.coverage import financial_year
from svduty.analysis.measure_series import Series
from svduty.analysis.stats import compare_counts
from svduty.measures.funnel import funnel
from svduty.measures.limits import Baseline, chart_plan
from svduty.measures.spc import SpcResult, spc
from svduty.periods import MONTHS, WORDS, period_start
from svduty.publish import Publication
from svduty.publish.tables import Parent, Table, note
from svduty.vocabulary import NO_DATA

SECTION = "measures"
MONTHLY = ("measure", "month", "financial_year", "measure_year", "count", "rate", "status")
YEARLY = ("measure_year", "measure", "financial_year", "months", "count")
PERIODS = ("measure", "period", "count", "figure", "status")


def draft_measures(found: dict[str, Series], start: str | None, end: str | None) -> list[Table]:
    """One area's success measures over the selection's months (`start` to `end`, YYYY-MM): a
    measure by month in `monthly` (its months adding up to financial years in `yearly`), one by
    quarter or financial year (an external series) in `periods`."""
    about, monthly, periods = [], [], []
    for key, series in found.items():
        m = series.measure
        about.append(
            {
                "measure": key,
                "name": m.name,
                "framework": m.framework,
                "unit": m.unit_words,
                "per": m.per,
                "period": series.period,
                "charted": series.value,
                "improvement": m.improvement,
                "population": series.population,
                "notes": "; ".join(series.notes),
                "baseline": [m.baseline.first, m.baseline.last] if m.baseline else None,
                "recalculate": list(m.recalculate),
                "target": m.target,
            }
        )
        frame = series.frame.rename(columns={series.period: "period"})
        first = period_start(start, "month") if start else None
        for row in frame.to_dict("records"):
            begins = period_start(str(row["period"]), series.period)
            if (first and begins < first) or (end and f"{begins:%Y-%m}" > end):
                continue
            held = row["status"] != NO_DATA
            figure = row[series.value]
            count = int(row["count"]) if held else None
            value = float(f"{figure:.4g}") if held and not pd.isna(figure) else None
            if series.period == "month":
                year = financial_year(str(row["period"]))
                monthly.append(
                    {
                        "measure": key,
                        "month": row["period"],
                        "financial_year": year,
                        "measure_year": f"{key} {year}",
                        "count": count,
                        "rate": value if series.value == "rate" else None,
                        "status": row["status"],
                    }
                )
            else:
                periods.append(
                    {
                        "measure": key,
                        "period": row["period"],
                        "count": count,
                        "figure": value,
                        "status": row["status"],
                    }
                )
    months = pd.DataFrame(monthly, columns=list(MONTHLY))
    held = months[months["status"] != NO_DATA]
    years = (
        held.groupby(["measure_year", "measure", "financial_year"], sort=False)
        .agg(months=("month", "size"), count=("count", "sum"))
        .reset_index()
        if len(held)
        else pd.DataFrame(columns=list(YEARLY))
    )
    return [
        note(SECTION, "about", about),
        Table(SECTION, "yearly", years[list(YEARLY)], ["measure_year"], ["count"]),
        Table(
            SECTION,
            "monthly",
            months,
            ["measure", "month"],
            ["count"],
            {"rate": ["count"]},
            parent=Parent("yearly", "measure_year"),
        ),
        Table(
            SECTION,
            "periods",
            pd.DataFrame(periods, columns=list(PERIODS)),
            ["measure", "period"],
            ["count"],
            {"figure": ["count"]},
        ),
    ]


def _rows(pub: Publication, about: dict[str, Any]) -> pd.DataFrame:
    """A measure's published periods with data: period, count, value (in its unit), status."""
    if about["period"] == "month":
        t = pub.table(SECTION, "monthly").rename(columns={"month": "period"})
        t = t.assign(value=t[about["charted"]])
    else:
        t = pub.table(SECTION, "periods").rename(columns={"figure": "value"})
    t = t[(t["measure"] == about["measure"]) & (t["status"] != NO_DATA)]
    return t[["period", "count", "value", "status"]]


def derive_measures(pub: Publication) -> None:
    """Each measure's SPC chart (with the framework's baseline, recalculation points and
    target), latest value and change (against its baseline where it has one, else between its
    last two complete financial years, or an external series' last two periods), from what is
    published only."""
    if not pub.has(SECTION, "about"):
        return
    yearly = pub.table(SECTION, "yearly")
    charts: dict[str, SpcResult] = {}
    rows = []
    for about in pub.value(SECTION, "about") or []:
        mine = _rows(pub, about)
        years = yearly[yearly["measure"] == about["measure"]]
        baseline = Baseline(*about["baseline"]) if about.get("baseline") else None
        hidden = int(mine["count"].isna().sum())
        result, said = None, []
        if len(mine) and not hidden and mine["value"].notna().all():
            days = [period_start(str(p), about["period"]) for p in mine["period"]]
            values = [float(v) for v in mine["value"]]
            plan = chart_plan(
                days, about["period"], baseline, about.get("recalculate", []), about.get("target")
            )
            said = list(plan.notes)
            result = spc(
                days[plan.first :], values[plan.first :], improvement=about["improvement"],
                baseline=plan.baseline, recalculate=plan.recalculate, target=plan.target,
            )  # fmt: skip
            said += result.notes
            charts[about["measure"]] = result
        latest = mine.iloc[-1] if len(mine) else None
        if baseline is not None:
            change = _against_baseline(mine, years, about["period"], baseline)
        elif about["period"] == "month":
            change = _change(years)
        else:
            change = _last_two(mine, about)
        rows.append(
            {
                "measure": about["measure"],
                "name": about["name"],
                "latest_month": None if latest is None else latest["period"],
                "latest": None if latest is None else latest["value"],
                "variation": None if result is None else result.variation_icon,
                "assurance": None if result is None else result.assurance_icon,
                "months": len(mine),
                "hidden_months": hidden,
                "change": change,
                "target": about.get("target"),
                "chart_notes": "; ".join(said),
            }
        )
    pub.add(note(SECTION, "summary", rows))
    pub.extras["spc"] = charts


def _last_two(mine: pd.DataFrame, about: dict[str, Any]) -> str:
    """An external series' last two periods compared by the exact test on their counts."""
    if len(mine) < 2:
        return f"no comparison: it needs two {WORDS[about['period']]}s of data"
    return _compared([(str(r["period"]), r["count"]) for r in mine.tail(2).to_dict("records")])


def _change(years: pd.DataFrame) -> str:
    """The last two complete financial years compared by the exact test, or why not."""
    complete = years[years["months"] == 12]
    if len(complete) < 2:
        return "no comparison: it needs two complete financial years of data"
    rows = complete.tail(2).to_dict("records")
    return _compared([(str(r["financial_year"]), r["count"]) for r in rows])


def _against_baseline(
    mine: pd.DataFrame, years: pd.DataFrame, period: str, baseline: Baseline
) -> str:
    """The latest complete financial year (an external series' latest period) after the
    baseline against the baseline, their counts compared for their lengths by the exact test.
    A baseline with months suppressed is taken from its published financial years when it is
    whole ones."""
    against = f"the baseline {baseline.words}"
    starts = [period_start(str(p), period) for p in mine["period"]]
    inside = mine[[baseline.holds(day) for day in starts]]
    expected = baseline.months // MONTHS[period]
    if len(inside) < expected:
        return (
            f"no comparison with {against}: {expected - len(inside)} of its {expected} "
            f"{WORDS[period]}s have no data"
        )
    total: Any = None if inside["count"].isna().any() else int(inside["count"].sum())
    begins = years["financial_year"].map(lambda y: period_start(str(y), "financial_year"))
    if total is None and period == "month" and baseline.start.month == baseline.end.month == 4:
        whole = years[begins.map(baseline.holds)]
        if len(whole) * 12 == baseline.months and whole["count"].notna().all():
            total = int(whole["count"].sum())
    if period == "month":
        after = years[(years["months"] == 12) & (begins >= baseline.end)]
        latest = [(str(r["financial_year"]), r["count"]) for r in after.to_dict("records")]
        length = 12
    else:
        after = mine[[day >= baseline.end for day in starts]]
        latest = [(str(r["period"]), r["count"]) for r in after.to_dict("records")]
        length = MONTHS[period]
    if not latest:
        whole_period = "complete financial year" if period == "month" else WORDS[period]
        return f"no comparison: no {whole_period} with data after {against}"
    said = _compared([(against, total), latest[-1]], (baseline.months / length, 1.0))
    if baseline.months % 12:
        said += " (the baseline is not whole years, so its seasons weigh unequally)"
    return said


def _compared(two: list[tuple[str, Any]], exposures: tuple[float, float] = (1.0, 1.0)) -> str:
    """The second period's count against the first's (for their lengths), or why it is not
    shown."""
    (a_label, a), (b_label, b) = two
    if a is None or b is None:
        return f"{b_label} against {a_label}: not shown, as one of the two is suppressed"
    change = compare_counts(int(a), int(b), *exposures, minimum=20)
    words = str(change.verdict)
    if change.ratio:
        words += f" (rate ratio {change.ratio:.2f}, {change.low:.2f} to {change.high:.2f})"
    return f"{b_label} against {a_label}: {words}"


def add_funnels(whole: Publication, parts: dict[str, Publication]) -> None:
    """The CSPs of the partnership compared on each rate measure over the last financial year
    every CSP has complete, from each CSP's published count (a CSP whose count is hidden is
    left out, and said)."""
    if not parts or not whole.has(SECTION, "about"):
        return
    found: dict[str, dict[str, Any]] = {}
    for about in whole.value(SECTION, "about") or []:
        if about["charted"] != "rate" or about["period"] != "month":
            continue
        measure = about["measure"]
        rows, missing, year = [], [], _common_year(measure, parts)
        if year is None:
            continue
        for name, pub in parts.items():
            mine = pub.table(SECTION, "yearly")
            hit = mine[mine["measure_year"] == f"{measure} {year}"]
            population = next(
                (a["population"] for a in pub.value(SECTION, "about") if a["measure"] == measure),
                None,
            )
            if hit.empty or hit["count"].iloc[0] is None or not population:
                missing.append(name)
                continue
            rows.append((name, int(hit["count"].iloc[0]), int(population)))
        if len(rows) < 2 or not sum(r[1] for r in rows):
            continue  # no baseline to compare the CSPs with
        result = funnel(
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            kind="rate",
            multiplier=about["per"],
        )
        found[measure] = {"year": year, "result": result, "left_out": missing}
    whole.extras["funnels"] = found


def _common_year(measure: str, parts: dict[str, Publication]) -> str | None:
    """The latest financial year complete for the measure in every CSP."""
    years = None
    for pub in parts.values():
        mine = pub.table(SECTION, "yearly")
        mine = mine[(mine["measure"] == measure) & (mine["months"] == 12)]
        here = set(mine["financial_year"])
        years = here if years is None else years & here
    return max(years) if years else None
