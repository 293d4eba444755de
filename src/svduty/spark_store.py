"""The Spark engine's store: Delta Lake tables whose committed version the catalogue names.

Each canonical table is a Delta Lake table under the warehouse (the workspace's `warehouse/`
folder, or the `spark_warehouse` path or URI), written with delta-rs: ingest appends a batch's
accepted rows, parsed and checked by DuckDB, to its fact table (incidents partitioned by force
and month); a reference table is overwritten; a derived table's rows for one key (a definition's
classifications) are written by Spark as Parquet files and swapped for the old ones in one Delta
commit.

A Delta commit is atomic, but an ingest spans the catalogue (batch rows, rejects, lineage) and
the tables, so the catalogue is where a write becomes visible: its `meta` holds, for each table,
the Delta version that matches what the catalogue committed, written in the same transaction as
the batch rows. Readers read that version (Delta's time travel), never the latest one, so rows a
writer committed to Delta but not yet to the catalogue are never seen; a writer that finds a
later version than the one recorded (its predecessor was killed or rolled back) restores the
recorded one before it writes.

Spark reads a version by the files its log lists, taking the partition columns from the Hive-style
folder names, so it needs no Delta connector (whose jars come from Maven Central, which not every
site reaches); a cluster with one can read the same tables with `spark.read.format("delta")`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis

from svduty.engine import Store, columns_of, rollback, typed_columns
from svduty.errors import EngineError, WorkspaceError
from svduty.schema import DERIVED_TABLES, FACT_TABLES, REFERENCE_TABLES

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend

TABLES = {**FACT_TABLES, **REFERENCE_TABLES, **DERIVED_TABLES}

PARTITIONS: dict[str, list[str]] = {"incidents": ["force", "month"]}
"""Partition columns: a national table read for one force or a run of months reads only their
files."""

SPARK_TYPES = {
    "VARCHAR": "STRING",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP_NTZ",
}
"""The canonical (DuckDB) types as Spark reads them: DuckDB's TIMESTAMP has no time zone."""

VERSION_KEY = "delta:{table}"
DERIVED_FOLDER = "svduty-"


def spark_uri(uri: str) -> str:
    """The same location as Spark's Hadoop file systems name it (S3 is `s3a://` there)."""
    return "s3a://" + uri.removeprefix("s3://") if uri.startswith("s3://") else uri


def spark_schema(table: str) -> str:
    return ", ".join(f"`{c}` {SPARK_TYPES[kind]}" for c, kind in TABLES[table].items())


