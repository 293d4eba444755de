"""A workspace: the folder a partnership owns, holding its settings, its data and its outputs.

Many readers, one writer (docs/adr/0002-many-readers-one-writer.md). DuckDB lets one process
write a file or many read it, never both, so:

- A writer (`Workspace.open(root)`) takes the writer lock, opens `svduty.duckdb` read-write
  (creating tables, upgrading an older schema after a backup, recovering what a killed ingest
  left, reloading reference data when the CSPs change) and, when it closes, publishes a read copy:
  `svduty.read.duckdb`, replaced atomically.
- Readers (`Workspace.open(root, read_only=True)`) open that read copy read-only: any number at
  once, never waiting for the writer and never making it wait. They see the data as of the last
  writer that finished. When the copy is missing or out of date (its writer was killed, its schema
  is older, the CSPs changed) a reader on a writable folder brings it up to date as a brief writer
  first; on a read-only share it reads `svduty.duckdb` itself, read-only.
- Every process, readers too, appends to the audit log (`audit.sqlite`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pwd
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from svduty import __version__, audit
from svduty.engine import Store, make_store, rollback
from svduty.errors import InputError, WorkspaceError
from svduty.reference import data_path
from svduty.schema import CATALOGUE_DDL, SCHEMA_VERSION
from svduty.settings import SETTINGS_FILE, Settings, load_settings, save_settings
from svduty.writer_lock import LOCK_FILE, Holder, WriterLock, writer_state

if TYPE_CHECKING:
    import pandas as pd

    from svduty.analysis.assessment import Assessment, Selection
    from svduty.analysis.benchmarks import Groups
    from svduty.analysis.severity import Weights
    from svduty.definitions.classify import ClassificationSummary
    from svduty.definitions.model import Definition
    from svduty.identity.keys import PersonKeySecret
    from svduty.ingest import BatchReport, SourceFile
    from svduty.publish import Publication
    from svduty.reference.boundaries import Boundaries

DATABASE_FILE = "svduty.duckdb"
SNAPSHOT_FILE = "svduty.read.duckdb"
SPILL_DIR = DATABASE_FILE + ".tmp"
"""Where the writer's DuckDB spills what exceeds its memory limit (emptied when it closes)."""
READER_DATABASE = "workspace"

Say = Callable[[str], None]


def default_actor() -> str:
    """The operating-system account running the command, the actor audited when none is given:
    the account itself, not LOGNAME or USER, which anyone can set to another's name."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def _stderr(message: str) -> None:
    sys.stderr.write(message + "\n")


@cache
def _bundled_reference() -> str:
    digest = hashlib.sha256()
    for name in ("areas.csv.gz", "offences.csv"):
        digest.update(Path(data_path(name)).read_bytes())
    return digest.hexdigest()


def reference_fingerprint(settings: Settings) -> str:
    """What the reference tables were built from: the CSP settings and svduty's bundled files."""
    return hashlib.sha256(
        json.dumps([sorted(settings.csps.items()), _bundled_reference()]).encode()
    ).hexdigest()


class CorruptDatabase(WorkspaceError):
    """A database file DuckDB cannot open as a database."""

    def __init__(self, path: Path, error: Exception) -> None:
        super().__init__(f"{path}: not a readable DuckDB database ({_first_line(error)})")
        self.path = path


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _connect_live(root: Path, settings: Settings) -> duckdb.DuckDBPyConnection:
    """The live file, read-write, within the workspace's memory limit and threads; a file DuckDB
    cannot read is named with what to restore."""
    live = root / DATABASE_FILE
    config = {**settings.duckdb_config(), "temp_directory": str(root / SPILL_DIR)}
    try:
        return duckdb.connect(str(live), config=config)
    except duckdb.IOException as error:
        if "Could not set lock" in str(error):
            raise WorkspaceError(
                f"{live}: another program holds the database file open ({_first_line(error)}); "
                "close it (a DuckDB shell or notebook) and try again"
            ) from error
        raise WorkspaceError(f"{live}: {_restore_advice(root, error)}") from error


