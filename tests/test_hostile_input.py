"""Hostile and broken input: crafted archives, XML and YAML bombs, mappings that do not fit,
formula payloads bound for spreadsheets; and the small things of lineage and the command line.

Every crafted file is built here with the standard library (zipfile, struct), so each test says
exactly what is wrong with its input. A hostile input must end in one clear svduty error that
names the file (and member or line), store nothing, and read nothing it was not given."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from conftest import make_workspace, table_count
from partner_files import (
    ADMISSIONS_MAPPING,
    CRIME_HEADER,
    FORCE_MAPPING,
    ISTV_COLUMNS,
    ISTV_MAPPING,
    MAPPINGS,
    crime_row,
    random_attendances,
    random_extract,
    write_csv,
    write_force_extract,
    write_istv_csv,
)

from svduty import __version__
from svduty.archive import CorruptArchive
from svduty.cli import ingest_advice
from svduty.definitions import load_definition
from svduty.definitions.classify import diff, rule_changes
from svduty.errors import InputError
from svduty.example import WEST_MERCIA
from svduty.ingest import ingest
from svduty.mapping import load_mapping
from svduty.output import Format, render
from svduty.settings import Settings
from svduty.synth.profile import load_profile
from svduty.workspace import Workspace

ROOT = Path(__file__).parents[1]
MARK = "PLANTED-7f3a9c"
"""Text in files the tests plant outside what they give svduty: it must never reach the store."""


def svduty(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "svduty.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def svduty_csv(*args: str) -> list[dict[str, str]]:
    """A command's CSV output read as a spreadsheet would: bytes as written, no newline
    translation, so a carriage return inside a field stays inside it."""
    done = subprocess.run(
        [sys.executable, "-m", "svduty.cli", *args, "--format", "csv"], capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()
    return list(csv.DictReader(io.StringIO(done.stdout.decode(), newline="")))


@pytest.fixture
def street(west_mercia: Path) -> bytes:
    """A real police.uk street file cut to its header and 30 rows."""
    source = west_mercia / "2025-01" / "2025-01-west-mercia-street.csv"
    return b"\n".join(source.read_bytes().split(b"\n")[:31]) + b"\n"


def planted(street: bytes) -> bytes:
    """The same rows with the MARK in every location, to be placed where svduty must not look."""
    return re.sub(rb"On or near [^,]*", f"On or near {MARK}".encode(), street)


def store_holds(ws: Workspace, text: str) -> bool:
    """Whether the text is in any table or in the database file itself."""
    tables = [r[0] for r in ws.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    for table in tables:
        found = ws.con.execute(
            f"SELECT count(*) FROM {table} t WHERE CAST(to_json(t) AS VARCHAR) LIKE ?",
            [f"%{text}%"],
        ).fetchone()
        if found and found[0]:
            return True
    ws.con.execute("CHECKPOINT")
    return text.encode() in (ws.root / "svduty.duckdb").read_bytes()


def nothing_stored(ws: Workspace) -> bool:
    return all(table_count(ws, t) == 0 for t in ("batches", "incidents", "rejects"))


def zip_of(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zipped:
        for info, data in members:
            zipped.writestr(info, data)
    return path


def central_entries(data: bytes) -> dict[str, int]:
    """Offset of each member's central directory record, by name."""
    entries, at = {}, data.find(b"PK\x01\x02")
    while at != -1:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        entries[data[at + 46 : at + 46 + name_length].decode()] = at
        at = data.find(b"PK\x01\x02", at + 46)
    return entries


def patched(path: Path, member: str, field_offset: int, value: int) -> Path:
    """Rewrite one 4-byte field of a member's central directory record (16: CRC-32, 24: the
    uncompressed size): what zipfile checks the data against."""
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, central_entries(bytes(data))[member] + field_offset, value)
    path.write_bytes(bytes(data))
    return path


# --- archives -------------------------------------------------------------------------------


