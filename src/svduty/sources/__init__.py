"""Source adapters, one per source kind, and detection of a file's kind from its header."""

from __future__ import annotations

from pathlib import Path

from svduty.errors import InputError
from svduty.sources.base import Adapter
from svduty.sources.home_office import PrcTableAdapter
from svduty.sources.police_uk import OutcomesAdapter, StopSearchAdapter, StreetAdapter


def adapters() -> dict[str, Adapter]:
    found: list[Adapter] = [
        StreetAdapter(),
        OutcomesAdapter(),
        StopSearchAdapter(),
        PrcTableAdapter(),
    ]
    return {adapter.kind: adapter for adapter in found}


def detect(
    path: Path, header: list[str], kind: str | None = None, extra: list[Adapter] | None = None
) -> Adapter:
    """The adapter for a file: the one named by `kind`, or the one whose layout the header has.
    `extra` adapters (from column mappings) are tried after the built-in ones."""
    known = adapters()
    for adapter in extra or []:
        known.setdefault(adapter.kind, adapter)
    if kind is not None:
        if kind not in known:
            raise InputError(f"unknown source kind {kind!r}; known kinds: {', '.join(known)}")
        adapter = known[kind]
        if adapter.layout(header) is None:
            expected = "\n  ".join(adapter.expected_headers())
            raise InputError(
                f"{path}: the header does not match {kind}.\n  found: {', '.join(header)}\n"
                f"  expected:\n  {expected}"
            )
        return adapter
    for adapter in known.values():
        if adapter.layout(header) is not None:
            return adapter
    raise InputError(
        f"{path}: no adapter recognises this file (header: {', '.join(header) or 'empty'}). "
        f"Known kinds: {', '.join(known)}; name one with --kind to see what it expects, or "
        "give the column mapping of a partner export with --mapping."
    )
