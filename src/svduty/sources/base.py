"""What every source adapter shares: header detection, DuckDB's CSV reader with line-level
rejects, field checks written as SQL, and the bookkeeping that turns both into reject rows.

A file is read once by DuckDB with its columns typed; rows DuckDB cannot read (wrong column
count, undecodable bytes, a value that is not a date or a number) are recorded by DuckDB itself with
their line. Rows it can read then pass the adapter's checks; each failing check becomes a reject
row naming the line, field, value and reason. Accepted rows go to the canonical table.
"""

from __future__ import annotations

import csv
import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import duckdb

from svduty.errors import InputError
from svduty.reference.forces import canonical_force

UK_BOUNDS = {"longitude": (-8.7, 1.8), "latitude": (49.8, 60.9)}
"""WGS84 box around the United Kingdom; a coordinate outside it is a data error."""
LSOA_PATTERN = "[EW]01[0-9]{6}"
SOURCE_LINE = "svduty:source_line"
"""Column of a CSV svduty wrote from another format (XML): each row's line in the original
file, so rejects and lineage point there rather than to the intermediate CSV."""


WITHHELD = "(withheld: an identifier)"
"""What a reject's row shows instead of an identifier's value."""


@dataclass(frozen=True)
class Check:
    """A field rule: `bad` is SQL over the staged row that is true when the row fails it."""

    field: str
    bad: str
    reason: str
    value: str | None = None


@dataclass(frozen=True)
class GroupFile:
    """A file staged with others: where it is read from, its name in lineage and its batch."""

    path: Path
    name: str
    batch_id: int


@dataclass(frozen=True)
class StageResult:
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    relation: str = "_accepted"
    """The table or view holding the canonical rows to publish."""


HEADER_MAX_BYTES = 1 << 20
COMMENT_LINES_MAX = 50
"""Lines starting with '#' before the header (a file's note of its source, or that it is
synthetic) are skipped, up to this many; their lines still count in every line number."""


def comment_lines(path: Path, name: str | None = None) -> int:
    """How many '#' lines come before the header. They must end as the header does: DuckDB's
    reader takes the line ending from the file's start and would read no rows at all."""
    found, endings = 0, set()
    with path.open("rb") as handle:
        for _ in range(COMMENT_LINES_MAX + 1):
            line = handle.readline(HEADER_MAX_BYTES + 1)
            endings.add(line[len(line.rstrip(b"\r\n")) :])
            if not line.lstrip(b"\xef\xbb\xbf").startswith(b"#"):
                break
            found += 1
    if found and len(endings - {b""}) > 1:
        raise InputError(
            f"{name or path}: the '#' lines before the header end differently from the header "
            "(one with CR LF, one with LF); save the file with one kind of line ending"
        )
    return found


def read_header(path: Path, name: str | None = None) -> list[str]:
    """The first line of a CSV file as column names (byte-order mark and spaces removed).
    Errors name the file as `name` (an archive's member is read from a file the tool named)."""
    shown = name or str(path)
    with path.open("rb") as handle:
        first = handle.readline(HEADER_MAX_BYTES + 1)
        for _ in range(COMMENT_LINES_MAX):
            if not first.lstrip(b"\xef\xbb\xbf").startswith(b"#"):
                break
            first = handle.readline(HEADER_MAX_BYTES + 1)
    if len(first) > HEADER_MAX_BYTES:
        raise InputError(
            f"{shown}: the first line is longer than {HEADER_MAX_BYTES:,} bytes; a CSV file "
            "starts with a header line of column names"
        )
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{shown}: the header line is not UTF-8 text ({error})") from error
    try:
        row = next(csv.reader([text.rstrip("\r\n")]), [])
    except csv.Error as error:
        raise InputError(f"{shown}: the header line is not valid CSV ({error})") from error
    return [column.strip() for column in row]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_CSV_REASONS = {
    "TOO MANY COLUMNS": "wrong column count",
    "MISSING COLUMNS": "wrong column count",
    "INVALID ENCODING": "undecodable bytes (the file is not UTF-8)",
    "UNQUOTED VALUE": "malformed quoting",
    "LINE SIZE OVER MAXIMUM": "line too long",
}


class Adapter(ABC):
    """One source kind: a file format, the canonical table it fills and its rules."""

    kind: str
    table: str
    description: str

    @abstractmethod
    def layout(self, header: list[str]) -> str | None:
        """The name of the layout this header has, or None when this adapter cannot read it."""

    @abstractmethod
    def expected_headers(self) -> list[str]:
        """Headers this adapter reads, for error messages."""

    def header_problems(self, header: list[str]) -> list[str]:
        """Why a header this adapter's layout accepts still cannot be read (checked before
        anything is stored)."""
        return []

    @abstractmethod
    def stage(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        header: list[str],
        batch_id: int,
        file_name: str,
    ) -> StageResult:
        """Stage the file so that `StageResult.relation` holds its canonical rows, and add its
        rejects to the `rejects` table. Runs inside the caller's transaction."""