def test_an_absolute_member_is_refused_and_the_local_file_never_read(workspace, street, tmp_path):
    local = tmp_path / "elsewhere" / "2025-01-west-mercia-street.csv"
    local.parent.mkdir()
    local.write_bytes(planted(street))
    archive = zip_of(tmp_path / "2025-01.zip", [(str(local), street)])
    assert zipfile.ZipFile(archive).namelist() == [str(local)]  # the name really is absolute
    with pytest.raises(InputError) as caught:
        ingest(workspace, [archive])
    assert f"{archive}: refused" in str(caught.value)
    assert f"{str(local)!r} has an absolute path" in str(caught.value)
    assert nothing_stored(workspace)
    assert not store_holds(workspace, MARK)


UNSAFE = {
    "../../evil-street.csv": "climbs out of the archive",
    "2025-01/../../../evil-street.csv": "climbs out of the archive",
    "..\\..\\evil-street.csv": "climbs out of the archive (backslash",
    "C:/evil-street.csv": "names a drive",
    "c:evil-street.csv": "names a drive",
    "\\evil-street.csv": "has an absolute path",
}


@pytest.mark.parametrize("name", list(UNSAFE))
def test_members_that_climb_out_are_refused_by_name(workspace, street, tmp_path, name):
    work = tmp_path / "deep" / "er"
    work.mkdir(parents=True)
    archive = zip_of(
        work / "2025-01.zip", [("2025-01/2025-01-west-mercia-street.csv", street), (name, street)]
    )
    with pytest.raises(InputError) as caught:
        ingest(workspace, [archive])
    assert f"{name!r} {UNSAFE[name]}" in str(caught.value)
    assert nothing_stored(workspace)  # the good member beside it is not stored either
    assert not list(tmp_path.rglob("evil-street.csv"))
    assert not (Path(tempfile.gettempdir()).parent / "evil-street.csv").exists()


