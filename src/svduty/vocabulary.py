"""The canonical vocabulary partner data is mapped into and definitions are written in."""

from __future__ import annotations

MARKERS: tuple[str, ...] = (
    "domestic_abuse",
    "knife",
    "firearm",
    "corrosive",
    "county_lines",
    "hate",
    "alcohol",
    "night_time_economy",
    "intimidation",
    "modern_slavery",
)
"""Flags a force records on a crime. `knife` means knife or sharp instrument."""

LOCATION_TYPES: tuple[str, ...] = (
    "public_place",
    "dwelling",
    "licensed_premises",
    "school",
    "retail",
    "transport",
    "workplace",
    "healthcare",
    "other",
)

ROLES: tuple[str, ...] = ("victim", "suspect", "offender")
SEXES: tuple[str, ...] = ("female", "male", "other", "unknown")

ASSAULT_MEANS: tuple[str, ...] = (
    "body",
    "knife_or_sharp",
    "blunt_object",
    "firearm",
    "glass_or_bottle",
    "corrosive",
    "other",
    "unknown",
)
"""Primary means of assault in the ISTV minimum dataset, as svduty groups them."""

YOUTH_JUSTICE_CONTACTS: tuple[str, ...] = (
    "prevention",
    "out_of_court_disposal",
    "referral_order",
    "youth_rehabilitation_order",
    "custody",
    "remand",
    "other",
)
"""A youth justice service's contact with a child, from prevention to custody."""

EXCLUSION_TYPES: tuple[str, ...] = ("permanent", "suspension")
"""A permanent exclusion, or a suspension (a fixed-period exclusion before 2021/22)."""

EXCLUSION_REASONS: tuple[str, ...] = (
    "physical_assault_against_pupil",
    "physical_assault_against_adult",
    "verbal_abuse_against_pupil",
    "verbal_abuse_against_adult",
    "use_or_threat_of_weapon",
    "bullying",
    "racist_abuse",
    "abuse_sexual_orientation_gender_identity",
    "abuse_disability",
    "sexual_misconduct",
    "drug_and_alcohol",
    "damage",
    "theft",
    "persistent_disruptive_behaviour",
    "inappropriate_online_behaviour",
    "public_health_transgression",
    "other",
)
"""The DfE's reasons for a suspension or exclusion, as the school census codes them since
September 2020 (PP, PA, VP, VA, OW, BU, RA, LG, DS, SM, DA, DM, TH, PD, MT, PH), with `other`
for records made before then (OT)."""


AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 17, "0-17"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
    (65, 120, "65+"),
)
"""Age bands for people and admissions: lowest age, highest age, label."""


def marker_column(marker: str) -> str:
    return f"marker_{marker}"


FULL, PARTIAL, NO_DATA = "full", "partial", "no data"
"""A month's coverage: every counted source holds it, some do, or none (a gap, never a zero)."""


