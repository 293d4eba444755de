"""Source adapters, one per source kind, and detection of a file's kind from its header."""

from __future__ import annotations

import difflib
from pathlib import Path

from svduty.errors import InputError
from svduty.sources.base import Adapter
from svduty.sources.home_office import PrcTableAdapter
from svduty.sources.mapped import MappedAdapter
from svduty.sources.police_uk import OutcomesAdapter, StopSearchAdapter, StreetAdapter
from svduty.sources.series import MeasureSeriesAdapter


def adapters() -> dict[str, Adapter]:
    found: list[Adapter] = [
        StreetAdapter(),
        OutcomesAdapter(),
        StopSearchAdapter(),
        PrcTableAdapter(),
        MeasureSeriesAdapter(),
    ]
    return {adapter.kind: adapter for adapter in found}


def detect(
    path: Path, header: list[str], kind: str | None = None, extra: list[Adapter] | None = None
) -> Adapter:
    """The adapter for a file: the one named by `kind`, or the one whose layout the header has.
    `extra` adapters (from column mappings, several per kind when several mappings are given)
    are tried after the built-in ones; among them, the one using most of the file's columns wins,
    so each file finds its own mapping by its header."""
    built_in = adapters()
    candidates: list[Adapter] = [*built_in.values(), *(extra or [])]
    kinds = list(dict.fromkeys(a.kind for a in candidates))
    if kind is not None:
        if kind not in kinds:
            raise InputError(f"unknown source kind {kind!r}; known kinds: {', '.join(kinds)}")
        candidates = [a for a in candidates if a.kind == kind]
    fitting = [a for a in candidates if a.layout(header) is not None]
    if fitting:
        return _best_fit(path, header, fitting)
    mapped = [a for a in candidates if isinstance(a, MappedAdapter)]
    if mapped:
        raise InputError(f"{path}: {_missing_columns(header, mapped)}")
    if kind is not None:
        expected = "\n  ".join(candidates[0].expected_headers())
        raise InputError(
            f"{path}: the header does not match {kind}.\n  found: {', '.join(header)}\n"
            f"  expected:\n  {expected}"
        )
    raise InputError(
        f"{path}: no adapter recognises this file (header: {', '.join(header) or 'empty'}). "
        f"Known kinds: {', '.join(kinds)}; name the kind to see what it expects, or "
        "give the column mapping of a partner export (a mapping file)."
    )


def _best_fit(path: Path, header: list[str], fitting: list[Adapter]) -> Adapter:
    """A built-in adapter first; else the mapping part that names most of the file's columns."""
    mapped = [a for a in fitting if isinstance(a, MappedAdapter)]
    if len(mapped) < len(fitting) or len(mapped) == 1:
        return fitting[0]
    used = {a: len(a.used_columns(a.layout(header)) & set(header)) for a in mapped}
    most = max(used.values())
    best = [a for a in mapped if used[a] == most]
    if len({(a.mapping.path, a.part.name) for a in best}) > 1:
        names = ", ".join(f"{a.part.name} of {a.mapping.path}" for a in best)
        raise InputError(
            f"{path}: the header fits more than one mapping equally well ({names}); give only "
            "the mapping meant for this file"
        )
    return best[0]


def _missing_columns(header: list[str], mapped: list[MappedAdapter], shown: int = 3) -> str:
    """What the closest mapping parts lack, each missing column with the file's nearest names."""
    present = [c for c in header if c]
    by_gap = sorted(mapped, key=lambda a: len(a.part.source_columns - set(header)))
    lines = []
    for adapter in by_gap[:shown]:
        missing = sorted(adapter.part.source_columns - set(header))
        described = []
        for column in missing:
            close = difflib.get_close_matches(column, present, n=2, cutoff=0.6)
            hint = f" (closest in the file: {', '.join(repr(c) for c in close)})" if close else ""
            described.append(f"{column!r}{hint}")
        lines.append(
            f"  mapping {adapter.mapping.id} ({adapter.mapping.path}), part "
            f"{adapter.part.name}: {len(missing)} column(s) missing: {'; '.join(described)}"
        )
    more = (
        f"\n  ({len(by_gap) - shown} other mapping part(s) fit less well)"
        if (len(by_gap) > shown)
        else ""
    )
    listed = ", ".join(present[:40])
    if len(present) > 40:
        listed += f", ... ({len(present)} in all)"
    return (
        "no built-in kind recognises this file and no mapping given fits its header (the "
        f"file has: {listed or 'no columns'}):\n" + "\n".join(lines) + more + "\n"
        "  fix the column names in the mapping (or the file), or give the mapping meant for it"
    )
