"""Ingest: every file becomes one batch that lands whole or not at all, exactly once.

Files are given as paths to CSV files, folders (searched recursively) or zip archives in the
data.police.uk layout. Every file's kind is checked before anything is stored, so a wrong header
stops the command with nothing written. A file whose content (SHA-256) is already stored as a
batch of the same kind is skipped and said to be.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from svduty.engine import SparkStore
from svduty.errors import InputError
from svduty.mapping import load_mapping
from svduty.schema import FACT_TABLES
from svduty.sources import detect
from svduty.sources.base import Adapter, read_header
from svduty.sources.mapped import MappedAdapter, xml_to_csv
from svduty.workspace import Workspace


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest: the name shown in lineage and the path it can be read from."""

    name: str
    path: Path


@dataclass(frozen=True)
class BatchReport:
    file_name: str
    source_kind: str
    batch_id: int
    status: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    seconds: float


@contextmanager
def expand(paths: list[Path]) -> Iterator[list[SourceFile]]:
    """Files named, found in folders, or held in zip archives (extracted to a temp folder)."""
    scratch = Path(tempfile.mkdtemp(prefix="svduty-ingest-"))
    try:
        found: list[SourceFile] = []
        for path in paths:
            if not path.exists():
                raise InputError(f"{path}: no such file or folder")
            if path.is_dir():
                members = sorted(
                    p for p in path.rglob("*") if p.suffix.lower() in (".csv", ".zip", ".xml")
                )
                if not members:
                    raise InputError(f"{path}: the folder holds no .csv, .xml or .zip files")
            else:
                members = [path]
            for member in members:
                if member.suffix.lower() == ".zip":
                    found.extend(_extract(member, scratch))
                else:
                    found.append(SourceFile(str(member), member))
        yield found
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _extract(archive: Path, scratch: Path) -> list[SourceFile]:
    try:
        with zipfile.ZipFile(archive) as zipped:
            names = sorted(n for n in zipped.namelist() if n.lower().endswith(".csv"))
            if not names:
                raise InputError(f"{archive}: the archive holds no .csv files")
            target = scratch / archive.stem
            out = []
            for name in names:
                zipped.extract(name, target)
                out.append(SourceFile(f"{archive}!{name}", target / name))
            return out
    except zipfile.BadZipFile as error:
        raise InputError(f"{archive}: not a readable zip archive ({error})") from error


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def plan(
    files: list[SourceFile],
    kind: str | None,
    extra: list[Adapter] | None = None,
    scratch: Path | None = None,
) -> list[tuple[SourceFile, Adapter, list[str]]]:
    """Detect every file's kind first; report every unreadable file at once. XML files are
    flattened to CSV (in `scratch`) by the mapping part that names their record element."""
    planned, problems = [], []
    for source in files:
        if source.path.suffix.lower() == ".xml":
            flattened = _flatten_xml(source, extra or [], scratch)
            if flattened is None:
                problems.append(
                    f"{source.name}: an XML file needs a --mapping whose part names "
                    "its record element ('xml: {{record: ...}}')"
                )
                continue
            source = flattened
        header = read_header(source.path)
        if not any(header):
            problems.append(f"{source.name}: the file is empty (no header line)")
            continue
        try:
            planned.append((source, detect(Path(source.name), header, kind, extra), header))
        except InputError as error:
            problems.append(str(error))
    if problems:
        raise InputError("nothing was ingested:\n" + "\n".join(problems))
    return planned


def _flatten_xml(
    source: SourceFile, extra: list[Adapter], scratch: Path | None
) -> SourceFile | None:
    for adapter in extra:
        part = getattr(adapter, "part", None)
        if part is not None and part.xml_record:
            folder = scratch or source.path.parent
            target = folder / (source.path.stem + f"-{part.name}.csv")
            xml_to_csv(source.path, part.xml_record, part.source_columns, target)
            return SourceFile(source.name, target)
    return None


def mapped_adapters(workspace: Workspace, mappings: list[Path]) -> list[Adapter]:
    adapters: list[Adapter] = []
    for path in mappings:
        mapping = load_mapping(path)
        adapters += [MappedAdapter(mapping, part, workspace.salt) for part in mapping.parts]
    return adapters


def ingest(
    workspace: Workspace,
    paths: list[Path],
    kind: str | None = None,
    synthetic: bool = False,
    on_file: Callable[[SourceFile], None] | None = None,
    mappings: list[Path] | None = None,
) -> list[BatchReport]:
    extra = mapped_adapters(workspace, mappings or [])
    with expand(paths) as files:
        reports = []
        scratch = Path(tempfile.mkdtemp(prefix="svduty-xml-"))
        try:
            planned = plan(files, kind, extra, scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        for source, adapter, header in planned:
            if on_file:
                on_file(source)
            reports.append(ingest_file(workspace, source, adapter, header, synthetic))
        shutil.rmtree(scratch, ignore_errors=True)
        return reports


def ingest_file(
    workspace: Workspace,
    source: SourceFile,
    adapter: Adapter,
    header: list[str],
    synthetic: bool = False,
) -> BatchReport:
    con, store = workspace.con, workspace.store
    digest = sha256_of(source.path)
    existing = con.execute(
        "SELECT batch_id, rows_read, rows_accepted, rows_rejected FROM batches "
        "WHERE sha256 = ? AND source_kind = ?",
        [digest, adapter.kind],
    ).fetchall()
    if existing:
        batch_id, read, accepted, rejected = existing[0]
        return BatchReport(
            source.name, adapter.kind, batch_id, "already ingested", read, accepted, rejected, 0.0
        )
    started = datetime.now()
    clock = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    try:
        batch_id = int(con.execute("SELECT nextval('batch_ids')").fetchall()[0][0])
        result = adapter.stage(con, source.path, header, batch_id, source.name)
        relation = f"SELECT * FROM {result.relation}"
        if synthetic and adapter.table == "incidents":
            relation = f"SELECT * REPLACE (true AS synthetic) FROM {result.relation}"
        store.stage_batch(adapter.table, batch_id, relation)
        if isinstance(store, SparkStore):
            store.publish_pending()
        if "synthetic" in FACT_TABLES[adapter.table] and not synthetic:
            # the rows say whether they are synthetic; the batch says so too
            found = con.execute(f"SELECT bool_or(synthetic) FROM ({relation})").fetchall()
            synthetic = bool(found[0][0])
        if result.rows_accepted == 0 and result.rows_read > 0:
            status = "all rows rejected"
        elif result.rows_rejected:
            status = "complete with rejects"
        else:
            status = "complete"
        seconds = time.perf_counter() - clock
        con.execute(
            "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, now(), ?, ?, ?, ?)",
            [
                batch_id, adapter.kind, source.name, digest, result.rows_read,
                result.rows_accepted, result.rows_rejected, started, seconds, status,
                store.name, synthetic,
            ],
        )  # fmt: skip
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        store.after_rollback()
        _drop_staging(workspace)
        raise
    store.after_commit()
    _drop_staging(workspace)
    return BatchReport(
        source.name, adapter.kind, batch_id, status, result.rows_read,
        result.rows_accepted, result.rows_rejected, seconds,
    )  # fmt: skip


def _drop_staging(workspace: Workspace) -> None:
    con = workspace.con
    for view in ("_with_coordinates", "_accepted"):
        con.execute(f"DROP VIEW IF EXISTS {view}")
    for temp in ("_staged", "_csv_errors", "_csv_scans", "_csv_lines", "_skips", "_forces"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    with contextlib.suppress(duckdb.Error):
        con.unregister("_coords")
