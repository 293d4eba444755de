"""The most-at-risk cohort: members are exactly the people an independent count over the tables
finds; only analysts see them, every look is audited; the published aggregate passes the
project's disclosure scanner; nothing that identifies a person leaves in any output.

Every person here is synthetic (`svduty synth --identities`: made-up people recurring across
agencies, labelled synthetic)."""

from __future__ import annotations

import csv
import json
import random
import re
import tomllib
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from conftest import csv_rows, svduty
from scanner import recoverable, small_counts
from typer.testing import CliRunner

from svduty.cli import app
from svduty.errors import InputError, WorkspaceError
from svduty.example import WEST_MERCIA
from svduty.ingest import ingest
from svduty.linkage import cohort_access
from svduty.linkage.cohort import COLUMNS, cohort_id
from svduty.linkage.cohort_aggregate import publications, summary
from svduty.linkage.cohort_rules import CohortRules
from svduty.publish import Policy
from svduty.settings import Settings, load_settings, render_settings
from svduty.synth.check import synthetic_files
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile
from svduty.web.accounts import add_user
from svduty.workspace import Workspace, default_actor

RULES = {
    "lookback_months": 12,
    "min_factors": 2,
    "victim": 2,
    "suspect": 2,
    "knife": 1,
    "ae_assault": 1,
    "youth_justice": 1,
    "suspensions": 2,
    "purpose": "review by the multi-agency serious violence panel",
    "lawful_basis": "UK GDPR Art. 6(1)(e); DPA 2018 s.35",
}
SALT = "a salt for this test"
PASSWORD = "a long passphrase 1"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A synthetic workspace from the generator at a tenth of the profile's volume, its people
    recurring across police, A&E, youth justice and exclusions (keys made from their recorded
    identifiers), with an analyst, a partner, a partner of one CSP, and the user running the
    command line as an analyst."""
    root = tmp_path_factory.mktemp("cohort")
    syn = root / "syn"
    generate(load_profile("west-mercia"), syn, scale=0.1, seed=3, identities=True)
    files, mappings = synthetic_files(syn)
    settings = Settings(**{**WEST_MERCIA.__dict__, "cohort": RULES})
    with Workspace.init(root / "ws", settings) as ws:
        reports = ingest(ws, files, mappings=mappings)
        assert sum(r.rows_rejected for r in reports) == 0
        ws.classify()
    add_user(root / "ws", "ana", PASSWORD, "analyst")
    add_user(root / "ws", "pat", PASSWORD, "partner")
    add_user(root / "ws", "shropshire", PASSWORD, "partner", ("Shropshire",))
    add_user(root / "ws", default_actor(), PASSWORD, "analyst")
    return root / "ws"


def _expected(ws: Workspace, joined: dict[str, str] | None = None) -> dict[str, dict[str, int]]:
    """Each member's counts, by SQL over the stored tables written apart from the cohort's
    code: serious violence from the stored classifications, the window ending with the last
    month any record about a person holds. `joined` makes one person of two keys (the second
    key -> the first); members are keyed by their id under SALT."""
    sql = """
    WITH sv AS (
        SELECT v.person_key AS person, v.role, i.force, i.crime_ref, i.month, i.marker_knife
        FROM involvements v
        JOIN incidents i ON i.force = v.force AND i.crime_ref = v.crime_ref
        JOIN classifications c ON c.batch_id = i.batch_id AND c.source_line = i.source_line
        WHERE c.in_definition AND c.definition_id = $definition AND v.person_key IS NOT NULL
    ),
    ae AS (SELECT person_key AS person, site, attendance_ref, month FROM ae_attendances
           WHERE person_key IS NOT NULL),
    yj AS (SELECT person_key AS person, contact_ref, month FROM youth_justice
           WHERE person_key IS NOT NULL),
    ex AS (SELECT person_key AS person, exclusion_ref, exclusion_type, month FROM exclusions
           WHERE person_key IS NOT NULL),
    last AS (
        SELECT max(month) AS last FROM (SELECT month FROM sv UNION ALL SELECT month FROM ae
        UNION ALL SELECT month FROM yj UNION ALL SELECT month FROM ex)
    ),
    span AS (SELECT last - INTERVAL ($months - 1) MONTH AS first, last FROM last),
    counts AS (
        SELECT person, count(DISTINCT (force, crime_ref)) FILTER (role = 'victim') AS victim,
               count(DISTINCT (force, crime_ref)) FILTER (role IN ('suspect', 'offender'))
                   AS suspect,
               count(DISTINCT (force, crime_ref)) FILTER (marker_knife) AS knife,
               0 AS ae_assault, 0 AS youth_justice, 0 AS permanent, 0 AS suspensions
        FROM sv, span WHERE month BETWEEN first AND last GROUP BY person
        UNION ALL
        SELECT person, 0, 0, 0, count(DISTINCT (site, attendance_ref)), 0, 0, 0
        FROM ae, span WHERE month BETWEEN first AND last GROUP BY person
        UNION ALL
        SELECT person, 0, 0, 0, 0, count(DISTINCT contact_ref), 0, 0
        FROM yj, span WHERE month BETWEEN first AND last GROUP BY person
        UNION ALL
        SELECT person, 0, 0, 0, 0, 0,
               count(DISTINCT exclusion_ref) FILTER (exclusion_type = 'permanent'),
               count(DISTINCT exclusion_ref) FILTER (exclusion_type = 'suspension')
        FROM ex, span WHERE month BETWEEN first AND last GROUP BY person
    )
    SELECT coalesce(j.first, c.person) AS one, sum(victim)::INT, sum(suspect)::INT,
           sum(knife)::INT, sum(ae_assault)::INT, sum(youth_justice)::INT, sum(permanent)::INT,
           sum(suspensions)::INT
    FROM counts c LEFT JOIN joined j ON j.second = c.person GROUP BY one
    """
    pairs = pd.DataFrame(list((joined or {}).items()), columns=["second", "first"], dtype=str)
    ws.con.register("joined", pairs)
    rows = ws.con.execute(
        sql, {"definition": ws.settings.definition, "months": RULES["lookback_months"]}
    ).fetchall()
    ws.con.unregister("joined")
    names = [
        "victim",
        "suspect",
        "knife",
        "ae_assault",
        "youth_justice",
        "permanent",
        "suspensions",
    ]
    out = {}
    for person, *counts in rows:
        found = dict(zip(names, counts, strict=True))
        met = {
            "victim_met": found["victim"] >= RULES["victim"],
            "suspect_met": found["suspect"] >= RULES["suspect"],
            "knife_met": found["knife"] >= RULES["knife"],
            "ae_assault_met": found["ae_assault"] >= RULES["ae_assault"],
            "youth_justice_met": found["youth_justice"] >= RULES["youth_justice"],
            "exclusions_met": found["permanent"] >= 1
            or found["suspensions"] >= RULES["suspensions"],
        }
        found["factors_met"] = sum(met.values())
        if found["factors_met"] >= RULES["min_factors"]:
            out[cohort_id(person, SALT)] = {**found, **met}
    return out


# -- the members' list ------------------------------------------------------------------------


def test_members_are_the_people_an_independent_count_finds(built):
    with Workspace.open(built, read_only=True, actor="ana") as ws:
        expected = _expected(ws)
        cohort = cohort_access.members(ws, salt=SALT)
    frame = cohort.members
    assert len(expected) >= 20  # the data give the check bite
    assert set(frame["cohort_id"]) == set(expected)
    for row in frame.to_dict(orient="records"):
        want = expected[row["cohort_id"]]
        got = {**row, "permanent": row["permanent_exclusions"]}
        assert {k: got[k] for k in want} == want, row["cohort_id"]
    # every source counted: a member met a factor of each
    for factor in ("victim", "suspect", "knife", "ae_assault", "youth_justice", "exclusions"):
        assert frame[f"{factor}_met"].any(), factor
    # the order stated: more factors first, then the latest record first
    latest = [-date.fromisoformat(d).toordinal() for d in frame["last_seen"]]
    order = list(zip(-frame["factors_met"], latest, strict=True))
    assert order == sorted(order)
    assert frame["synthetic"].all()


def _people(ws: Workspace) -> dict[str, int]:
    """People with any record counted in the window, in any source and in each, by SQL over the
    stored tables apart from the cohort's code."""
    sql = """
    WITH kept AS (
        SELECT 'police' AS source, v.person_key AS person, i.month
        FROM involvements v
        JOIN incidents i ON i.force = v.force AND i.crime_ref = v.crime_ref
        JOIN classifications c ON c.batch_id = i.batch_id AND c.source_line = i.source_line
        WHERE c.in_definition AND c.definition_id = $definition AND v.person_key IS NOT NULL
        UNION ALL SELECT 'A&E', person_key, month FROM ae_attendances WHERE person_key IS NOT NULL
        UNION ALL SELECT 'youth justice', person_key, month FROM youth_justice
            WHERE person_key IS NOT NULL
        UNION ALL SELECT 'schools', person_key, month FROM exclusions WHERE person_key IS NOT NULL
    ),
    span AS (SELECT max(month) - INTERVAL ($months - 1) MONTH AS first, max(month) AS last
             FROM kept)
    SELECT coalesce(source, 'any source'), count(DISTINCT person)
    FROM kept, span WHERE month BETWEEN first AND last GROUP BY ROLLUP (source)
    """
    found = dict(
        ws.con.execute(
            sql, {"definition": ws.settings.definition, "months": RULES["lookback_months"]}
        ).fetchall()
    )
    return {s: found[s] for s in ("any source", "police", "A&E", "youth justice", "schools")}


