"""Reader processes for the concurrency test, in a module of their own so that each spawned
process imports only what a reader needs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from svduty.counting import counts
from svduty.workspace import Workspace

SNA_DEFINITION = "police-uk-open-data"
"""Open data are assessable under it, so the assessment changes when open data are added."""


def reading(root: Path, sna: Path | None) -> dict[str, Any]:
    """What a reader computes: counts over several dimensions and (when asked) the summary
    sections of the SNA, with the data version it read. The SNA is the internal build: every
    figure it read, without the disclosure audit, which reads nothing from the workspace."""
    with Workspace.open(root, read_only=True) as ws:
        result: dict[str, Any] = {"version": ws.data_version}
        result["counts"] = {
            by: counts(ws.store, "incidents", by.split(",")).frame.to_json()
            for by in ("month,csp", "source_kind,offence_group")
        }
        if sna is not None:
            from svduty.definitions import load_definition
            from svduty.sna import build_sna

            paths = build_sna(
                ws, load_definition(SNA_DEFINITION), out=sna, pdf=False, unsuppressed=True
            )
            result["sna"] = json.loads(paths["json"].read_text())["sections"]
    return result


def reader(root: str, index: int, ingesting: Any, stop: Any, results: Any) -> None:
    """Read again and again until told to stop. Reader 0 builds the SNA once, as soon as the
    ingest has started."""
    sna_due = index == 0
    try:
        while True:
            build = sna_due and ingesting.is_set()
            started = time.time()
            result = reading(Path(root), Path(root).parent / "sna-during" if build else None)
            results.put({"reader": index, "start": started, "end": time.time(), **result})
            sna_due = sna_due and not build
            # a pause, so eight readers leave the ingest some of the cores
            if (ingesting.wait(3.0) if sna_due else stop.wait(3.0)) and stop.is_set():
                break
    except BaseException as error:
        results.put({"reader": index, "error": repr(error)})
    results.put({"reader": index, "done": True})
