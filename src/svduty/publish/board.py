"""What a board needs besides the analyses: which records the assessment rests on (real or
synthetic, open or partner data, assessable under the definition or not, and why), its
limitations, benchmarks against England and Wales, and prompts for recommendations.

`draft_board` offers the counts as tables, so disclosure control covers them like any other;
everything else here is sentences built from the published tables only."""

from __future__ import annotations

from typing import Any

import pandas as pd

from svduty.analysis.benchmarks import ENGLAND_AND_WALES, Benchmarks
from svduty.analysis.records import RecordsAnalysed, fact_words, listed
from svduty.publish import Publication
from svduty.publish.tables import Table, note
from svduty.vocabulary import NO_DATA, source_kind_label

REAL, SYNTHETIC = "real", "SYNTHETIC"
OPEN_KINDS = {"police_uk_street", "police_uk_outcomes", "police_uk_stop_search", "home_office_prc"}
KEY = ["source", "force", "data"]
OUTSIDE_DEFINITION = {"istv": ("health", "attendances"), "admissions": ("health", "admissions")}
"""Partner sources analysed beside the definition (it classifies crimes), and their counts."""


def openness(kind: str) -> str:
    return "open data" if kind in OPEN_KINDS else "partner data"


def _kind(kind: str) -> str:
    return "open-data" if kind in OPEN_KINDS else "partner"


def draft_board(results: dict[str, Any], records: bool) -> list[Table]:
    """The records analysed (with records), the clauses and places they leave out, and the
    benchmarks."""
    tables = _records(results["records"]) if records else []
    return tables + _benchmarks(results["benchmarks"])


def _records(found: RecordsAnalysed) -> list[Table]:
    s = found.sources
    base = pd.DataFrame(
        {
            "source": s["source_kind"],
            "force": s["force"],
            "data": [SYNTHETIC if x else REAL for x in s["synthetic"]],
        }
    )
    held = base.assign(count=s["records"])
    assessed = base.assign(count=s["in_definition"], not_in=s["not_in"], undecided=s["undecided"])
    months = [
        {"source": r["source"], "force": r["force"], "data": r["data"], "months": m}
        for r, m in zip(base.to_dict("records"), s["months"], strict=True)
    ]
    missing = [
        {"source": kind, "force": force, "data": SYNTHETIC if synthetic else REAL, "facts": words}
        for (kind, force, synthetic), columns in found.missing.items()
        if (words := fact_words(columns))
    ]
    return [
        Table("records", "held", held, KEY, ["count"]),
        # in the definition, out of it, and undecided add up to the records held; the first
        # adds up over sources to the selection's total (the trends' and the offences')
        Table(
            "records",
            "assessed",
            assessed,
            KEY,
            ["count", "not_in", "undecided"],
            total={"count": "selection"},
            row_total="held",
        ),
        note("records", "missing_facts", missing),
        note("records", "months", months),
        Table("limitations", "clauses", found.clauses, ["clause"], ["undecided"]),
        Table("limitations", "geocoding", found.geocoding, ["issue"], ["count"]),
    ]


def _benchmarks(found: Benchmarks) -> list[Table]:
    about = {
        "area": found.area,
        "reason": found.reason,
        "level": found.level,
        "year": found.year,
        "population": found.population,
        "source": found.source,
        "partly": found.partly,
        "left_out": found.left_out,
        "group": list(found.group),
        "group_note": found.group_note,
    }
    out = [note("benchmarks", "about", about)]
    if found.available:
        derived = {c: ["count"] for c in ("rate", "low", "high")}
        out.append(
            Table(
                "benchmarks",
                "rates",
                found.rows,
                ["measure", "comparator"],
                ["count"],
                derived,
                across_areas=False,
            )
        )
    return out