def test_the_members_are_of_the_people_with_any_record_in_the_period_by_source(built):
    """The header and the published figures say of how many people the members are: those with
    any record counted in the period, and in each source, as an independent count finds."""
    from svduty.linkage.cohort_aggregate import long_table

    with Workspace.open(built, read_only=True, actor="ana") as ws:
        expected = _people(ws)
        cohort = cohort_access.members(ws)
        pubs = cohort_access.aggregate(ws)
        area, csps = ws.settings.area, list(ws.settings.csps)
    assert cohort.people_by_source() == expected
    assert expected["any source"] > len(cohort.members) > 0
    assert sum(list(expected.values())[1:]) > expected["any source"]  # people in several
    header = "\n".join(cohort.describe())
    each = ", ".join(f"{name} {n:,}" for name, n in list(expected.items())[1:])
    assert (
        f"Cohort: {len(cohort.members):,} members of the {expected['any source']:,} people with "
        f"any record counted from {cohort.first_month} to {cohort.last_month} "
        f"({RULES['lookback_months']} months; by source, a person in several counted in each: "
        f"{each})."
    ) in header
    assert f"a member meets {RULES['min_factors']} or more of the 6 factors assessed" in header
    # the published figures carry the same denominator, through disclosure control
    whole = pubs[0].table("cohort", "people")
    shown = dict(zip(whole["source"], whole["count"], strict=True))
    assert shown == expected  # the whole area's counts are large: none hidden
    assert "members are of the people with any record counted" in pubs[0].provenance["of"]
    rows = long_table(pubs)
    people = rows[(rows["area"] == area) & (rows["table"] == "people")]
    assert dict(zip(people["category"], people["count"], strict=True)) == expected
    # each CSP's people, with those placed in none, add up to the whole area's
    truth = publications(cohort, area, csps, Policy(0, internal=True))
    by_csp = [cohort.people_by_source(csp)["any source"] for csp in csps]
    assert [int(p.table("cohort", "people")["count"].iloc[0]) for p in truth[1:]] == by_csp
    unplaced = int(cohort.population.loc[cohort.population["csp"].isna(), "people"].sum())
    assert sum(by_csp) + unplaced == expected["any source"] and sum(by_csp) > 0