def test_a_symlink_member_is_refused(workspace, street, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_bytes(planted(street))
    link = zipfile.ZipInfo("2025-01/2025-01-west-mercia-street.csv")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = zip_of(tmp_path / "2025-01.zip", [(link, str(secret).encode())])
    with pytest.raises(
        InputError, match=r"'2025-01/2025-01-west-mercia-street\.csv' is a symbolic"
    ):
        ingest(workspace, [archive])
    assert nothing_stored(workspace)
    assert not store_holds(workspace, MARK)


def test_a_member_with_a_wrong_crc_names_archive_and_member(workspace, street, tmp_path):
    name = "2025-02/2025-02-west-mercia-street.csv"
    archive = zip_of(
        tmp_path / "2025-02.zip",
        [
            ("2025-01/2025-01-west-mercia-street.csv", street),
            (name, street.replace(b"-01", b"-02")),
        ],
    )
    true_crc = zipfile.ZipFile(archive).getinfo(name).CRC
    patched(archive, name, 16, true_crc ^ 0xFFFF)
    plain = tmp_path / "2025-03-west-mercia-street.csv"
    plain.write_bytes(street.replace(b"2025-01", b"2025-03"))
    with pytest.raises(CorruptArchive) as caught:
        ingest(workspace, [plain, archive])
    assert f"{archive}!{name}: the member is corrupt (Bad CRC-32" in str(caught.value)
    assert nothing_stored(workspace)  # neither the good member nor the plain file beside it


def test_a_member_with_broken_deflate_data_is_an_error_not_a_traceback(workspace, street, tmp_path):
    name = "2025-01/2025-01-west-mercia-street.csv"
    archive = zip_of(tmp_path / "2025-01.zip", [(name, street)])
    data = bytearray(archive.read_bytes())
    info = zipfile.ZipFile(archive).getinfo(name)
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    data[start : start + 8] = b"\xff" * 8  # block type 3: invalid in deflate
    archive.write_bytes(bytes(data))
    with pytest.raises(CorruptArchive) as caught:
        ingest(workspace, [archive])
    assert f"{archive}!{name}: the member is corrupt" in str(caught.value)
    assert "invalid block type" in str(caught.value)
    assert nothing_stored(workspace)


def test_a_declared_size_over_the_limit_is_refused_before_reading(workspace, street, tmp_path):
    name = "2025-01/2025-01-west-mercia-street.csv"
    archive = patched(zip_of(tmp_path / "2025-01.zip", [(name, street)]), name, 24, 3 << 30)
    limit = WEST_MERCIA.archive_member_max_bytes
    with pytest.raises(InputError) as caught:
        ingest(workspace, [archive])
    assert (
        f"{name!r}: declares {3 << 30:,} bytes, over the limit of {limit:,} "
        "(setting archive_member_max_bytes)"
    ) in str(caught.value)
    assert nothing_stored(workspace)


def test_archive_limits_are_workspace_settings(tmp_path, street):
    limits = {"archive_member_max_bytes": 1 << 20, "archive_max_bytes": (1 << 20) + (1 << 19)}
    ws = make_workspace(tmp_path / "ws", settings=Settings(**{**WEST_MERCIA.__dict__, **limits}))
    body = street.split(b"\n", 1)[1]
    month = street.split(b"\n", 1)[0] + b"\n" + body * ((900 << 10) // len(body))
    assert (1 << 19) < len(month) < (1 << 20)  # each member is under the member limit ...
    archive = zip_of(
        tmp_path / "two.zip",
        [(f"2025-0{m}/2025-0{m}-west-mercia-street.csv", month) for m in (1, 2)],
    )  # ... and the two together are over the archive limit
    with pytest.raises(InputError) as caught:
        ingest(ws, [archive])
    assert f"the members declare {2 * len(month):,} bytes in all, over the limit of" in str(
        caught.value
    )
    assert "(setting archive_max_bytes)" in str(caught.value)
    assert "archive_max_bytes = 1572864" in (tmp_path / "ws" / "svduty.toml").read_text()
    assert nothing_stored(ws)
    ws.close()


RSS_PROBE = """
import json, sys
from pathlib import Path
from svduty.errors import InputError
from svduty.ingest import ingest
from svduty.workspace import Workspace

ws = Workspace.open(Path(sys.argv[1]))
outcome = []
for archive in sys.argv[2:]:
    try:
        ingest(ws, [Path(archive)])
        outcome.append("stored")
    except InputError as error:
        outcome.append(str(error))
batches = ws.con.execute("SELECT count(*) FROM batches").fetchone()[0]
ws.close()
# VmHWM is this process's own peak: ru_maxrss would also count the parent's pages at fork
status = Path("/proc/self/status").read_text()
peak = int(next(l.split()[1] for l in status.splitlines() if l.startswith("VmHWM:"))) * 1024
print(json.dumps({"outcome": outcome, "batches": batches, "peak": peak}))
"""


def test_zip_bombs_stay_within_a_gigabyte_of_memory(tmp_path, street):
    """One GiB of zeros in a 1 MB member, declared honestly (within the default limits), and the
    same with a header that declares 1,000 bytes: the first is streamed to disk and refused by its
    first line; the second stops at the declared size and fails its CRC."""
    name = "2025-01/2025-01-west-mercia-street.csv"
    honest = tmp_path / "honest.zip"
    with (
        zipfile.ZipFile(honest, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zipped,
        zipped.open(name, "w") as member,
    ):
        block = b"0" * (1 << 20)
        for _ in range(1024):
            member.write(block)
    assert honest.stat().st_size < 8 << 20
    lying = tmp_path / "lying.zip"
    lying.write_bytes(honest.read_bytes())
    patched(lying, name, 24, 1000)
    make_workspace(tmp_path / "ws").close()
    # a plain environment: what earlier tests' libraries put into os.environ is no part of it
    plain = {
        key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ
    }
    done = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, str(tmp_path / "ws"), str(honest), str(lying)],
        capture_output=True, text=True, check=True, env=plain,
    )  # fmt: skip
    result = json.loads(done.stdout)
    print("peak RSS", result["peak"], "environment", sorted(os.environ))
    honest_error, lying_error = result["outcome"]
    assert f"{honest}!{name}: the first line is longer than 1,048,576 bytes" in honest_error
    assert f"{lying}!{name}: the member is corrupt (Bad CRC-32" in lying_error
    assert result["batches"] == 0
    assert result["peak"] < 1 << 30


def test_a_sound_archive_still_ingests_with_absolute_lineage(workspace, street, tmp_path):
    archive = zip_of(tmp_path / "2025-01.zip", [("2025-01/2025-01-west-mercia-street.csv", street)])
    [report] = ingest(workspace, [archive])
    assert report.file_name == f"{archive}!2025-01/2025-01-west-mercia-street.csv"
    assert report.rows_accepted == street.count(b"\n") - 1


# --- XML ------------------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ISTVSubmission><Attendance><IncidentLocation>&lol9;</IncidentLocation></Attendance>
</ISTVSubmission>
"""


def test_an_xml_entity_bomb_is_refused_quickly(workspace, tmp_path):
    path = tmp_path / "istv.xml"
    path.write_text(BILLION_LAUGHS)
    started = time.perf_counter()
    with pytest.raises(InputError) as caught:
        ingest(workspace, [path], mappings=[ISTV_MAPPING])
    assert time.perf_counter() - started < 5
    assert f"{path}:3: refused: the XML declares entities" in str(caught.value)
    assert nothing_stored(workspace)


def test_an_external_entity_is_never_read(workspace, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(MARK)
    path = tmp_path / "istv.xml"
    path.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY s SYSTEM "file://{secret}">]>\n'
        "<ISTVSubmission><Attendance><IncidentLocation>&s;</IncidentLocation>"
        "<ArrivalDateTime>2025-01-01T10:00</ArrivalDateTime></Attendance></ISTVSubmission>\n"
    )
    with pytest.raises(InputError, match=r"istv.xml:2: refused"):
        ingest(workspace, [path], mappings=[ISTV_MAPPING])
    assert nothing_stored(workspace)
    assert not store_holds(workspace, MARK)


def test_malformed_xml_names_file_and_line(workspace, tmp_path):
    path = tmp_path / "istv.xml"
    lines = [
        '<?xml version="1.0"?>',
        "<ISTVSubmission>",
        "<Attendance><AttendanceID>A1</AttendanceID></Attendance>",
        "<Attendance><AttendanceID>A2</AttendanceID>",
        "</ISTVSubmission>",
    ]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as caught:
        ingest(workspace, [path], mappings=[ISTV_MAPPING])
    assert f"{path}:5: not well-formed XML (mismatched tag)" in str(caught.value)
    assert nothing_stored(workspace)


def test_xml_rejects_and_lineage_carry_the_line_in_the_xml_file(workspace, tmp_path):
    rows = random_attendances(seed=5, n=6)
    rows[2]["Age"] = "about thirty"
    rows[4]["ArrivalDateTime"] = "yesterday"
    text = '<?xml version="1.0" encoding="UTF-8"?>\n<!-- ISTV export -->\n<ISTVSubmission>\n'
    for row in rows:  # one field per line, as a pretty-printed export is laid out
        text += "  <Attendance>\n"
        text += "".join(f"    <{c}>{escape(row[c])}</{c}>\n" for c in ISTV_COLUMNS)
        text += "  </Attendance>\n"
    text += "</ISTVSubmission>\n"
    path = tmp_path / "istv.xml"
    path.write_text(text)
    starts = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == "<Attendance>"]
    assert len(starts) == 6 and starts[2] > 20  # the third record is far below line 4
    [report] = ingest(workspace, [path], mappings=[ISTV_MAPPING])
    assert (report.rows_accepted, report.rows_rejected) == (4, 2)
    rejects = workspace.con.execute(
        "SELECT line, field, value, file_name FROM rejects ORDER BY line"
    ).fetchall()
    assert rejects == [
        (starts[2], "Age", "about thirty", str(path)),
        (starts[4], "ArrivalDateTime", "yesterday", str(path)),
    ]
    stored = workspace.con.execute(
        "SELECT attendance_ref, source_line FROM ae_attendances ORDER BY source_line"
    ).fetchall()
    assert stored == [(rows[i]["AttendanceID"], starts[i]) for i in (0, 1, 3, 5)]


# --- YAML -----------------------------------------------------------------------------------


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """`levels` lists, each holding `width` aliases of the one before: width^levels values."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("kind", ["definition", "mapping", "profile"])
def test_a_yaml_alias_bomb_is_refused_at_its_line(tmp_path, kind):
    heads = {
        "definition": "id: mine\nname: Mine\nversion: '1'\nsource: me\n",
        "mapping": "id: mine\n",
        "profile": "id: mine\nforce: West Mercia\n",
    }
    path = tmp_path / f"{kind}.yaml"
    path.write_text(heads[kind] + alias_bomb())
    loaders = {"definition": load_definition, "mapping": load_mapping, "profile": load_profile}
    started = time.perf_counter()
    with pytest.raises(InputError) as caught:
        loaders[kind](path)
    assert time.perf_counter() - started < 1
    line = heads[kind].count("\n") + 1
    assert f"{path}:{line}: refused: anchors and aliases (& and *) are not accepted" in str(
        caught.value
    )


def test_yaml_merge_keys_are_refused_too(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text(
        "id: mine\nbase: &base {column: Age}\nistv:\n  columns:\n    age:\n      <<: *base\n"
    )
    with pytest.raises(InputError, match=rf"{re.escape(str(path))}:2: refused: anchors"):
        load_mapping(path)


def test_every_yaml_load_in_svduty_goes_through_the_guarded_loader():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "src" / "svduty").rglob("*.py")
        if path.name != "yamlfile.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"yaml\.(safe_load|load|full_load|unsafe_load|compose|parse)\b", line)
    ]
    assert offenders == []


