"""The workspace's DuckDB memory limit and threads: set in svduty.toml, applied to the writer's
and the readers' connections, and a bad value refused naming the setting."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from conftest import svduty

from svduty.errors import WorkspaceError
from svduty.example import WEST_MERCIA
from svduty.settings import MEMORY_CAP, MEMORY_FLOOR, Settings, default_memory, machine_memory
from svduty.workspace import SPILL_DIR, Workspace

SHOWN = "SELECT current_setting('memory_limit'), current_setting('threads')"


def _shown(con: duckdb.DuckDBPyConnection) -> tuple[str, int]:
    row = con.execute(SHOWN).fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


def _bare(memory_limit: str, threads: int) -> tuple[str, int]:
    """How DuckDB itself shows a limit given directly to a connection of its own."""
    con = duckdb.connect(config={"memory_limit": memory_limit, "threads": threads})
    try:
        return _shown(con)
    finally:
        con.close()


def test_the_settings_apply_to_the_writer_and_to_readers(tmp_path: Path):
    root = tmp_path / "ws"
    Workspace.init(root, replace(WEST_MERCIA, memory_limit="3GB", threads=1)).close()
    expected = _bare("3GB", 1)
    assert expected != _bare("4GB", 2)  # the comparison can tell settings apart
    with Workspace.open(root) as writer:
        assert _shown(writer.con) == expected
        assert _shown(writer.store.catalogue) == expected
        spill = writer.con.execute("SELECT current_setting('temp_directory')").fetchone()
        assert spill is not None and Path(spill[0]) == root / SPILL_DIR
    with Workspace.open(root, read_only=True) as reader:
        assert _shown(reader.con) == expected
    assert 'memory_limit = "3GB"' in (root / "svduty.toml").read_text()


def test_the_settings_apply_to_the_linkage_file(tmp_path: Path):
    """Linkage keeps its runs in a DuckDB file of its own, opened with the same limits."""
    from svduty.linkage.store import _connect, _open_for_reading

    root = tmp_path / "ws"
    Workspace.init(root, replace(WEST_MERCIA, memory_limit="3GB", threads=1)).close()
    expected = _bare("3GB", 1)
    with Workspace.open(root) as ws:
        writer = _connect(ws)
        try:
            assert _shown(writer) == expected
        finally:
            writer.close()
    with Workspace.open(root, read_only=True) as ws:
        reader = _open_for_reading(ws)
        assert reader is not None
        try:
            assert _shown(reader) == expected
        finally:
            reader.close()


def test_the_default_is_a_capped_share_of_the_machine(tmp_path: Path):
    share = min(max(machine_memory() // 4, MEMORY_FLOOR), MEMORY_CAP)
    assert default_memory() == f"{share >> 20}MiB"
    root = tmp_path / "ws"
    Workspace.init(root, WEST_MERCIA).close()
    with Workspace.open(root, read_only=True) as reader:
        limit, threads = _shown(reader.con)
    bare = duckdb.connect()
    try:
        duckdb_default = _shown(bare)
    finally:
        bare.close()
    assert (limit, threads) == _bare(default_memory(), duckdb_default[1])
    assert limit != duckdb_default[0]  # not DuckDB's own 80%


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"memory_limit": "lots"}, "memory_limit must be an amount such as '4GB'"),
        ({"memory_limit": "4"}, "memory_limit must be an amount"),
        ({"memory_limit": "0%"}, "memory_limit as a share must be above 0%"),
        ({"memory_limit": "1MB"}, "memory_limit must be at least 128MB"),
        ({"threads": -1}, "threads must be a whole number >= 0"),
        ({"threads": "4"}, "threads must be a whole number >= 0"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting(given: dict[str, object], named: str):
    with pytest.raises(WorkspaceError, match=named):
        Settings(**given)  # type: ignore[arg-type]


def test_a_bad_value_in_the_file_is_one_line_naming_file_and_setting(tmp_path: Path):
    root = tmp_path / "ws"
    Workspace.init(root, WEST_MERCIA).close()
    path = root / "svduty.toml"
    text = path.read_text()
    assert 'memory_limit = ""' in text
    path.write_text(text.replace('memory_limit = ""', 'memory_limit = "half"'))
    done = svduty("counts", "-w", str(root))
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"error: {path}: memory_limit must be an amount such as '4GB' or '512MB', a share such "
        "as '30%', or empty for the default; 'half' was given"
    ]