def test_each_factor_met_is_said_in_words_with_its_count_and_threshold(built):
    with Workspace.open(built, read_only=True, actor="ana") as ws:
        frame = cohort_access.members(ws, salt=SALT).members
    months = RULES["lookback_months"]
    for row in frame.to_dict(orient="records"):
        said = row["factors"].split("; ")
        met = [f for f in ("victim", "suspect", "knife", "ae_assault", "youth_justice",
                           "exclusions") if row[f"{f}_met"]]  # fmt: skip
        assert len(said) == len(met) == row["factors_met"]
        if row["victim_met"]:
            times = "once" if row["victim"] == 1 else f"{row['victim']} times"
            assert (
                f"victim of serious violence {times} in {months} months "
                f"(threshold {RULES['victim']})"
            ) in said
        assert all(f"in {months} months (threshold" in s for s in said)


def test_only_analysts_see_members_and_every_look_is_audited(built):
    for actor in ("pat", "stranger"):
        with (
            Workspace.open(built, read_only=True, actor=actor) as ws,
            pytest.raises(cohort_access.CohortDenied, match="for analysts") as refused,
        ):
            cohort_access.members(ws)
        assert actor in str(refused.value) and "\n" not in str(refused.value)
    with Workspace.open(built, read_only=True, actor="ana") as ws:
        cohort = cohort_access.members(ws, fields=list(COLUMNS))
        log = ws.audit_log()
    looks = log[log["action"] == "cohort"].tail(3)
    assert list(looks["actor"]) == ["pat", "stranger", "ana"]
    said = [json.loads(p) for p in looks["parameters"]]
    assert [p["allowed"] for p in said] == [False, False, True]
    assert [p["role"] for p in said] == ["partner", None, "analyst"]
    assert said[2]["members"] == said[2]["rows"] == len(cohort.members)
    assert said[2]["fields"] == list(COLUMNS)


