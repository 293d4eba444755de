"""Mapping and gapping: needs and catalogues made by hand, where the right gaps are known by
construction, then the command on a real workspace (need read from its published set, the map
drawn from its boundaries)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from conftest import svduty

from svduty.errors import WorkspaceError
from svduty.interventions.gaps import Geography, gaps, state
from svduty.interventions.model import Funding, Intervention
from svduty.interventions.need import NEED_COLUMNS, NeedMethod, Needs
from svduty.settings import load_settings
from svduty.vocabulary import COHORT_AGES

AREA = "Testshire"
DAY = date(2026, 6, 1)
PLACES = pd.DataFrame(
    {
        "lsoa_code": ["E01000001", "E01000002", "E01000003"],
        "la_code": ["E07000001", "E07000002", "E07000003"],
        "csp_name": ["North", "North", "South"],
    }
)
WHERE = Geography.of(AREA, PLACES, ["Testshire Police"])
LEVELS = {"high": 5, "medium": 3, "low": 0}


def need(area: str, theme: str, cohort: str, per_year: float, level: str) -> dict:
    """A need row as `needs` makes them: its score is the level's, its count three years'."""
    words, low, high = COHORT_AGES[cohort]
    return {
        "area": area, "theme": theme, "theme_name": theme.replace("_", " ").capitalize(),
        "cohort": cohort, "cohort_name": words, "age_min": low, "age_max": high,
        "count": int(per_year * 3), "per_year": per_year, "rate": round(per_year / 100, 3),
        "ratio": 1.5, "change": "significant increase", "hotspots": None, "measure": None,
        "score": LEVELS[level], "level": level, "reasons": "",
    }  # fmt: skip


def needs_of(rows: list[dict]) -> Needs:
    frame = pd.DataFrame(rows, columns=list(NEED_COLUMNS))
    return Needs(frame, "test-definition v1", "2024-04 to 2026-03", AREA, NeedMethod(), None)


def intervention(ident: str, **fields: object) -> Intervention:
    """A running intervention with moderate evidence (YEF mentoring) unless told otherwise."""
    values: dict = {
        "name": ident.title(), "tier": "secondary", "status": "running",
        "yef_approach": "mentoring", "capacity_per_year": 500,
    }  # fmt: skip
    values.update(fields)
    return Intervention(id=ident, **values)


def test_planted_gaps_come_out_exactly_and_in_order():
    """Four needs, each wrong in one known way, and one well served: an uncovered cohort
    (knives, under 18, in North), an area served twice (sexual violence in South), a need
    covered only by an ended intervention (domestic abuse, 25 and over, in North) and a
    capacity shortfall (knives, 18 to 24, in South: 40 places against 100 a year). Gaps come
    ranked by need, then the flags."""
    rows = [
        need("North", "knife", "under_18", 60, "high"),
        need("North", "knife", "25_over", 20, "medium"),
        need("North", "domestic_abuse", "25_over", 80, "medium"),
        need("South", "knife", "18_24", 100, "medium"),
        need("South", "sexual_violence", "all_ages", 12, "medium"),
    ]
    rows[2]["score"], rows[3]["score"] = 4, 3  # ended before shortfall, by need
    catalogue = [
        intervention(
            "ADULT-KNIFE", age_min=25, themes=("knife",), areas=("North",), capacity_per_year=50
        ),
        intervention(
            "DA-NORTH",
            age_min=18,
            themes=("domestic_abuse",),
            areas=("E07000001",),
            status="ended",
            ended_on=date(2025, 3, 31),
        ),
        intervention(
            "YOUNG-ADULT",
            age_min=18,
            age_max=24,
            themes=("knife",),
            areas=("South",),
            capacity_per_year=40,
        ),
        intervention("SAFE-A", tier="primary", themes=("sexual_violence",), areas=("South",)),
        intervention("SAFE-B", tier="primary", themes=("sexual_violence",), areas=("South",)),
    ]
    found = gaps(needs_of(rows), catalogue, WHERE, DAY)
    got = [(f.kind, f.need["area"], f.need["theme"], f.need["cohort"]) for f in found]
    assert got == [
        ("uncovered", "North", "knife", "under_18"),
        ("ended", "North", "domestic_abuse", "25_over"),
        ("capacity", "South", "knife", "18_24"),
        ("overlap", "South", "sexual_violence", "all_ages"),
    ]
    uncovered, ended, shortfall, overlap = found
    assert "nearest is Adult-Knife" in uncovered.sentence
    assert "serves ages 25 and over" in uncovered.sentence
    assert ended.interventions == ("DA-NORTH",) and "ended on 2025-03-31" in ended.sentence
    assert shortfall.detail == {"places": 40, "needed": 100}
    assert "40 places a year" in shortfall.sentence
    assert "100 incidents a year" in shortfall.sentence
    assert set(overlap.interventions) == {"SAFE-A", "SAFE-B"}
    for finding in found:
        assert "test-definition v1, 2024-04 to 2026-03" in finding.sentence
        assert f"{round(finding.need['per_year']):,} incidents a year" in finding.sentence


def test_a_need_scored_low_is_no_gap_but_provision_for_low_need_only_is_flagged():
    rows = [need("North", "knife", "under_18", 5, "low"), need("South", "knife", "18_24", 4, "low")]
    catalogue = [intervention("KNIFE-NORTH", themes=("knife",), areas=("North",))]
    found = gaps(needs_of(rows), catalogue, WHERE, DAY)
    assert [(f.kind, f.interventions) for f in found] == [("low_need", ("KNIFE-NORTH",))]
    method = NeedMethod(gaps_from="low")
    raised = gaps(Needs(needs_of(rows).frame, "d", "p", AREA, method, None), catalogue, WHERE, DAY)
    assert [(f.kind, f.need["area"]) for f in raised if f.is_gap] == [("uncovered", "South")]


def test_where_who_and_what_decide_cover():
    """A district's intervention covers part of its CSP, none of the other; ages must overlap;
    a knife programme covers part of weapon-enabled violence, none of domestic abuse; a
    youth programme part of any theme for the young."""
    from svduty.interventions.gaps import covers

    district = intervention("D", areas=("E07000003",), themes=("knife",), age_min=10, age_max=17)
    young = need("South", "weapon_enabled", "under_18", 50, "high")
    cover = covers(district, young, WHERE, DAY)
    assert cover is not None and (cover.area, cover.cohort, cover.theme) == (
        "part", "part", "part",  # ages 10 to 17 are part of under 18
    )  # fmt: skip
    assert covers(district, need("North", "knife", "under_18", 50, "high"), WHERE, DAY) is None
    assert covers(district, need("South", "knife", "25_over", 50, "high"), WHERE, DAY) is None
    assert (
        covers(district, need("South", "domestic_abuse", "under_18", 5, "low"), WHERE, DAY) is None
    )
    whole = need(AREA, "knife", "under_18", 50, "high")
    assert covers(district, whole, WHERE, DAY).area == "part"  # type: ignore[union-attr]
    force = intervention("F", areas=("Testshire Police",), themes=("youth",), age_max=17)
    cover = covers(force, need("North", "public_place", "under_18", 50, "high"), WHERE, DAY)
    assert cover is not None and (cover.area, cover.theme) == ("full", "part")


def test_an_intervention_runs_until_it_ends_or_its_funding_does():
    funded = (Funding("PCC", date(2024, 4, 1), date(2026, 3, 31)),)
    assert state(intervention("A", funding=funded), date(2026, 3, 31))[0] == "running"
    assert state(intervention("A", funding=funded), date(2026, 4, 1)) == (
        "ended", "funded to 2026-03-31",
    )  # fmt: skip
    later = (Funding("PCC", date(2027, 1, 1), None),)
    assert state(intervention("A", funding=later), DAY) == ("planned", "funded from 2027-01-01")
    assert state(intervention("A", status="planned", funding=later), DAY)[0] == "planned"
    assert state(intervention("A", ended_on=date(2026, 5, 31)), DAY)[0] == "ended"
    assert state(intervention("A"), DAY)[0] == "running"


def test_a_need_covered_only_by_a_planned_intervention_says_so():
    rows = [need("North", "knife", "under_18", 60, "high")]
    planned = intervention("SOON", status="planned", themes=("knife",), age_max=17)
    (finding,) = gaps(needs_of(rows), [planned], WHERE, DAY)
    assert finding.kind == "planned" and "Soon" in finding.sentence


def test_need_settings_are_read_from_svduty_toml_and_a_mistake_is_named(tmp_path: Path):
    (tmp_path / "svduty.toml").write_text("[workspace]\narea = 'X'\n[need]\nhigh = 6\n")
    assert NeedMethod.of(load_settings(tmp_path).need).high == 6
    (tmp_path / "svduty.toml").write_text("[workspace]\narea = 'X'\n[need]\nhihg = 6\n")
    with pytest.raises(WorkspaceError, match=r"svduty.toml.*unknown setting 'hihg'"):
        load_settings(tmp_path)
    (tmp_path / "svduty.toml").write_text("[workspace]\narea = 'X'\n[need]\ngaps_from = 'some'\n")
    with pytest.raises(WorkspaceError, match="gaps_from"):
        load_settings(tmp_path)


def test_the_command_ranks_gaps_by_need_and_draws_the_map(sna_workspace, tmp_path: Path):
    """On the example-like workspace with no catalogue: every need at medium or above is a gap,
    ranked by score; each sentence names the definition and period; the JSON's figures are the
    need table's; the map is a PNG."""
    root, _ = sna_workspace
    done = svduty("gaps", "-w", str(root), "--format", "json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    rows = found["rows"] if isinstance(found, dict) else found
    assert rows, done.stdout[:500]
    assert {r["kind"] for r in rows} == {"uncovered"}
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert all(r["level"] in ("high", "medium") for r in rows)
    listed = svduty("gaps", "-w", str(root), "--needs", "--format", "json")
    need_rows = json.loads(listed.stdout)
    need_rows = need_rows["rows"] if isinstance(need_rows, dict) else need_rows
    medium_up = [r for r in need_rows if r["level"] in ("high", "medium")]
    assert len(medium_up) == len(rows)
    for row in rows:
        assert " v" in row["sentence"] and " to " in row["sentence"]
    picture = tmp_path / "gaps.png"
    drawn = svduty(
        "gaps", "-w", str(root), "--format", "png", "--theme", "knife", "--out", str(picture)
    )
    assert drawn.returncode == 0, drawn.stderr
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    wrong = svduty("gaps", "-w", str(root), "--theme", "knives")
    assert wrong.returncode != 0 and "--theme 'knives': one of" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_harmful_cover_is_no_cover_and_partial_cover_is_a_gap_of_its_own():
    """An approach the YEF Toolkit finds harmful closes no gap (it is flagged); an
    intervention serving one district of a CSP, or part of a cohort's ages, leaves a partial
    gap, and its places do not count against the whole need."""
    rows = [
        need("South", "knife", "under_18", 60, "high"),
        need("North", "public_place", "under_18", 80, "high"),
    ]
    scared = intervention(
        "SCARED", themes=("knife",), areas=("South",), age_max=17, yef_approach=HARMFUL
    )
    district = intervention(
        "WORC", themes=("public_place",), areas=("E07000001",), age_min=10, age_max=17,
        capacity_per_year=400,
    )  # fmt: skip
    found = gaps(needs_of(rows), [scared, district], WHERE, DAY)
    kinds = [(f.kind, f.need["area"]) for f in found]
    assert kinds[:2] == [("uncovered", "South"), ("partial", "North")]
    assert ("harmful", "South") in kinds
    partial = found[1]
    assert "serves" in partial.sentence and "ages 10 to 17 only" in partial.sentence


def test_an_area_wide_interventions_places_are_shared_among_its_areas_by_incidents():
    """A force-wide programme of 300 places a year, against 200 incidents a year in North and
    400 in the whole area: North's share is 300 × 200 / 400 = 150 places, short of 200. South's
    is 300 × 100 / 400 = 75, and with a programme of its own (100 places) 175, enough for its
    100 a year."""
    rows = [
        need(AREA, "knife", "25_over", 400, "low"),
        need("North", "knife", "25_over", 200, "medium"),
        need("South", "knife", "25_over", 100, "medium"),
    ]
    wide = intervention("WIDE", themes=("knife",), age_min=25, capacity_per_year=300)
    south = intervention(
        "SOUTH", themes=("knife",), age_min=25, areas=("South",), capacity_per_year=100
    )
    found = [f for f in gaps(needs_of(rows), [wide, south], WHERE, DAY) if f.is_gap]
    assert [(f.kind, f.need["area"]) for f in found] == [("capacity", "North")]
    assert found[0].detail == {"places": 150, "needed": 200}
    assert "shared by incidents" in found[0].sentence


def test_an_intervention_with_no_theme_ages_or_area_is_flagged_not_trusted_silently():
    rows = [need("North", "knife", "under_18", 60, "high")]
    vague = intervention("VAGUE", yef_approach="", capacity_per_year=None)
    found = gaps(needs_of(rows), [vague], WHERE, DAY)
    kinds = {f.kind for f in found}
    assert "unspecific" in kinds and "no_capacity" in kinds and "weak_evidence" in kinds


def test_a_day_past_reads_the_catalogue_as_it_stood_then():
    """Ended on 2025-03-31: running on 2024-06-01, ended on 2026-06-01; funded from 2027:
    planned now, running on 2027-06-01."""
    ended = intervention("OLD", status="ended", ended_on=date(2025, 3, 31))
    assert state(ended, date(2024, 6, 1))[0] == "running"
    assert state(ended, DAY)[0] == "ended"
    later = intervention("NEW", status="planned", funding=(Funding("PCC", date(2027, 1, 1), None),))
    assert state(later, DAY)[0] == "planned"
    assert state(later, date(2027, 6, 1))[0] == "running"


def _harmful() -> str:
    from svduty.interventions.evidence import approaches

    return next(a.name for a in approaches() if a.band == "harmful")


HARMFUL = _harmful()


def test_a_rate_above_the_whole_areas_scores_only_when_the_exact_test_says_so():
    """102 incidents where 100 were expected (ratio 1.02) is chance: no point; 150 where 100
    were expected is not: 2 points. The p-value is the Poisson tail at the expected count."""
    from scipy.stats import poisson

    from svduty.interventions.need import _against, _score

    ratio, p = _against(102, 1_000, 1_000, 10_000)  # expected 1,000 × 1,000 / 10,000 = 100
    assert ratio == pytest.approx(1.02) and p == pytest.approx(poisson.sf(101, 100))
    row = need("North", "knife", "all_ages", 34, "low") | {"ratio": ratio, "p_ratio": p}
    row["change"] = "no significant change"
    assert _score(row, AREA, NeedMethod()) == (0, [])
    ratio, p = _against(150, 1_000, 1_000, 10_000)
    row |= {"ratio": ratio, "p_ratio": p}
    points, reasons = _score(row, AREA, NeedMethod())
    assert points == 2 and reasons[0].startswith("rate 1.50 times")