class SparkStore(Store):
    name = "spark"

    def __init__(
        self,
        catalogue: duckdb.DuckDBPyConnection,
        root: Path,
        read_only: bool = False,
        master: str = "local[*]",
        warehouse: str = "",
    ) -> None:
        super().__init__(catalogue, root, read_only)
        self.master = master
        self.warehouse = warehouse.rstrip("/") if warehouse else str(root / "warehouse")
        self._written: set[str] = set()
        self._ibis: BaseBackend | None = None

    def uri(self, table: str) -> str:
        return f"{self.warehouse}/{table}"

    def recorded_version(self, table: str) -> int | None:
        """The Delta version of `table` that the catalogue has committed."""
        found = self.catalogue.execute(
            "SELECT value FROM meta WHERE key = ?", [VERSION_KEY.format(table=table)]
        ).fetchall()
        return int(found[0][0]) if found else None

    def _record_latest(self, table: str) -> None:
        """Name the table's newest version in the catalogue (in its open transaction, if any)."""
        from deltalake import DeltaTable

        version = DeltaTable(self.uri(table)).version()
        self.catalogue.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [VERSION_KEY.format(table=table), str(version)],
        )
        self._written.add(table)

    def _empty(self, table: str) -> Any:
        body = ", ".join(f'NULL::{kind} AS "{c}"' for c, kind in TABLES[table].items())
        return self.catalogue.sql(f"SELECT {body} LIMIT 0").to_arrow_table()

    def create(self) -> None:
        from deltalake import DeltaTable, write_deltalake

        for table in TABLES:
            if self.recorded_version(table) is not None:
                continue
            uri = self.uri(table)
            if DeltaTable.is_deltatable(uri) and DeltaTable(uri).version() > 0:
                raise WorkspaceError(
                    f"{uri} already holds a Delta table that this workspace did not write; "
                    "give the workspace a spark_warehouse of its own"
                )
            if not DeltaTable.is_deltatable(uri):
                write_deltalake(
                    uri, self._empty(table), partition_by=PARTITIONS.get(table), mode="error"
                )
            self._record_latest(table)
        self._written.clear()

    def load_reference(self, table: str, select_sql: str) -> None:
        from deltalake import write_deltalake

        self.require_writer(f"store {table}")
        columns = typed_columns(REFERENCE_TABLES[table])
        rows = self.catalogue.sql(f"SELECT {columns} FROM ({select_sql})").to_arrow_table()
        write_deltalake(self.uri(table), rows, mode="overwrite")
        self._record_latest(table)

    def stage_batch(self, table: str, batch_id: int, select_sql: str) -> None:
        """Append the batch to its Delta table, streamed from DuckDB; the catalogue's commit
        that follows makes the new version the one readers read."""
        from deltalake import write_deltalake

        self.require_writer("ingest")
        columns = typed_columns(FACT_TABLES[table], columns_of(self.catalogue, select_sql))
        rows = self.catalogue.sql(f"SELECT {columns} FROM ({select_sql})").to_arrow_reader()
        write_deltalake(self.uri(table), rows, partition_by=PARTITIONS.get(table), mode="append")
        self._record_latest(table)

    def synthetic_batches(self, table: str, batch_ids: list[int], staged_sql: str) -> set[int]:
        """Read from the staged rows: the stored ones are not in the catalogue's connection."""
        found = self.catalogue.execute(
            f"SELECT DISTINCT batch_id FROM ({staged_sql}) WHERE synthetic"
        ).fetchall()
        return {row[0] for row in found} & set(batch_ids)

    def after_commit(self) -> None:
        self._written.clear()

    def after_rollback(self) -> None:
        """The catalogue's versions rolled back; bring the Delta tables back to them."""
        written, self._written = self._written, set()
        for table in sorted(written):
            self._restore(table)

    def _restore(self, table: str) -> None:
        from deltalake import DeltaTable

        recorded = self.recorded_version(table)
        delta = DeltaTable(self.uri(table))
        if recorded is not None and delta.version() > recorded:
            delta.restore(recorded)
            self._record_latest(table)
            self._written.discard(table)

    def recover(self) -> None:
        """Restore every table a killed or failed writer left ahead of the catalogue."""
        for table in TABLES:
            self._restore(table)

    def replace_derived(self, table: str, key: str, value: str, expr: ir.Table) -> None:
        """Spark writes the new rows as Parquet in a folder of their own inside the table; one
        Delta commit then adds them and removes the files of the set they replace, and the
        catalogue names the new version."""
        from deltalake import DeltaTable
        from deltalake.transaction import AddAction, RemoveAction

        self.require_writer(f"store {table}")
        uri = self.uri(table)
        folder = f"{DERIVED_FOLDER}{secrets.token_hex(8)}"
        names = ", ".join(f"`{c}`" for c in DERIVED_TABLES[table])
        sql = ibis.to_sql(expr, dialect="pyspark")
        frame = spark_session(self.master).sql(f"SELECT {names} FROM ({sql})")
        frame.write.parquet(spark_uri(f"{uri}/{folder}"))
        now = int(time.time() * 1000)
        added = [
            AddAction(f"{folder}/{name}", size, {}, now, True, json.dumps({"numRecords": rows}))
            for name, size, rows in _parquet_files(f"{uri}/{folder}")
        ]
        replaced = self.derived_versions(table).get(value)
        delta = DeltaTable(uri)
        removed = [
            RemoveAction(path, True, now, size)
            for path, size in _files(delta)
            if replaced and path.startswith(f"{replaced}/")
        ]
        delta.create_write_transaction([*removed, *added], "append", self._empty(table).schema)
        self.catalogue.execute("BEGIN TRANSACTION")
        try:
            self._record_latest(table)
            self._record_derived(table, value, folder)
            self.catalogue.execute("COMMIT")
        except BaseException:
            rollback(self.catalogue)
            self.after_rollback()
            raise
        self._written.discard(table)

    @property
    def ibis(self) -> BaseBackend:
        if self._ibis is None:
            self._ibis = ibis.pyspark.connect(spark_session(self.master))
        return self._ibis

    def table(self, name: str) -> ir.Table:
        """The version the catalogue names, as a Spark view named for the table's location and
        version, so readers of different versions in one process never share a view."""
        if name not in TABLES:
            raise EngineError(f"spark: no canonical table {name!r}")
        version = self.recorded_version(name)
        if version is None:
            raise WorkspaceError(
                f"{self.root}: the catalogue names no version of {name}; open the workspace as "
                "its writer once to create its tables"
            )
        place = hashlib.sha256(self.uri(name).encode()).hexdigest()[:12]
        view = f"svduty_{name}_{place}_v{version}"
        session = spark_session(self.master)
        if not session.catalog.tableExists(view):
            _read(session, self.uri(name), name, version).createOrReplaceTempView(view)
        return self.ibis.table(view)


