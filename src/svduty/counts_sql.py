"""`svduty counts` on a DuckDB workspace as one plain SQL query.

The count is the command a script calls many times, so on DuckDB it answers without loading Ibis
and pandas, which cost about a second of every call before any counting. The dimensions of
`svduty.dimensions` are written here once more, as DuckDB SQL, and
`tests/test_counts_sql.py` holds both to the same output for every dimension, filter and format.
Counts by a definition (whose rules are Ibis expressions) and counts on Spark take
`svduty.counting`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from svduty.dimensions import require_countable, require_distinct, resolve
from svduty.errors import InputError

if TYPE_CHECKING:
    import duckdb

    from svduty.counting import Filter

MONTH = 'month("t"."month")'
YEAR = 'year("t"."month")'
FY_START = f"CASE WHEN {MONTH} >= 4 THEN {YEAR} ELSE {YEAR} - 1 END"
FINANCIAL_YEAR = (
    f"CAST({FY_START} AS VARCHAR) || '/' || lpad(CAST(({FY_START} + 1) % 100 AS VARCHAR), 2, '0')"
)

INCIDENT_DIMENSIONS = {
    "lsoa": '"t"."lsoa_code"',
    "la": '"a"."la_name"',
    "district": '"a"."la_code"',
    "csp": '"a"."csp_name"',
    "force": '"t"."force"',
    "month": f"CAST({YEAR} AS VARCHAR) || '-' || lpad(CAST({MONTH} AS VARCHAR), 2, '0')",
    "quarter": f"{FINANCIAL_YEAR} || ' Q' || CAST((({MONTH} + 8) % 12) // 3 + 1 AS VARCHAR)",
    "financial_year": FINANCIAL_YEAR,
    "offence_group": '"o"."offence_group"',
    "offence_subgroup": '"o"."offence_subgroup"',
    "offence_code": '"t"."offence_code"',
    "category": '"t"."category"',
}
OFFENCES_JOIN = 'LEFT JOIN offences AS "o" ON "t"."offence_code" = "o"."offence_code" '
INCIDENTS_FROM = (
    f'incidents AS "t" {OFFENCES_JOIN}LEFT JOIN areas AS "a" ON "t"."lsoa_code" = "a"."lsoa_code"'
)

AGGREGATE_DIMENSIONS = {
    "csp": '"t"."csp_name"',
    "force": '"t"."force"',
    "quarter": """"t"."financial_year" || ' Q' || CAST("t"."financial_quarter" AS VARCHAR)""",
    "financial_year": '"t"."financial_year"',
    "offence_group": '"t"."offence_group"',
    "offence_subgroup": '"t"."offence_subgroup"',
    "offence_code": '"t"."offence_code"',
    "category": '"o"."police_uk_category"',
}
AGGREGATES_FROM = f'offence_counts AS "t" {OFFENCES_JOIN}'


@dataclass(frozen=True)
class CountRows:
    """A count as its columns and rows: what the command line prints, with no frame between."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    by: tuple[str, ...] = ()

    def total(self) -> int:
        return sum(row[self.columns.index("count")] for row in self.rows)

    def synthetic(self) -> int:
        """How many of the records counted are synthetic (said beside every count)."""
        if "synthetic" in self.by:
            at, count = self.columns.index("synthetic"), self.columns.index("count")
            return sum(row[count] for row in self.rows if row[at] == "true")
        if "synthetic" not in self.columns:
            return 0
        return sum(row[self.columns.index("synthetic")] for row in self.rows)


def _dimensions(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, dict[str, str], str]:
    """The FROM clause, each dimension's SQL by name, and the count's SQL."""
    stored = [d[0] for d in con.execute(f'SELECT * FROM "{table}" LIMIT 0').description]
    if table == "incidents":
        source, dims, measure = INCIDENTS_FROM, dict(INCIDENT_DIMENSIONS), "count(*)"
        if "offence_group" in stored:  # a table that holds its groups needs no lookup
            source = source.replace(OFFENCES_JOIN, "")
            for name in ("offence_group", "offence_subgroup"):
                dims[name] = f'"t"."{name}"'
    else:
        source, dims, measure = AGGREGATES_FROM, dict(AGGREGATE_DIMENSIONS), 'sum("t"."count")'
        stored.remove("count")
    for column in stored:
        dims.setdefault(column, f'"t"."{column}"')
    return source, dims, measure


def count_rows(
    con: duckdb.DuckDBPyConnection, table: str, by: list[str], filters: list[Filter]
) -> CountRows:
    """Counts of `table` by the dimensions `by`, filtered, in the order `svduty.counting` gives
    (by each dimension, missing values last), as one query."""
    if "clause" in by:  # refused in the order `svduty.counting` refuses
        raise InputError("dimension 'clause' needs a definition")
    require_countable(table)
    source, dims, measure = _dimensions(con, table)
    require_distinct(by)
    keys = {name: f"CAST({resolve(name, dims, table)} AS VARCHAR)" for name in by}
    wanted: dict[str, list[str]] = defaultdict(list)
    for item in filters:
        if item.op == "=":
            wanted[item.column].append(item.value)
    conditions, parameters = [], []
    for column, values in wanted.items():
        listed = ", ".join("?" for _ in values)
        conditions.append(f"CAST({resolve(column, dims, table)} AS VARCHAR) IN ({listed})")
        parameters += values
    for item in filters:
        if item.op != "=":
            conditions.append(f"CAST({resolve(item.column, dims, table)} AS VARCHAR) {item.op} ?")
            parameters.append(item.value)
    selected = [f'{sql} AS "{name}"' for name, sql in keys.items()]
    selected.append(f'coalesce({measure}, 0) AS "count"')
    synthetic = table == "incidents" and "synthetic" not in by  # else the dimension says it
    if synthetic:
        selected.append('coalesce(sum(CAST("t"."synthetic" AS BIGINT)), 0) AS "synthetic"')
    sql = f"SELECT {', '.join(selected)} FROM {source}"
    if conditions:
        sql += " WHERE " + " AND ".join(f"({c})" for c in conditions)
    if keys:
        positions = ", ".join(f"{i} ASC NULLS LAST" for i in range(1, len(keys) + 1))
        sql += f" GROUP BY {', '.join(str(i) for i in range(1, len(keys) + 1))}"
        sql += f" ORDER BY {positions}"
    result = con.execute(sql, parameters)
    columns = [d[0] for d in result.description]
    rows = result.fetchall()
    if synthetic and not any(row[-1] for row in rows):
        columns, rows = columns[:-1], [row[:-1] for row in rows]
    return CountRows(columns, rows, tuple(by))
