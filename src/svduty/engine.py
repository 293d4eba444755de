"""The engine seam: where canonical tables live and how analyses reach them.

Everything that differs between DuckDB and Spark is behind the `Store` class: this module and
`spark_store`. Both engines expose the canonical tables as Ibis tables, so an analysis is written
once. Files are always parsed and validated by DuckDB (embedded); what differs is where accepted
rows land:

- DuckDB: in the workspace's DuckDB file, in the same transaction as the batch record, so a batch
  lands whole or not at all.
- Spark: in Delta Lake tables, whose committed version the catalogue names in the same
  transaction as the batch record (`svduty.spark_store` explains how).

Derived tables (classifications) are replaced per key; each replacement records a version in the
catalogue's `meta`, so the workspace's data version covers them. A store opened read-only refuses
every write.
"""

from __future__ import annotations

import contextlib
import secrets
from abc import ABC, abstractmethod
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import duckdb

from svduty.errors import EngineError, WorkspaceError
from svduty.schema import DERIVED_TABLES, FACT_TABLES, REFERENCE_TABLES, create_table_sql

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction; a query stopped by Ctrl-C has ended it already."""
    with contextlib.suppress(duckdb.TransactionException):
        con.execute("ROLLBACK")


def typed_columns(columns: dict[str, str], present: set[str] | None = None) -> str:
    """A select list casting each column to its canonical type (NULL where the source has no such
    column), so every file and table holds one schema whatever the adapter's projection gave."""
    return ", ".join(
        f'CAST("{c}" AS {kind}) AS "{c}"'
        if present is None or c in present
        else f'CAST(NULL AS {kind}) AS "{c}"'
        for c, kind in columns.items()
    )


def columns_of(con: duckdb.DuckDBPyConnection, select_sql: str) -> set[str]:
    return {d[0] for d in con.execute(f"SELECT * FROM ({select_sql}) LIMIT 0").description}


class Store(ABC):
    """Canonical tables on one engine."""

    name: str

    def __init__(
        self, catalogue: duckdb.DuckDBPyConnection, root: Path, read_only: bool = False
    ) -> None:
        self.catalogue = catalogue
        self.root = root
        self.read_only = read_only

    def require_writer(self, what: str) -> None:
        """Refuse a write on a store opened for reading, with the way out."""
        if self.read_only:
            raise WorkspaceError(
                f"{self.root}: opened read-only, so it cannot {what}; open the workspace with "
                "read_only=False (one writer at a time)"
            )

    def _record_derived(self, table: str, value: str, version: str) -> None:
        self.catalogue.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)", [f"derived:{table}:{value}", version]
        )

    def derived_versions(self, table: str) -> dict[str, str]:
        """Key value -> version of every stored part of a derived table."""
        prefix = f"derived:{table}:"
        rows = self.catalogue.execute(
            "SELECT key, value FROM meta WHERE starts_with(key, ?)", [prefix]
        ).fetchall()
        return {key.removeprefix(prefix): value for key, value in rows}

    @abstractmethod
    def create(self) -> None:
        """Create empty canonical tables."""

    @abstractmethod
    def load_reference(self, table: str, select_sql: str) -> None:
        """Replace a reference table with the rows of a DuckDB query."""

    @abstractmethod
    def stage_batch(self, table: str, batch_id: int, select_sql: str) -> None:
        """Add a batch's accepted rows; called inside the open catalogue transaction."""

    def after_commit(self) -> None:  # noqa: B027 - optional hook
        """Called once the catalogue transaction has committed."""

    def after_rollback(self) -> None:  # noqa: B027 - optional hook
        """Called when the catalogue transaction rolled back."""

    @abstractmethod
    def synthetic_batches(self, table: str, batch_ids: list[int], staged_sql: str) -> set[int]:
        """Which of the batches staged in this transaction (by `staged_sql`) hold a synthetic
        row."""

    @abstractmethod
    def recover(self) -> None:
        """Remove anything a killed ingest left behind."""

    @abstractmethod
    def replace_derived(self, table: str, key: str, value: str, expr: ir.Table) -> None:
        """Replace the rows of a derived table whose `key` column equals `value` with `expr`."""

    adds_derived = False
    """Whether `add_derived` can add to a derived table's part (else it is replaced whole)."""

    def add_derived(
        self, table: str, key: str, value: str, expr: ir.Table, after_batch: int
    ) -> None:
        """Replace the rows of the part whose `key` equals `value` that come from batches after
        `after_batch` with `expr` (the rows of those batches alone)."""
        raise NotImplementedError(f"the {self.name} store replaces a derived table's part whole")

    @property
    @abstractmethod
    def ibis(self) -> BaseBackend:
        """The Ibis connection analyses use."""

    @abstractmethod
    def table(self, name: str) -> ir.Table:
        """A canonical table as an Ibis expression."""


