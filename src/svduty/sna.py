"""The Strategic Needs Assessment end to end: assess, publish, render.

The whole area and each of its CSPs are assessed and published together (so no hidden cell of
one report can be worked out from another), the set is cached in the workspace by selection,
policy and data version, and each report is drawn from its publication only.

A workspace with records gets every section; one with only the Home Office tables gets the
sections those support and a list of what needs partner data."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from svduty import __version__
from svduty.analysis.assessment import (
    Selection,
    assess_places,
    assess_set,
    batch_ids,
    data_version,
)
from svduty.analysis.severity import Weights
from svduty.counting import Filter
from svduty.definitions import load_definition
from svduty.definitions.model import Definition
from svduty.errors import InputError
from svduty.publish import Draft, Policy, Publication, publish
from svduty.publish.sna import derive, draft, draft_places
from svduty.report.sna import render
from svduty.workspace import Workspace

Progress = Callable[[str], None]


def selection_of(
    workspace: Workspace,
    definition: Definition | None = None,
    period: list[Filter] | None = None,
    csp: str | None = None,
) -> Selection:
    start = next((f.value for f in period or [] if f.op == ">="), None)
    end = next((f.value for f in period or [] if f.op == "<="), None)
    chosen = definition or load_definition(workspace.settings.definition)
    return Selection(chosen, start, end, csp)


def _cache_key(
    workspace: Workspace, selection: Selection, policy: Policy | None, weights: Any
) -> str:
    settings = workspace.settings
    text = json.dumps(
        [
            selection.for_area(None).key,
            None if policy is None else policy.key,
            data_version(batch_ids(workspace.store), settings),
            None if weights is None else [weights.source, sorted(weights.weights.items())],
            _boundaries_key(workspace),
            workspace.store.name,
            __version__,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _boundaries_key(workspace: Workspace) -> str | None:
    """The boundary file's content, so new boundaries redraw the maps (None: bundled or none)."""
    if not workspace.settings.boundaries:
        return None
    path = workspace.root / workspace.settings.boundaries
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"


def _cached(path: Path, make: Callable[[], Any]) -> Any:
    """Load a cached result, or make and keep it (where the workspace can be written)."""
    if path.exists():
        try:
            with path.open("rb") as handle:
                return pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError):
            path.unlink(missing_ok=True)
    made = make()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # a name of its own, so readers making the same result at once never mix their bytes
        descriptor, staging = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(descriptor, "wb") as out:
            pickle.dump(made, out)
        os.replace(staging, path)
    except OSError:
        pass  # a read-only share: nothing cached, nothing lost
    return made


def publications(
    workspace: Workspace,
    selection: Selection,
    policy: Policy,
    weights: Weights | None = None,
    progress: Progress | None = None,
) -> dict[str | None, Publication]:
    """The whole area's publication and each CSP's, controlled together; from the cache when
    the same selection, policy and data were published before."""
    store, settings = workspace.store, workspace.settings
    key = _cache_key(workspace, selection, policy, weights)

    def make_drafts() -> list[Draft]:
        return [draft(a) for a in assess_set(store, settings, selection, weights)]

    def make() -> dict[str | None, Publication]:
        unpublished = _cached(
            workspace.root / "cache" / f"drafts-{_cache_key(workspace, selection, None, weights)}"
            ".pickle",
            make_drafts,
        )
        published = publish(unpublished, policy)
        areas = [d.provenance["csp"] for d in unpublished]
        return {area: derive(p) for area, p in zip(areas, published, strict=True)}

    return _cached(workspace.root / "cache" / f"sna-{key}.pickle", make)


def places(
    workspace: Workspace,
    selection: Selection,
    policy: Policy,
    weights: Weights | None = None,
) -> Publication:
    """Hotspots and near repeats of one area, published on their own (their analyses are
    cached whatever the policy: only their publication differs)."""
    key = _cache_key(workspace, selection, None, weights)
    area = selection.csp or "whole"
    found = _cached(
        workspace.root / "cache" / f"places-{key}-{_slug(area)}.pickle",
        lambda: assess_places(
            workspace.store, workspace.settings, selection, weights, workspace.boundaries()
        ),
    )
    return publish([draft_places(area, found)], policy)[0]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def build_sna(
    workspace: Workspace,
    definition: Definition | None = None,
    out: Path | None = None,
    unsuppressed: bool = False,
    pdf: bool = True,
    csp: str | None = None,
    period: list[Filter] | None = None,
    weights: Weights | None = None,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write sna[-csp].html, sna[-csp]-summary.json, sna[-csp]-charts.json (Vega-Lite) and
    (with `pdf`) sna[-csp].pdf."""
    started = time.perf_counter()
    settings = workspace.settings
    if csp and settings.csps and csp not in settings.csps:
        raise InputError(f"no CSP {csp!r} in this workspace; its CSPs: {', '.join(settings.csps)}")
    selection = selection_of(workspace, definition, period, csp)
    policy = Policy(settings.disclosure_threshold, internal=unsuppressed)
    weights = weights or workspace.weights()
    target = out or workspace.reports_dir
    stem = "sna" if not csp else f"sna-{_slug(csp)}"
    drawn = (
        workspace.root
        / "cache"
        / (f"out-{_cache_key(workspace, selection, policy, weights)}-{stem}{'-pdf' if pdf else ''}")
    )
    audited = {
        "definition": selection.definition.id,
        "version": selection.definition.version,
        "sha256": selection.definition.sha256,
        "area": csp or settings.area,
        "period": selection.requested,
        "unsuppressed": unsuppressed,
    }
    if drawn.is_dir():
        copied = _copy_outputs(drawn, target)
        workspace.audit("report", {**audited, "from_cache": True}, copied.values())
        return copied
    if progress:
        progress("assessing and publishing")
    pubs = publications(workspace, selection, policy, weights, progress)
    if csp not in pubs:
        raise InputError(f"no report for {csp!r}: the workspace holds only Home Office tables")
    pub = pubs[csp]
    if pub.provenance["records"]:
        if progress:
            progress("hotspots and near repeats")
        pub = Publication(
            pub.id,
            pub.policy,
            dict(pub.tables),
            dict(pub.count_columns),
            pub.provenance,
            dict(pub.extras),
            pub.primary,
            pub.secondary,
        ).merge(places(workspace, selection, policy, weights))
    if progress:
        progress("drawing")
    paths = render(pub, selection.definition, target, stem, pdf, weights, started)
    _keep_outputs(paths, drawn)
    workspace.audit("report", audited, paths.values())
    return paths


def _keep_outputs(paths: dict[str, Path], folder: Path) -> None:
    """Keep what was drawn, so the same view asked for again is a copy (none on a read-only
    share)."""
    staging = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=folder.name, suffix=".tmp"))
        for path in paths.values():
            shutil.copyfile(path, staging / path.name)
        staging.rename(folder)
    except OSError:  # a read-only share, or another reader kept the same view first
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _copy_outputs(folder: Path, target: Path) -> dict[str, Path]:
    target.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kept in sorted(folder.iterdir()):
        kind = {".html": "html", ".pdf": "pdf"}.get(kept.suffix)
        kind = kind or ("charts" if kept.name.endswith("-charts.json") else "json")
        paths[kind] = Path(shutil.copyfile(kept, target / kept.name))
    return paths
