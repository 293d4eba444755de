"""Ingest: every file becomes one batch that lands whole or not at all, exactly once.

Files are given as paths to CSV files, folders (searched recursively) or zip archives in the
data.police.uk layout. Every file's kind is checked before anything is stored, so a wrong header
stops the command with nothing written. A file whose content (SHA-256) is already stored as a
batch of the same kind is skipped and said to be. Files are stored many to a transaction, and
files of one kind and header are staged by one read (`_stage_together`), as the national archive
holds thousands of small monthly files.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from svduty.archive import ArchiveLimits, read_members
from svduty.audit import sha256_of
from svduty.engine import rollback
from svduty.errors import InputError
from svduty.mapping import Part, load_mapping
from svduty.schema import FACT_TABLES
from svduty.sources import detect
from svduty.sources.base import (
    Adapter,
    CsvAdapter,
    GroupFile,
    comment_lines,
    drop_staged,
    read_header,
)
from svduty.sources.mapped import MappedAdapter, first_record, xml_to_csv
from svduty.workspace import Workspace

MAPPING_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest: the name kept in lineage (its absolute path, `archive!member` for an
    archive's member) and the path it can be read from."""

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
def expand(paths: list[Path], limits: ArchiveLimits | None = None) -> Iterator[list[SourceFile]]:
    """Files named, found in folders, or held in zip archives (each member streamed into a file
    the tool names, in a temp folder, within `limits`). Names are absolute, as stored in
    lineage, so a batch says which file it came from wherever the command ran."""
    scratch = Path(tempfile.mkdtemp(prefix="svduty-ingest-"))
    try:
        found: list[SourceFile] = []
        archives = 0
        for path in paths:
            if not path.exists():
                raise InputError(f"{path}: no such file or folder")
            if path.is_dir():
                members = sorted(
                    p for p in path.rglob("*") if p.suffix.lower() in (".csv", ".zip", ".xml")
                )
                if not members:
                    raise InputError(f"{path}: the folder holds no .csv, .xml or .zip files")
            elif path.suffix.lower() in MAPPING_SUFFIXES:
                raise InputError(
                    f"{path}: a YAML file is a column mapping, not data; give it as a mapping "
                    "(svduty ingest FILES --mapping FOLDER_OR_FILE; in Python, mappings=[...])"
                )
            else:
                members = [path]
            for member in members:
                absolute = Path(os.path.abspath(member))
                if member.suffix.lower() == ".zip":
                    archives += 1
                    folder = scratch / f"archive-{archives:04d}"
                    found.extend(_archive_members(absolute, folder, limits))
                else:
                    found.append(SourceFile(str(absolute), absolute))
        yield found
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _archive_members(
    archive: Path, scratch: Path, limits: ArchiveLimits | None
) -> list[SourceFile]:
    members = read_members(archive, scratch, lambda name: name.lower().endswith(".csv"), limits)
    if not members:
        raise InputError(f"{archive}: the archive holds no .csv files")
    return [SourceFile(f"{archive}!{member.name}", member.path) for member in members]


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
        try:
            planned.append(_plan_one(source, kind, extra or [], scratch))
        except InputError as error:
            problems.append(str(error))
    if problems:
        raise InputError("nothing was ingested:\n" + "\n".join(problems))
    return planned


def _plan_one(
    source: SourceFile, kind: str | None, extra: list[Adapter], scratch: Path | None
) -> tuple[SourceFile, Adapter, list[str]]:
    if source.path.suffix.lower() == ".xml":
        flattened = _flatten_xml(source, extra, scratch)
        if flattened is None:
            parts = [getattr(adapter, "part", None) for adapter in extra]
            records = sorted({p.xml_record for p in parts if p is not None and p.xml_record})
            wanted = f"; looked for <{'>, <'.join(records)}>" if records else ""
            raise InputError(
                f"{source.name}: an XML file needs a mapping whose part names its record "
                f"element ('xml: {{record: ...}}'){wanted}"
            )
        source = flattened
    header = read_header(source.path, source.name)
    if not any(header):
        raise InputError(f"{source.name}: the file is empty (no header line)")
    adapter = detect(Path(source.name), header, kind, extra)
    problems = adapter.header_problems(header)
    if problems:
        raise InputError(f"{source.name}: " + "; ".join(problems))
    if isinstance(adapter, MappedAdapter):
        _check_key(source, adapter, header)
    return source, adapter, header


