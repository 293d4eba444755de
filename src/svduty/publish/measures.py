"""Success measures as publishable tables, and the SPC charts, changes and funnels derived from
what is published.

Each measure's monthly counts are controlled like every other count: the months of a financial
year add up to the year, the whole area's month is its CSPs' months added up. An SPC chart is
drawn from the published months only, so it is drawn only when none of its months is hidden (a
mean and a limit computed over hidden months would give their sum back); otherwise the reader is
told how many months are below the threshold and the chart is in the internal report."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from svduty.analysis.coverage import financial_year
from svduty.analysis.measure_series import Series
from svduty.analysis.stats import compare_counts
from svduty.measures.funnel import funnel
from svduty.measures.spc import SpcResult, spc
from svduty.publish import Publication
from svduty.publish.tables import Parent, Table, note
from svduty.vocabulary import NO_DATA

SECTION = "measures"
MONTHLY = ("measure", "month", "financial_year", "measure_year", "count", "rate", "status")
YEARLY = ("measure_year", "measure", "financial_year", "months", "count")


def draft_measures(found: dict[str, Series], start: str | None, end: str | None) -> list[Table]:
    """One area's success measures over the selection's months (`start` to `end`, YYYY-MM)."""
    about, monthly = [], []
    for key, series in found.items():
        m = series.measure
        frame = series.frame
        inside = frame[(frame["month"] >= (start or "0000")) & (frame["month"] <= (end or "9999"))]
        about.append(
            {
                "measure": key,
                "name": m.name,
                "framework": m.framework,
                "unit": m.unit_words,
                "per": m.per,
                "value": series.value,
                "improvement": m.improvement,
                "population": series.population,
                "notes": "; ".join(series.notes),
            }
        )
        for row in inside.to_dict("records"):
            year = financial_year(str(row["month"]))
            held = row["status"] != NO_DATA
            rate = row["rate"]
            monthly.append(
                {
                    "measure": key,
                    "month": row["month"],
                    "financial_year": year,
                    "measure_year": f"{key} {year}",
                    "count": int(row["count"]) if held else None,
                    "rate": round(float(rate), 3) if held and not pd.isna(rate) else None,
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
    ]


def derive_measures(pub: Publication) -> None:
    """Each measure's SPC chart, latest value and change between its last two complete
    financial years, from the published months and years only."""
    if not pub.has(SECTION, "about"):
        return
    monthly, yearly = pub.table(SECTION, "monthly"), pub.table(SECTION, "yearly")
    charts: dict[str, SpcResult] = {}
    rows = []
    for about in pub.value(SECTION, "about") or []:
        mine = monthly[(monthly["measure"] == about["measure"]) & (monthly["status"] != NO_DATA)]
        hidden = int(mine["count"].isna().sum())
        result = None
        if len(mine) and not hidden:
            days = [date.fromisoformat(f"{m}-01") for m in mine["month"]]
            values = [float(v) for v in mine[about["value"]]]
            result = spc(days, values, improvement=about["improvement"])
            charts[about["measure"]] = result
        latest = mine.iloc[-1] if len(mine) else None
        years = yearly[yearly["measure"] == about["measure"]]
        rows.append(
            {
                "measure": about["measure"],
                "name": about["name"],
                "latest_month": None if latest is None else latest["month"],
                "latest": None if latest is None else latest[about["value"]],
                "variation": None if result is None else result.variation_icon,
                "assurance": None if result is None else result.assurance_icon,
                "months": len(mine),
                "hidden_months": hidden,
                "change": _change(years),
            }
        )
    pub.add(note(SECTION, "summary", rows))
    pub.extras["spc"] = charts


def _change(years: pd.DataFrame) -> str:
    """The last two complete financial years compared by the exact test, or why not."""
    complete = years[years["months"] == 12]
    if len(complete) < 2:
        return "no comparison: it needs two complete financial years of data"
    (a_year, a), (b_year, b) = (
        (str(r["financial_year"]), r["count"]) for r in complete.tail(2).to_dict("records")
    )
    if a is None or b is None:
        return f"{b_year} against {a_year}: not shown, as one of the two years is suppressed"
    change = compare_counts(int(a), int(b), minimum=20)
    words = str(change.verdict)
    if change.ratio:
        words += f" (rate ratio {change.ratio:.2f}, {change.low:.2f} to {change.high:.2f})"
    return f"{b_year} against {a_year}: {words}"


def add_funnels(whole: Publication, parts: dict[str, Publication]) -> None:
    """The CSPs of the partnership compared on each rate measure over the last financial year
    every CSP has complete, from each CSP's published count (a CSP whose count is hidden is
    left out, and said)."""
    if not parts or not whole.has(SECTION, "about"):
        return
    found: dict[str, dict[str, Any]] = {}
    for about in whole.value(SECTION, "about") or []:
        if about["value"] != "rate":
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
        if len(rows) < 2:
            continue
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