# --- mappings -------------------------------------------------------------------------------


def test_a_mapping_that_does_not_fit_names_the_missing_columns(workspace, tmp_path):
    crimes, _ = random_extract(seed=2, n=5)
    header = [
        {"HO Class": "HO_Class", "Recorded Date": "RecordedDate"}.get(c, c)
        for c in CRIME_HEADER
        if c != "Outcome"
    ]
    rows = [[v for c, v in zip(CRIME_HEADER, crime_row(c), strict=True) if c != "Outcome"]
            for c in crimes]  # fmt: skip
    path = write_csv(tmp_path / "crimes.csv", header, rows)
    with pytest.raises(InputError) as caught:
        ingest(workspace, [path], mappings=[FORCE_MAPPING])
    message = str(caught.value)
    assert "part crimes: 3 column(s) missing" in message
    assert "'HO Class' (closest in the file: 'HO_Class')" in message
    assert "'Recorded Date' (closest in the file: 'RecordedDate')" in message
    assert "'Outcome'" in message
    assert "give the column mapping of a partner export" not in message
    assert nothing_stored(workspace)


def test_extra_columns_with_empty_or_clashing_names_are_read_around(workspace, tmp_path):
    """DuckDB's column names ignore case and cannot be empty; a partner export can have both."""
    crimes, _ = random_extract(seed=6, n=4)
    header = [*CRIME_HEADER, "", "outcome", "OUTCOME", ""]
    rows = [[*crime_row(c), "a", "b", "c", "d"] for c in crimes]
    [report] = ingest(workspace, [write_csv(tmp_path / "crimes.csv", header, rows)],
                      mappings=[FORCE_MAPPING])  # fmt: skip
    assert (report.rows_accepted, report.rows_rejected) == (4, 0)
    outcomes = workspace.con.execute("SELECT DISTINCT outcome FROM incidents").fetchall()
    assert outcomes == [("Under investigation",)]  # from 'Outcome', the mapped column


