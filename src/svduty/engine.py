"""The engine seam: where canonical tables live and how analyses reach them.

Everything that differs between DuckDB and Spark is in this module. Both engines expose the
canonical tables as Ibis tables, so an analysis is written once. Files are always parsed and
validated by DuckDB (embedded, one file at a time); what differs is where accepted rows land:

- DuckDB: in the workspace's DuckDB file, in the same transaction as the batch record, so a batch
  lands whole or not at all.
- Spark: as one Parquet file per table and batch under `warehouse/`, written to a staging name and
  renamed into place before the batch record commits; files whose batch never committed are
  removed when the workspace opens, and readers only ever list committed batches.

Derived tables (classifications) are replaced per key; each replacement records a version in the
catalogue's `meta`, so the workspace's data version covers them and a Spark reader reads the
folders its catalogue names. A store opened read-only refuses every write.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from abc import ABC, abstractmethod
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis

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
    def recover(self) -> None:
        """Remove anything a killed ingest left behind."""

    @abstractmethod
    def replace_derived(self, table: str, key: str, value: str, expr: ir.Table) -> None:
        """Replace the rows of a derived table whose `key` column equals `value` with `expr`."""

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

    def recover(self) -> None:
        """Nothing to do: DuckDB discards an uncommitted transaction on restart."""

    def replace_derived(self, table: str, key: str, value: str, expr: ir.Table) -> None:
        self.require_writer(f"store {table}")
        names = ", ".join(f'"{c}"' for c in DERIVED_TABLES[table])
        sql = ibis.to_sql(expr, dialect="duckdb")
        self.catalogue.execute("BEGIN TRANSACTION")
        try:
            self.catalogue.execute(f'DELETE FROM "{table}" WHERE "{key}" = ?', [value])
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
            cursor = self.catalogue.cursor()
            [(database,)] = self.catalogue.execute("SELECT current_database()").fetchall()
            cursor.execute(f'USE "{database}"')  # a reader's catalogue is an attached file
            self._ibis = ibis.duckdb.from_connection(cursor)
        return self._ibis

    def table(self, name: str) -> ir.Table:
        return self.ibis.table(name)


class SparkStore(Store):
    name = "spark"

    def __init__(
        self, catalogue: duckdb.DuckDBPyConnection, root: Path, read_only: bool = False
    ) -> None:
        super().__init__(catalogue, root, read_only)
        self.warehouse = root / "warehouse"
        self._pending: list[tuple[Path, Path]] = []

    def _path(self, table: str, label: str) -> Path:
        return self.warehouse / table / f"{label}.parquet"

    def create(self) -> None:
        for name, columns in {**FACT_TABLES, **REFERENCE_TABLES, **DERIVED_TABLES}.items():
            (self.warehouse / name).mkdir(parents=True, exist_ok=True)
            empty = self._path(name, "empty")
            if not empty.exists():
                body = ", ".join(f'NULL::{kind} AS "{c}"' for c, kind in columns.items())
                self._copy(f"SELECT {body} LIMIT 0", empty)
        (self.warehouse / "_staging").mkdir(parents=True, exist_ok=True)

    def _copy(self, select_sql: str, target: Path) -> None:
        staging = self.warehouse / "_staging" / f"{target.parent.name}-{target.name}"
        staging.parent.mkdir(parents=True, exist_ok=True)
        self.catalogue.execute(f"COPY ({select_sql}) TO '{staging}' (FORMAT parquet)")
        os.replace(staging, target)

    def load_reference(self, table: str, select_sql: str) -> None:
        columns = typed_columns(REFERENCE_TABLES[table])
        self._copy(f"SELECT {columns} FROM ({select_sql})", self._path(table, "data"))

    def stage_batch(self, table: str, batch_id: int, select_sql: str) -> None:
        self.require_writer("ingest")
        columns = typed_columns(FACT_TABLES[table], columns_of(self.catalogue, select_sql))
        staging = self.warehouse / "_staging" / f"{table}-batch-{batch_id}.parquet"
        self.catalogue.execute(
            f"COPY (SELECT {columns} FROM ({select_sql})) TO '{staging}' (FORMAT parquet)"
        )
        self._pending.append((staging, self._path(table, f"batch-{batch_id}")))

    def publish_pending(self) -> None:
        """Rename staged files into place; the catalogue commit that follows makes them visible."""
        for staging, target in self._pending:
            os.replace(staging, target)

    def after_commit(self) -> None:
        self._pending.clear()

    def after_rollback(self) -> None:
        for staging, target in self._pending:
            staging.unlink(missing_ok=True)
            target.unlink(missing_ok=True)
        self._pending.clear()

    def _committed_batches(self) -> set[int]:
        return {row[0] for row in self.catalogue.execute("SELECT batch_id FROM batches").fetchall()}

    def recover(self) -> None:
        committed = self._committed_batches()
        for path in self.warehouse.glob("*/batch-*.parquet"):
            if int(path.stem.removeprefix("batch-")) not in committed:
                path.unlink()
        for path in (self.warehouse / "_staging").glob("*"):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        for table in DERIVED_TABLES:
            named = set(self.derived_versions(table).values())
            for path in (self.warehouse / table).glob("set-*"):
                if path.name not in named:  # replaced in an earlier session
                    shutil.rmtree(path)

    def replace_derived(self, table: str, key: str, value: str, expr: ir.Table) -> None:
        """Written by Spark as a new folder of Parquet per key value; the catalogue then names
        it, so readers of an older catalogue keep reading the folder it names."""
        self.require_writer(f"store {table}")
        folder = f"set-{value}.{secrets.token_hex(6)}"
        staging = self.warehouse / "_staging" / f"{table}-{folder}"
        shutil.rmtree(staging, ignore_errors=True)
        names = ", ".join(f"`{c}`" for c in DERIVED_TABLES[table])
        sql = ibis.to_sql(expr, dialect="pyspark")
        spark_session().sql(f"SELECT {names} FROM ({sql})").write.parquet(str(staging))
        os.replace(staging, self.warehouse / table / folder)
        self._record_derived(table, value, folder)

    @property
    def ibis(self) -> BaseBackend:
        return ibis.pyspark.connect(spark_session())

    def table(self, name: str) -> ir.Table:
        if name in DERIVED_TABLES:
            folders = sorted(
                str(self.warehouse / name / folder)
                for folder in self.derived_versions(name).values()
            )
            frame = spark_session().read.parquet(str(self._path(name, "empty")), *folders)
            frame.createOrReplaceTempView(f"svduty_{name}")
            return self.ibis.table(f"svduty_{name}")
        if name not in FACT_TABLES and name not in REFERENCE_TABLES:
            raise EngineError(f"spark: no canonical table {name!r}")
        committed = self._committed_batches()
        paths = [str(self._path(name, "empty"))]
        if name in REFERENCE_TABLES and self._path(name, "data").exists():
            paths = [str(self._path(name, "data"))]
        paths += sorted(
            str(p)
            for p in (self.warehouse / name).glob("batch-*.parquet")
            if int(p.stem.removeprefix("batch-")) in committed
        )
        frame = spark_session().read.parquet(*paths)
        view = f"svduty_{name}"
        frame.createOrReplaceTempView(view)
        return self.ibis.table(view)


def require_spark() -> None:
    """Check Spark's needs before any work starts, not after minutes of it."""
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        raise EngineError(
            "spark: PySpark is not installed; install svduty with the 'spark' extra "
            "(pip install 'svduty[spark]')"
        )
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and Path(java_home, "bin", "java").exists()):
        raise EngineError(
            "spark: no Java runtime found (PySpark needs Java 17 or later on PATH or in "
            "JAVA_HOME); install one, e.g. apt install openjdk-17-jre-headless"
        )


@cache
def spark_session() -> Any:
    """One local Spark session per process, quiet and in UTC so dates match DuckDB's."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise EngineError(
            "spark: PySpark is not installed; install svduty with the 'spark' extra "
            "(pip install 'svduty[spark]')"
        ) from error
    builder = SparkSession.builder.master(os.environ.get("SVDUTY_SPARK_MASTER", "local[2]"))
    with contextlib.suppress(ImportError):  # Splink's string-similarity functions, for linkage
        from splink.backends.spark import similarity_jar_location

        builder = builder.config("spark.jars", similarity_jar_location())
    session = (
        builder.appName("svduty")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", os.environ.get("SVDUTY_SPARK_DRIVER_MEMORY", "2g"))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def make_store(
    engine: str, catalogue: duckdb.DuckDBPyConnection, root: Path, read_only: bool = False
) -> Store:
    stores: dict[str, type[Store]] = {"duckdb": DuckDBStore, "spark": SparkStore}
    if engine not in stores:
        raise EngineError(f"unknown engine {engine!r}; choose one of {sorted(stores)}")
    return stores[engine](catalogue, root, read_only)