# ---- sentences from published tables --------------------------------------------------------


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A published table's rows with hidden cells still None (iterrows turns a row's None into
    NaN, which then reads as a number)."""
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _n(value: Any) -> str:
    return "[c]" if value is None else f"{int(value):,}"


def sources_analysed(pub: Publication) -> pd.DataFrame | None:
    """The records held and assessed per source, as published (hidden cells None)."""
    if not pub.has("records", "held"):
        return None
    held = pub.table("records", "held").rename(columns={"count": "records"})
    assessed = pub.table("records", "assessed").rename(columns={"count": "in_definition"})
    out = held.merge(assessed, on=KEY, how="left")
    held_months = pub.value("records", "months") if pub.has("records", "months") else None
    months = pd.DataFrame(held_months or [], columns=[*KEY, "months"])
    return out.merge(months, on=KEY, how="left").fillna({"months": ""})


def basis(pub: Publication) -> str:
    """Whether the incidents counted are real, SYNTHETIC or mixed ("none" when none counted)."""
    frame = sources_analysed(pub)
    if frame is None:
        return REAL  # the Home Office tables: published, real
    if "data" not in frame.columns:
        return "none"
    counted = frame[frame["in_definition"].map(lambda v: v is None or v > 0).astype(bool)]
    kinds = set(counted["data"])
    if not kinds:
        return "none"
    return "mixed" if len(kinds) > 1 else next(iter(kinds))


def health_basis(pub: Publication) -> str:
    """Whether the A&E and admissions records held are real, SYNTHETIC or mixed."""
    batches = pub.table("sources", "batches")
    flags = set(batches.loc[batches["source_kind"].isin(list(OUTSIDE_DEFINITION)), "synthetic"])
    if not flags:
        return REAL
    return "mixed" if len(flags) > 1 else (SYNTHETIC if "yes" in flags else REAL)


PREFIX = {SYNTHETIC: "SYNTHETIC data: ", "mixed": "Real and SYNTHETIC data together: "}


def as_data(sentences: list[str], kind: str) -> list[str]:
    """Findings marked with the data they rest on: synthetic findings are never facts."""
    prefix = PREFIX.get(kind, "")
    return [prefix + s for s in sentences]


def findings_lead(pub: Publication) -> list[str]:
    """The sentence that opens the key findings when any of them rest on synthetic data."""
    kinds = {basis(pub), health_basis(pub) if pub.has("health", "attendances") else REAL}
    if kinds <= {REAL, "none"}:
        return []
    area = named(pub)
    frame = sources_analysed(pub)
    if basis(pub) == SYNTHETIC and frame is not None:
        unassessed = frame[(frame["data"] == REAL) & (frame["in_definition"] == 0)]
        real = int(sum(v for v in unassessed["records"] if v is not None))
        text = (
            f"Every incident these findings count is SYNTHETIC (generated; no real crime or "
            f"person): they show what the assessment finds on such data, not what is happening "
            f"in {area}."
        )
        if real:
            text += (
                f" The {real:,} real records held could not be assessed under the definition "
                "and count towards none of them (see Records analysed)."
            )
        return [text]
    return [
        f"Some findings rest on SYNTHETIC records (generated; no real crime or person), alone or "
        f"mixed with real ones: each says so, and none of those describes {area}."
    ]


def records_statement(pub: Publication) -> list[str]:
    """The first page's account of the records analysed: by source, real or synthetic, how many
    the definition could assess, which could not be and why."""
    name = pub.provenance["definition"]["id"]
    frame = sources_analysed(pub)
    if frame is None:
        return [
            "No crime records are held: the figures come from the Home Office police recorded "
            f"crime tables (real, open data), counted under {name} as far as offence codes "
            "allow."
        ]
    period = pub.value("report", "period")
    held = [v for v in frame["records"]]
    total = _n(sum(held)) if all(v is not None for v in held) else "[c]"
    sources = f"{len(frame)} source{'s' if len(frame) != 1 else ''}"
    when = "" if period == "no records" else f" for {period}"
    out = [f"{total} crime records are held{when}, from {sources}:"]
    missing = {
        (m["source"], m["force"], m["data"]): m["facts"]
        for m in pub.value("records", "missing_facts") or []
    }
    for row in _rows(frame):
        label = (
            f"{_n(row['records'])} {row['data']} {_kind(row['source'])} records "
            f"({source_kind_label(row['source'])}{', ' + row['force'] if row['force'] else ''})"
        )
        in_def, out_of, undecided = row["in_definition"], row["not_in"], row["undecided"]
        facts = missing.get((row["source"], row["force"], row["data"]))
        if in_def == 0 and out_of == 0 and undecided is not None and undecided > 0:
            why = f": they carry no {listed(facts)}" if facts else ""
            out.append(
                f"{label}: none could be assessed under {name}{why}. They count towards no "
                "figure of this assessment."
            )
            continue
        text = f"{label}: {_n(in_def)} meet {name} and {_n(out_of)} do not"
        if undecided:
            why = f" (none carries {listed(facts)})" if facts else ""
            text += (
                f"; {_n(undecided)} could not be assessed: no clause takes them in and at least "
                f"one lacks a fact it needs{why}"
            )
        elif undecided is None:
            text += "; those that could not be assessed are hidden (a small count)"
        out.append(text + ".")
    counted = basis(pub)
    if counted == SYNTHETIC:
        out.append(
            "Every incident counted in this assessment is SYNTHETIC: none is a crime in "
            f"{named(pub)}."
        )
    elif counted == "mixed":
        synthetic = frame.loc[frame["data"] == SYNTHETIC, "in_definition"]
        share = _n(sum(synthetic)) if all(v is not None for v in synthetic) else "some"
        out.append(
            f"{share} of the incidents counted are SYNTHETIC: figures mixing them with real "
            f"ones describe no real area."
        )
    elif counted == "none":
        out.append(f"No record held meets {name}: every count in this assessment is zero.")
    return out + _outside_definition(pub)


def _outside_definition(pub: Publication) -> list[str]:
    """Sources analysed beside the definition: A&E, admissions, the Home Office tables."""
    batches = pub.table("sources", "batches")
    out = []
    for row in _rows(batches):
        kind = row["source_kind"]
        data = SYNTHETIC if row["synthetic"] == "yes" else REAL
        if kind in OUTSIDE_DEFINITION and pub.has(*OUTSIDE_DEFINITION[kind]):
            shown = pub.value(*OUTSIDE_DEFINITION[kind])
            out.append(
                f"Also analysed, beside the definition (which classifies crimes): {_n(shown)} "
                f"{data} {source_kind_label(kind)} ({openness(kind)}), in the A&E and hospital "
                "admissions section."
            )
        elif kind == "home_office_prc":
            out.append(
                f"The {source_kind_label(kind)} ({data}, open data) are used for the benchmarks "
                "only."
            )
    return out


def limitations(pub: Publication) -> list[str]:
    """The limitations a reader must weigh, each from the published tables: coverage, records
    and clauses the definition could not assess, places, benchmarks, suppression."""
    out = _coverage_limits(pub)
    frame = sources_analysed(pub)
    name = pub.provenance["definition"]["id"]
    if frame is not None:
        for row in _rows(frame):
            undecided = row["undecided"]
            if undecided is None or undecided > 0:
                whole = row["in_definition"] == 0 and row["not_in"] == 0
                out.append(
                    f"{'All ' if whole else ''}{_n(undecided)} {row['data']} records of "
                    f"{source_kind_label(row['source'])}{_force(row)} could not be assessed under "
                    f"{name}, so the counts leave them out{_facts(pub, row)}."
                )
        if len(frame) and all(frame["in_definition"] == 0) and all(frame["not_in"] == 0):
            facts = [f for m in pub.value("records", "missing_facts") or [] for f in m["facts"]]
            carries = listed(list(dict.fromkeys(facts)), "and")
            out.append(
                f"No source held can be assessed under {name}: it needs partner data, such as a "
                f"force crime extract{f' that carries {carries}' if carries else ''}."
            )
        out += _clause_limits(pub, frame)
        out += _geocoding_limits(pub) if basis(pub) != "none" else []
    about = pub.value("benchmarks", "about")
    if about["reason"]:
        out.append(f"No benchmark against England and Wales: {about['reason']}")
    elif about["partly"] or about["left_out"]:
        out.append(
            "The benchmarks count only the clauses offence codes settle; " + benchmark_scope(about)
        )
    return out


def suppression_limit(pub: Publication) -> list[str]:
    """What disclosure control hid, from the counts the summary JSON gives: so it is said once
    the report's maps are merged in, never before."""
    if not (pub.primary or pub.secondary):
        return []
    return [
        f"Disclosure control, over this report's tables and maps and the tables of the reports "
        f"published with it, hid {pub.primary:,} counts below {pub.policy.threshold} and "
        f"{pub.secondary:,} more that would reveal them; rates and shares built on them are "
        "hidden too."
    ]