def _restore_advice(root: Path, error: BaseException) -> str:
    """What to do with a damaged live file: the newest good copy svduty keeps."""
    from svduty.migrations import BACKUPS_DIR

    copies = sorted(
        [*(root / BACKUPS_DIR).glob("*.duckdb"), root / SNAPSHOT_FILE],
        key=lambda p: p.stat().st_mtime if p.exists() else 0,
        reverse=True,
    )
    found = next((p for p in copies if p.exists() and _readable_database(p)), None)
    if found is not None and found.samefile(root / DATABASE_FILE):
        found = None
    said = f"the file is damaged or not a DuckDB database ({_first_line(error)})"
    if found is None:
        return f"{said}; no readable copy is kept here: make a new workspace and ingest again"
    from datetime import datetime

    when = datetime.fromtimestamp(found.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    return (
        f"{said}; the newest readable copy is {found} ({when}): move the damaged file aside, "
        f"copy that one to {root / DATABASE_FILE}, then ingest again the files "
        "missing from its batches"
    )


def _readable_database(path: Path) -> bool:
    try:
        con = duckdb.connect(":memory:")
        try:
            quoted = str(path).replace("'", "''")
            con.execute(f"ATTACH '{quoted}' AS probe (READ_ONLY)")
        finally:
            con.close()
    except duckdb.Error:
        return False
    return True


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_size, found.st_mtime_ns


def _writable(root: Path) -> bool:
    return os.access(root, os.W_OK)


def _stored_version(con: duckdb.DuckDBPyConnection) -> int | None:
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    except duckdb.CatalogException:
        return None
    return int(rows[0][0]) if rows else None


def _meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    return rows[0][0] if rows else None


def _newer(root: Path, found: int) -> WorkspaceError:
    return WorkspaceError(
        f"{root}: the workspace has schema version {found}, written by a newer svduty; this "
        f"svduty ({__version__}) reads schema version {SCHEMA_VERSION} and older: upgrade svduty"
    )


def publish(root: Path) -> Path:
    """Copy the closed live file to the read copy: a temp name in the same folder, flushed to
    disk, then renamed over the old copy (readers that have it open keep reading it)."""
    target = root / SNAPSHOT_FILE
    temp = root / f"{SNAPSHOT_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        shutil.copyfile(root / DATABASE_FILE, temp)
        with temp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    folder = os.open(root, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return target


@dataclass(frozen=True)
class _Stale:
    """Why the read copy cannot be read as it is."""

    reason: str
    kind: str  # missing, stopped, older, reference


class Workspace:
    """An open workspace: settings, the DuckDB connection and the engine's store."""

    def __init__(
        self,
        root: Path,
        settings: Settings,
        con: duckdb.DuckDBPyConnection,
        store: Store,
        *,
        read_only: bool,
        actor: str,
        say: Say,
        lock: WriterLock | None = None,
        republish: bool = False,
        live_stat: tuple[int, int] | None = None,
        scratch: Path | None = None,
    ) -> None:
        self.root = root
        self.settings = settings
        self.con = con
        self.store = store
        self.read_only = read_only
        self.actor = actor
        self.say = say
        self._lock = lock
        self._republish = republish
        self._live_stat = live_stat
        self._scratch = scratch
        self._closed = False
        self._version: str | None = None
        self._boundaries_read: tuple[tuple[object, ...], Boundaries] | None = None

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def init(
        cls, root: Path, settings: Settings, actor: str | None = None, say: Say | None = None
    ) -> Workspace:
        if (root / SETTINGS_FILE).exists():
            raise WorkspaceError(f"{root} is already a workspace ({SETTINGS_FILE} exists)")
        if settings.engine == "spark":
            from svduty.spark_store import require_spark

            require_spark()
        root.mkdir(parents=True, exist_ok=True)
        save_settings(root, settings)
        try:
            workspace = cls.open(root, actor=actor, say=say)
        except BaseException:
            for name in (SETTINGS_FILE, DATABASE_FILE, DATABASE_FILE + ".wal", LOCK_FILE):
                (root / name).unlink(missing_ok=True)
            raise
        workspace.audit("init", {"area": settings.area, "engine": settings.engine})
        return workspace

    @classmethod
    def open(
        cls,
        root: Path | str,
        read_only: bool = False,
        actor: str | None = None,
        wait: float | None = None,
        say: Say | None = None,
    ) -> Workspace:
        """Open for reading (`read_only=True`: the last published data, never waiting) or as
        the one writer (waiting up to `wait` seconds, default the `writer_wait` setting, for
        another writer to finish). `actor` is who the audit log names (default: the OS user);
        `say` receives progress lines (default: standard error)."""
        root = Path(root)
        settings = load_settings(root)
        who = actor or default_actor()
        speak = say or _stderr
        patience = settings.writer_wait if wait is None else wait
        if read_only:
            return cls._open_reader(root, settings, who, patience, speak)
        return cls._open_writer(root, settings, who, patience, speak)

    @classmethod
    def _open_writer(
        cls,
        root: Path,
        settings: Settings,
        actor: str,
        wait: float,
        say: Say,
        action: str | None = None,
        publish: bool = False,
    ) -> Workspace:
        """The one writer; `publish`: publish the read copy on closing even if nothing changes
        (a reader found it out of date)."""
        lock = WriterLock(root)
        try:
            stopped = lock.acquire(Holder.now(actor, action), wait, say)
        except OSError as error:
            if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise WorkspaceError(
                    f"{root}: the folder cannot be written ({error.strerror}), so nothing here "
                    "can change its data; reading works (read_only=True in Python), and changes "
                    "need a writable copy"
                ) from error
            raise
        live = root / DATABASE_FILE
        before = _stat(live)
        con: duckdb.DuckDBPyConnection | None = None
        try:
            if stopped is not None:
                say(
                    f"{root}: the last writer ({stopped.started()}) stopped before it "
                    "finished; recovering"
                )
            for leftover in root.glob(f"{SNAPSHOT_FILE}.*.tmp"):
                leftover.unlink()
            republish = (
                publish
                or stopped is not None
                or not (root / SNAPSHOT_FILE).exists()
                or (root / (DATABASE_FILE + ".wal")).exists()
            )
            con = _connect_live(root, settings)
            con, upgraded = cls._prepare_schema(con, root, settings, say)
            store = make_store(
                settings.engine, con, root, False, settings.spark_master, settings.spark_warehouse
            )
            store.create()
            store.recover()
            _reconcile_identifiers(root, con, say)
            workspace = cls(
                root,
                settings,
                con,
                store,
                read_only=False,
                actor=actor,
                say=say,
                lock=lock,
                republish=republish,
                live_stat=before,
            )
            workspace._refresh_reference()
        except BaseException:
            if con is not None:
                con.close()
            unchanged = stopped is None and _stat(live) == before
            lock.release(finished=unchanged)
            raise
        if upgraded:
            workspace.audit("upgrade", upgraded)
        return workspace

    @staticmethod
    def _prepare_schema(
        con: duckdb.DuckDBPyConnection, root: Path, settings: Settings, say: Say
    ) -> tuple[duckdb.DuckDBPyConnection, dict[str, Any] | None]:
        """Tables of a new workspace; an older one backed up and migrated; a newer one refused."""
        from svduty import migrations

        found = _stored_version(con)
        upgraded = None
        if found is None:
            con.execute(CATALOGUE_DDL)
            con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )
        elif found > SCHEMA_VERSION:
            raise _newer(root, found)
        elif found < SCHEMA_VERSION:
            con.execute("CHECKPOINT")
            con.close()
            copy = migrations.backup(root, root / DATABASE_FILE, found)
            say(
                f"{root}: schema version {found} is older than this svduty's {SCHEMA_VERSION}; "
                f"backed up to {copy}; upgrading"
            )
            con = _connect_live(root, settings)
            try:
                applied = migrations.upgrade(con, root, settings.engine, found)
            except BaseException:
                con.close()
                raise
            say(f"{root}: upgraded to schema version {SCHEMA_VERSION} ({'; '.join(applied)})")
            upgraded = {"from": found, "to": SCHEMA_VERSION, "backup": str(copy)}
        con.execute(CATALOGUE_DDL)
        return con, upgraded

    @classmethod
    def _open_reader(
        cls, root: Path, settings: Settings, actor: str, wait: float, say: Say
    ) -> Workspace:
        opened = cls._read_copy(root, settings)
        if isinstance(opened, _Stale):
            if _writable(root):
                say(f"{root}: {opened.reason}; bringing the read copy up to date")
                writer = cls._open_writer(
                    root, settings, actor, wait, say, "read copy update", publish=True
                )
                writer.close()
                opened = cls._read_copy(root, settings)
                if isinstance(opened, _Stale):
                    raise WorkspaceError(
                        f"{root}: the read copy is still out of date: {opened.reason}"
                    )
            else:
                opened = cls._read_live(root, settings, opened)
        con, scratch = opened
        store = make_store(
            settings.engine, con, root, True, settings.spark_master, settings.spark_warehouse
        )
        return cls(
            root, settings, con, store, read_only=True, actor=actor, say=say, scratch=scratch
        )

    @staticmethod
    def _connect_reader(path: Path, settings: Settings) -> tuple[duckdb.DuckDBPyConnection, Path]:
        """The file attached read-only to a database engine of the reader's own: DuckDB shares
        one engine among a process's connections to one path, which would keep a reader on the
        copy an earlier reader opened. It has the workspace's memory limit and threads, and
        spills to a folder of its own (readers share none, and a read-only share has none to
        offer)."""
        scratch = Path(tempfile.mkdtemp(prefix="svduty-reader-"))
        try:
            config = {**settings.duckdb_config(), "temp_directory": str(scratch)}
            con = duckdb.connect(":memory:", config=config)
            quoted = str(path).replace("'", "''")
            try:
                con.execute(f"ATTACH '{quoted}' AS {READER_DATABASE} (READ_ONLY)")
            except duckdb.IOException as error:
                raise CorruptDatabase(path, error) from error
            con.execute(f"USE {READER_DATABASE}")
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return con, scratch

    @classmethod
    def _read_copy(
        cls, root: Path, settings: Settings
    ) -> tuple[duckdb.DuckDBPyConnection, Path] | _Stale:
        snapshot = root / SNAPSHOT_FILE
        copied, live = _stat(snapshot), _stat(root / DATABASE_FILE)
        state, holder = writer_state(root)
        if state == "stopped" and holder is not None:
            return _Stale(
                f"the last writer ({holder.started()}) stopped before publishing its changes",
                "stopped",
            )
        if copied is None:
            return _Stale("there is no read copy yet", "missing")
        if state == "idle" and live is not None and live[1] > copied[1]:
            return _Stale(f"{DATABASE_FILE} changed after its read copy was made", "stopped")
        try:
            return cls._checked(snapshot, root, settings)
        except CorruptDatabase:
            return _Stale(f"the read copy {SNAPSHOT_FILE} cannot be read", "stopped")

    @classmethod
    def _checked(
        cls, path: Path, root: Path, settings: Settings
    ) -> tuple[duckdb.DuckDBPyConnection, Path] | _Stale:
        con, scratch = cls._connect_reader(path, settings)
        try:
            stale = _check_catalogue(con, root, settings)
        except BaseException:
            con.close()
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        if stale is None:
            return con, scratch
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
        return stale

    @classmethod
    def _read_live(
        cls, root: Path, settings: Settings, stale: _Stale
    ) -> tuple[duckdb.DuckDBPyConnection, Path]:
        """On a read-only share no writer can exist: read the live file itself."""
        if stale.kind in ("older", "reference"):
            raise WorkspaceError(
                f"{root}: {stale.reason}, and this folder is read-only; open it once for writing "
                "from a writable copy (svduty upgrades it, keeping a backup), then share that"
            )
        if not (root / DATABASE_FILE).exists():
            raise WorkspaceError(f"{root}: no {DATABASE_FILE}; the workspace was never written")
        try:
            opened = cls._checked(root / DATABASE_FILE, root, settings)
        except CorruptDatabase as error:
            raise WorkspaceError(
                f"{error.path}: {_restore_advice(root, error.__cause__ or error)}"
            ) from error
        if isinstance(opened, _Stale):
            if opened.kind == "missing":
                raise WorkspaceError(f"{root}: {opened.reason}; it was never written")
            return cls._read_live(root, settings, opened)
        return opened

    # -- closing and publishing ------------------------------------------------------------

    def close(self) -> None:
        """A reader just closes. A writer records the data version, checkpoints, closes, and
        publishes the read copy if anything changed, then releases the writer lock."""
        if self._closed:
            return
        self._closed = True
        if self.read_only:
            self.con.close()
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
            return
        finished = False
        try:
            version = self.data_version
            if _meta(self.con, "data_version") != version:
                self.con.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('data_version', ?)", [version]
                )
            self.con.execute("CHECKPOINT")
            self.con.close()
            if self._republish or _stat(self.root / DATABASE_FILE) != self._live_stat:
                publish(self.root)
            finished = True
        finally:
            self.con.close()
            if self._lock is not None:
                self._lock.release(finished)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the data are ------------------------------------------------------------------

    @property
    def batch_ids(self) -> frozenset[int]:
        """The committed batches: what every analysis of this workspace reads."""
        return frozenset(r[0] for r in self.con.execute("SELECT batch_id FROM batches").fetchall())

    @property
    def data_version(self) -> str:
        """A short string that changes whenever anything analyses read changes: the committed
        batches, the reference data, the schema, the stored derived tables."""
        if self._version is not None:
            return self._version
        meta = dict(
            self.con.execute(
                "SELECT key, value FROM meta WHERE key IN ('schema_version', 'reference') "
                "OR starts_with(key, 'derived:')"
            ).fetchall()
        )
        payload = json.dumps(
            {"meta": sorted(meta.items()), "batches": sorted(self.batch_ids)}, separators=(",", ":")
        )
        version = hashlib.sha256(payload.encode()).hexdigest()[:16]
        if self.read_only:  # a read copy never changes under its reader
            self._version = version
        return version

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def output_folder(self, out: Path | str | None = None) -> Path:
        """The folder reports go to (`out`, default `reports/`), made if missing. Checked before
        any work, so that on a read-only share (whose `reports/` cannot be written) the reader
        is told at once to write elsewhere."""
        folder = Path(out) if out else self.reports_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            reason = None if os.access(folder, os.W_OK) else "no permission to write"
        except OSError as error:
            reason = error.strerror or str(error)
        if reason is not None:
            raise InputError(
                f"{folder}: reports cannot be written here ({reason}); give an output folder "
                "you can write to"
            )
        return folder

    def weights(self) -> Weights | None:
        """The severity weights the settings name (a path relative to the workspace), if any."""
        if not self.settings.severity_weights:
            return None
        from svduty.analysis.severity import load_weights

        path = self.root / self.settings.severity_weights
        if not path.exists():
            raise WorkspaceError(
                f"{self.root / SETTINGS_FILE}: severity_weights names {path}, which does not exist"
            )
        return load_weights(path)

    def boundaries(self) -> Boundaries | None:
        """The area's boundaries: the file the settings name (relative to the workspace), else
        the bundled ones where they cover every district of the area, else None."""
        from svduty.quality import area_districts
        from svduty.reference.boundaries import bundled, read_boundaries

        wanted = set(area_districts(self.store, self.settings))
        if not self.settings.boundaries:
            return bundled(wanted)
        path = self.root / self.settings.boundaries
        if not path.exists():
            raise WorkspaceError(
                f"{self.root / SETTINGS_FILE}: boundaries names {path}, which does not exist; "
                "run `svduty fetch boundaries` or give an ONS boundary file"
            )
        if not wanted:
            raise WorkspaceError(
                f"{self.root / SETTINGS_FILE}: boundaries needs the area's CSPs or forces, to "
                "know which districts the file must cover"
            )
        # a report reads them for the area, each CSP and its hotspots: read once while the file,
        # the districts and the reference tables stay the same (about a second a read)
        stat = path.stat()
        key = (
            path,
            stat.st_mtime_ns,
            stat.st_size,
            frozenset(wanted),
            _meta(self.con, "reference"),
        )
        if self._boundaries_read is not None and self._boundaries_read[0] == key:
            return self._boundaries_read[1]
        areas = self.store.table("areas").select("lsoa_code", "la_code", "in_2011", "in_2021")
        found = read_boundaries(path, areas.to_pandas(), wanted)
        self._boundaries_read = (key, found)
        return found

    def similar_groups(self) -> Groups | None:
        """The most similar groups the settings name (a path relative to the workspace), if any."""
        if not self.settings.most_similar_groups:
            return None
        from svduty.analysis.benchmarks import load_groups

        path = self.root / self.settings.most_similar_groups
        if not path.exists():
            raise WorkspaceError(
                f"{self.root / SETTINGS_FILE}: most_similar_groups names {path}, which does not "
                "exist"
            )
        return load_groups(path)

    def partnership_key(self) -> PersonKeySecret | None:
        """The partnership key the settings name (read from outside the workspace), or None
        when person keys are made with this workspace's own salt."""
        from svduty.identity.keys import settings_key

        return settings_key(self.root, self.settings.partnership_key)

    def _key_lineage(self, maps: list[Path]) -> dict[str, str]:
        """What made the person keys of an ingest with mappings (a key that cannot be read
        made none, or the ingest would have stopped)."""
        if not maps:
            return {}
        try:
            return {"person_keys": self.person_keys()}
        except InputError:
            return {}

    def person_keys(self) -> str:
        """What person keys are made with, for lineage and the audit log (never the key)."""
        found = self.partnership_key()
        return found.label if found is not None else "workspace salt"

    @property
    def salt(self) -> str:
        """The workspace's secret for pseudonymising person keys; made once, never exported."""
        path = self.root / ".salt"
        if not path.exists():
            path.write_text(secrets.token_hex(32), encoding="utf-8")
            path.chmod(0o600)
        return path.read_text(encoding="utf-8").strip()

    # -- audit ------------------------------------------------------------------------------

    def audit(
        self,
        action: str,
        parameters: dict[str, Any] | None = None,
        outputs: Iterable[Path | str] = (),
    ) -> None:
        """Append who did what, with which data version, and the SHA-256 of every output."""
        entry = audit.Entry(
            at=audit.now(),
            actor=self.actor,
            action=action,
            parameters=parameters or {},
            data_version=self.data_version,
            outputs=audit.output_digests(outputs),
            engine=self.settings.engine,
            svduty_version=__version__,
        )
        audit.append(self.root, [entry], self.say)

    def audit_log(self) -> pd.DataFrame:
        """Every audited action, oldest first."""
        return audit.read(self.root)

    # -- changing the data --------------------------------------------------------------------

    def ingest(
        self,
        paths: Sequence[Path | str] | Path | str,
        kind: str | None = None,
        mappings: Sequence[Path | str] | None = None,
        synthetic: bool = False,
        on_file: Callable[[SourceFile], None] | None = None,
        on_stored: Callable[[list[BatchReport]], None] | None = None,
    ) -> list[BatchReport]:
        """Load files, folders or archives as batches (atomic, idempotent, rejects kept);
        `on_file` hears of each file as it starts, `on_stored` of each transaction's batches
        once committed."""
        from svduty.ingest import ingest as run_ingest

        self.store.require_writer("ingest")
        named = [Path(paths)] if isinstance(paths, str | os.PathLike) else [Path(p) for p in paths]
        maps = [Path(m) for m in mappings or []]
        reports = run_ingest(self, named, kind, synthetic, on_file, maps, on_stored)
        self.audit(
            "ingest",
            {
                **self._key_lineage(maps),
                "paths": [str(p) for p in named],
                "kind": kind,
                "mappings": [str(m) for m in maps],
                "synthetic": synthetic,
                "new_batches": [r.batch_id for r in reports if r.status != "already ingested"],
                "already_ingested": [r.batch_id for r in reports if r.status == "already ingested"],
            },
        )
        return reports

    def classify(
        self, definition: Definition | str | Path | None = None, only_new: bool = False
    ) -> ClassificationSummary:
        """Store every incident's classification under a definition (default: the workspace's)
        and summarise it. With `only_new` (after an ingest), incidents classified already under
        the same definition and reference data are kept as stored and only the rest classified."""
        from svduty.definitions import load_definition
        from svduty.definitions.classified import classify_kept

        self.store.require_writer("classify")
        chosen = load_definition(definition or self.settings.definition)
        summary, classified = classify_kept(self.con, self.store, chosen, only_new)
        self.audit(
            "classify",
            {
                "definition": chosen.id,
                "version": chosen.version,
                "sha256": chosen.sha256,
                "incidents": summary.incidents,
                "in_definition": summary.in_definition,
                "classified_now": classified,
            },
        )
        return summary

    # -- assessing and publishing -------------------------------------------------------------

    def selection(
        self,
        definition: Definition | str | Path | None = None,
        period: tuple[str | None, str | None] | None = None,
        area: str | None = None,
    ) -> Selection:
        """What an assessment looks at: a definition (default: the workspace's), a period
        (first and last month, YYYY-MM, either may be None) and an area (one CSP, or None for
        the whole partnership)."""
        from svduty.analysis.assessment import Selection
        from svduty.counting import period_filters
        from svduty.definitions import load_definition
        from svduty.definitions.model import Definition as Loaded

        chosen = (
            definition
            if isinstance(definition, Loaded)
            else load_definition(definition or self.settings.definition)
        )
        start, end = period or (None, None)
        period_filters(start, end)  # refuses a bound that is not a month, naming it
        if area is not None and self.settings.csps and area not in self.settings.csps:
            raise InputError(
                f"area: no CSP {area!r} in this workspace; its CSPs: "
                f"{', '.join(self.settings.csps)}"
            )
        return Selection(chosen, start, end, area)

    def assess(
        self,
        definition: Definition | str | Path | None = None,
        period: tuple[str | None, str | None] | None = None,
        area: str | None = None,
    ) -> Assessment:
        """Every analysis of the assessment for one selection, unpublished: for analysts, never
        for readers (small counts are in it)."""
        from svduty.analysis.assessment import assess

        chosen = self.selection(definition, period, area)
        found = assess(self.store, self.settings, chosen, self.weights(), self.similar_groups())
        self.audit("assess", {"selection": chosen.key, "area": area, "period": chosen.requested})
        return found

    def publish(
        self,
        definition: Definition | str | Path | None = None,
        period: tuple[str | None, str | None] | None = None,
        internal: bool = False,
    ) -> dict[str | None, Publication]:
        """The published tables of the whole partnership (key None) and of each CSP, controlled
        together under the workspace's disclosure settings (`internal`: nothing hidden, marked
        NOT FOR PUBLICATION); from the workspace's cache when published before."""
        from svduty.publish import Policy
        from svduty.sna import publications

        chosen = self.selection(definition, period)
        policy = Policy(self.settings.disclosure_threshold, internal=internal)
        published = publications(self, chosen, policy, self.weights())
        self.audit("publish", {"selection": chosen.key, "policy": policy.key})
        return published

    def report(
        self,
        definition: Definition | str | Path | None = None,
        period: tuple[str | None, str | None] | None = None,
        area: str | None = None,
        each_area: bool = False,
        internal: bool = False,
        pdf: bool = True,
        out: Path | str | None = None,
        weights: Path | str | None = None,
        measures: bool = False,
    ) -> list[Path]:
        """Write the Strategic Needs Assessment (HTML, summary JSON, Vega-Lite specs and, with
        `pdf`, the PDF) for the partnership or one CSP (`area`), or for the partnership and each
        CSP (`each_area`), into `out` (default: the workspace's `reports/`; internal builds into
        its `internal/`). File names carry the area, period, definition and, for internal
        builds, `internal`; every file written is listed in the folder's `manifest.json` and in
        the audit log with its SHA-256. `weights`: a severity weights CSV (default: the
        workspace's `severity_weights`). `measures`: the success measures' board pack instead
        (`measures-<area>-<period>`)."""
        folder = self.output_folder(out)  # before the slow imports: a refusal comes at once
        from svduty.analysis.severity import load_weights
        from svduty.counting import period_filters
        from svduty.outputs import new_run
        from svduty.sna import build_sna

        scale = load_weights(Path(weights)) if weights else None
        chosen = self.selection(definition, period, area)
        areas = [area] + (list(self.settings.csps) if each_area and area is None else [])
        written: list[Path] = []
        run = new_run()
        for one in areas:
            paths = build_sna(
                self,
                chosen.definition,
                folder,
                internal,
                pdf,
                one,
                period_filters(chosen.start, chosen.end),
                scale,
                progress=self.say,
                run=run,
                pack=measures,
            )
            written.extend(paths.values())
        return written

    def _refresh_reference(self) -> None:
        """(Re)load areas and offences when first opened, when the CSP settings change or when
        svduty's bundled reference data do."""
        fingerprint = reference_fingerprint(self.settings)
        if _meta(self.con, "reference") == fingerprint:
            return
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE _areas AS SELECT * FROM read_csv("
                f"'{data_path('areas.csv.gz')}', header=true, "
                "types={'lsoa_code': 'VARCHAR', 'la_code': 'VARCHAR'})"
            )
            self._apply_csp_groups()
            self.store.load_reference("areas", "SELECT * FROM _areas")
            self.store.load_reference(
                "offences",
                f"SELECT * FROM read_csv('{data_path('offences.csv')}', header=true, "
                "all_varchar=true)",
            )
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('reference', ?)", [fingerprint])
            self.con.execute("COMMIT")
        except BaseException:
            rollback(self.con)
            raise

    def _apply_csp_groups(self) -> None:
        """A partnership's own CSPs, each a group of districts, override the ONS lookup."""
        districts = {
            row[0].lower(): row[0]
            for row in self.con.execute(
                "SELECT DISTINCT la_code FROM _areas UNION SELECT DISTINCT la_name FROM _areas"
            ).fetchall()
            if row[0]
        }
        unknown = [
            f"{csp}: {district!r}"
            for csp, members in self.settings.csps.items()
            for district in members
            if district.lower() not in districts
        ]
        if unknown:
            raise InputError(
                f"{self.root / SETTINGS_FILE} [csps]: unknown district(s) {', '.join(unknown)}; "
                "give ONS district codes (e.g. E07000234) or names as in the ONS lookup"
            )
        for csp, members in self.settings.csps.items():
            keys = [m.lower() for m in members]
            self.con.execute(
                "UPDATE _areas SET csp_name = ? WHERE lower(la_code) IN (SELECT unnest(?)) "
                "OR lower(la_name) IN (SELECT unnest(?))",
                [csp, keys, keys],
            )