def test_a_mapped_column_named_twice_is_refused_before_anything_is_stored(workspace, tmp_path):
    crimes, _ = random_extract(seed=6, n=4)
    header = [*CRIME_HEADER, "Outcome"]
    rows = [[*crime_row(c), "Charged"] for c in crimes]
    with pytest.raises(InputError, match="names the mapped column 'Outcome' twice"):
        ingest(workspace, [write_csv(tmp_path / "crimes.csv", header, rows)],
               mappings=[FORCE_MAPPING])  # fmt: skip
    assert nothing_stored(workspace)


def test_several_mappings_each_file_finds_its_own(tmp_path):
    crimes, people = random_extract(seed=4, n=40)
    files = write_force_extract(tmp_path / "extract", crimes, people)
    files.append(write_istv_csv(tmp_path / "extract" / "istv.csv", random_attendances(4, 30)))
    files.append(
        write_csv(
            tmp_path / "extract" / "admissions.csv",
            ["Month", "Area Code", "Age Band", "Sex", "ICD10 Cause", "Admissions"],
            [["2025-01", "E06000019", "18-24", "M", "X99", "7"]],
        )
    )
    expected = [
        ("police_extract_crimes", 40), ("police_extract_people", len(people)),
        ("istv", 30), ("admissions", 1),
    ]  # fmt: skip
    as_folder = make_workspace(tmp_path / "a")
    got = ingest(as_folder, files, mappings=[MAPPINGS])
    assert [(r.source_kind, r.rows_accepted) for r in got] == expected
    as_folder.close()
    repeated = make_workspace(tmp_path / "b")
    got = ingest(repeated, files, mappings=[ADMISSIONS_MAPPING, ISTV_MAPPING, FORCE_MAPPING])
    assert [(r.source_kind, r.rows_accepted) for r in got] == expected
    repeated.close()