class CsvAdapter(Adapter):
    """An adapter for a CSV layout: subclasses give column types, checks and the projection."""

    dateformat: str | None = None

    @abstractmethod
    def column_types(self, layout: str, header: list[str]) -> dict[str, str]:
        """DuckDB type for each column of the file, in file order."""

    @abstractmethod
    def checks(self, layout: str) -> list[Check]:
        """Field rules over the staged columns."""

    @abstractmethod
    def projection(self, layout: str, batch_id: int) -> str:
        """SELECT list producing the canonical columns from `_staged s` (and joins it names)."""

    def joins(self, layout: str) -> str:
        return ""

    def withheld(self, layout: str) -> list[str]:
        """Columns whose values a reject never shows (identifiers): a rejected row keeps them
        out of its `raw`, and a line DuckDB could not read keeps no `raw` at all."""
        return []

    def prepare(self, con: duckdb.DuckDBPyConnection, layout: str) -> None:
        """Hook run after staging, before the projection (e.g. to build lookup tables)."""

    def finish(self, con: duckdb.DuckDBPyConnection, layout: str) -> str:
        """Hook run on the `_accepted` view; returns the relation to publish (e.g. a view that
        adds computed coordinates)."""
        return "_accepted"

    def stage(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        header: list[str],
        batch_id: int,
        file_name: str,
    ) -> StageResult:
        layout = self.layout(header)
        if layout is None:
            raise InputError(f"{file_name}: header does not match {self.kind}")
        types = self.column_types(layout, header)
        columns = _read_columns(types)
        options = [
            f"columns={columns}",
            "header=true",
            "auto_detect=false",
            "delim=','",
            "quote='\"'",
            "escape='\"'",
            "store_rejects=true",
            "rejects_table='_csv_errors'",
            "rejects_scan='_csv_scans'",
        ]
        if self.dateformat:
            options.append(f"dateformat={sql_text(self.dateformat)}")
        notes = comment_lines(path, file_name)
        if notes:
            options.append(f"skip={notes}")
        con.execute("DROP TABLE IF EXISTS _csv_errors")
        con.execute("DROP TABLE IF EXISTS _csv_scans")
        drop_staged(con)
        try:
            # read in parallel, numbered after: `row_number() OVER ()` over a read holds it to
            # one thread, while a table's rowid is the order read (insertion order is kept)
            con.execute(KEEP_ORDER)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _read AS SELECT * FROM "
                f"read_csv({sql_text(str(path))}, {', '.join(options)})"
            )
        except duckdb.InvalidInputException as error:
            # DuckDB records most unreadable lines as rejects, but some breaks in the CSV
            # grammar (a lone carriage return inside a field) stop its reader altogether
            reason = str(error).split("\n", 1)[0].removeprefix("Invalid Input Error: ")
            raise InputError(
                f"{file_name}: DuckDB's CSV reader cannot read this file ({reason}); a carriage "
                "return or quote is probably out of place. Nothing from it was stored"
            ) from error
        # rowids count from where the table's storage starts (inside a transaction, far from 0)
        first = _scalar(con, "SELECT coalesce(min(rowid), 0) FROM _read")
        con.execute(
            f"CREATE TEMP VIEW _staged AS SELECT rowid - {first} + 1 AS _rn, "
            f"rowid - {first} + {2 + notes} AS _row, {_as_read(types)} FROM _read"
        )
        hidden = self.withheld(layout)
        csv_rejects = self._record_csv_rejects(con, batch_id, file_name, types, bool(hidden))
        self._number_rows(con, notes)
        if SOURCE_LINE in types:
            restage(
                con,
                "SELECT s.* REPLACE (coalesce(try_cast("
                f"s.{_quoted(SOURCE_LINE)} AS BIGINT), s._row) AS _row) FROM _staged s",
            )
        checks = self.checks(layout)
        good = " AND ".join(f"NOT coalesce({c.bad}, false)" for c in checks) or "true"
        # one scan counts the rows and those passing every check (the joins of `_accepted`
        # are lookups, which add columns, never rows); most files have no reject to record
        [(staged, accepted)] = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {good}) FROM _staged s"
        ).fetchall()
        if accepted < staged:
            self._record_check_rejects(con, batch_id, file_name, checks, hidden)
        self.prepare(con, layout)
        # a view: the projection is computed once, while the rows are published
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _accepted AS SELECT {self.projection(layout, batch_id)} "
            f"FROM _staged s {self.joins(layout)} WHERE {good}"
        )
        relation = self.finish(con, layout)
        rejected = csv_rejects + (staged - accepted)
        return StageResult(staged + csv_rejects, accepted, rejected, relation)

    together = False
    """Whether files of this kind may be staged together, one read for many files: the file's
    name does not change how its rows are read."""

    def stage_together(
        self, con: duckdb.DuckDBPyConnection, header: list[str], files: list[GroupFile]
    ) -> tuple[str, dict[int, StageResult]]:
        """Stage many files of one layout with one read: what `stage` does for each, with each
        row carrying its batch. Returns the relation of canonical rows (batch_id set per row)
        and each batch's counts. The files have no comment lines before the header."""
        layout = self.layout(header)
        if layout is None:
            raise InputError(f"{files[0].name}: header does not match {self.kind}")
        types = self.column_types(layout, header)
        columns = _read_columns(types)
        options = [
            f"columns={columns}", "header=true", "auto_detect=false", "delim=','",
            "quote='\"'", "escape='\"'", "store_rejects=true", "rejects_table='_csv_errors'",
            "rejects_scan='_csv_scans'",
        ]  # fmt: skip
        if self.dateformat:
            options.append(f"dateformat={sql_text(self.dateformat)}")
        con.execute("DROP TABLE IF EXISTS _csv_errors")
        con.execute("DROP TABLE IF EXISTS _csv_scans")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _group "
            "(_file INTEGER, _path VARCHAR, _batch INTEGER, _name VARCHAR)"
        )
        con.executemany(
            "INSERT INTO _group VALUES (?, ?, ?, ?)",
            [(i, str(f.path), f.batch_id, f.name) for i, f in enumerate(files)],
        )
        paths = ", ".join(sql_text(str(f.path)) for f in files)
        try:
            # read in parallel: `row_number() OVER ()` would hold the read to one thread, and
            # the table's rowid is the order read (insertion order is kept), file after file;
            # `file_index` is the file's place in the list
            con.execute(KEEP_ORDER)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _read AS SELECT file_index AS _file, * "
                f"FROM read_csv([{paths}], {', '.join(options)})"
            )
        except duckdb.InvalidInputException as error:
            reason = str(error).split("\n", 1)[0].removeprefix("Invalid Input Error: ")
            raise InputError(
                f"{files[0].name} and the files read with it: DuckDB's CSV reader cannot read "
                f"one of them ({reason})"
            ) from error
        # each row's batch and line come from a lookup of its file, joined by the scans that
        # read them: copying every row once more to add them cost a tenth of an ingest
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _files AS SELECT g._file, g._batch, g._name, m._first "
            "FROM _group g JOIN (SELECT _file, min(rowid) AS _first FROM _read GROUP BY _file) m "
            "USING (_file)"
        )
        data = ", ".join(f"r.{_quoted(_read_name(c))} AS {_quoted(c)}" for c in types)
        drop_staged(con)
        con.execute(
            "CREATE TEMP VIEW _staged AS SELECT r.rowid - f._first + 1 AS _rn, "
            f"r.rowid - f._first + 2 AS _row, {data}, f._batch, f._name, r._file FROM _read r "
            "JOIN _files f USING (_file)"
        )
        csv_rejects = self._record_group_csv_rejects(con, types)
        checks = self.checks(layout)
        good = " AND ".join(f"NOT coalesce({c.bad}, false)" for c in checks) or "true"
        # one scan counts each file's rows and those passing every check (the joins of
        # `_accepted` are lookups, which add columns, never rows)
        counted = con.execute(
            f"SELECT _batch, count(*), count(*) FILTER (WHERE {good}) FROM _staged s GROUP BY ALL"
        ).fetchall()
        staged = {batch: n for batch, n, _ in counted}
        accepted = {batch: kept for batch, _, kept in counted}
        if staged != accepted:
            raw = 'json_merge_patch(to_json(s), \'{"_batch": null, "_name": null, "_file": null}\')'
            for check in checks:
                value = check.value or f's."{check.field}"'
                con.execute(
                    "INSERT INTO rejects SELECT s._batch, s._name, s._row, "
                    f"{sql_text(check.field)}, CAST({value} AS VARCHAR), {check.reason}, "
                    f"CAST({raw} AS VARCHAR) "
                    f"FROM _staged s WHERE coalesce({check.bad}, false)"
                )
        self.prepare(con, layout)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _accepted AS SELECT {self.projection(layout, 0)}, "
            f"s._batch AS _batch_of FROM _staged s {self.joins(layout)} WHERE {good}"
        )
        relation = self.finish(con, layout)
        results = {}
        for f in files:
            read = staged.get(f.batch_id, 0) + csv_rejects.get(f.batch_id, 0)
            kept = accepted.get(f.batch_id, 0)
            results[f.batch_id] = StageResult(read, kept, read - kept, relation)
        return f"SELECT * REPLACE (_batch_of AS batch_id) FROM {relation}", results

    def _record_group_csv_rejects(
        self, con: duckdb.DuckDBPyConnection, types: dict[str, str]
    ) -> dict[int, int]:
        """`_record_csv_rejects` and `_number_rows` for files read together; rejects per batch."""
        errors = con.execute(
            "SELECT g._batch, g._name, e.line, e.column_name, e.error_type, e.csv_line, "
            "e.error_message FROM _csv_errors e JOIN _csv_scans c USING (scan_id, file_id) "
            "JOIN _group g ON g._path = c.file_path ORDER BY g._batch, e.line"
        ).fetchall()
        seen: dict[tuple[int, int], tuple[str, str | None, str | None, str, str | None]] = {}
        for batch, name, line, read_as, error_type, raw, message in errors:
            if (batch, line) in seen:
                continue
            column = _file_name_of(read_as, types)
            if error_type == "CAST":
                value = _cast_value(message)
                kind = _type_word(types.get(column or ""))
                reason = f"{column}: {value!r} is not a valid {kind}"
            else:
                value = None
                reason = _CSV_REASONS.get(error_type, error_type.lower())
                if error_type in ("TOO MANY COLUMNS", "MISSING COLUMNS"):
                    reason += f" ({message})"
                    column = None
            seen[(batch, line)] = (name, column, value, reason, raw)
        if not seen:
            return {}
        con.executemany(
            "INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(b, n, line, c, v, r, raw) for (b, line), (n, c, v, r, raw) in seen.items()],
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _skips AS SELECT b AS _batch, "
            "line - 1 - row_number() OVER (PARTITION BY b ORDER BY line) AS before "
            "FROM (SELECT unnest(?) AS b, unnest(?) AS line)",
            [[b for b, _ in seen], [line for _, line in seen]],
        )
        restage(
            con,
            "SELECT s.* REPLACE (s._rn + 1 + (SELECT count(*) FROM _skips k "
            "WHERE k._batch = s._batch AND k.before < s._rn) AS _row) FROM _staged s",
        )
        found: dict[int, int] = {}
        for batch, _ in seen:
            found[batch] = found.get(batch, 0) + 1
        return found

    def _record_csv_rejects(
        self,
        con: duckdb.DuckDBPyConnection,
        batch_id: int,
        file_name: str,
        types: dict[str, str],
        withhold: bool = False,
    ) -> int:
        """Lines DuckDB could not read, one reject per line (its first error); `withhold`: the
        line is not kept (it holds identifiers, and cannot be split into its fields)."""
        errors = con.execute(
            "SELECT line, column_name, error_type, csv_line, error_message FROM _csv_errors "
            "ORDER BY line"
        ).fetchall()
        seen: dict[int, tuple[str | None, str | None, str, str | None]] = {}
        for line, read_as, error_type, raw, message in errors:
            if line in seen:
                continue
            column = _file_name_of(read_as, types)
            if error_type == "CAST":
                value = _cast_value(message)
                kind = _type_word(types.get(column or ""))
                reason = f"{column}: {value!r} is not a valid {kind}"
            else:
                value = None
                reason = _CSV_REASONS.get(error_type, error_type.lower())
                if error_type in ("TOO MANY COLUMNS", "MISSING COLUMNS"):
                    reason += f" ({message})"
                    column = None
            seen[line] = (column, value, reason, None if withhold else raw)
        if seen:
            con.executemany(
                "INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (batch_id, file_name, line, column, value, reason, raw)
                    for line, (column, value, reason, raw) in seen.items()
                ],
            )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _csv_lines AS SELECT unnest(?) AS line", [sorted(seen)]
        )
        return len(seen)

    def _number_rows(self, con: duckdb.DuckDBPyConnection, notes: int = 0) -> None:
        """Give each staged row its line in the file, skipping lines DuckDB rejected (with none
        rejected, row n is on line n + 1 + the comment lines before the header, as staged)."""
        skipped = _scalar(con, "SELECT count(*) FROM _csv_lines")
        if skipped == 0:
            return
        # the k-th rejected line (1-based, sorted) has (line - 1 - notes - k) readable rows
        # before it
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _skips AS "
            f"SELECT line - {1 + notes} - row_number() OVER (ORDER BY line) AS before "
            "FROM _csv_lines"
        )
        restage(
            con,
            "SELECT s.* REPLACE ("
            f"s._rn + {1 + notes} + (SELECT count(*) FROM _skips k WHERE k.before < s._rn) "
            "AS _row) FROM _staged s",
        )

    def _record_check_rejects(
        self,
        con: duckdb.DuckDBPyConnection,
        batch_id: int,
        file_name: str,
        checks: list[Check],
        withheld: list[str] | None = None,
    ) -> None:
        raw = "to_json(s)"
        if withheld:
            patch = json.dumps(dict.fromkeys(withheld, WITHHELD))
            raw = f"json_merge_patch(to_json(s), {sql_text(patch)})"
        for check in checks:
            value = check.value or f's."{check.field}"'
            if check.field in (withheld or ()):
                value = "NULL"
            con.execute(
                f"INSERT INTO rejects SELECT {batch_id}, $file, s._row, {sql_text(check.field)}, "
                f"CAST({value} AS VARCHAR), {check.reason}, "
                f"CAST({raw} AS VARCHAR) "
                f"FROM _staged s WHERE coalesce({check.bad}, false)",
                {"file": file_name},
            )