def _force(row: dict[str, Any]) -> str:
    return f" ({row['force']})" if row["force"] else ""


def _facts(pub: Publication, row: dict[str, Any]) -> str:
    for m in pub.value("records", "missing_facts") or []:
        if (m["source"], m["force"], m["data"]) == (row["source"], row["force"], row["data"]):
            return f": they carry no {listed(m['facts'])}"
    return ""


def _coverage_limits(pub: Publication) -> list[str]:
    if not pub.has("trends", "gaps"):
        return []
    runs = pub.value("trends", "gaps") or []
    sources = pub.table("trends", "sources")
    named = ", ".join(
        f"{source_kind_label(str(r['source']))} ({r['force']})"
        if r["force"]
        else source_kind_label(str(r["source"]))
        for r in _rows(sources)
    )
    period = pub.value("report", "period")
    if not len(sources):
        return ["Coverage: no source holds a record in the definition, so no month has data."]
    if not runs:
        out = [f"Coverage: every month of {period} has data from every source counted ({named})."]
    else:
        listed = "; ".join(
            f"{r['from']}"
            + (f" to {r['to']}" if r["to"] != r["from"] else "")
            + (
                ": no data (a gap, not a zero)"
                if r["status"] == NO_DATA
                else f": no data from {r['missing']}"
            )
            for r in runs
        )
        out = [
            f"Coverage: months without data from every source counted ({named}): {listed}. "
            "Their counts are not comparable with other months and no change is tested across "
            "them."
        ]
    verdict = pub.value("trends", "change_verdict") if pub.has("trends", "change_verdict") else None
    if verdict is None and pub.has("trends", "change"):
        out.append(str(pub.value("trends", "change")))
    return out


