"""A calibration profile: published targets, fitted parameters, assumptions and derived data."""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from svduty.errors import InputError
from svduty.settings import Settings
from svduty.yamlfile import load_yaml


def quarter_of(month: int) -> int:
    """Financial quarter of a calendar month, 0 = April to June."""
    return ((month + 8) % 12) // 3


def shipped_profiles() -> dict[str, Path]:
    folder = Path(str(resources.files("svduty.synth") / "profiles"))
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


@dataclass(frozen=True)
class Profile:
    path: Path
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def force(self) -> str:
        return str(self.data["force"])

    @property
    def area(self) -> str:
        return str(self.data.get("area") or self.force)

    @property
    def csps(self) -> dict[str, tuple[str, ...]]:
        """The partnership's CSPs as district codes: where synthetic crimes fall."""
        return {
            str(name): tuple(str(c) for c in codes) for name, codes in self.data["csps"].items()
        }

    @property
    def sites(self) -> dict[str, str]:
        """The A&E site each CSP's assault victims attend (written as the ISTV site code)."""
        return {str(csp): str(site) for csp, site in self.data["sites"]["value"].items()}

    def settings(self) -> Settings:
        """Workspace settings for the profile's area: its force and CSPs."""
        return Settings(area=self.area, forces=(self.force,), csps=self.csps)

    def target(self, name: str) -> dict[str, Any]:
        return dict(self.data["targets"][name])

    def parameter(self, name: str) -> Any:
        return self.data["parameters"][name]

    def assumption(self, name: str) -> Any:
        return self.data["assumptions"][name]

    def _rows(self, name: str) -> list[dict[str, str]]:
        path = self.path.parent / self.data["derived"][name]["file"]
        raw = path.read_bytes()
        text = gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()
        return list(csv.DictReader(io.StringIO(text)))

    def offence_mix(self) -> dict[str, list[float]]:
        """Recorded offences per code in financial quarters 1-4."""
        return {
            r["offence_code"]: [float(r[f"q{i}"] or 0) for i in range(1, 5)]
            for r in self._rows("offence_mix")
        }

    def monthly_index(self) -> dict[str, list[float]]:
        """Records per police.uk crime type in calendar months 1-12."""
        return {
            r["category"]: [float(r[f"m{i:02d}"]) for i in range(1, 13)]
            for r in self._rows("monthly_index")
        }

    def places(self) -> list[dict[str, str]]:
        return self._rows("places")


def load_profile(spec: str | Path) -> Profile:
    shipped = shipped_profiles()
    path = shipped[str(spec)] if str(spec) in shipped else Path(spec)
    if not path.exists():
        raise InputError(
            f"no profile {str(spec)!r}: not a shipped profile "
            f"({', '.join(shipped)}) and no such file"
        )
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: a profile is a YAML mapping (id, force, derived, ...)")
    missing = [
        k
        for k in ("id", "force", "csps", "sites", "derived", "targets", "parameters", "assumptions")
        if k not in data
    ]
    if missing:
        raise InputError(f"{path}: profile lacks {', '.join(missing)}")
    profile = Profile(path, data)
    try:
        unsited = [csp for csp in profile.csps if csp not in profile.sites]
    except (AttributeError, KeyError, TypeError) as error:
        raise InputError(
            f"{path}: csps maps each CSP to a list of district codes, and sites.value each CSP "
            f"to its A&E site ({error!r} does not fit)"
        ) from error
    if unsited:
        raise InputError(
            f"{path}: sites names no A&E site for CSP(s) {', '.join(unsited)}; give one for each "
            "CSP in csps"
        )
    return profile
