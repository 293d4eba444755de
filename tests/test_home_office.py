"""The Home Office police recorded crime table: counts reproduce the table's own totals."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from conftest import csv_rows

from svduty.counting import Filter, counts
from svduty.ingest import ingest


def _totals_from_file(path: Path, force: str, key: str) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for row in csv_rows(path):
        if row["Force_Name"] == force:
            totals[row[key]] += int(row["Number_of_Offences"])
    return dict(totals)


def _by(workspace, by: str, *filters: str) -> dict[str, int]:
    result = counts(workspace.store, "offence_counts", [by], [Filter.parse(f) for f in filters])
    return dict(zip(result.frame[by], result.frame["count"], strict=True))


def test_west_mercia_by_subgroup_equals_the_table_to_the_unit(workspace, prc_table):
    [report] = ingest(workspace, [prc_table])
    assert report.rows_rejected == 0 and report.rows_accepted == 23068
    expected = _totals_from_file(prc_table, "West Mercia", "Offence_Subgroup")
    got = _by(workspace, "offence_subgroup", 'force="West Mercia"', "financial_year=2017/18")
    assert got == expected
    assert sum(got.values()) == sum(expected.values())


def test_second_ingest_leaves_every_count_unchanged(workspace, prc_table):
    ingest(workspace, [prc_table])
    before = counts(workspace.store, "offence_counts", ["force", "quarter", "offence_code"]).frame
    [again] = ingest(workspace, [prc_table])
    assert again.status == "already ingested"
    after = counts(workspace.store, "offence_counts", ["force", "quarter", "offence_code"]).frame
    assert before.equals(after)


def test_negative_revisions_are_kept(workspace, prc_table):
    negatives = sum(1 for r in csv_rows(prc_table) if int(r["Number_of_Offences"]) < 0)
    ingest(workspace, [prc_table])
    stored = workspace.con.execute("SELECT count(*) FROM offence_counts WHERE count < 0").fetchone()
    assert negatives > 0 and stored[0] == negatives


def test_published_spaced_header_and_csp_level_table(workspace, prc_table, tmp_path):
    """The official CSP tables: spaced headers, a CSP Name column, no index column."""
    rows = [r for r in csv_rows(prc_table) if r["Force_Name"] == "West Mercia"]
    lines = [
        "Financial Year,Financial Quarter,Force Name,CSP Name,Offence Description,"
        "Offence Group,Offence Subgroup,Offence Code,Number of Offences"
    ]
    for i, r in enumerate(rows):
        csp = "Shropshire" if i % 2 else "Herefordshire, County of"
        description = r["Offence_Description"].replace('"', '""')
        lines.append(
            f'{r["Financial_Year"]},{r["Financial_Quarter"]},{r["Force_Name"]},"{csp}",'
            f'"{description}",{r["Offence_Group"]},{r["Offence_Subgroup"]},'
            f"{r['Offence_Code']},{r['Number_of_Offences']}"
        )
    path = tmp_path / "prc-csp.csv"
    path.write_text("\n".join(lines) + "\n")
    [report] = ingest(workspace, [path])
    assert report.source_kind == "home_office_prc" and report.rows_rejected == 0
    expected: dict[str, int] = defaultdict(int)
    for i, r in enumerate(rows):
        expected["Shropshire" if i % 2 else "Herefordshire, County of"] += int(
            r["Number_of_Offences"]
        )
    assert _by(workspace, "csp") == dict(expected)


@pytest.mark.parametrize("dimension", ["month", "lsoa", "la"])
def test_dimensions_the_table_lacks_are_refused_with_the_reason(workspace, prc_table, dimension):
    from svduty.errors import InputError

    ingest(workspace, [prc_table])
    with pytest.raises(InputError, match=f"dimension '{dimension}' is not available"):
        counts(workspace.store, "offence_counts", [dimension])
