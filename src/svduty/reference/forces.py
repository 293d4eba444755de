"""Police force names: one canonical name (the Home Office / ONS police force area name) per force.

data.police.uk writes "West Mercia Police", the Home Office tables "West Mercia", ONS
"Devon & Cornwall" where the Home Office writes "Devon and Cornwall". Every source's force name is
reduced to a key and looked up, so counts from all sources meet under one name.
"""

from __future__ import annotations

import csv
import re
from functools import cache

from svduty.reference import data_path

_DROP_WORDS = {"police", "constabulary", "service", "the", "force"}
_ALIASES = {"city of london": "london city of"}


def force_key(name: str) -> str:
    words = re.sub(r"[^a-z0-9 ]+", " ", name.lower().replace("&", " and ")).split()
    key = " ".join(w for w in words if w not in _DROP_WORDS)
    return _ALIASES.get(key, key)


@cache
def canonical_forces() -> dict[str, str]:
    """key -> canonical name, from the bundled forces.csv."""
    with data_path("forces.csv").open(encoding="utf-8") as handle:
        return {force_key(row["force"]): row["force"] for row in csv.DictReader(handle)}


def canonical_force(name: str | None) -> str | None:
    """The canonical name for a force as any source spells it; unknown names are kept as given."""
    if name is None or not name.strip():
        return None
    return canonical_forces().get(force_key(name), name.strip())