def _clause_limits(pub: Publication, frame: pd.DataFrame) -> list[str]:
    """Clauses that could not be judged on some records, beyond the sources no clause could
    judge at all (those are said once, per source)."""
    clauses = pub.table("limitations", "clauses")
    whole = [r["records"] for r in _rows(frame) if r["in_definition"] == 0 and r["not_in"] == 0]
    if any(v is None for v in whole):
        return []
    unassessable = sum(whole)
    out = []
    for c in _rows(clauses):
        undecided = c["undecided"]
        if undecided is None:
            out.append(
                f"Clause {c['clause']} ({c['clause_name']}) could not be judged on a few records "
                f"(hidden: a small count); it needs {c['facts']}."
            )
        elif undecided > unassessable:
            beyond = (
                f" ({undecided - unassessable:,} beyond the records no clause could judge)"
                if unassessable
                else ""
            )
            out.append(
                f"Clause {c['clause']} ({c['clause_name']}) could not be judged on {undecided:,} "
                f"records{beyond}: it reads {c['facts']}, and they lack at least one. Its count "
                "leaves them out."
            )
    return out


def _geocoding_limits(pub: Publication) -> list[str]:
    geo = pub.table("limitations", "geocoding")
    issues = [(r["issue"], r["count"]) for r in _rows(geo) if r["count"] != 0]
    if not issues:
        return [
            "Places: every incident counted has coordinates and an LSOA in the lookup, inside "
            "the partnership's districts."
        ]
    return [f"Places: {_n(count)} incident(s) counted have {issue}." for issue, count in issues]


def benchmark_scope(about: dict[str, Any]) -> str:
    """What of the definition the benchmarks leave out, so no one reads them as its count."""
    parts = []
    if about["left_out"]:
        parts.append(f"clauses needing a marker are left out ({', '.join(about['left_out'])})")
    if about["partly"]:
        parts.append(
            "these are counted only where the offence code settles them: "
            + ", ".join(about["partly"])
        )
    return "; ".join(parts) + ". They are not the same measure as this report's other counts."