def test_without_purpose_or_lawful_basis_the_cohort_is_refused_in_one_line(tmp_path):
    root = tmp_path / "ws"
    Workspace.init(root, Settings(area="X")).close()
    add_user(root, default_actor(), PASSWORD, "analyst")
    done = svduty("cohort", "-w", str(root))
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("error: svduty.toml [cohort] purpose is missing")
    )
    # the template writes the [cohort] table with every line commented: one is uncommented
    lines = (root / "svduty.toml").read_text(encoding="utf-8").splitlines()
    lines = ['purpose = "review"' if x.startswith("# purpose = ") else x for x in lines]
    (root / "svduty.toml").write_text("\n".join(lines), encoding="utf-8")
    assert tomllib.loads("\n".join(lines))["cohort"] == {"purpose": "review"}
    with (
        Workspace.open(root, read_only=True) as ws,
        pytest.raises(InputError, match=r"^svduty.toml \[cohort\] lawful_basis is missing"),
    ):
        cohort_access.members(ws)


def test_a_mistake_in_the_cohort_rules_is_named_on_loading(tmp_path):
    (tmp_path / "svduty.toml").write_text("[workspace]\narea = 'X'\n[cohort]\nvictm = 2\n")
    with pytest.raises(WorkspaceError, match=r"\[cohort\]: unknown setting 'victm'"):
        load_settings(tmp_path)
    (tmp_path / "svduty.toml").write_text("[workspace]\narea = 'X'\n[cohort]\nknife = -1\n")
    with pytest.raises(WorkspaceError, match=r"\[cohort\] knife: give a whole number"):
        load_settings(tmp_path)
    off = "victim = 0\nsuspect = 0\nknife = 0\nmin_factors = 4\n"  # three factors left on
    (tmp_path / "svduty.toml").write_text(f"[workspace]\narea = 'X'\n[cohort]\n{off}")
    with pytest.raises(WorkspaceError, match=r"min_factors = 4: only 3 factor\(s\) are on"):
        load_settings(tmp_path)
    defaults = CohortRules()
    text = render_settings(Settings(area="X"))
    assert f"# lookback_months = {defaults.lookback_months}" in text
    assert "cohort" not in tomllib.loads(text) or not tomllib.loads(text)["cohort"]


def _counts(members: dict[str, dict[str, int]] | pd.DataFrame) -> list[tuple[int, ...]]:
    """Each member's counts, sorted: what a cohort is, whatever its ids."""
    names = ["victim", "suspect", "knife", "ae_assault", "youth_justice", "suspensions"]
    if isinstance(members, pd.DataFrame):
        rows = members.rename(columns={"permanent_exclusions": "permanent"}).to_dict("records")
    else:
        rows = list(members.values())
    return sorted(tuple(int(r[n]) for n in [*names, "permanent", "factors_met"]) for r in rows)


def _first_records(ws: Workspace, table: str) -> dict[str, tuple[int, int]]:
    """Each person key's first record in a table."""
    found = ws.con.execute(
        f"SELECT person_key, min((batch_id, source_line)) FROM {table} "
        "WHERE person_key IS NOT NULL GROUP BY 1"
    ).fetchall()
    return {key: (int(first[0]), int(first[1])) for key, first in found}