HEADINGS: dict[str, str] = {
    # need and gaps
    "theme_id": "Theme (id)",
    "cohort": "Cohort",
    "cohort_id": "Cohort (id)",
    "theme_change": "Change, all ages",
    "years": "Years compared",
    "per_year": "Incidents a year",
    "level": "Need",
    "score": "Score",
    "reasons": "Points",
    "kind": "Gap or flag",
    "interventions": "Interventions",
    "sentence": "In words",
    "running": "Running interventions",
    "intervention": "Intervention",
    "tier": "Tier",
    "ages": "Ages",
    "themes": "Themes",
    "where": "Where",
    "state": "State",
    "capacity_per_year": "Places a year",
    "evidence": "Evidence (YEF band)",
    "needs_covered": "Needs covered",
    "illustrative": "Illustrative values",
    # sources and lineage
    "source_kind": "Source",
    "data": "Real or synthetic",
    "facts": "What the records hold",
    "not_in": "Do not meet the definition",
    "undecided": "Could not be assessed",
    "issue": "Limitation",
    "source": "Source",
    "force": "Force",
    "batches": "Files",
    "batch_id": "Batch",
    "file_name": "File",
    "sha256_prefix": "SHA-256 (first 12 characters)",
    "rows": "Rows",
    "rows_read": "Rows read",
    "rows_accepted": "Rows accepted",
    "rows_rejected": "Rows rejected",
    "rejected": "Rows rejected",
    "status": "Status",
    "synthetic": "Synthetic",
    "synthetic_rows": "Synthetic rows",
    "first": "First month",
    "last": "Last month",
    "months_held": "Months held",
    "months_missing": "Months missing",
    # time
    "month": "Month",
    "quarter": "Quarter",
    "financial_year": "Financial year",
    "year": "Year",
    "months": "Months with data",
    "coverage": "Coverage",
    "day": "Day",
    "hour": "Hour",
    "index": "Seasonal index",
    "rolling_12_months": "Rolling 12-month total",
    # counts and rates
    "count": "Count",
    "area": "Area",
    "csp": "CSP",
    "district": "District",
    "population": "Residents",
    "rate": "Rate per 1,000",
    "low": "95% CI low",
    "high": "95% CI high",
    "share": "Share",
    "ratio": "Rate ratio",
    "p_value": "p-value",
    "verdict": "Change",
    "decile": "IMD decile",
    # what
    "category": "Crime type",
    "offence_group": "Offence group",
    "offence_subgroup": "Offence subgroup",
    "offence_code": "Offence code",
    "description": "Offence",
    "weight": "Weight",
    "harm": "Weighted harm",
    "clause": "Clause",
    "clause_name": "Clause",
    "counted": "Counted",
    "unassessable": "Unassessable",
    "cause": "ICD-10 cause",
    # who
    "age_band": "Age band",
    "sex": "Sex",
    "ethnicity": "Ethnicity",
    "relationship": "Relationship",
    # themes and concentration
    "theme": "Theme",
    "assessable": "Incidents assessable",
    "measure": "Measure",
    "places": "LSOAs",
    "total": "Incidents",
    "in_top_1": "Incidents in top 1%",
    "in_top_5": "Incidents in top 5%",
    "in_top_10": "Incidents in top 10%",
    "top_1": "Share in top 1% of LSOAs",
    "top_5": "Share in top 5% of LSOAs",
    "top_10": "Share in top 10% of LSOAs",
    # hotspots
    "class": "Gi* class",
    "cells": "Grid cells",
    "pattern": "Pattern",
    "lsoa_code": "LSOA code",
    "LSOA": "LSOA code",
    "lsoa_name": "Neighbourhood (LSOA)",
    "name": "Neighbourhood (LSOA)",
    "la_name": "District",
    # health
    "location_type": "Place",
    "means_of_assault": "Means of assault",
    "ae": "A&E",
    "police": "Police",
    "ae_share": "A&E share",
    "police_share": "Police share",
    "gap": "Difference (points)",
    # near repeats
    "space_band": "Distance apart",
    "time_band": "Time apart",
    "observed": "Pairs observed",
    "expected": "Pairs expected",
    "knox_ratio": "Knox ratio",
    # report
    "section": "Section",
    "needs": "Needs",
    # success measures
    "framework": "Framework",
    "unit": "Unit",
    "per": "Per",
    "period": "Period",
    "charted": "Charted as",
    "improvement": "Better when",
    "notes": "Notes",
    "figure": "Figure",
    "latest_month": "Latest period",
    "latest": "Latest",
    "variation": "Variation",
    "assurance": "Assurance",
    "hidden_months": "Periods hidden",
    "change": "Change",
    "measure_year": "Measure and year",
    "baseline": "Baseline",
    "recalculate": "Limits recalculated from",
    "target": "Target",
    "chart_notes": "About the chart",
}
"""Every column heading a reader sees, by the column's name in published tables: the one place
renderers take headings from."""

PERCENT: frozenset[str] = frozenset(
    {"share", "ae_share", "police_share", "top_1", "top_5", "top_10"}
)
"""Columns holding a share (0 to 1), shown as a percentage."""

POINTS: frozenset[str] = frozenset({"gap"})
"""Columns holding a difference of two shares, shown in percentage points."""

