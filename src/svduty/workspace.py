"""A workspace: the folder a partnership owns, holding its settings, its DuckDB file and outputs."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from svduty.engine import Store, make_store
from svduty.errors import InputError, WorkspaceError
from svduty.reference import data_path
from svduty.schema import CATALOGUE_DDL, SCHEMA_VERSION
from svduty.settings import SETTINGS_FILE, Settings, load_settings, save_settings

if TYPE_CHECKING:
    from svduty.analysis.severity import Weights

DATABASE_FILE = "svduty.duckdb"
WORKSPACE_ENV = "SVDUTY_WORKSPACE"


def default_workspace() -> Path:
    return Path(os.environ.get(WORKSPACE_ENV) or Path.cwd())


@dataclass
class Workspace:
    root: Path
    settings: Settings
    con: duckdb.DuckDBPyConnection
    store: Store

    @classmethod
    def init(cls, root: Path, settings: Settings) -> Workspace:
        root.mkdir(parents=True, exist_ok=True)
        if (root / SETTINGS_FILE).exists():
            raise WorkspaceError(f"{root} is already a workspace ({SETTINGS_FILE} exists)")
        save_settings(root, settings)
        try:
            return cls.open(root)
        except BaseException:
            for name in (SETTINGS_FILE, DATABASE_FILE, DATABASE_FILE + ".wal"):
                (root / name).unlink(missing_ok=True)
            raise

    @classmethod
    def open(cls, root: Path) -> Workspace:
        settings = load_settings(root)
        con = duckdb.connect(str(root / DATABASE_FILE))
        con.execute(CATALOGUE_DDL)
        version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        if not version:
            con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        elif int(version[0][0]) != SCHEMA_VERSION:
            raise WorkspaceError(
                f"{root}: workspace schema version {version[0][0]}, this svduty reads "
                f"{SCHEMA_VERSION}; upgrade svduty or rebuild the workspace"
            )
        store = make_store(settings.engine, con, root)
        store.create()
        store.recover()
        workspace = cls(root, settings, con, store)
        workspace._refresh_reference()
        return workspace

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

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

    @property
    def salt(self) -> str:
        """The workspace's secret for pseudonymising person keys; made once, never exported."""
        path = self.root / ".salt"
        if not path.exists():
            path.write_text(secrets.token_hex(32), encoding="utf-8")
            path.chmod(0o600)
        return path.read_text(encoding="utf-8").strip()

    def _refresh_reference(self) -> None:
        """(Re)load areas and offences when first opened or when the CSP settings change."""
        fingerprint = hashlib.sha256(
            json.dumps(sorted(self.settings.csps.items())).encode()
        ).hexdigest()
        stored = self.con.execute("SELECT value FROM meta WHERE key = 'reference'").fetchall()
        if stored and stored[0][0] == fingerprint:
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
            self.con.execute("ROLLBACK")
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

    def audit(self, action: str, detail: str = "") -> None:
        self.con.execute("INSERT INTO audit VALUES (now(), ?, ?)", [action, detail])
