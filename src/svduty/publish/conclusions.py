"""What a board member should take from each table and chart, one plain sentence each.

Every figure in a sentence is a published cell (hidden cells are None and are never stated or
worked back from); when the cells a sentence needs are hidden, it says so. A largest or smallest
value is "of those shown" whenever a cell of the table is hidden, as a hidden cell may be either.
Differences are called significant only where the report tests them (exact Poisson intervals,
Gi* classes). The sentences are stored as notes under "conclusions", keyed by the table or chart
they sit under, so the summary file carries them too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from svduty.publish import Publication, board
from svduty.publish.tables import note
from svduty.vocabulary import FULL, NO_DATA, PARTIAL, label

HIDDEN_NEEDED = "The figures this would need are hidden (small counts), so no conclusion is drawn."

PUBLIC_PLACE = (
    "Two public-place figures: the Themes table counts incidents at any public location "
    "(streets and open spaces, licensed premises, shops and transport) among incidents with a "
    "place recorded; the A&E table's public place row is streets and open spaces only, as a "
    "share of attendances (or of police incidents) with a place recorded."
)
"""Why the themes' public-place share and the A&E table's differ: what each counts."""


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _n(value: Any) -> str:
    return f"{int(value):,}"


def _rate(value: Any) -> str:
    return f"{float(value):,.2f}" if float(value) < 10 else f"{float(value):,.1f}"


def _times(high: float, low: float) -> str:
    return f"{high / low:.1f} times" if low else "well above"


def month_name(month: str) -> str:
    """ "2025-07" as "July 2025"."""
    try:
        return pd.Timestamp(f"{month}-01").strftime("%B %Y")
    except ValueError:
        return month


def _extremes(
    rows: list[dict[str, Any]], column: str, name: Callable[[dict[str, Any]], str]
) -> tuple[dict[str, Any], dict[str, Any], int] | None:
    """The rows with the largest and smallest shown value, and how many rows are hidden."""
    shown = [r for r in rows if r[column] is not None]
    if not shown:
        return None
    hidden = len(rows) - len(shown)
    top = max(shown, key=lambda r: (r[column], name(r)))
    low = min(shown, key=lambda r: (r[column], name(r)))
    return top, low, hidden


def _of_shown(hidden: int, what: str) -> str:
    return f"Of the {what} shown, " if hidden else ""


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _largest(
    frame: pd.DataFrame, key: str, what: str, of: str, *, column: str = "count", lower: bool = True
) -> str:
    """The largest row of a count table, with its share of the table's total when every row
    is shown."""
    rows = _rows(frame)
    found = _extremes(rows, column, lambda r: str(r[key]))
    if found is None:
        return HIDDEN_NEEDED
    top, _, hidden = found
    name = label(key, str(top[key]))
    name = name.lower() if lower else name
    share = ""
    if not hidden:
        total = sum(int(r[column]) for r in rows)
        share = f", {int(top[column]) / total:.0%} of {_n(total)}" if total else ""
    lead = _of_shown(hidden, what)
    sentence = f"{lead}{name} is the largest {of} ({_n(top[column])}{share})."
    return _cap(sentence)


# ---- each section ---------------------------------------------------------------------------


def _trends(pub: Publication) -> dict[str, str]:
    out: dict[str, str] = {}
    rows = _rows(pub.table("trends", "monthly"))
    full = [r for r in rows if r["coverage"] == FULL]
    found = _extremes(full, "count", lambda r: str(r["month"]))
    if found is None:
        out["trends-monthly"] = HIDDEN_NEEDED
    else:
        top, low, hidden = found
        lead = _of_shown(hidden, "months with data from every source")
        out["trends-monthly"] = _cap(
            f"{lead}incidents peaked in {month_name(top['month'])} ({_n(top['count'])}); the "
            f"lowest month was {month_name(low['month'])} ({_n(low['count'])})."
        )
    statuses = [r["coverage"] for r in rows]
    out["trends-sources"] = (
        f"Of the {len(rows)} months, {statuses.count(FULL)} have data from every source, "
        f"{statuses.count(PARTIAL)} from only some and {statuses.count(NO_DATA)} from none."
    )
    if pub.has("trends", "rolling_12_months"):
        rolling = [
            r for r in _rows(pub.table("trends", "rolling_12_months")) if r["rolling_12_months"]
        ]
        if len(rolling) >= 2:
            first, last = rolling[0], rolling[-1]
            a, b = float(first["rolling_12_months"]), float(last["rolling_12_months"])
            move = "up from" if b > a else "down from" if b < a else "the same as"
            out["trends-rolling"] = (
                f"The 12 months to {month_name(last['month'])} hold {b:,.0f} incidents, {move} "
                f"{a:,.0f} in the 12 months to {month_name(first['month'])} (not tested)."
            )
        else:
            out["trends-rolling"] = (
                "Fewer than two 12-month totals are shown, so no change can be read from them."
            )
    years = _rows(pub.table("trends", "financial_years"))
    parts = []
    for r in years:
        count = "[c]" if r["count"] is None else _n(r["count"])
        months = r.get("months")
        parts.append(f"{r['financial_year']} {count}" + (f" ({months} months)" if months else ""))
    out["trends-financial_years"] = (
        "Incidents by financial year: " + "; ".join(parts) + ". Years with fewer months of "
        "data are not comparable with full years."
        if parts
        else "No financial year has data."
    )
    if pub.has("trends", "seasonality"):
        season = _rows(pub.table("trends", "seasonality"))
        found = _extremes(season, "index", lambda r: str(r["month"]))
        if found:
            top, low, _ = found
            out["trends-season"] = (
                f"{top['month']} is on average the busiest calendar month, {top['index']:.2f} "
                f"times the average month; {low['month']} the quietest ({low['index']:.2f})."
            )
    return out


def _rates(frame: pd.DataFrame, what: str) -> str:
    """The highest rate against the lowest, with whether their 95% intervals overlap."""
    rows = _rows(frame)
    found = _extremes(rows, "rate", lambda r: str(r["area"]))
    if found is None or len(rows) < 2:
        return HIDDEN_NEEDED
    top, low, hidden = found
    if top is low:
        return HIDDEN_NEEDED
    apart = (
        "their 95% intervals do not overlap, so the difference is significant"
        if top["low"] is not None and low["high"] is not None and top["low"] > low["high"]
        else "their 95% intervals overlap, so the difference may be chance"
    )
    lead = _of_shown(hidden, what)
    return _cap(
        f"{lead}{top['area']} has the highest rate, {_rate(top['rate'])} per 1,000 residents a "
        f"year, {_times(float(top['rate']), float(low['rate']))} {low['area']}'s "
        f"{_rate(low['rate'])}; {apart}."
    )


def _where(pub: Publication) -> dict[str, str]:
    out: dict[str, str] = {}
    if pub.has("where", "area_rate"):
        from svduty.publish.sna import _area_rate_finding

        out["where-csp_rates"] = next(iter(_area_rate_finding(pub)), HIDDEN_NEEDED)
    else:
        out["where-csp_rates"] = _rates(pub.table("where", "csp_rates"), "CSPs")
    out["where-district_rates"] = _rates(pub.table("where", "district_rates"), "districts")
    if pub.provenance.get("district"):  # one district: its rate against its CSP's and the area's
        out["where-district_rates"] = out["where-csp_rates"]
        out["where-csp_rates"] = "The district's CSP, for comparison."
    if pub.has("where", "csp_change"):
        change = _rows(pub.table("where", "csp_change"))
        verdicts = [r for r in change if r.get("verdict") is not None]
        moved = [r for r in verdicts if str(r["verdict"]).startswith("significant")]
        out["where-csp_change"] = (
            f"{len(moved)} of the {len(verdicts)} CSPs with a test changed significantly"
            + (": " + "; ".join(f"{r['area']} ({r['verdict']})" for r in moved) if moved else "")
            + "."
            if verdicts
            else HIDDEN_NEEDED
        )
    dep = _rows(pub.table("where", "deprivation"))
    ends = {int(r["decile"]): r for r in dep}
    most, least = ends.get(1), ends.get(10)
    if most and least and most["rate"] is not None and least["rate"] is not None:
        out["where-deprivation"] = (
            f"The most deprived tenth of neighbourhoods has a rate of {_rate(most['rate'])} per "
            f"1,000 residents a year, {_times(float(most['rate']), float(least['rate']))} the "
            f"least deprived tenth's {_rate(least['rate'])}."
        )
        apart = (
            "do not overlap: the difference is significant"
            if most["low"] > least["high"] or least["low"] > most["high"]
            else "overlap: the difference may be chance"
        )
        out["where-deprivation-table"] = (
            f"The 95% intervals of the most deprived tenth ({_rate(most['low'])} to "
            f"{_rate(most['high'])}) and the least deprived ({_rate(least['low'])} to "
            f"{_rate(least['high'])}) {apart}."
        )
    else:
        out["where-deprivation"] = out["where-deprivation-table"] = (
            "The rate of the most or the least deprived tenth is hidden (small counts), so the "
            "two are not compared."
        )
    return out


def _when(pub: Publication) -> dict[str, str]:
    matrix = pub.table("when", "hour_by_day")
    hours = [c for c in matrix.columns if c != "day"]
    cells = [{"day": r["day"], "hour": h, "count": r[h]} for r in _rows(matrix) for h in hours]
    found = _extremes(cells, "count", lambda c: f"{c['day']}{c['hour']}")
    if found is None:
        return {"when-hour-by-day": HIDDEN_NEEDED}
    top, _, hidden = found
    days = {"Mon": "Monday", "Tue": "Tuesday", "Wed": "Wednesday", "Thu": "Thursday"}
    days |= {"Fri": "Friday", "Sat": "Saturday", "Sun": "Sunday"}
    end = (int(top["hour"]) + 1) % 24
    lead = _of_shown(hidden, "hours")
    return {
        "when-hour-by-day": _cap(
            f"{lead}the busiest time is {days.get(top['day'], top['day'])} "
            f"{top['hour']}:00–{end:02d}:00 ({_n(top['count'])} incidents)."
        )
    }


def _what(pub: Publication) -> dict[str, str]:
    out = {
        "what-offence_groups": _largest(
            pub.table("what", "offence_groups"),
            "offence_group",
            "groups",
            "offence group",
            lower=False,
        ),
        "what-offence_subgroups": _largest(
            pub.table("what", "offence_subgroups"),
            "offence_subgroup",
            "subgroups",
            "offence subgroup",
            lower=False,
        ),
    }
    if pub.has("what", "harm_by_code"):
        codes = _rows(pub.table("what", "harm_by_code"))
        shown = [r for r in codes if r["harm"] is not None]
        if shown:
            top = max(shown, key=lambda r: r["harm"])
            lead = "Of the codes shown, " if len(shown) < len(codes) else ""
            out["what-harm_by_code"] = _cap(
                f"{lead}{top['description']} ({top['offence_code']}) carries the most harm: "
                f"{float(top['harm']):,.0f}, from {_n(top['count'])} offences weighted "
                f"{float(top['weight']):,.0f} each."
            )
        else:
            out["what-harm_by_code"] = HIDDEN_NEEDED
    if pub.has("what", "codes_without_weight"):
        missing = _rows(pub.table("what", "codes_without_weight"))
        counts = [r["count"] for r in missing]
        held = (
            f", holding {sum(int(c) for c in counts):,} incidents"
            if all(c is not None for c in counts)
            else ""
        )
        out["what-codes_without_weight"] = (
            f"{len(missing)} offence codes have no weight{held}: the weighted total is lower "
            "than it would be with them."
        )
    return out


def _who(pub: Publication) -> dict[str, str]:
    if pub.value("who", "incidents_with_people") == 0:
        return {}
    out = {}
    for role in ("victim", "suspect"):
        people = f"{role}s"
        out[f"who-{role}-ages"] = _largest(
            pub.table("who", f"{role}_age_bands"), "age_band", "age bands", f"age band of {people}"
        )
        out[f"who-{role}_sex"] = _largest(
            pub.table("who", f"{role}_sex"), "sex", "groups", f"group of {people} by sex"
        )
        out[f"who-{role}_ethnicity"] = _largest(
            pub.table("who", f"{role}_ethnicity"),
            "ethnicity",
            "groups",
            f"ethnic group of {people}",
            lower=False,
        )
    out["who-relationships"] = _largest(
        pub.table("who", "relationships"),
        "relationship",
        "relationships",
        "relationship of suspect to victim",
    )
    return out


def _themes(pub: Publication) -> dict[str, str]:
    out: dict[str, str] = {}
    rows = _rows(pub.table("themes", "themes"))
    found = _extremes(rows, "share", lambda r: str(r["theme"]))
    if found is None:
        out["themes-themes"] = HIDDEN_NEEDED
    else:
        top, _, hidden = found
        lead = _of_shown(hidden, "themes")
        out["themes-themes"] = _cap(
            f"{lead}{top['theme']} is the most common theme: {top['share']:.0%} of incidents "
            f"where it can be assessed ({_n(top['count'])} of {_n(top['assessable'])})."
        )
    counted = {str(r["theme"]): r["count"] for r in rows if r["count"] is not None}
    biggest = max(counted, key=lambda t: counted[t]) if counted else None
    if biggest is not None:
        monthly = next(
            (
                pub.tables[k]
                for k in pub.tables
                if k.startswith("themes/")
                and k.endswith("_monthly")
                and len(pub.tables[k])
                and pub.tables[k]["theme"].iloc[0] == biggest
            ),
            None,
        )
        if monthly is not None:
            months = [r for r in _rows(monthly) if r["coverage"] == FULL]
            peak = _extremes(months, "count", lambda r: str(r["month"]))
            if peak is not None:
                top, _, hidden = peak
                lead = " of the months shown" if hidden else ""
                out["themes-monthly"] = (
                    f"{biggest}, the largest theme, peaked{lead} in {month_name(top['month'])} "
                    f"({_n(top['count'])})."
                )
        out.setdefault("themes-monthly", HIDDEN_NEEDED)
    if pub.has("themes", "by_csp"):
        place = pub.table("themes", "by_csp")
        csps = [c for c in place.columns if c != "theme"]
        leads = []
        for r in _rows(place):
            shown = {c: r[c] for c in csps if r[c] is not None}
            if shown and len(shown) == len(csps):
                leads.append(max(shown, key=lambda c: (shown[c], c)))
        if leads:
            common = max(set(leads), key=lambda c: (leads.count(c), c))
            out["themes-by_csp"] = (
                f"{common} has the most incidents in {leads.count(common)} of the "
                f"{len(leads)} themes with every CSP shown (counts, not rates: CSPs with more "
                "residents have more)."
            )
        else:
            out["themes-by_csp"] = HIDDEN_NEEDED
    return out


def _concentration(pub: Publication) -> dict[str, str]:
    rows = _rows(pub.table("concentration", "table"))
    last = next((r for r in reversed(rows) if r.get("top_10") is not None), None)
    if last is None:
        return {"concentration": HIDDEN_NEEDED}
    return {
        "concentration": (
            f"In {last['year']}, the 10% of LSOAs (neighbourhoods) with the most incidents held "
            f"{last['top_10']:.0%} of them."
        )
    }


def _health(pub: Publication) -> dict[str, str]:
    out: dict[str, str] = {}
    if pub.has("health", "by_hour"):
        hours = _rows(pub.table("health", "by_hour"))
        found = _extremes(hours, "count", lambda r: f"{int(r['hour']):02d}")
        if found is None:
            out["health-by-hour"] = HIDDEN_NEEDED
        else:
            top, _, hidden = found
            hour = int(top["hour"])
            lead = _of_shown(hidden, "hours")
            out["health-by-hour"] = _cap(
                f"{lead}assault attendances peak at {hour:02d}:00–{(hour + 1) % 24:02d}:00 "
                f"({_n(top['count'])})."
            )
    if pub.has("health", "locations"):
        rows = _rows(pub.table("health", "locations"))
        if rows and "gap" in rows[0]:
            top = rows[0]
            if top["gap"] is not None and top["gap"] > 0:
                place = label("location_type", str(top["location_type"])).lower()
                out["health-locations"] = (
                    "A&E assaults are most over-represented against police records in the place "
                    f"type {place!r}: "
                    f"{top['ae_share']:.0%} of attendances against {top['police_share']:.0%} of "
                    "police-recorded incidents."
                )
            else:
                out["health-locations"] = HIDDEN_NEEDED
        else:
            out["health-locations"] = _largest(
                pub.table("health", "locations"),
                "location_type",
                "places",
                "place of A&E assaults",
                column="ae",
            )
    if pub.has("health", "means_of_assault"):
        frame = pub.table("health", "means_of_assault")
        out["health-means_of_assault"] = _largest(
            frame, str(frame.columns[0]), "means", "means of assault"
        )
    if pub.has("health", "sharp_object_admissions"):
        frame = pub.table("health", "sharp_object_admissions")
        out["health-sharp_object_admissions"] = _largest(
            frame, str(frame.columns[0]), "age bands", "age band of sharp-object admissions"
        )
    return out


def _classes(counted: dict[str, int], what: str) -> str:
    """How many cells or LSOAs are hot and cold (each Gi* class is a test at its confidence)."""
    inside = {c: n for c, n in counted.items() if c != "outside the area"}
    hot = sum(n for c, n in inside.items() if c.startswith("hot"))
    cold = sum(n for c, n in inside.items() if c.startswith("cold"))
    return (
        f"{hot:,} of the {sum(inside.values()):,} {what} are hotspots at 90% confidence or "
        f"more ({inside.get('hot 99%', 0):,} at 99%) and {cold:,} are coldspots: incidents "
        "cluster there more (or less) than chance would give."
    )


def _table_classes(pub: Publication, name: str, column: str) -> dict[str, int]:
    frame = pub.table("hotspots", name)
    return {str(c): int(n) for c, n in zip(frame["class"], frame[column], strict=True)}


def _places(pub: Publication) -> dict[str, str]:
    out: dict[str, str] = {}
    if pub.has("hotspots", "cells_by_class"):
        cells = _classes(_table_classes(pub, "cells_by_class", "cells"), "grid cells")
        out["hotspots-cells_by_class"] = cells
        out["hotspots-density"] = (
            "Darker areas have more incidents per square kilometre: a smoothed picture of where "
            "incidents are, not a test (the Gi* map above shows which clusters are significant)."
        )
    harm = pub.extras.get("harm_hotspots")
    if harm is not None:
        counted = harm["frame"]["class"].value_counts()
        out["hotspots-harm"] = "Weighted by harm, " + _classes(
            {str(c): int(n) for c, n in counted.items()}, "grid cells"
        )
    if pub.has("hotspots", "lsoas_by_class"):
        lsoas = _classes(_table_classes(pub, "lsoas_by_class", "LSOAs"), "LSOAs")
        out["hotspots-lsoas_by_class"] = lsoas
    if pub.has("hotspots", "lsoas_hot") and len(pub.table("hotspots", "lsoas_hot")):
        first = _rows(pub.table("hotspots", "lsoas_hot"))[0]
        count = (
            "its count is hidden (small)"
            if first["count"] is None
            else f"{_n(first['count'])} incidents"
        )
        out["hotspots-lsoas_hot"] = (
            f"The most significant hotspot LSOA is {first['name']} ({first['ward']} ward, "
            f"{first['district']}): {count}."
        )
    if pub.has("hotspots", "cells_by_pattern"):
        patterns = [
            r
            for r in _rows(pub.table("hotspots", "cells_by_pattern"))
            if r["pattern"] != "no pattern detected"
        ]
        if patterns:
            top = max(patterns, key=lambda r: (r["cells"], str(r["pattern"])))
            growing = sum(
                int(r["cells"])
                for r in patterns
                if str(r["pattern"]) in ("new hot spot", "intensifying hot spot")
            )
            out["hotspots-cells_by_pattern"] = (
                f"The commonest pattern over time is {top['pattern']} ({_n(top['cells'])} "
                f"cells); {growing:,} cells are new or intensifying hot spots."
            )
        else:
            out["hotspots-cells_by_pattern"] = "No cell shows a hot or cold spot pattern over time."
    return out


RECORDS: tuple[Callable[[Publication], dict[str, str]], ...] = (_trends, _where, _when, _what)
PEOPLE: tuple[Callable[[Publication], dict[str, str]], ...] = (_who, _themes, _concentration)


def conclude(pub: Publication) -> Publication:
    """Add the conclusions of a report with records (at publish time, from published cells)."""
    if not pub.has("trends", "monthly"):
        return pub
    kind = board.basis(pub)
    for part in (*RECORDS, *PEOPLE):
        _store(pub, part(pub), kind)
    _store(pub, _health(pub), board.health_basis(pub) if pub.has("health", "attendances") else "")
    return pub


def conclude_places(pub: Publication) -> Publication:
    """Add the hotspot conclusions once a report's places are merged into it."""
    kind = board.basis(pub) if pub.has("sources", "batches") else ""
    _store(pub, _places(pub), kind)
    return pub


def _store(pub: Publication, sentences: dict[str, str], kind: str) -> None:
    for key, sentence in sentences.items():
        marked = sentence if sentence == HIDDEN_NEEDED else board.as_data([sentence], kind)[0]
        pub.add(note("conclusions", key, marked))


def conclusion(pub: Publication, key: str) -> str | None:
    """The sentence under a table or chart, if the report has one."""
    return pub.value("conclusions", key) if pub.has("conclusions", key) else None
