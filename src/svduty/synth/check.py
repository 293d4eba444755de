"""Check a generated data set against its profile: every calibrated figure, measured on the data
after it has passed through svduty's own ingest and classification.

A figure passes when it is within the profile's tolerance or within three standard errors of the
target (binomial for shares, Poisson for yearly counts), whichever is wider: a small synthetic
area cannot match a share more closely than chance allows."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from svduty.definitions import load_definition
from svduty.definitions.classify import classify
from svduty.errors import InputError
from svduty.ingest import ingest
from svduty.synth import cohort
from svduty.synth.profile import Profile, load_profile, quarter_of
from svduty.workspace import Workspace

PUBLIC = "('public_place', 'licensed_premises', 'retail', 'transport')"


@dataclass(frozen=True)
class CheckResult:
    table: pd.DataFrame
    rejected: int
    manifest: dict[str, Any]

    @property
    def passed(self) -> bool:
        return bool(self.table["within"].all()) and self.rejected == 0


def synthetic_files(folder: Path) -> tuple[list[Path], list[Path]]:
    files = [folder / n for n in ("crimes.csv", "people.csv", "istv.csv", "admissions.csv")]
    files += [p for n in cohort.FILES if (p := folder / n).exists()]
    mappings = sorted((folder / "mappings").glob("*.yaml"))
    missing = [str(f) for f in files if not f.exists()]
    if missing or not mappings:
        raise InputError(
            f"{folder}: not a svduty synth output (missing {', '.join(missing) or 'mappings/'})"
        )
    return files, mappings


def check(folder: Path, profile: Profile | None = None) -> CheckResult:
    manifest = json.loads((folder / "synth.json").read_text())
    profile = profile or load_profile(manifest["profile_path"])
    scratch = Path(tempfile.mkdtemp(prefix="svduty-check-"))
    try:
        workspace = Workspace.init(scratch / "ws", profile.settings())
        files, mappings = synthetic_files(folder)
        reports = ingest(workspace, files, mappings=mappings)
        rejected = sum(r.rows_rejected for r in reports)
        for name in ("west-mercia-2022", "home-office-knife-sharp", "home-office-firearm"):
            classify(workspace.store, load_definition(name))
        measured = _measure(workspace, manifest["years"])
        derived = _derived(workspace, profile, manifest["scale"], manifest["years"])
        workspace.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows = []
    scale = manifest["scale"]
    for name, target in profile.data["targets"].items():
        value, n = measured[name]
        want = target.get("value", target.get("range"))
        if name in ("knife_per_year", "firearm_per_year"):
            want = want * scale
        shown = "" if "range" in target else _show(want)
        if "range" in target:
            low, high = target["range"]
            within = low <= value <= high
            allowed = shown = f"{low:g}-{high:g}"
        elif isinstance(want, dict):
            tolerance = max(target["tolerance"], _three_se(max(want.values()), n))
            within = all(abs(value.get(k, 0) - v) <= tolerance for k, v in want.items())
            allowed = f"±{tolerance:.3f} each"
        elif isinstance(want, list):
            within = value == want
            allowed = "the same two hours"
        elif name.endswith("_per_year"):
            # a yearly count: the stated tolerance, or 3 Poisson standard deviations
            years = manifest["years"]
            tolerance = max(target["tolerance"] * want, 3 * math.sqrt(want * years) / years)
            within = abs(value - want) <= tolerance
            allowed = f"±{tolerance:,.0f}"
        else:
            tolerance = max(target["tolerance"], _three_se(want, n))
            within = abs(value - want) <= tolerance
            allowed = f"±{tolerance:.3f}"
        rows.append(
            {
                "figure": name,
                "target": shown,
                "allowed": allowed,
                "generated": _show(value),
                "within": within,
                "source": target.get("source", ""),
            }
        )
    return CheckResult(pd.DataFrame([*derived, *rows]), rejected, manifest)


def _derived(
    workspace: Workspace, profile: Profile, scale: float, years: int
) -> list[dict[str, Any]]:
    """The figures taken from public data: yearly volume (Home Office table), the share of the
    year in each month and the share of crimes in each CSP (street-level data)."""
    from svduty.synth.generate import Tables

    tables = Tables.load(profile)
    expected = float(tables.quarters.sum()) * scale
    measured = _one(workspace, "SELECT count(*) FROM incidents") / years
    volume_tolerance = max(0.02 * expected, 3 * math.sqrt(expected * years) / years)
    rows = [
        {
            "figure": "crimes_per_year",
            "target": f"{expected:,.0f}",
            "allowed": f"±{volume_tolerance:,.0f}",
            "generated": f"{measured:,.0f}",
            "within": abs(measured - expected) <= volume_tolerance,
            "source": profile.data["derived"]["offence_mix"]["source"],
        }
    ]
    volume = pd.Series(tables.quarters.sum(axis=1), index=tables.category).groupby(level=0).sum()
    index = profile.monthly_index()
    by_month = pd.Series(0.0, index=range(1, 13))
    for category in volume.index:
        weights = pd.Series(
            index.get(str(category), index["Violence and sexual offences"]), index=range(1, 13)
        )
        per_quarter = tables.quarters[tables.category == category].sum(axis=0)
        for month in range(1, 13):
            quarter = quarter_of(month)
            same = [m for m in range(1, 13) if quarter_of(m) == quarter]
            by_month[month] += per_quarter[quarter] * weights[month] / weights[same].sum()
    want_month = by_month / by_month.sum()
    got_month = pd.Series(
        dict(
            workspace.con.execute(
                "SELECT month(month), count(*) FROM incidents GROUP BY 1"
            ).fetchall()
        ),
        dtype=float,
    )
    got_month = got_month / got_month.sum()
    n = _one(workspace, "SELECT count(*) FROM incidents")
    month_tolerance = max(0.005, _three_se(float(want_month.max()), int(n)))
    rows.append(
        {
            "figure": "monthly_shares",
            "target": "profile index",
            "allowed": f"±{month_tolerance:.4f} each",
            "generated": f"largest gap {(got_month - want_month).abs().max():.4f}",
            "within": bool(((got_month - want_month).abs() <= month_tolerance).all()),
            "source": profile.data["derived"]["monthly_index"]["source"],
        }
    )
    places = pd.DataFrame(profile.places())
    places["n"] = places["n"].astype(float)
    per_category = places.groupby(["category", "csp"])["n"].sum()
    shares = per_category / per_category.groupby(level=0).transform("sum")
    want_csp: dict[str, float] = {}
    for (category, csp), share in zip(shares.index, shares.to_numpy(), strict=True):
        want_csp[str(csp)] = want_csp.get(str(csp), 0.0) + share * volume.get(category, 0.0)
    total = sum(want_csp.values())
    want_csp = {k: v / total for k, v in want_csp.items()}
    got_csp = {
        str(k): float(v)
        for k, v in workspace.con.execute(
            "SELECT a.csp_name, count(*) / sum(count(*)) OVER () FROM incidents i JOIN areas a "
            "USING (lsoa_code) GROUP BY 1"
        ).fetchall()
    }
    csp_tolerance = max(0.01, _three_se(max(want_csp.values()), int(n)))
    gaps = {k: abs(got_csp.get(k, 0.0) - v) for k, v in want_csp.items()}
    rows.append(
        {
            "figure": "csp_shares",
            "target": _show(want_csp),
            "allowed": f"±{csp_tolerance:.3f} each",
            "generated": _show(got_csp),
            "within": max(gaps.values()) <= csp_tolerance,
            "source": profile.data["derived"]["places"]["source"],
        }
    )
    return rows


def _three_se(share: float, n: int | None) -> float:
    """Three binomial standard errors of a share measured on n records."""
    return 3 * math.sqrt(share * (1 - share) / n) if n else 0.0


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.3f}" for k, v in value.items())
    if isinstance(value, list):  # two consecutive hours: the window they cover
        return f"{value[0]:02d}:00-{(value[-1] + 1) % 24:02d}:00"
    if isinstance(value, float) and value < 1:
        return f"{value:.3f}"
    return f"{value:,.1f}" if isinstance(value, float) else str(value)


def _one(workspace: Workspace, sql: str) -> float:
    value = workspace.con.execute(sql).fetchall()[0][0]
    return float(value or 0)


def _share(workspace: Workspace, flag: str, source: str) -> tuple[float, int]:
    """The share of rows of `source` where `flag` holds, and how many rows it is of."""
    share, n = workspace.con.execute(f"SELECT avg(({flag})::INT), count(*) {source}").fetchall()[0]
    return float(share or 0), int(n)


def _measure(workspace: Workspace, years: int) -> dict[str, Any]:
    sv = (
        "(SELECT batch_id, source_line FROM classifications WHERE definition_id = "
        "'west-mercia-2022' AND in_definition)"
    )
    knife = (
        "(SELECT batch_id, source_line FROM classifications WHERE definition_id = "
        "'home-office-knife-sharp' AND in_definition)"
    )
    young = "(SELECT DISTINCT crime_ref FROM involvements WHERE age < 25)"
    in_sv = f"FROM incidents JOIN {sv} USING (batch_id, source_line)"
    in_knife = f"FROM incidents JOIN {knife} USING (batch_id, source_line)"
    m: dict[str, Any] = {
        "da_share_of_violence": _share(
            workspace,
            "marker_domestic_abuse",
            "FROM incidents JOIN offences USING "
            "(offence_code) WHERE offence_group = 'Violence against the person'",
        ),
        "sv_da_share": _share(workspace, "marker_domestic_abuse", in_sv),
        "sv_youth_share": _share(workspace, f"crime_ref IN {young}", in_sv),
        "sv_public_place_share": _share(workspace, f"location_type IN {PUBLIC}", in_sv),
        "sv_intimidation_share": _share(workspace, "marker_intimidation", in_sv),
        "knife_domestic_share": _share(workspace, "marker_domestic_abuse", in_knife),
        "knife_per_year": (_one(workspace, f"SELECT count(*) FROM {knife}") / years, None),
        "firearm_per_year": (
            _one(
                workspace,
                """
            SELECT count(*) FROM classifications WHERE definition_id = 'home-office-firearm'
            AND in_definition""",
            )
            / years,
            None,
        ),
    }
    hours = dict(
        workspace.con.execute(f"""
        SELECT hour(occurred_from), count(*) FROM incidents JOIN {knife}
        USING (batch_id, source_line) GROUP BY 1""").fetchall()
    )
    pairs = {h: hours.get(h, 0) + hours.get((h + 1) % 24, 0) for h in range(24)}
    peak = max(pairs, key=lambda h: pairs[h])
    m["knife_peak_hours"] = ([peak, (peak + 1) % 24], None)
    m["knife_known_offender_share"] = _share(
        workspace,
        "relationship <> 'Stranger'",
        f"""
        FROM involvements p JOIN incidents i ON i.crime_ref = p.crime_ref AND i.force = p.force
        JOIN {knife} k ON k.batch_id = i.batch_id AND k.source_line = i.source_line
        WHERE p.role = 'suspect'""",
    )
    shares = workspace.con.execute(f"""
        SELECT a.csp_name, count(*) / sum(count(*)) OVER (), sum(count(*)) OVER ()
        FROM incidents i JOIN {knife} k USING (batch_id, source_line)
        JOIN areas a USING (lsoa_code) GROUP BY 1""").fetchall()
    m["knife_csp_shares"] = (
        {name: float(share) for name, share, _ in shares},
        int(shares[0][2]) if shares else 0,
    )
    m["ae_unreported_share"] = _share(
        workspace,
        """NOT EXISTS (
            SELECT 1 FROM incidents i JOIN involvements p
              ON p.crime_ref = i.crime_ref AND p.force = i.force AND p.role = 'victim'
            WHERE i.occurred_from = a.occurred_at AND i.location_type = a.location_type
              AND p.age = a.age AND p.sex = a.sex)""",
        "FROM ae_attendances a",
    )
    return m