def test_a_yaml_file_among_the_inputs_points_to_the_folder_form(workspace, tmp_path):
    crimes, people = random_extract(seed=4, n=3)
    files = write_force_extract(tmp_path, crimes, people)
    with pytest.raises(InputError, match=r"is a column mapping, not data; give it as a mapping"):
        ingest(workspace, [*files, ISTV_MAPPING], mappings=[FORCE_MAPPING])
    assert nothing_stored(workspace)


def test_the_readme_ingest_of_synthetic_data_works_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text()
    [line] = [ln for ln in readme.splitlines() if ln.startswith("svduty ingest syn/")]
    command = line.split("#")[0].strip()
    assert command == ingest_advice(Path("syn"))  # what `svduty synth` tells the user to run
    done = svduty("synth", "--out", "syn", "--years", "1", "--scale", "0.02", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"Ingest with: {command}" in " ".join(done.stderr.split())
    make_workspace(tmp_path / "ws").close()  # the command line's init is tested on its own
    script = f'svduty() {{ "{sys.executable}" -m svduty.cli "$@"; }}\n{command}\n'
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=False, cwd=tmp_path,
        env={**os.environ, "SVDUTY_WORKSPACE": "ws"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Workspace.open(tmp_path / "ws", read_only=True) as ws:
        batches = ws.con.execute("SELECT file_name, source_kind FROM batches").fetchall()
    written = sorted(str(p) for p in (tmp_path / "syn").glob("*.csv"))
    assert sorted(name for name, _ in batches) == written
    assert {kind for _, kind in batches} == {
        "police_extract_crimes", "police_extract_people", "istv", "admissions",
    }  # fmt: skip


# --- outputs safe to open -------------------------------------------------------------------

PAYLOADS = ["=HYPERLINK(\"http://x.example\",\"open\")", "+1+cmd|' /C calc'!A0", "-2+3",
            "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]  # fmt: skip


def test_csv_cells_that_would_run_as_formulas_are_neutralised():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "text": [*PAYLOADS, "-3", "plain"],
            "count": [-4, 5, -1, 0, 2, 3, -7, 1],
            "rate": [-0.5, 1.5, 0.0, 2.0, -1.25, 3.0, 1.0, 0.5],
        }
    )
    rows = list(csv.reader(io.StringIO(render(frame, Format.csv))))
    assert rows[0] == ["text", "count", "rate"]
    assert [r[0] for r in rows[1:]] == ["'" + p for p in PAYLOADS] + ["-3", "plain"]
    assert [int(r[1]) for r in rows[1:]] == frame["count"].tolist()  # numbers stay numbers
    assert [float(r[2]) for r in rows[1:]] == frame["rate"].tolist()


MARKUP = ["[/x]", "[bold]x", ":fire:", "[link=http://127.0.0.1:9]y[/link]", "[", "a]b"]
"""Text that Rich would read as markup or emoji codes if printed as a plain string."""


def test_table_cells_that_look_like_markup_print_as_they_are():
    import pandas as pd

    frame = pd.DataFrame({"[b]text": MARKUP, "count": range(len(MARKUP))})
    lines = render(frame, Format.table, title="[/title]").splitlines()
    assert lines[0].strip() == "[/title]"
    [heading] = [[c.strip() for c in line.split("┃")[1:-1]] for line in lines if "┃" in line]
    assert heading == ["[b]text", "count"]
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if "│" in line]
    assert cells == [[value, str(i)] for i, value in enumerate(MARKUP)]