SOURCE_KINDS: dict[str, str] = {
    "police_uk_street": "data.police.uk street-level crime",
    "police_uk_outcomes": "data.police.uk outcomes",
    "police_uk_stop_search": "data.police.uk stop and search",
    "home_office_prc": "Home Office police recorded crime tables",
    "police_extract": "force crime records",
    "police_extract_crimes": "force crime records",
    "police_extract_people": "people in force crime records",
    "istv": "A&E assault attendances (ISTV)",
    "admissions": "hospital admissions for assault",
    "youth_justice": "youth justice contacts",
    "exclusions": "school suspensions and exclusions",
    "measure_series": "external series of a success measure",
}
"""Each kind of source in words: one vocabulary for tables, sentences and the first page."""

LABELS: dict[str, dict[str, str]] = {
    "source_kind": SOURCE_KINDS,
    "source": SOURCE_KINDS,
    "location_type": {
        "public_place": "Public place",
        "dwelling": "Dwelling",
        "licensed_premises": "Licensed premises",
        "school": "School",
        "retail": "Shop or retail",
        "transport": "Transport",
        "workplace": "Workplace",
        "healthcare": "Healthcare",
        "other": "Other",
    },
    "means_of_assault": {
        "body": "Body (hands, feet, head)",
        "knife_or_sharp": "Knife or sharp object",
        "blunt_object": "Blunt object",
        "firearm": "Firearm",
        "glass_or_bottle": "Glass or bottle",
        "corrosive": "Corrosive substance",
        "other": "Other",
        "unknown": "Unknown",
    },
    "sex": {"female": "Female", "male": "Male", "other": "Other", "unknown": "Unknown"},
}
"""Words shown for the vocabulary's values, by the column that holds them."""


def heading(column: str) -> str:
    """The heading a reader sees for a column: from HEADINGS; names of places, years and
    hours as they are; never a snake_case name."""
    found = HEADINGS.get(column)
    if found is not None:
        return found
    text = column.replace("_", " ")
    return text[:1].upper() + text[1:]


def label(column: str, value: str) -> str:
    """The words for a vocabulary value in `column` (the value itself when it has none)."""
    return LABELS.get(column, {}).get(value, value)


def source_kind_label(kind: str) -> str:
    """A source kind in words, as a sentence reads it."""
    return SOURCE_KINDS.get(kind, kind.replace("_", " "))


THEME_NAMES: dict[str, str] = {
    "domestic_abuse": "Domestic abuse",
    "youth": "Youth (a victim or suspect under 25)",
    "sexual_violence": "Sexual violence",
    "public_place": "Public place",
    "night_time_economy": "Night-time economy",
    "weapon_enabled": "Weapon-enabled (knife, firearm or corrosive)",
    "county_lines": "County lines",
}
"""The SNA's themes (their rules are in `svduty.analysis.themes`)."""

NEED_THEMES: dict[str, str] = {
    "all": "All serious violence",
    "knife": "Knife or sharp instrument",
    **{key: name for key, name in THEME_NAMES.items() if key != "youth"},
}
"""The themes need is read for: all of the selection, the knife marker the Home Office measures
use, and the SNA's themes (youth is a cohort there, not a theme)."""

COHORTS: tuple[tuple[str, str, int | None, int | None], ...] = (
    ("under_18", "under 18", 0, 17),
    ("18_24", "18 to 24", 18, 24),
    ("25_over", "25 and over", 25, 120),
    ("age_unknown", "age not recorded", None, None),
)
"""Cohort id, words, youngest and oldest age: a partition of incidents by the age of their
youngest victim or suspect with a recorded age."""

GAP_COHORTS: tuple[str, ...] = ("all_ages", "under_18", "18_24", "25_over")
"""The cohorts need is read for: everyone, and the three age bands (incidents with no recorded
age are in no band, and are reported as a limitation instead)."""

COHORT_AGES: dict[str, tuple[str, int, int]] = {
    "all_ages": ("all ages", 0, 120),
    **{
        key: (words, low, high)
        for key, words, low, high in COHORTS
        if low is not None and high is not None
    },
}
