"""External series of success measures: figures others publish (school exclusions, young people
not in education, employment or training, children on protection plans), one row per measure,
area and period.

Layout (a header line; lines starting with '#' before it are notes, e.g. that a file is
synthetic): `measure, area, period, numerator, denominator, source, published`.

- measure: the id a framework's `series: {measure: ...}` names;
- area: a CSP's or the partnership's name as svduty.toml has it, or a district (local
  authority) code;
- period: a month (2024-05), a calendar quarter (2024-Q2) or a financial year (2024/25);
- numerator: the count (zero or more); denominator: what a rate or share is of (above zero),
  empty for a count;
- source: the publisher and table; published: the date the figures were published
  (YYYY-MM-DD): where a measure, area and period is published more than once, the latest
  publication is used.

A row whose source names it SYNTHETIC is stored as synthetic.
"""

from __future__ import annotations

from svduty.periods import SQL_PATTERNS
from svduty.sources.base import Check, CsvAdapter

REQUIRED = ("measure", "area", "period", "numerator", "source", "published")
OPTIONAL = ("denominator",)
_ID = "[a-z0-9][a-z0-9_-]*"
_FY_FOLLOWS = (
    "(try_cast(left(s.period, 4) AS INTEGER) + 1) % 100 = try_cast(right(s.period, 2) AS INTEGER)"
)


def _name(column: str) -> str:
    return column.strip().lower()


def _kind_sql() -> str:
    whens = " ".join(
        f"WHEN regexp_full_match(s.period, '{pattern}') THEN '{kind}'"
        for kind, pattern in SQL_PATTERNS.items()
    )
    return f"CASE {whens} END"


class MeasureSeriesAdapter(CsvAdapter):
    kind = "measure_series"
    table = "measure_values"
    description = (
        "External series of a success measure (measure, area, period, numerator, denominator, "
        "source, published)"
    )

    def layout(self, header: list[str]) -> str | None:
        names = [_name(c) for c in header]
        if len(set(names)) != len(names) or not set(REQUIRED) <= set(names):
            return None
        if not set(names) <= set(REQUIRED) | set(OPTIONAL):
            return None
        return "series" if "denominator" in names else "counts"

    def expected_headers(self) -> list[str]:
        """With a denominator, and without (counts)."""
        return [
            "measure, area, period, numerator, denominator, source, published",
            "measure, area, period, numerator, source, published",
        ]

    def column_types(self, layout: str, header: list[str]) -> dict[str, str]:
        numbers = ("numerator", "denominator")
        return {_name(c): "DOUBLE" if _name(c) in numbers else "VARCHAR" for c in header}

    def checks(self, layout: str) -> list[Check]:
        period_ok = (
            f"regexp_full_match(s.period, '{SQL_PATTERNS['month']}') "
            f"OR regexp_full_match(s.period, '{SQL_PATTERNS['quarter']}') "
            f"OR (regexp_full_match(s.period, '{SQL_PATTERNS['financial_year']}') "
            f"AND {_FY_FOLLOWS})"
        )
        same = (
            "FROM _staged t WHERE t.measure = s.measure AND t.area = s.area "
            "AND t.period = s.period AND t.published = s.published AND t._row < s._row"
        )
        checks = [
            Check(
                "measure",
                f"NOT regexp_full_match(coalesce(s.measure, ''), '{_ID}')",
                "'measure must be a measure id (lower case letters, digits, - or _), as a "
                "framework names it'",
            ),
            Check("area", "trim(coalesce(s.area, '')) = ''", "'area is missing'"),
            Check(
                "period",
                f"NOT coalesce({period_ok}, false)",
                "'period must be a month (2024-05), a quarter (2024-Q2) or a financial year "
                "(2024/25)'",
            ),
            Check("numerator", "s.numerator IS NULL", "'numerator is missing'"),
            Check("numerator", "s.numerator < 0", "'numerator must not be negative'"),
            Check(
                "source",
                "trim(coalesce(s.source, '')) = ''",
                "'source is missing: name the publisher and table'",
            ),
            Check(
                "published",
                "try_strptime(coalesce(s.published, ''), '%Y-%m-%d') IS NULL",
                "'published must be the date of publication (YYYY-MM-DD)'",
            ),
            Check(
                "period",
                f"EXISTS (SELECT 1 {same})",
                f"'measure, area, period and published are also on line ' || "
                f"(SELECT min(t._row) {same})",
            ),
        ]
        if layout == "series":
            checks.append(
                Check("denominator", "s.denominator <= 0", "'denominator must be above zero'")
            )
        return checks

    def projection(self, layout: str, batch_id: int) -> str:
        denominator = "s.denominator" if layout == "series" else "NULL::DOUBLE"
        return (
            f"{batch_id} AS batch_id, s._row AS source_line, trim(s.measure) AS measure, "
            f"trim(s.area) AS area, s.period, {_kind_sql()} AS period_kind, s.numerator, "
            f"{denominator} AS denominator, trim(s.source) AS source, "
            "CAST(strptime(s.published, '%Y-%m-%d') AS DATE) AS published, "
            "contains(lower(s.source), 'synthetic') AS synthetic"
        )