def _check_key(source: SourceFile, adapter: MappedAdapter, header: list[str]) -> None:
    """A pseudonymised extract whose keys another partnership key made is refused: none of
    its people would meet the workspace's. (A workspace holding no key takes any: it makes no
    keys of its own to meet.)"""
    from svduty.identity.pseudonymise import encoding_note, keyed_with

    if adapter.stored_encodings(header):
        encoding_note(source.name, source.path)  # filters of unknown making are refused
    if adapter.layout(header) != "keyed" or adapter.partnership is None:
        return
    made = keyed_with(source.path)
    if made is not None and made != adapter.partnership.fingerprint:
        raise InputError(
            f"{source.name}: its person keys were made with partnership key {made}, and this "
            f"workspace's partnership_key is {adapter.partnership.fingerprint}; they would meet "
            "no key made here: pseudonymise the extract again with the workspace's key"
        )


def _flatten_xml(
    source: SourceFile, extra: list[Adapter], scratch: Path | None
) -> SourceFile | None:
    """The XML file as CSV, read by the mapping part whose record element it holds first."""
    parts: dict[str, Part] = {}
    for adapter in extra:
        part = getattr(adapter, "part", None)
        if part is not None and part.xml_record:
            parts.setdefault(part.xml_record, part)
    if not parts:
        return None
    record = next(iter(parts)) if len(parts) == 1 else first_record(source.path, set(parts))
    if record is None:
        return None
    part = parts[record]
    handle, name = tempfile.mkstemp(prefix="xml-", suffix=f"-{part.name}.csv", dir=scratch)
    os.close(handle)
    xml_to_csv(source.path, record, part.source_columns | part.keyed_columns, Path(name))
    return SourceFile(source.name, Path(name))


def mapping_files(mappings: list[Path]) -> list[Path]:
    """Mapping files from what --mapping was given: files, folders (their .yaml and .yml files)
    or glob patterns the shell left unexpanded."""
    files: list[Path] = []
    for given in mappings:
        if given.is_dir():
            found = sorted(p for p in given.iterdir() if p.suffix.lower() in MAPPING_SUFFIXES)
            if not found:
                raise InputError(f"{given}: the folder holds no mapping files (.yaml or .yml)")
            files += found
        elif given.exists():
            files.append(given)
        elif any(c in str(given) for c in "*?["):
            matched = sorted(Path(p) for p in glob.glob(str(given)))
            if not matched:
                raise InputError(f"mapping {given}: the pattern matches no file")
            files += matched
        else:
            raise InputError(f"mapping {given}: no such file or folder")
    return files


def mapped_adapters(workspace: Workspace, mappings: list[Path]) -> list[Adapter]:
    """One adapter per part of every mapping; each input file later finds its own by header.
    The partnership key is read only when a mapping makes person keys, so a missing key stops
    nothing else."""
    loaded = [load_mapping(path) for path in mapping_files(mappings)]
    keyed = any(
        part.key_from or any(c.pseudonymise for c in part.columns)
        for mapping in loaded
        for part in mapping.parts
    )
    partnership = workspace.partnership_key() if keyed else None
    return [
        MappedAdapter(mapping, part, workspace.salt, partnership)
        for mapping in loaded
        for part in mapping.parts
    ]