def test_a_linkage_run_makes_one_person_of_the_keys_its_clusters_join(built):
    """A clustered run (stored in the linkage store as `svduty link cluster` stores one) whose
    clusters each hold one police record and one youth-justice record of two keys: the
    cohort counts each pair of keys as one person, as the independent count does."""
    from svduty.linkage.store import Run, new_run_id, save_clustered, save_trained

    rng = random.Random(5)
    with Workspace.open(built, read_only=True) as ws:
        police, youth = _first_records(ws, "involvements"), _first_records(ws, "youth_justice")
    seconds = rng.sample(sorted(youth), len(youth) * 3 // 4)
    firsts = rng.sample(sorted(set(police) - set(youth)), len(seconds))
    rows = []
    for n, (a, b) in enumerate(zip(firsts, seconds, strict=True)):
        rows.append((f"L{n}", *police[a], "involvements"))
        rows.append((f"L{n}", *youth[b], "youth_justice"))
    clusters = pd.DataFrame(rows, columns=["cluster_id", "batch_id", "source_line", "source_table"])
    with Workspace.open(built, actor="ana") as ws:
        run = Run(
            new_run_id(), "test pairs", "plain", datetime.now(), "ana", 0.0, 0.5,
            ws.data_version, "{}", '["involvements", "youth_justice"]', len(clusters), None,
            None, "trained",
        )  # fmt: skip
        save_trained(ws, run)
        save_clustered(ws, run, clusters)
    said: list[str] = []
    with Workspace.open(built, read_only=True, actor="ana", say=said.append) as ws:
        expected = _expected(ws, dict(zip(seconds, firsts, strict=True)))
        unlinked = _expected(ws)
        cohort = cohort_access.members(ws, run=cohort_access.LATEST)
        log = ws.audit_log()
    assert _counts(cohort.members) == _counts(expected)
    assert _counts(expected) != _counts(unlinked)  # the clusters change who is in
    assert list(log["action"].tail(2)) == ["read linked records", "cohort"]
    # the run taken is named, with its preset, threshold and data version, never as "latest"
    audited = json.loads(log["parameters"].iloc[-1])
    assert {k: audited[k] for k in ("run", "preset", "threshold_match_weight", "data_version")} == {
        "run": run.run_id, "preset": run.preset,
        "threshold_match_weight": run.threshold_match_weight, "data_version": run.data_version,
    }  # fmt: skip
    header = "\n".join(cohort.describe())
    assert (
        f"linkage run {run.run_id} (preset {run.preset}, threshold match weight "
        f"{run.threshold_match_weight:g}, data version {run.data_version})"
    ) in header
    # its data version is not that of the identifiers stored: a one-line warning says so
    assert audited["data_current"] is False
    [warning] = [line for line in said if line.startswith("warning:")]
    assert run.run_id in warning and "\n" not in warning
    with (
        Workspace.open(built, read_only=True, actor="pat") as ws,
        pytest.raises(cohort_access.CohortDenied, match="from linked records is built by"),
    ):
        cohort_access.aggregate(ws, run=cohort_access.LATEST)


def test_a_run_of_the_identifiers_stored_now_is_taken_without_warning_and_named(built):
    """A run stored as current (its data version that of the batches now) and newest: --linked
    takes it with no warning and the output header names it; an unknown --run is refused in one
    line listing the runs there are."""
    from svduty.linkage import records
    from svduty.linkage.store import Run, new_run_id, runs, save_clustered, save_trained

    with Workspace.open(built, actor="ana") as ws:
        version = records.data_version(
            {t: b for t, b in records.batches_by_table(ws).items() if t == "youth_justice"}
        )
        first = ws.con.execute(
            "SELECT batch_id, source_line FROM youth_justice ORDER BY 1, 2 LIMIT 1"
        ).fetchone()
        run = Run(
            new_run_id(), "current pairs", "plain", datetime.now(), "ana", 7.5, 0.99, version,
            "{}", '["youth_justice"]', 1, None, None, "trained",
        )  # fmt: skip
        save_trained(ws, run)
        clusters = pd.DataFrame(
            [("Z1", *first, "youth_justice")],
            columns=["cluster_id", "batch_id", "source_line", "source_table"],
        )
        save_clustered(ws, run, clusters)
        stored = runs(ws)
    done = CliRunner().invoke(app, ["cohort", "-w", str(built), "--linked"])
    assert done.exit_code == 0, done.output
    assert f"linkage run {run.run_id} (preset current pairs, threshold match weight 7.5" in (
        done.stdout
    )
    with Workspace.open(built, read_only=True) as ws:
        audited = json.loads(ws.audit_log()["parameters"].iloc[-1])
    assert audited["run"] == run.run_id and audited["data_current"] is True
    with (
        Workspace.open(built, read_only=True, actor="ana") as ws,
        pytest.raises(InputError) as refused,
    ):
        cohort_access.members(ws, run="no-such-run")
    listed = ", ".join(f"{r.run_id} ({r.status}, {r.preset})" for r in reversed(stored))
    assert str(refused.value) == (
        f"--run no-such-run: no linkage run of that id; runs, newest first: {listed}"
    )


# -- the published aggregate ------------------------------------------------------------------


def _summaries(pubs):
    return {p.id: summary(p) for p in pubs}


def test_the_aggregate_shows_no_small_count_and_none_can_be_recovered(built):
    with Workspace.open(built, read_only=True, actor="pat") as ws:
        threshold = ws.settings.disclosure_threshold
        shown = cohort_access.aggregate(ws)
    with Workspace.open(built, read_only=True, actor="ana") as ws:
        found = cohort_access.members(ws)
        area, csps = ws.settings.area, list(ws.settings.csps)
    truth = publications(found, area, csps, Policy(0, internal=True))
    published, internal = _summaries(shown), _summaries(truth)
    assert [p.id for p in shown] == [area, *csps]
    assert small_counts(published, threshold) == []
    assert recoverable(published, internal, area) == []
    # the check has bite: the truth has small counts, and the published set hides them
    assert small_counts(internal, threshold)
    assert shown[0].primary > 0
    total = published[area]["sections"]["cohort"]["members"]
    assert total == len(found.members)


def test_the_scanner_recovers_counts_from_an_aggregate_without_secondary_suppression(
    built, monkeypatch
):
    """With only small cells hidden (no secondary suppression), differencing the published
    cells gives hidden counts back: proof the attack above can succeed."""
    import svduty.publish.control as control

    with Workspace.open(built, read_only=True, actor="ana") as ws:
        found = cohort_access.members(ws)
        area, csps = ws.settings.area, list(ws.settings.csps)
        threshold = ws.settings.disclosure_threshold
    truth = _summaries(publications(found, area, csps, Policy(0, internal=True)))
    monkeypatch.setattr(control, "_protect", lambda *args: False)
    monkeypatch.setattr(control, "_audited", lambda *args: 0)
    unsafe = _summaries(publications(found, area, csps, Policy(threshold)))
    assert recoverable(unsafe, truth, area)


def test_a_partner_of_one_csp_has_the_whole_area_and_that_csp(built):
    with Workspace.open(built, read_only=True, actor="shropshire") as ws:
        shown = cohort_access.aggregate(ws)
        log = ws.audit_log()
    assert [p.id for p in shown] == [WEST_MERCIA.area, "Shropshire"]
    last = log[log["action"] == "cohort"].iloc[-1]
    said = json.loads(last["parameters"])
    assert said["view"] == "aggregate" and said["areas"] == [WEST_MERCIA.area, "Shropshire"]
    with (
        Workspace.open(built, read_only=True, actor="stranger") as ws,
        pytest.raises(cohort_access.CohortDenied, match="for the workspace's users"),
    ):
        cohort_access.aggregate(ws)


# -- what leaves --------------------------------------------------------------------------------


SYNTH_FILES = ("people.csv", "istv.csv", "youth-justice.csv", "exclusions.csv")
IDENTIFIER_LIKE = (
    r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"  # a postcode
    r"|[A-Z]\d{12}"  # a UPN
    r"|\d\d/\d\d/\d{4}|\d{4}-\d\d-\d\d"  # a date
)


def _identifiers(folder: Path) -> set[str]:
    """Postcodes, UPNs and dates of birth (as recorded and as ISO dates) of the synthetic
    extracts: values no output may hold."""
    found = set()
    for name in SYNTH_FILES:
        for row in csv_rows(folder / name):
            for column in ("Postcode", "UPN", "DOB", "Date of Birth"):
                value = (row.get(column) or "").strip()
                if len(value) >= 6:
                    found.add(value)
                    if re.fullmatch(r"\d\d/\d\d/\d{4}", value):
                        day, month, year = value.split("/")
                        found.add(f"{year}-{month}-{day}")
    return found


def test_no_person_key_or_identifier_in_any_output_or_the_audit_log(built, tmp_path):
    outputs = {}
    out = tmp_path / "cohort.csv"
    for args in (
        ("-f", "table"),
        ("-f", "csv"),
        ("-f", "json"),
        ("--aggregate", "-f", "json"),
        ("--aggregate", "-f", "table"),
        ("-f", "csv", "--out", str(out)),
    ):
        done = CliRunner().invoke(app, ["cohort", "-w", str(built), *args])
        assert done.exit_code == 0, done.output
        outputs[args] = done.stdout
    outputs[("--out",)] = out.read_text(encoding="utf-8")
    members = list(csv.DictReader(outputs[("-f", "csv")].splitlines()))
    assert members and {r["marking"] for r in members} == {
        "OFFICIAL-SENSITIVE: NOT FOR PUBLICATION"
    }
    assert "takes no automated decision" in outputs[("-f", "table")]
    assert RULES["lawful_basis"] in outputs[("-f", "table")]
    document = json.loads(outputs[("-f", "json")])
    assert document["purpose"] == RULES["purpose"] and len(document["members"]) == len(members)
    with Workspace.open(built, read_only=True) as ws:
        keys = {k for (k,) in ws.con.execute(
            "SELECT person_key FROM involvements UNION SELECT person_key FROM ae_attendances "
            "UNION SELECT person_key FROM youth_justice UNION SELECT person_key FROM exclusions"
        ).fetchall() if k}  # fmt: skip
        log = ws.audit_log()
        (first,) = ws.con.execute("SELECT min(month) FROM incidents").fetchone()
    # a child born within the records' period has a date of birth that is also a day records
    # fall on, which the list shows rightly (first and last dates): only earlier ones are looked for
    identifiers = {
        i for i in _identifiers(built.parent / "syn")
        if not (re.fullmatch(r"\d{4}-\d\d-\d\d", i) and i >= first.isoformat())
    }  # fmt: skip
    ids = {r["cohort_id"] for r in members}
    for args, text in [*outputs.items(), (("audit log",), log.to_json())]:
        hexes = set(re.findall(r"[0-9a-f]{12,}", text))  # a key or any 12 digits of one
        assert not [h for h in hexes for k in keys if h in k], args
        assert not set(re.findall(IDENTIFIER_LIKE, text)) & identifiers, args
    cells = {v for r in members for v in r.values()}
    surnames = {r["Surname"] for f in SYNTH_FILES for r in csv_rows(built.parent / "syn" / f)}
    assert not cells & surnames
    assert not [i for i in ids if i in log.to_json()]  # the audit holds counts, not members
    assert out.stat().st_mode & 0o777 == 0o600
    last = log[log["action"] == "cohort export"].iloc[-1]
    assert str(out.resolve()) in last["outputs"]


def test_linkage_scored_against_the_generators_truth_finds_people_exact_keys_split(built, tmp_path):
    """A real Splink run on a copy of the workspace, scored by `svduty link score`: the true
    pairs it counts equal those counted from the truth file alone, and linkage keeps what exact
    keys find while finding pairs their typos, swapped dates and changed surnames split."""
    import shutil

    from svduty.linkage import store
    from svduty.linkage.truth import score

    ws_copy = tmp_path / "ws"
    shutil.copytree(built, ws_copy)
    for step in ("train", "predict", "cluster"):
        done = CliRunner().invoke(app, ["link", step, "-w", str(ws_copy)])
        assert done.exit_code == 0, done.output
    truth_path = built.parent / "syn" / "truth" / "identities.csv"
    with Workspace.open(ws_copy, read_only=True) as ws:
        scores = score(ws, None, truth_path)
        run = store.latest_run(ws)
        assert run is not None
        clusters = store.read_clusters(ws, run.run_id)
        files = dict(ws.con.execute("SELECT batch_id, file_name FROM batches").fetchall())
    truth = pd.read_csv(truth_path)
    clusters["file"] = clusters["batch_id"].map(lambda b: Path(files[b]).name)
    people = clusters.merge(truth, left_on=["file", "source_line"], right_on=["file", "line"])
    assert len(people) == len(clusters)
    per_person = people.groupby("person_id").size()
    linked = {s.sources: s for s in scores if s.method.startswith("linkage run")}
    exact = {s.sources: s for s in scores if s.method == "exact keys"}
    assert sum(s.true_links for s in linked.values()) == int(
        (per_person * (per_person - 1) // 2).sum()
    )
    assert linked.keys() == exact.keys() and ("ae_attendances", "involvements") in linked
    for sources, found in linked.items():
        assert found.true_links == exact[sources].true_links
        assert found.precision >= 0.99, sources
        assert found.true_positives >= exact[sources].true_positives, sources
    police_ae = linked[("ae_attendances", "involvements")]
    assert police_ae.recall > exact[("ae_attendances", "involvements")].recall + 0.1