def _reconcile_identifiers(root: Path, con: duckdb.DuckDBPyConnection, say: Say) -> None:
    """Identifiers of a batch the last writer did not commit are removed (see
    `svduty.identifiers`); the restricted files are made their owner's alone, as files an
    earlier svduty left readable to all are."""
    from svduty import identifiers
    from svduty.linkage.store import LINKAGE_FILE

    for restricted in (identifiers.IDENTIFIERS_FILE, LINKAGE_FILE):
        identifiers.restrict(root / restricted)

    committed = [r[0] for r in con.execute("SELECT batch_id FROM batches").fetchall()]
    removed = identifiers.reconcile(root, committed)
    if removed:
        say(f"{root}: removed the identifiers of {removed} record(s) of a batch never stored")


def _check_catalogue(
    con: duckdb.DuckDBPyConnection, root: Path, settings: Settings
) -> _Stale | None:
    """Whether a catalogue can be read as it is by this svduty with these settings."""
    found = _stored_version(con)
    if found is None:
        return _Stale("the workspace holds no catalogue yet", "missing")
    if found > SCHEMA_VERSION:
        raise _newer(root, found)
    if found < SCHEMA_VERSION:
        return _Stale(
            f"schema version {found} is older than this svduty's {SCHEMA_VERSION}", "older"
        )
    if _meta(con, "reference") != reference_fingerprint(settings):
        return _Stale(
            "the CSP settings (or svduty's bundled reference data) changed since the data were "
            "last written",
            "reference",
        )
    return None
