"""The analyst's names for things (la, csp, month, financial_year...) as Ibis expressions.

One place defines each dimension for each canonical table, so `counts`, quality reports and later
analyses agree on what "financial_year" or "csp" means, on every engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from svduty.errors import InputError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from svduty.engine import Store

COUNTABLE = ("incidents", "offence_counts")

Dimension = TypeVar("Dimension")


def _two_digits(value: ir.IntegerValue) -> ir.StringValue:
    return value.cast("string").lpad(2, "0")


def month_text(month: ir.DateValue) -> ir.StringValue:
    """A date as its YYYY-MM month, the form months are counted and periods given in."""
    return month.year().cast("string") + "-" + _two_digits(month.month())


def financial_year_of(year: ir.IntegerValue, month: ir.IntegerValue) -> ir.StringValue:
    """April-to-March years labelled as the Home Office does: 2017/18."""
    import ibis

    start = ibis.ifelse(month >= 4, year, year - 1)
    return start.cast("string") + "/" + _two_digits((start + 1) % 100)


def financial_quarter_of(month: ir.IntegerValue) -> ir.IntegerValue:
    """Q1 = April-June ... Q4 = January-March."""
    return ((month + 8) % 12) // 3 + 1


def _incidents(
    store: Store, base: ir.Table | None = None
) -> tuple[ir.Table, dict[str, ir.Value], str | None]:
    t = store.table("incidents") if base is None else base
    if "offence_group" not in t.columns:
        offences = store.table("offences").select(
            _code="offence_code", offence_group="offence_group", offence_subgroup="offence_subgroup"
        )
        t = t.left_join(offences, t.offence_code == offences._code).drop("_code")
    areas = store.table("areas").select(
        area_lsoa="lsoa_code", la="la_name", area_la_code="la_code", csp="csp_name"
    )
    joined = t.left_join(areas, t.lsoa_code == areas.area_lsoa)
    year, month = joined.month.year(), joined.month.month()
    fy = financial_year_of(year, month)
    dims: dict[str, ir.Value] = {
        "lsoa": joined.lsoa_code,
        "la": joined.la,
        "district": joined.area_la_code,  # the district's code: its name changes, the code not
        "csp": joined.csp,
        "force": joined.force,
        "month": month_text(joined.month),
        "quarter": fy + " Q" + financial_quarter_of(month).cast("string"),
        "financial_year": fy,
        "offence_group": joined.offence_group,
        "offence_subgroup": joined.offence_subgroup,
        "offence_code": joined.offence_code,
        "category": joined.category,
    }
    for column in t.columns:
        dims.setdefault(column, joined[column])
    return joined, dims, None


def _offence_counts(store: Store) -> tuple[ir.Table, dict[str, ir.Value], str | None]:
    t = store.table("offence_counts")
    offences = store.table("offences").select(
        off_code="offence_code", ref_category="police_uk_category"
    )
    joined = t.left_join(offences, t.offence_code == offences.off_code)
    dims: dict[str, ir.Value] = {
        "csp": joined.csp_name,
        "force": joined.force,
        "quarter": joined.financial_year + " Q" + joined.financial_quarter.cast("string"),
        "financial_year": joined.financial_year,
        "offence_group": joined.offence_group,
        "offence_subgroup": joined.offence_subgroup,
        "offence_code": joined.offence_code,
        "category": joined.ref_category,
    }
    for column in t.columns:
        if column != "count":
            dims.setdefault(column, joined[column])
    return joined, dims, "count"


_BUILDERS: dict[str, Callable[[Store], tuple[ir.Table, dict[str, ir.Value], str | None]]] = {
    "incidents": _incidents,
    "offence_counts": _offence_counts,
}

_NOT_IN_AGGREGATES = {
    "lsoa": "the Home Office tables are by force or CSP, not LSOA",
    "la": "the Home Office tables are by force or CSP, not district",
    "district": "the Home Office tables are by force or CSP, not district",
    "month": "the Home Office tables are by financial quarter; use quarter",
}


def dimensions(
    store: Store, table: str, base: ir.Table | None = None
) -> tuple[ir.Table, dict[str, ir.Value], str | None]:
    """The joined table, its dimensions by name, and the column to sum (None: count rows).
    `base` replaces the incidents table (e.g. by the classification input)."""
    require_countable(table)
    if base is not None:
        return _incidents(store, base)
    return _BUILDERS[table](store)


def require_countable(table: str) -> None:
    if table not in COUNTABLE:
        raise InputError(f"cannot count table {table!r}; choose one of {', '.join(COUNTABLE)}")


def require_distinct(by: list[str]) -> None:
    for name in by:
        if by.count(name) > 1:
            raise InputError(f"dimension {name!r} is given twice")


def resolve(name: str, dims: dict[str, Dimension], table: str) -> Dimension:
    """A dimension by name, or the reason it cannot be counted (`dims` holds Ibis expressions,
    or SQL text for `svduty.counts_sql`)."""
    if name in dims:
        return dims[name]
    if table == "offence_counts" and name in _NOT_IN_AGGREGATES:
        raise InputError(
            f"dimension {name!r} is not available for {table}: {_NOT_IN_AGGREGATES[name]}"
        )
    raise InputError(
        f"unknown dimension {name!r} for {table}; available: {', '.join(sorted(dims))}"
    )