def benchmark_rows(pub: Publication) -> list[tuple[str, Any, Any, Any]]:
    """Per measure: the area's published row, England and Wales's, and its group's (or None),
    where the area's rate is shown."""
    if not pub.has("benchmarks", "rates"):
        return []
    rates = pub.table("benchmarks", "rates")
    out = []
    for measure, rows in rates.groupby("measure", sort=False):
        group = rows[rows["comparator"].str.startswith("Most similar")]
        ew = rows[rows["comparator"] == ENGLAND_AND_WALES]
        own = rows[(rows["comparator"] != ENGLAND_AND_WALES) & ~rows.index.isin(group.index)]
        if len(own) and len(ew) and own.iloc[0]["rate"] is not None:
            out.append(
                (str(measure), own.iloc[0], ew.iloc[0], group.iloc[0] if len(group) else None)
            )
    return out


def benchmark_findings(pub: Publication) -> list[str]:
    """The area against England and Wales (and its group) on each measure the tables count."""
    about = pub.value("benchmarks", "about") if pub.has("benchmarks", "about") else {}
    out = []
    for measure, own, ew, group in benchmark_rows(pub):
        text = (
            f"{measure}, {about['year']} (Home Office tables, real): {own['comparator']} "
            f"{own['rate']:.3g} a year per 1,000 residents (95% interval {own['low']:.3g} to "
            f"{own['high']:.3g}), {compare(own, float(ew['rate']))} England and Wales's "
            f"{ew['rate']:.3g}"
        )
        if group is not None and group["rate"] is not None:
            text += (
                f" and {compare(own, float(group['rate']))} its most similar group's "
                f"{group['rate']:.3g}"
            )
        out.append(text + ".")
    return out


def named(pub: Publication) -> str:
    """The report's area by name (a district's report is known by its code)."""
    return str(pub.provenance.get("area")) if pub.provenance.get("district") else pub.id


def compare(row: pd.Series, rate: float) -> str:
    """The area's rate against a comparator's, by the area's exact 95% interval."""
    if row["low"] > rate:
        return "significantly higher than"
    if row["high"] < rate:
        return "significantly lower than"
    return "not significantly different from"


def place_limits(pub: Publication) -> list[str]:
    """Analyses of places the data did not allow, and why (from the places publication)."""
    named = {
        ("hotspots", "unavailable"): "No hotspot analysis",
        ("hotspots", "lsoa_unavailable"): "No LSOA hotspot analysis",
        ("hotspots", "emerging_unavailable"): "No emerging hotspot analysis",
        ("near_repeats", "unavailable"): "No near-repeat analysis",
    }
    return [f"{words}: {pub.value(*key)}" for key, words in named.items() if pub.has(*key)]


