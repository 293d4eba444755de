"""Which places an intervention may name: the workspace's forces and CSPs, and the districts
and LSOAs of the bundled reference areas that lie in them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from svduty.settings import Settings

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class AreaIndex:
    """Every name or code an intervention may give for a place, keyed in lower case, with the
    form it is stored in; and why the others are refused."""

    known: dict[str, str]
    outside: dict[str, str]
    area: str

    @classmethod
    def build(cls, settings: Settings, areas: pd.DataFrame) -> AreaIndex:
        """From the workspace's settings and its `areas` table (lsoa_code, la_code, la_name,
        csp_name, force). With forces set, a place in another force is outside the
        partnership."""
        forces = {f.lower() for f in settings.forces}
        csp_of = {d.lower(): csp for csp, ds in settings.csps.items() for d in ds}
        known: dict[str, str] = {}
        outside: dict[str, str] = {}
        frame = areas[["lsoa_code", "la_code", "la_name", "csp_name", "force"]].drop_duplicates()
        for row in frame.itertuples(index=False):
            inside = not forces or str(row.force).lower() in forces
            where = f"in {row.force}"
            for key, value in (
                (row.lsoa_code, row.lsoa_code),
                (row.la_code, row.la_code),
                (row.la_name, row.la_code),
            ):
                if not isinstance(key, str) or not key:
                    continue
                if inside or str(row.la_code).lower() in csp_of:
                    known[key.lower()] = str(value)
                elif key.lower() not in known:
                    outside[key.lower()] = where
            for key in (row.force, row.csp_name):
                if isinstance(key, str) and key and key.lower() not in known:
                    if inside:
                        known[key.lower()] = key
                    else:
                        outside[key.lower()] = where
        for name in (*settings.csps, *settings.forces):  # a CSP named as its district is the CSP
            known[name.lower()] = name
            outside.pop(name.lower(), None)
        return cls(known, outside, settings.area or ", ".join(settings.forces) or "the area")

    def resolve(self, text: str) -> tuple[str | None, str | None]:
        """(the stored form, None) or (None, why it is refused)."""
        key = text.strip().lower()
        if key in self.known:
            return self.known[key], None
        if key in self.outside:
            return None, f"{text.strip()!r} is {self.outside[key]}, outside {self.area}"
        return None, (
            f"unknown area {text.strip()!r}: give a force or CSP of this workspace, an ONS "
            "district code (E06/E07/E08/E09/W06) or a 2011/2021 LSOA code"
        )