class Digests:
    """Each file's SHA-256, worked out by a thread of its own while the group before it is
    stored: hashing a national archive's gigabytes between reads held every read up. It hashes
    one group ahead, no more, so a file is read soon after it is hashed, and stops within a
    block of being closed (an interrupted ingest does not wait for a large file's hash)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="svduty-sha256")
        self._pending: dict[Path, Future[str]] = {}
        self._stop = threading.Event()

    def ahead(self, paths: Iterable[Path]) -> None:
        for path in paths:
            if path not in self._pending:
                self._pending[path] = self._pool.submit(self._hash, path)

    def of(self, path: Path) -> str:
        pending = self._pending.pop(path, None)
        return pending.result() if pending is not None else sha256_of(path)

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _hash(self, path: Path) -> str:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                if self._stop.is_set():
                    raise InputError(f"{path}: hashing stopped")
                digest.update(block)
        return digest.hexdigest()


def _digest(digests: Digests | None, path: Path) -> str:
    return digests.of(path) if digests is not None else sha256_of(path)


GROUP_BYTES = 256 << 20
"""Files are stored together, one transaction per group of files up to this many bytes: a
commit costs the same for a small file as for a large one, and the national archive holds
thousands of monthly files. Each file is still its own batch, with its own lineage."""


def ingest(
    workspace: Workspace,
    paths: list[Path],
    kind: str | None = None,
    synthetic: bool = False,
    on_file: Callable[[SourceFile], None] | None = None,
    mappings: list[Path] | None = None,
    on_stored: Callable[[list[BatchReport]], None] | None = None,
) -> list[BatchReport]:
    """Ingest every file found; `on_file` hears of each file as it starts, `on_stored` of the
    reports of each group of files once their transaction has committed."""
    extra = mapped_adapters(workspace, mappings or [])
    settings = workspace.settings
    limits = ArchiveLimits(settings.archive_member_max_bytes, settings.archive_max_bytes)
    with expand(paths, limits) as files:
        reports: list[BatchReport] = []
        scratch = Path(tempfile.mkdtemp(prefix="svduty-xml-"))
        try:
            planned = plan(files, kind, extra, scratch)
            grouped = list(groups(planned, GROUP_BYTES))
            digests = Digests()
            try:
                for group, following in zip(grouped, [*grouped[1:], []], strict=True):
                    digests.ahead(source.path for source, _, _ in group)
                    digests.ahead(source.path for source, _, _ in following)
                    stored = ingest_group(workspace, group, synthetic, on_file, digests)
                    reports.extend(stored)
                    if on_stored:
                        on_stored(stored)
            finally:
                digests.close()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return reports


Planned = tuple[SourceFile, Adapter, list[str]]


def groups(planned: list[Planned], budget: int) -> Iterator[list[Planned]]:
    """Consecutive files up to `budget` bytes together (a larger file alone)."""
    group: list[Planned] = []
    size = 0
    for item in planned:
        length = item[0].path.stat().st_size
        if group and size + length > budget:
            yield group
            group, size = [], 0
        group.append(item)
        size += length
    if group:
        yield group


def ingest_group(
    workspace: Workspace,
    group: list[Planned],
    synthetic: bool = False,
    on_file: Callable[[SourceFile], None] | None = None,
    digests: Digests | None = None,
) -> list[BatchReport]:
    """The files of a group as batches in one transaction: all of them land, or none. A file
    refused for what it holds (its reader stops, say) costs the others nothing: the group is
    rolled back and its files stored one to a transaction, so those before it land and it is
    refused as it would be alone."""
    if len(group) == 1:
        source, adapter, header = group[0]
        if on_file:
            on_file(source)
        return [ingest_file(workspace, source, adapter, header, synthetic, digests)]
    try:
        return _transaction(workspace, group, synthetic, on_file, digests)
    except InputError:
        # only a file refused for what it holds; an interruption or a failing disk stops here
        reports = []
        for source, adapter, header in group:
            reports.append(ingest_file(workspace, source, adapter, header, synthetic, digests))
        return reports


def ingest_file(
    workspace: Workspace,
    source: SourceFile,
    adapter: Adapter,
    header: list[str],
    synthetic: bool = False,
    digests: Digests | None = None,
) -> BatchReport:
    """One file as one batch in its own transaction."""
    [report] = _transaction(workspace, [(source, adapter, header)], synthetic, None, digests)
    return report


def _transaction(
    workspace: Workspace,
    group: list[Planned],
    synthetic: bool,
    on_file: Callable[[SourceFile], None] | None = None,
    digests: Digests | None = None,
) -> list[BatchReport]:
    con, store = workspace.con, workspace.store
    reports: list[BatchReport] = []
    identified: list[int] = []
    con.execute("BEGIN TRANSACTION")
    try:
        for run in _runs(workspace, group):
            if len(run) > 1:
                if on_file:
                    for source, _, _ in run:
                        on_file(source)
                reports.extend(_stage_together(workspace, run, synthetic, digests))
                continue
            source, adapter, header = run[0]
            if on_file:
                on_file(source)
            reports.append(
                _stage_file(workspace, source, adapter, header, synthetic, identified, digests)
            )
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        store.after_rollback()
        _drop_staging(workspace)
        if identified:
            from svduty import identifiers

            for batch_id in identified:
                identifiers.discard(workspace.root, batch_id)
        raise
    store.after_commit()
    _drop_staging(workspace)  # once a transaction: each file's staging replaces the last's
    return reports


def _runs(workspace: Workspace, group: list[Planned]) -> Iterator[list[Planned]]:
    """Consecutive files one read can stage together: the same kind and header, no comment
    lines; any other file on its own."""
    run: list[Planned] = []
    for item in group:
        source, adapter, header = item
        fits = (
            isinstance(adapter, CsvAdapter)
            and adapter.together
            and comment_lines(source.path, source.name) == 0
        )
        if run and fits and type(run[0][1]) is type(adapter) and run[0][2] == header:
            run.append(item)
            continue
        if run:
            yield run
        run = [item] if fits else []
        if not fits:
            yield [item]
    if run:
        yield run


def _stage_together(
    workspace: Workspace, run: list[Planned], synthetic: bool, digests: Digests | None = None
) -> list[BatchReport]:
    """Files of one kind and header as batches with one read, one set of checks and one write:
    each file's per-file costs paid once for all. Each still gets its own batch row; its time
    is the run's, shared by rows read."""
    con, store = workspace.con, workspace.store
    adapter, header = run[0][1], run[0][2]
    assert isinstance(adapter, CsvAdapter)
    started = datetime.now()
    clock = time.perf_counter()
    reports: list[BatchReport | None] = []
    fresh: list[tuple[int, SourceFile, str]] = []
    first: dict[str, int] = {}
    contents = [_digest(digests, source.path) for source, _, _ in run]
    known = _stored_batches(con, adapter.kind, contents)
    unseen = [digest for digest in dict.fromkeys(contents) if digest not in known]
    # one query for the run's batch ids, in the order of the files' first copies
    ids = con.execute("SELECT nextval('batch_ids') AS id FROM range(?) ORDER BY id", [len(unseen)])
    first.update(zip(unseen, (int(row[0]) for row in ids.fetchall()), strict=True))
    for (source, _, _), digest in zip(run, contents, strict=True):
        if digest in known:
            reports.append(BatchReport(source.name, adapter.kind, *known[digest]))
        else:
            reports.append(None)  # filled in below (a later copy of the same content too)
            fresh.append((first[digest], source, digest))
    stored: dict[int, BatchReport] = {}
    staged: dict[int, tuple[int, SourceFile, str]] = {}
    for batch_id, source, digest in fresh:
        staged.setdefault(batch_id, (batch_id, source, digest))  # a file's first copy
    if staged:
        files = [GroupFile(s.path, s.name, b) for b, s, _ in staged.values()]
        relation, results = adapter.stage_together(con, header, files)
        if synthetic and adapter.table == "incidents":
            relation = f"SELECT * REPLACE (true AS synthetic) FROM ({relation})"
        store.stage_batch(adapter.table, files[0].batch_id, relation)
        flagged: set[int] = set()
        if "synthetic" in FACT_TABLES[adapter.table]:
            flagged = store.synthetic_batches(adapter.table, [f.batch_id for f in files], relation)
        seconds = time.perf_counter() - clock
        finished = datetime.now()
        total = sum(r.rows_read for r in results.values()) or 1
        rows: list[list[object]] = []
        for batch_id, source, digest in staged.values():
            result = results[batch_id]
            if result.rows_accepted == 0 and result.rows_read > 0:
                status = "all rows rejected"
            elif result.rows_rejected:
                status = "complete with rejects"
            else:
                status = "complete"
            share = seconds * result.rows_read / total
            rows.append([
                batch_id, adapter.kind, source.name, digest, result.rows_read,
                result.rows_accepted, result.rows_rejected, started, finished, share, status,
                store.name, synthetic or batch_id in flagged,
            ])  # fmt: skip
            stored[batch_id] = BatchReport(
                source.name, adapter.kind, batch_id, status, result.rows_read,
                result.rows_accepted, result.rows_rejected, share,
            )  # fmt: skip
        # as Arrow columns: thousands of rows bound as parameters took 0.9 s for 5,000 files
        columns = zip(*rows, strict=True)
        con.from_arrow(pa.table({f"c{i}": pa.array(c) for i, c in enumerate(columns)})).insert_into(
            "batches"
        )
    done = iter(fresh)
    out: list[BatchReport] = []
    for report in reports:
        if report is not None:
            out.append(report)
            continue
        batch_id, source, _ = next(done)
        made = stored[batch_id]
        if made.file_name == source.name:
            out.append(made)
        else:
            out.append(
                BatchReport(
                    source.name, made.source_kind, batch_id, "already ingested", made.rows_read,
                    made.rows_accepted, made.rows_rejected, 0.0,
                )
            )  # fmt: skip
    return out


