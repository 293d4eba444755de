"""Home Office police recorded crime open data tables (force or CSP level) -> offence_counts.

Published with spaced headers ("Financial Year", "Offence Code", "Number of Offences"); copies
in circulation use underscores and carry a leading unnamed index column. Both are read.
"""

from __future__ import annotations

import re

import duckdb

from svduty.sources.base import Check, CsvAdapter, force_map

REQUIRED = (
    "financial_year", "financial_quarter", "force_name", "offence_description",
    "offence_group", "offence_subgroup", "offence_code", "number_of_offences",
)  # fmt: skip
OPTIONAL = ("csp_name", "policeuk_cat", "")


def normalise(column: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", column.strip().lower()).strip("_")


class PrcTableAdapter(CsvAdapter):
    kind = "home_office_prc"
    table = "offence_counts"
    description = "Home Office police recorded crime open data table (force or CSP level)"

    def layout(self, header: list[str]) -> str | None:
        names = [normalise(c) for c in header]
        if len(set(names)) != len(names) or not set(REQUIRED) <= set(names):
            return None
        if not set(names) <= set(REQUIRED) | set(OPTIONAL):
            return None
        return "csp" if "csp_name" in names else "force"

    def expected_headers(self) -> list[str]:
        spaced = [n.replace("_", " ").title() for n in REQUIRED]
        return [", ".join(spaced) + " [, CSP Name]"]

    def column_types(self, layout: str, header: list[str]) -> dict[str, str]:
        return {normalise(c) or "row_index": "VARCHAR" for c in header}

    def checks(self, layout: str) -> list[Check]:
        return [
            Check(
                "financial_year",
                "NOT regexp_full_match(coalesce(s.financial_year, ''), '[0-9]{4}/[0-9]{2}')",
                "'financial year must look like 2017/18'",
            ),
            Check(
                "financial_quarter",
                "coalesce(try_cast(s.financial_quarter AS INTEGER), 0) NOT BETWEEN 1 AND 4",
                "'financial quarter must be 1, 2, 3 or 4'",
            ),
            Check("force_name", "s.force_name IS NULL", "'force name is missing'"),
            Check("offence_code", "s.offence_code IS NULL", "'offence code is missing'"),
            # negative numbers are real: the Home Office publishes downward revisions
            Check(
                "number_of_offences",
                "try_cast(s.number_of_offences AS BIGINT) IS NULL",
                "'number of offences must be a whole number'",
            ),
        ]

    def prepare(self, con: duckdb.DuckDBPyConnection, layout: str) -> None:
        force_map(con, "force_name")

    def joins(self, layout: str) -> str:
        return "LEFT JOIN _forces f ON f.raw = s.force_name"

    def projection(self, layout: str, batch_id: int) -> str:
        csp = "s.csp_name" if layout == "csp" else "NULL::VARCHAR"
        return (
            f"{batch_id} AS batch_id, s._row AS source_line, s.financial_year, "
            "CAST(s.financial_quarter AS INTEGER) AS financial_quarter, "
            f"coalesce(f.force, s.force_name) AS force, {csp} AS csp_name, s.offence_code, "
            "s.offence_description, s.offence_group, s.offence_subgroup, "
            "CAST(s.number_of_offences AS BIGINT) AS count"
        )