KEEP_ORDER = "SET preserve_insertion_order = true"
"""Rows are numbered by the order they were read in, which DuckDB keeps only with this on (its
default, set again in case a caller turned it off)."""

ROWID_STAND_IN = "svduty:rowid"
"""The name a file's own column called rowid is read under: in DuckDB that name would hide the
row ids by which the rows read are numbered (database exports often carry one)."""


def _read_name(column: str) -> str:
    return ROWID_STAND_IN if column.lower() == "rowid" else column


def _file_name_of(read_as: str | None, types: dict[str, str]) -> str | None:
    """A column's name in the file, from the name it was read under."""
    if read_as != ROWID_STAND_IN:
        return read_as
    return next(c for c in types if _read_name(c) == ROWID_STAND_IN)


def _read_columns(types: dict[str, str]) -> str:
    """read_csv's `columns` option: each column's type, under the name it is read by."""
    pairs = (f"{sql_text(_read_name(c))}: {sql_text(t)}" for c, t in types.items())
    return "{" + ", ".join(pairs) + "}"


def _as_read(types: dict[str, str]) -> str:
    """Every column read, each under its name in the file."""
    renamed = [c for c in types if _read_name(c) != c]
    if not renamed:
        return "*"
    return f"* RENAME ({_quoted(ROWID_STAND_IN)} AS {_quoted(renamed[0])})"


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = con.execute(sql).fetchall()
    return int(rows[0][0]) if rows else 0