def _stage_file(
    workspace: Workspace,
    source: SourceFile,
    adapter: Adapter,
    header: list[str],
    synthetic: bool,
    identified: list[int],
    digests: Digests | None = None,
) -> BatchReport:
    """Store one file as a batch inside the open transaction (or say it is stored already);
    a batch whose identifiers it stores is added to `identified`."""
    con, store = workspace.con, workspace.store
    digest = _digest(digests, source.path)
    stored = _stored_already(con, source, adapter.kind, digest)
    if stored is not None:
        return stored
    started = datetime.now()
    clock = time.perf_counter()
    batch_id = int(con.execute("SELECT nextval('batch_ids')").fetchall()[0][0])
    result = adapter.stage(con, source.path, header, batch_id, source.name)
    relation = f"SELECT * FROM {result.relation}"
    if synthetic and adapter.table == "incidents":
        relation = f"SELECT * REPLACE (true AS synthetic) FROM {result.relation}"
    store.stage_batch(adapter.table, batch_id, relation)
    fields = adapter.stored_identifiers(header) if isinstance(adapter, MappedAdapter) else []
    encoded = adapter.stored_encodings(header) if isinstance(adapter, MappedAdapter) else []
    if fields or encoded:
        # committed before the batch: a batch never lands without its identifiers, and
        # rows of a batch that never lands are removed (`identifiers.reconcile`)
        identified.append(batch_id)
        _store_identifiers(workspace, batch_id, result.relation, fields, encoded, source)
    if "synthetic" in FACT_TABLES[adapter.table] and not synthetic:
        # the rows say whether they are synthetic; the batch says so too
        synthetic = batch_id in store.synthetic_batches(adapter.table, [batch_id], relation)
    if result.rows_accepted == 0 and result.rows_read > 0:
        status = "all rows rejected"
    elif result.rows_rejected:
        status = "complete with rejects"
    else:
        status = "complete"
    seconds = time.perf_counter() - clock
    # the finish is taken here, not by now() in SQL, which gives the transaction's start
    finished = datetime.now()
    con.execute(
        "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            batch_id, adapter.kind, source.name, digest, result.rows_read,
            result.rows_accepted, result.rows_rejected, started, finished, seconds, status,
            store.name, synthetic,
        ],
    )  # fmt: skip
    return BatchReport(
        source.name, adapter.kind, batch_id, status, result.rows_read,
        result.rows_accepted, result.rows_rejected, seconds,
    )  # fmt: skip