def _files(delta: Any) -> list[tuple[str, int]]:
    """(path relative to the table, size) of each file of the table's version."""
    import pyarrow

    actions = pyarrow.table(delta.get_add_actions(flatten=True)).to_pydict()
    return list(zip(actions["path"], actions["size_bytes"], strict=True))


def _parquet_files(folder: str) -> list[tuple[str, int, int]]:
    """(name, bytes, rows) of each Parquet file Spark wrote in `folder`."""
    import pyarrow.fs
    import pyarrow.parquet

    filesystem, path = pyarrow.fs.FileSystem.from_uri(
        folder if "://" in folder else Path(folder).resolve().as_uri()
    )
    found = []
    for info in filesystem.get_file_info(pyarrow.fs.FileSelector(path)):
        if info.is_file and info.base_name.endswith(".parquet"):
            with filesystem.open_input_file(info.path) as handle:
                rows = pyarrow.parquet.ParquetFile(handle).metadata.num_rows
            found.append((info.base_name, int(info.size), int(rows)))
    return sorted(found)


def _read(session: Any, uri: str, table: str, version: int) -> Any:
    """One version of a Delta table as a Spark frame: the files its log lists, the partition
    columns read from their folders' names, the columns in canonical order."""
    from deltalake import DeltaTable

    files = DeltaTable(uri, version=version).file_uris()
    schema = spark_schema(table)
    if not files:
        return session.createDataFrame([], schema)
    frame = session.read.schema(schema).option("basePath", spark_uri(uri))
    return frame.parquet(*map(spark_uri, files)).select(*(f"`{c}`" for c in TABLES[table]))


def require_spark() -> None:
    """Check Spark's needs before any work starts, not after minutes of it."""
    import importlib.util

    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("deltalake") is None:
        raise EngineError(
            "spark: PySpark or deltalake is not installed; install svduty with the 'spark' "
            "extra (pip install 'svduty[spark]')"
        )
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and Path(java_home, "bin", "java").exists()):
        raise EngineError(
            "spark: no Java runtime found (PySpark needs Java 17 or later on PATH or in "
            "JAVA_HOME); install one, e.g. apt install openjdk-17-jre-headless"
        )


@cache
def spark_session(master: str = "local[*]") -> Any:
    """The process's Spark session, connected to `master` (the workspace's `spark_master`),
    quiet and in UTC so dates match DuckDB's. Spark keeps one session a process: the first
    master asked for is the one used."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise EngineError(
            "spark: PySpark is not installed; install svduty with the 'spark' extra "
            "(pip install 'svduty[spark]')"
        ) from error
    builder = SparkSession.builder.master(master)
    with contextlib.suppress(ImportError):  # Splink's string-similarity functions, for linkage
        from splink.backends.spark import similarity_jar_location

        builder = builder.config("spark.jars", similarity_jar_location())
    session = (
        builder.appName("svduty")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.driver.memory", os.environ.get("SVDUTY_SPARK_DRIVER_MEMORY", "2g"))
        # svduty keeps nothing in Spark's catalogue, whose default database would otherwise
        # leave an empty spark-warehouse folder in whatever folder the command ran from
        .config("spark.sql.warehouse.dir", str(Path(tempfile.gettempdir()) / "svduty-spark"))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session