def test_markup_in_partner_data_reaches_the_terminal_as_written(tmp_path):
    crimes, people = random_extract(seed=8, n=len(MARKUP))
    for crime, payload in zip(crimes, MARKUP, strict=True):
        crime["outcome"] = payload
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, write_force_extract(tmp_path / "extract", crimes, people), mappings=[MAPPINGS])
    ws.close()
    done = svduty("counts", "-w", str(tmp_path / "ws"), "--by", "outcome")
    assert done.returncode == 0, done.stderr
    cells = [line.split("│")[1].strip() for line in done.stdout.splitlines() if "│" in line]
    assert sorted(cells) == sorted(MARKUP)


def test_names_that_look_like_markup_are_printed_as_they_are(tmp_path):
    """Messages name folders and files, which may hold brackets: printed as markup, "[/q]"
    stopped `svduty init` after it had made the workspace, and "[bold]" vanished."""
    root = tmp_path / "ws[/q] [bold]x :fire:"
    made = svduty("init", str(root))
    assert made.returncode == 0, made.stderr
    assert f"Created workspace {root} (engine duckdb)." in made.stdout
    missing = tmp_path / "d[" / "x] [red]y.csv"
    refused = svduty("ingest", "-w", str(root), str(missing))
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"error: {missing}")
    assert "Traceback" not in refused.stderr


def test_formula_payloads_in_partner_data_reach_csv_outputs_neutralised(tmp_path):
    crimes, people = random_extract(seed=9, n=len(PAYLOADS) + 2)
    for crime, payload in zip(crimes, PAYLOADS, strict=False):
        crime["outcome"] = payload
    crimes[-1]["offence_code"] = "=1+2"  # rejected: reaches `rejects` as the value
    ws = make_workspace(tmp_path / "ws")
    ingest(ws, write_force_extract(tmp_path / "extract", crimes, people), mappings=[MAPPINGS])
    ws.close()
    counted = {
        r["outcome"]: r["count"]
        for r in svduty_csv("counts", "-w", str(tmp_path / "ws"), "--by", "outcome")
    }
    for payload in PAYLOADS:
        assert counted["'" + payload] == "1"
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in counted)
    [reject] = svduty_csv("rejects", "-w", str(tmp_path / "ws"))
    assert (reject["field"], reject["value"]) == ("HO Class", "'=1+2")


# --- lineage and the command line -----------------------------------------------------------


def test_a_batch_records_when_it_really_finished(workspace, west_mercia):
    ingest(workspace, [west_mercia / "2025-03"])
    started, finished, seconds = workspace.con.execute(
        "SELECT started_at, finished_at, seconds FROM batches"
    ).fetchone()
    assert isinstance(finished, datetime)
    elapsed = (finished - started).total_seconds()
    assert seconds > 0.01  # a month of police.uk data takes measurable time ...
    assert seconds - 0.001 <= elapsed < seconds + 0.5  # ... and the finish is after all of it