def _stored_already(
    con: duckdb.DuckDBPyConnection, source: SourceFile, kind: str, digest: str
) -> BatchReport | None:
    """The report of a batch of this kind holding the same content, if one is stored."""
    known = _stored_batches(con, kind, [digest])
    return BatchReport(source.name, kind, *known[digest]) if digest in known else None


def _stored_batches(
    con: duckdb.DuckDBPyConnection, kind: str, digests: list[str]
) -> dict[str, tuple[int, str, int, int, int, float]]:
    """For each content already stored as a batch of this kind, what its report says (batch,
    status, rows read, accepted, rejected, seconds): one query for a run of files."""
    found = con.execute(
        "SELECT sha256, min(batch_id), arg_min(rows_read, batch_id), "
        "arg_min(rows_accepted, batch_id), arg_min(rows_rejected, batch_id) FROM batches "
        "WHERE source_kind = ? AND sha256 IN (SELECT unnest(?)) GROUP BY sha256",
        [kind, digests],
    ).fetchall()
    return {
        digest: (batch, "already ingested", read, accepted, rejected, 0.0)
        for digest, batch, read, accepted, rejected in found
    }


def _store_identifiers(
    workspace: Workspace,
    batch_id: int,
    relation: str,
    fields: list[str],
    encoded: list[str] | None = None,
    source: SourceFile | None = None,
) -> None:
    """The accepted rows' identifiers (or a Bloom-encoded extract's encodings, with the note
    saying how they were made), streamed from the staged rows to the restricted store.
    The person key is not selected: the staged rows are a view, and selecting it would make
    every key a second time (the record id links the two)."""
    from svduty import identifiers
    from svduty.sources.mapped import IDENTIFIER_PREFIX

    for names, store in ((fields, "identifiers"), (encoded or [], "encodings")):
        if not names:
            continue
        picked = ", ".join(f'"{IDENTIFIER_PREFIX}{f}" AS {f}' for f in names)
        select = f"SELECT batch_id, source_line, {picked} FROM {relation}"
        if store == "identifiers":
            rows = workspace.con.sql(select).to_arrow_reader(100_000)
            identifiers.store_batch(workspace.root, batch_id, rows)
        else:
            from svduty.identity.pseudonymise import encoding_note

            assert source is not None
            note = encoding_note(source.name, source.path)
            rows = workspace.con.sql(select).to_arrow_reader(100_000)
            identifiers.store_encodings(workspace.root, batch_id, rows, note)


def _drop_staging(workspace: Workspace) -> None:
    con = workspace.con
    for view in ("_with_coordinates", "_accepted"):
        con.execute(f"DROP VIEW IF EXISTS {view}")
    drop_staged(con)
    for temp in (
        "_read", "_files", "_group", "_numbered", "_restaged", "_csv_errors", "_csv_scans",
        "_csv_lines", "_skips", "_forces", "_person_key",
    ):  # fmt: skip
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    with contextlib.suppress(duckdb.Error):
        con.unregister("_coords")