class DuckDBStore(Store):
    name = "duckdb"

    def __init__(
        self, catalogue: duckdb.DuckDBPyConnection, root: Path, read_only: bool = False
    ) -> None:
        super().__init__(catalogue, root, read_only)
        self._ibis: BaseBackend | None = None

    def create(self) -> None:
        for name, columns in {**FACT_TABLES, **REFERENCE_TABLES, **DERIVED_TABLES}.items():
            self.catalogue.execute(create_table_sql(name, columns))

    def load_reference(self, table: str, select_sql: str) -> None:
        columns = ", ".join(f'"{c}"' for c in REFERENCE_TABLES[table])
        self.catalogue.execute(f'DELETE FROM "{table}"')
        self.catalogue.execute(
            f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM ({select_sql})'
        )

    def stage_batch(self, table: str, batch_id: int, select_sql: str) -> None:
        self.require_writer("ingest")
        names = ", ".join(f'"{c}"' for c in FACT_TABLES[table])
        columns = typed_columns(FACT_TABLES[table], columns_of(self.catalogue, select_sql))
        self.catalogue.execute(
            f'INSERT INTO "{table}" ({names}) SELECT {columns} FROM ({select_sql})'
        )

    def synthetic_batches(self, table: str, batch_ids: list[int], staged_sql: str) -> set[int]:
        """Read from the rows stored, rather than computing the staged rows again."""
        found = self.catalogue.execute(
            f'SELECT DISTINCT batch_id FROM "{table}" WHERE batch_id BETWEEN ? AND ? AND synthetic',
            [min(batch_ids), max(batch_ids)],
        )
        return {row[0] for row in found.fetchall()} & set(batch_ids)

    def recover(self) -> None:
        """Nothing to do: DuckDB discards an uncommitted transaction on restart."""

    def replace_derived(self, table: str, key: str, value: str, expr: ir.Table) -> None:
        self._write_derived(table, f'"{key}" = ?', [value], value, expr)

    adds_derived = True

    def add_derived(
        self, table: str, key: str, value: str, expr: ir.Table, after_batch: int
    ) -> None:
        self._write_derived(
            table, f'"{key}" = ? AND batch_id > ?', [value, after_batch], value, expr
        )

    def _write_derived(
        self, table: str, replaced: str, params: list[object], value: str, expr: ir.Table
    ) -> None:
        """In one transaction: the rows `replaced` selects give way to `expr`'s, and the part
        `value` gets a new version."""
        import ibis

        self.require_writer(f"store {table}")
        names = ", ".join(f'"{c}"' for c in DERIVED_TABLES[table])
        sql = ibis.to_sql(expr, dialect="duckdb")
        self.catalogue.execute("BEGIN TRANSACTION")
        try:
            self.catalogue.execute(f'DELETE FROM "{table}" WHERE {replaced}', params)
            self.catalogue.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM ({sql})')
            self._record_derived(table, value, secrets.token_hex(6))
            self.catalogue.execute("COMMIT")
        except BaseException:
            rollback(self.catalogue)
            raise

    @property
    def ibis(self) -> BaseBackend:
        """Ibis on its own cursor, so its results never collide with the catalogue's."""
        if self._ibis is None:
            import ibis

            cursor = self.catalogue.cursor()
            [(database,)] = self.catalogue.execute("SELECT current_database()").fetchall()
            cursor.execute(f'USE "{database}"')  # a reader's catalogue is an attached file
            self._ibis = remembering_compiles(ibis.duckdb.from_connection(cursor))
        return self._ibis

    def table(self, name: str) -> ir.Table:
        return self.ibis.table(name)


def remembering_compiles(backend: BaseBackend) -> BaseBackend:
    """`backend`, keeping the SQL of the last queries it compiled. Ibis compiles an expression
    anew each time it runs, at tens of milliseconds for an assessment's, and a set of reports
    asks for the same query again and again (143 distinct of 226 for an SNA of the whole area and
    its five CSPs). Expressions are immutable and equal only when they ask the same thing, so
    the same expression always gets the same SQL. Those holding a data frame (an Ibis memtable)
    are compiled each time, so the cache never keeps a frame alive."""
    import ibis
    import ibis.expr.operations as ops

    compile_ = cast(Any, backend).compile

    @lru_cache(maxsize=1024)
    def by_expression(op: Any, limit: Any, pretty: bool) -> str:
        return compile_(op.to_expr(), limit=limit, pretty=pretty)

    def compile(expr: Any, /, *, limit: Any = None, params: Any = None, **kwargs: Any) -> str:
        op = expr.op()
        if params or set(kwargs) - {"pretty"} or op.find(ops.InMemoryTable):
            return compile_(expr, limit=limit, params=params, **kwargs)
        if limit == "default":  # the option as it is now, not as it was when first compiled
            limit = ibis.options.sql.default_limit
        return by_expression(op, limit, bool(kwargs.get("pretty", False)))

    cast(Any, backend).compile = compile
    return backend


def make_store(
    engine: str,
    catalogue: duckdb.DuckDBPyConnection,
    root: Path,
    read_only: bool = False,
    spark_master: str = "local[*]",
    spark_warehouse: str = "",
) -> Store:
    if engine == "duckdb":
        return DuckDBStore(catalogue, root, read_only)
    if engine == "spark":
        from svduty.spark_store import SparkStore

        return SparkStore(catalogue, root, read_only, spark_master, spark_warehouse)
    raise EngineError(f"unknown engine {engine!r}; choose one of ['duckdb', 'spark']")