def test_batches_keep_absolute_names_and_show_them_whole_with_wide(tmp_path, west_mercia, street):
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "2025-01-west-mercia-street.csv").write_bytes(street)
    make_workspace(tmp_path / "ws").close()
    done = svduty(
        "ingest", "-w", str(tmp_path / "ws"), "2025-01-west-mercia-street.csv", cwd=folder
    )
    assert done.returncode == 0, done.stderr
    [batch] = list(csv.DictReader(io.StringIO(
        svduty("batches", "-w", str(tmp_path / "ws"), "--format", "csv").stdout
    )))  # fmt: skip
    absolute = str(folder / "2025-01-west-mercia-street.csv")
    assert batch["file_name"] == absolute
    assert re.fullmatch(r"\d+(\.\d{1,3})?", batch["seconds"])
    table = svduty("batches", "-w", str(tmp_path / "ws"))
    assert batch["sha256"] not in table.stdout and batch["sha256"][:12] + "…" in table.stdout
    assert absolute not in table.stdout and "2025-01-west-mercia-street.csv" in table.stdout
    assert "--wide shows them whole" in table.stderr
    wide = svduty("batches", "-w", str(tmp_path / "ws"), "--wide")
    assert batch["sha256"] in wide.stdout and absolute in wide.stdout


def test_definitions_diff_shows_which_rules_changed(tmp_path):
    first = load_definition("west-mercia-2022")
    revised = first.to_yaml()
    revised["id"] = "west-mercia-revised"
    clause = next(c for c in revised["clauses"] if "offence_codes" in c)
    old_codes = list(clause["offence_codes"])
    clause["offence_codes"] = [*old_codes[1:], "5E"]
    clause["victim_age"] = {"min": 0, "max": 24}
    path = tmp_path / "revised.yaml"
    import yaml

    path.write_text(yaml.safe_dump(revised, sort_keys=False))
    changes = rule_changes(next(c for c in first.clauses if c.id == clause["id"]).to_yaml(), clause)
    assert changes == [
        f"offence_codes: +5E, -{old_codes[0]}",
        "added victim_age: {min: 0, max: 24}",
    ]
    with make_workspace(tmp_path / "ws") as workspace:
        result = diff(workspace.store, first, load_definition(path))
    rules = dict(zip(result.clauses["clause"], result.clauses["rules"], strict=True))
    assert rules[clause["id"]] == "; ".join(changes)
    assert all(rules[c.id] == "" for c in first.clauses if c.id != clause["id"])
    done = svduty(
        "definitions", "diff", "west-mercia-2022", str(path), "-w", str(tmp_path / "ws"),
        "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = {r["clause"]: r for r in json.loads(done.stdout)}
    assert shown[clause["id"]]["change"] == "changed"
    assert shown[clause["id"]]["rules"] == "; ".join(changes)


def test_version_as_an_option_and_as_a_command():
    assert svduty("--version").stdout.strip() == __version__
    assert svduty("version").stdout.strip() == __version__


def test_init_names_police_forces_with_police_force(tmp_path):
    done = svduty("init", str(tmp_path / "a"), "--police-force", "West Mercia")
    assert done.returncode == 0, done.stderr
    assert 'forces = ["West Mercia"]' in (tmp_path / "a" / "svduty.toml").read_text()
    done = svduty("init", str(tmp_path / "b"), "--force", "West Mercia")
    assert done.returncode == 0, done.stderr
    assert "--force names a police force here and never overwrites" in done.stderr
    assert 'forces = ["West Mercia"]' in (tmp_path / "b" / "svduty.toml").read_text()
    helped = svduty("init", "--help")
    assert "--police-force" in helped.stdout and "--force " not in helped.stdout
    assert '--police-force "West Mercia"' in (ROOT / "README.md").read_text()


def test_settings_files_without_the_archive_limits_still_open(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    ws.close()
    path = tmp_path / "ws" / "svduty.toml"
    kept = [ln for ln in path.read_text().splitlines() if "archive" not in ln]
    path.write_text("\n".join(kept) + "\n")  # a workspace made before the limits existed
    ws = Workspace.open(tmp_path / "ws")
    assert ws.settings.archive_member_max_bytes == 2 << 30
    assert ws.settings.archive_max_bytes == 20 << 30
    ws.close()