def prompts(pub: Publication) -> list[str]:
    """Questions for the partnership's recommendations, each from a published finding; they are
    svduty's prompts, not the partnership's words, and say when they rest on synthetic data."""
    name = pub.provenance["definition"]["id"]
    out: list[str] = []
    frame = sources_analysed(pub)
    if frame is not None:
        for row in _rows(frame):
            if row["data"] == REAL and row["in_definition"] == 0 and row["not_in"] == 0:
                out.append(
                    f"The {_n(row['records'])} real {source_kind_label(row['source'])} records "
                    f"cannot be assessed under {name}: consider asking "
                    f"{row['force'] or 'their owner'} for an extract with offence codes, statutes "
                    "and markers, so that the assessment rests on real records."
                )
    kind = basis(pub)
    if kind in (SYNTHETIC, "mixed"):
        out.append(
            "The incidents counted include SYNTHETIC records: replace them with real partner "
            "extracts before the board acts on any finding below."
        )
    found: list[str] = []
    if pub.has("trends", "change_verdict") and pub.value("trends", "change_verdict") == (
        "significant increase"
    ):
        a, b = pub.value("trends", "change_periods")
        found.append(
            f"Serious violence rose significantly from {a} to {b}: consider what drove the rise "
            "and whether current work reaches it."
        )
    if pub.has("themes", "themes"):
        themes = pub.table("themes", "themes").dropna(subset=["share"])
        for theme in _rows(themes.sort_values("share", ascending=False).head(2)):
            found.append(
                f"{theme['theme']} accounts for {theme['share']:.0%} of incidents where it is "
                "recorded: consider whether the strategy has a response to it, and who leads it."
            )
    if pub.has("where", "csp_rates"):
        found += _rate_prompt(pub)
    young = pub.value("who", "victim_under_25") if pub.has("who", "victim_under_25") else None
    if young is not None and young >= 0.25:
        found.append(
            f"{young:.0%} of victims with a known age are under 25: consider early "
            "intervention and work with schools and youth services."
        )
    if pub.has("hotspots", "lsoas_hot"):
        found += _hot_prompt(pub.table("hotspots", "lsoas_hot"))
    if pub.has("near_repeats", "knox"):
        knox = pub.table("near_repeats", "knox")
        close = knox[
            [
                r is not None and p is not None and r > 1 and p < 0.05
                for r, p in zip(knox["knox_ratio"], knox["p_value"], strict=True)
            ]
        ]
        if len(close):
            first = close.iloc[0]
            found.append(
                f"Incidents cluster close to recent ones ({first['space_band']}, "
                f"{first['time_band']}: Knox ratio {first['knox_ratio']:.2f}): consider a "
                "rapid response around each new incident."
            )
    if pub.has("health", "locations") and "gap" in pub.table("health", "locations"):
        loc = pub.table("health", "locations")
        if len(loc) and loc.iloc[0]["gap"] is not None and loc.iloc[0]["gap"] > 0:
            top = loc.iloc[0]
            place = str(top["location_type"]).replace("_", " ")
            found.append(
                f"A&E sees a larger share of assaults at {place} than the police record "
                f"({top['ae_share']:.0%} against {top['police_share']:.0%}): consider sharing A&E "
                "data with the police (the Cardiff Model) to target it."
            )
    out += as_data(found, kind if kind != "none" else REAL)
    about = pub.value("benchmarks", "about") if pub.has("benchmarks", "about") else {}
    out += [
        f"{measure}: {own['comparator']}'s rate is significantly higher than England and Wales's "
        f"in the Home Office tables for {about['year']}: consider why, with the police."
        for measure, own, ew, _ in benchmark_rows(pub)
        if ew["rate"] is not None and compare(own, float(ew["rate"])) == "significantly higher than"
    ]
    return out


def _hot_prompt(hot: pd.DataFrame) -> list[str]:
    """The LSOAs at the centre of 99% hotspots, the first three named with their ward."""
    hot = hot[hot["confidence"] == "99%"]
    if not len(hot):
        return []
    names = ", ".join(f"{n} ({w})" for n, w in list(zip(hot["name"], hot["ward"], strict=True))[:3])
    lsoas = "neighbourhood (LSOA) is" if len(hot) == 1 else "neighbourhoods (LSOAs) are"
    return [
        f"{len(hot)} {lsoas} at the centre of 99% hotspots ({names}"
        f"{', ...' if len(hot) > 3 else ''}): consider place-based work there with the "
        "districts named in the hotspots section."
    ]


def _rate_prompt(pub: Publication) -> list[str]:
    own = pub.table("where", "csp_rates")
    months = pub.value("where", "rate_months")
    if len(own) < 2 or any(v is None for v in own["count"]) or not months:
        return []
    overall = sum(own["count"]) / sum(own["population"]) * 1000 * 12 / months
    top = own.iloc[0]
    if top["low"] is None or top["low"] <= overall:
        return []
    return [
        f"{top['area']} has a rate significantly above the area's ({top['rate']:.1f} against "
        f"{overall:.1f} a year per 1,000 residents): consider whether resources follow it."
    ]


def complete(pub: Publication, partnership: dict[str, Any]) -> Publication:
    """A report's board material once its places are merged: limitations with the analyses of
    places the data did not allow, prompts, and the partnership's own recommendations (the file
    as written, its name and date)."""
    items = list(pub.value("limitations", "items")) if pub.has("limitations", "items") else []
    pub.add(note("limitations", "items", items + place_limits(pub) + suppression_limit(pub)))
    pub.add(note("recommendations", "prompts", prompts(pub)))
    pub.add(note("recommendations", "partnership", partnership))
    return pub