def _cast_value(message: str) -> str | None:
    match = re.search(r'Could not convert string "(.*?)" to', message)
    return match.group(1) if match else None


def _type_word(kind: str | None) -> str:
    return {
        "DATE": "month (expected YYYY-MM)",
        "DOUBLE": "number",
        "BIGINT": "whole number",
        "INTEGER": "whole number",
    }.get(kind or "", (kind or "value").lower())


def drop_staged(con: duckdb.DuckDBPyConnection) -> None:
    """Drop `_staged`, the view of the rows read and numbered."""
    con.execute("DROP VIEW IF EXISTS _staged")


def restage(con: duckdb.DuckDBPyConnection, select: str) -> None:
    """Make `_staged` the rows of `select` (which reads `_staged`), kept as table `_numbered`:
    the rows read are numbered once more where lines were rejected or came from elsewhere."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _restaged AS {select}")
    drop_staged(con)
    con.execute("DROP TABLE IF EXISTS _numbered")
    con.execute("ALTER TABLE _restaged RENAME TO _numbered")
    con.execute("CREATE TEMP VIEW _staged AS SELECT * FROM _numbered")


def force_map(con: duckdb.DuckDBPyConnection, column: str) -> None:
    """Temp table `_forces(raw, force)` from the distinct force names in `_staged`."""
    names = [row[0] for row in con.execute(f'SELECT DISTINCT "{column}" FROM _staged').fetchall()]
    pairs = [(name, canonical_force(name)) for name in names if name is not None]
    con.execute("CREATE OR REPLACE TEMP TABLE _forces (raw VARCHAR, force VARCHAR)")
    if pairs:
        con.executemany("INSERT INTO _forces VALUES (?, ?)", pairs)
