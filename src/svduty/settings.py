"""Workspace settings (svduty.toml): one list of settings drives the file, the CLI and the docs."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from svduty.errors import WorkspaceError

SETTINGS_FILE = "svduty.toml"
ENGINES = ("duckdb", "spark")
GIB = 1 << 30
MEMORY_SHARE = 0.25
"""The default DuckDB memory limit as a share of the machine's memory (DuckDB's own is 80%,
too much when readers, the dashboard and a writer each open the workspace at once)."""
MEMORY_CAP = 16 * GIB
MEMORY_FLOOR = GIB
_MEMORY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(%|[KMGT]i?B)\s*", re.IGNORECASE)
DuckDBConfig = dict[str, str | bool | int | float | list[str]]
"""Options of `duckdb.connect(config=...)`."""
_UNITS = {
    "k": 1e3,
    "m": 1e6,
    "g": 1e9,
    "t": 1e12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("area", "", "Name of the partnership's area, shown on every output."),
    Setting("engine", "duckdb", "Analysis engine: 'duckdb' (embedded file) or 'spark'."),
    Setting("disclosure_threshold", 5, "Published counts below this are suppressed."),
    Setting("definition", "west-mercia-2022", "Default serious-violence definition id."),
    Setting(
        "severity_weights",
        "",
        "CSV of offence weights (offence_code, weight, and a '# source:' line naming the table "
        "and its vintage), relative to the workspace; empty: no severity weighting.",
    ),
    Setting(
        "boundaries",
        "",
        "GeoJSON of the area's LSOAs (2021, for LSOA hotspots in the report) or districts, WGS84 "
        "or British National Grid, relative to the workspace; `svduty fetch boundaries` writes "
        "one. Empty: the bundled boundaries where they cover the area (West Mercia), else maps "
        "draw cells only.",
    ),
    Setting(
        "recommendations",
        "recommendations.md",
        "The partnership's recommendations, a Markdown file relative to the workspace: the SNA "
        "includes it as written (HTML in it is shown as text), dated by its last change.",
    ),
    Setting(
        "most_similar_groups",
        "",
        "CSV naming each area's most similar group for the benchmarks ('# source:' line, then "
        "columns area,similar, one row per member), relative to the workspace; empty: no group.",
    ),
    Setting(
        "population_by_age",
        "",
        "CSV of residents by age per district ('# source:' line, then columns area_code, age, "
        "population; age a year (17), a band (10-17) or open (90+)), relative to the workspace: "
        "rates of measures about an age range are per resident of those ages. Empty: such "
        "measures are given as counts.",
    ),
    Setting(
        "forces",
        [],
        "Police forces whose area is the partnership's (canonical names, e.g. 'West Mercia').",
    ),
    Setting(
        "archive_member_max_bytes",
        2 * GIB,
        "Largest file a zip archive may expand to, in bytes (a larger member is refused).",
    ),
    Setting(
        "archive_max_bytes",
        20 * GIB,
        "Most bytes one zip archive may expand to in all (a larger archive is refused).",
    ),
    Setting(
        "partnership_key",
        "",
        "The partnership key person keys are made with, held outside the workspace: "
        "'env:NAME' (an environment variable holding it) or 'file:/path/to/key' (a file "
        "`svduty keys create` wrote). Every agency and workspace using the same key gives a "
        "person the same key. Empty: this workspace's own salt, so keys do not meet across "
        "workspaces.",
    ),
    Setting(
        "writer_wait",
        60,
        "Seconds a command that changes the workspace (ingest, classify) waits for another "
        "one to finish before giving up.",
    ),
    Setting(
        "memory_limit",
        "",
        "Most memory each DuckDB connection to the workspace may use before spilling to disk: "
        "an amount ('4GB', '512MB', '8GiB') or a share of the machine's memory ('30%'). Empty: "
        "25% of the machine's memory, at least 1 GiB and at most 16 GiB.",
    ),
    Setting(
        "threads",
        0,
        "Threads each DuckDB connection to the workspace may use; 0: one per core.",
    ),
    Setting(
        "spark_master",
        "local[*]",
        "With engine = 'spark': the Spark master to connect to ('local[*]', 'local[4]', "
        "'spark://host:7077', 'yarn', 'local-cluster[2,1,1024]').",
    ),
    Setting(
        "spark_warehouse",
        "",
        "With engine = 'spark': where the Delta Lake tables live, a path or a URI "
        "('/data/svduty', 's3://bucket/svduty', 'hdfs://namenode/svduty'; object-store "
        "credentials from the usual environment variables). Empty: the workspace's "
        "warehouse/ folder.",
    ),
)


@dataclass(frozen=True)
class Settings:
    """The partnership's choices. `csps` maps a CSP name to the districts (codes or names) in it."""

    area: str = ""
    engine: str = "duckdb"
    disclosure_threshold: int = 5
    definition: str = "west-mercia-2022"
    severity_weights: str = ""
    boundaries: str = ""
    recommendations: str = "recommendations.md"
    most_similar_groups: str = ""
    population_by_age: str = ""
    forces: tuple[str, ...] = ()
    archive_member_max_bytes: int = 2 * GIB
    archive_max_bytes: int = 20 * GIB
    writer_wait: float = 60
    partnership_key: str = ""
    memory_limit: str = ""
    threads: int = 0
    spark_master: str = "local[*]"
    spark_warehouse: str = ""
    csps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    need: dict[str, Any] = field(default_factory=dict)  # how need is scored: [need]
    cohort: dict[str, Any] = field(default_factory=dict)  # the most-at-risk cohort: [cohort]

    def __post_init__(self) -> None:
        problems = []
        if self.engine not in ENGINES:
            problems.append(f"engine must be one of {ENGINES}; {self.engine!r} was given")
        if not isinstance(self.disclosure_threshold, int) or self.disclosure_threshold < 0:
            problems.append("disclosure_threshold must be a whole number >= 0")
        for name in ("archive_member_max_bytes", "archive_max_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                problems.append(f"{name} must be a whole number of bytes > 0")
        if (
            not isinstance(self.writer_wait, int | float)
            or isinstance(self.writer_wait, bool)
            or self.writer_wait < 0
        ):
            problems.append("writer_wait must be a number of seconds >= 0")
        for name in ("recommendations", "most_similar_groups", "population_by_age"):
            if not isinstance(getattr(self, name), str):
                problems.append(f"{name} must be a file name (text)")
        if not isinstance(self.partnership_key, str):
            problems.append("partnership_key must be text: 'env:NAME' or 'file:/path/to/key'")
        else:
            from svduty.identity.keys import check_spec

            malformed = check_spec(self.partnership_key)
            if malformed:
                problems.append(malformed)
        problems += _engine_problems(self.memory_limit, self.threads)
        for name in ("spark_master", "spark_warehouse"):
            if not isinstance(getattr(self, name), str):
                problems.append(f"{name} must be text; {getattr(self, name)!r} was given")
        if isinstance(self.spark_master, str) and not self.spark_master.strip():
            problems.append("spark_master must name a master, e.g. 'local[*]'")
        if problems:
            raise WorkspaceError("; ".join(problems))

    def duckdb_config(self) -> DuckDBConfig:
        """The memory limit and threads every DuckDB connection to the workspace opens with."""
        config: DuckDBConfig = {"memory_limit": self.memory_limit or default_memory()}
        if self.threads:
            config["threads"] = self.threads
        return config


def _engine_problems(memory_limit: Any, threads: Any) -> list[str]:
    problems = []
    accepted = "an amount such as '4GB' or '512MB', a share such as '30%', or empty for the default"
    found = _MEMORY.fullmatch(memory_limit) if isinstance(memory_limit, str) else None
    if memory_limit != "" and found is None:
        problems.append(f"memory_limit must be {accepted}; {memory_limit!r} was given")
    elif found is not None:
        number, unit = float(found[1]), found[2]
        if unit == "%" and not 0 < number <= 100:
            problems.append(
                "memory_limit as a share must be above 0% and at most 100%; "
                f"{memory_limit!r} was given"
            )
        elif unit != "%" and number * _UNITS[unit[:-1].lower()] < 2**27:
            problems.append(f"memory_limit must be at least 128MB; {memory_limit!r} was given")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        problems.append(
            f"threads must be a whole number >= 0 (0: one per core); {threads!r} was given"
        )
    return problems


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its container's if less."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def default_memory() -> str:
    """MEMORY_SHARE of the machine's memory, between MEMORY_FLOOR and MEMORY_CAP, in MiB."""
    share = int(machine_memory() * MEMORY_SHARE)
    return f"{min(max(share, MEMORY_FLOOR), MEMORY_CAP) >> 20}MiB"


def load_settings(workspace: Path) -> Settings:
    path = workspace / SETTINGS_FILE
    if not path.exists():
        raise WorkspaceError(
            f"{workspace} is not an svduty workspace (no {SETTINGS_FILE}); "
            f"run 'svduty init {workspace}' first"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise WorkspaceError(f"{path}: {error}") from error
    section = dict(raw.get("workspace", {}))
    known = {s.name for s in SETTINGS}
    unknown = sorted(set(section) - known)
    if unknown:
        raise WorkspaceError(
            f"{path}: unknown setting(s) {unknown}; known settings are {sorted(known)}"
        )
    section["forces"] = tuple(section.get("forces", ()))
    csps = {name: tuple(districts) for name, districts in raw.get("csps", {}).items()}
    need = dict(raw.get("need", {}))
    _check_need(path, need)
    cohort = dict(raw.get("cohort", {}))
    _check_cohort(path, cohort)
    try:
        return Settings(**section, csps=csps, need=need, cohort=cohort)
    except WorkspaceError as error:
        raise WorkspaceError(f"{path}: {error}") from error


def _check_need(path: Path, need: dict[str, Any]) -> None:
    """The [need] table is read by the gap analysis; a mistake in it is named on loading."""
    from svduty.errors import InputError
    from svduty.interventions.need import NeedMethod

    try:
        NeedMethod.of(need)
    except InputError as error:
        raise WorkspaceError(f"{path}: {error}") from error


def _check_cohort(path: Path, cohort: dict[str, Any]) -> None:
    """The [cohort] table is read by `svduty cohort`; a mistake in it is named on loading."""
    from svduty.errors import InputError
    from svduty.linkage.cohort_rules import CohortRules

    try:
        CohortRules.of(cohort)
    except InputError as error:
        raise WorkspaceError(f"{path}: {error}") from error


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


def render_settings(settings: Settings) -> str:
    """The settings file, each setting preceded by its help so the file documents itself."""
    lines = ["# svduty workspace settings", "[workspace]"]
    for setting in SETTINGS:
        lines.append(f"# {setting.help}")
        lines.append(f"{setting.name} = {_toml_value(getattr(settings, setting.name))}")
    lines.append("")
    lines.append("# Community Safety Partnerships as groups of districts (codes or names).")
    lines.append("# Leave empty to use the ONS district -> CSP lookup.")
    lines.append("[csps]")
    for name, districts in settings.csps.items():
        lines.append(f"{_toml_value(name)} = {_toml_value(list(districts))}")
    lines.append("")
    lines += _need_lines(settings.need)
    lines.append("")
    lines += _cohort_lines(settings.cohort)
    return "\n".join(lines) + "\n"


def _need_lines(chosen: dict[str, Any]) -> list[str]:
    """The [need] table: the scoring of need for gaps, each default shown commented out."""
    from dataclasses import asdict

    from svduty.interventions.need import NeedMethod

    lines = [
        "# How need is scored for the gap analysis (`svduty gaps`); a line left commented",
        "# keeps its default. The methods annex of the SNA writes the rules out.",
        "[need]",
    ]
    for name, default in asdict(NeedMethod()).items():
        if name in chosen:
            lines.append(f"{name} = {_toml_value(chosen[name])}")
        else:
            lines.append(f"# {name} = {_toml_value(default)}")
    return lines


def _cohort_lines(chosen: dict[str, Any]) -> list[str]:
    """The [cohort] table: the rules of `svduty cohort`, each default shown commented out;
    purpose and lawful_basis have no default and must be written before a cohort is built."""
    from dataclasses import asdict

    from svduty.linkage.cohort_rules import EXAMPLES, CohortRules

    lines = [
        "# The most-at-risk cohort (`svduty cohort`, analysts only): each factor's threshold",
        "# over the lookback months (0 turns a factor off) and the factors needed to enter it.",
        "# purpose and lawful_basis are required: the cohort is not built without them.",
        "[cohort]",
    ]
    for name, default in asdict(CohortRules()).items():
        if name in chosen:
            lines.append(f"{name} = {_toml_value(chosen[name])}")
        else:
            lines.append(f"# {name} = {_toml_value(EXAMPLES.get(name, default))}")
    return lines


def save_settings(workspace: Path, settings: Settings) -> None:
    (workspace / SETTINGS_FILE).write_text(render_settings(settings), encoding="utf-8")


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings)]
