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
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from svduty import __version__, outputs
from svduty.analysis.assessment import (
    Selection,
    assess,
    assess_places,
    assess_set,
    batch_ids,
    data_version,
)
from svduty.analysis.measure_series import Series
from svduty.analysis.severity import Weights
from svduty.counting import Filter
from svduty.definitions import load_definition
from svduty.definitions.model import Definition
from svduty.errors import InputError
from svduty.interventions.provision import provision
from svduty.interventions.published import add_gaps
from svduty.interventions.store import catalogue_version
from svduty.publish import Draft, Policy, Publication, publish
from svduty.publish.board import complete
from svduty.publish.conclusions import conclude_places
from svduty.publish.measures import add_funnels, draft_measures
from svduty.publish.sna import derive, derive_places, draft, draft_places
from svduty.publish.tables import Table
from svduty.recommendations import read_recommendations
from svduty.report.measures import render_pack
from svduty.report.sna import render
from svduty.workspace import Workspace

Progress = Callable[[str], None]
CACHE_FORMAT = 16
"""Bumped whenever cached results change shape (2: months carry their coverage; 3: boundaries;
4: headings and hidden marks; 5: records analysed and benchmarks; 6: hotspot LSOAs at 95% too,
with ward and incidents; 7: months held per source, the partnership; 8: a CSP's own health
figures and the whole area's rate beside its own; 9: a conclusion under each table and chart;
10: tables declare every sum a reader can form, and suppression is audited; 11: success
measures; 12: their charts sized to the page; 13: a measure's baseline, recalculations and
target; 14: Vega-Lite axes in decimal notation), so a cache written by an older svduty of the
same version is never read back."""


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
            _groups_key(workspace),
            _frameworks_key(workspace),
            workspace.store.name,
            __version__,
            CACHE_FORMAT,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _boundaries_key(workspace: Workspace) -> str | None:
    """The boundary file's content, so new boundaries redraw the maps (None: bundled or none)."""
    if not workspace.settings.boundaries:
        return None
    path = workspace.root / workspace.settings.boundaries
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"


def _frameworks_key(workspace: Workspace) -> list[str]:
    """The outcomes frameworks' content (shipped and the workspace's), so a changed measure
    is a different view."""
    from svduty.measures.framework import shipped_frameworks, workspace_frameworks

    paths = [*shipped_frameworks().values(), *workspace_frameworks(workspace.root).values()]
    return sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in paths)


def _groups_key(workspace: Workspace) -> str | None:
    """The most similar groups file's content, so a changed group is a different view."""
    name = workspace.settings.most_similar_groups
    path = workspace.root / name
    if not name or not path.is_file():
        return name or None
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
        groups = workspace.similar_groups()
        found = assess_set(store, settings, selection, weights, groups)
        drafts = [draft(a) for a in found]
        if any(a.records for a in found):
            if progress:
                progress("success measures")
            measured = measure_tables(workspace, selection)
            for one, assessed in zip(drafts, found, strict=True):
                one.tables += measured.get(assessed.selection.csp, [])
        return drafts

    def make() -> dict[str | None, Publication]:
        unpublished = _cached(
            workspace.root / "cache" / f"drafts-{_cache_key(workspace, selection, None, weights)}"
            ".pickle",
            make_drafts,
        )
        published = publish(unpublished, policy)
        areas = [d.provenance["csp"] for d in unpublished]
        out = {area: derive(p) for area, p in zip(areas, published, strict=True)}
        add_funnels(out[None], {str(a): p for a, p in out.items() if a is not None})
        return out

    return _cached(workspace.root / "cache" / f"sna-{key}.pickle", make)


def district_publication(
    workspace: Workspace,
    selection: Selection,
    policy: Policy,
    weights: Weights | None = None,
) -> Publication:
    """One district's report (`selection.district`, of the CSP `selection.csp`), controlled on
    its own under `policy`; from the cache when made before.

    It is no part of the set `publications` makes, and is for analysts and admins only: joint
    control with the published set would hide cells of the whole area's and the CSPs' reports
    (a district's small counts drag their sums with them), and analysts may see unsuppressed
    figures anyway, so a district needs no protection against differencing with what partners
    read. Made only when asked for: a whole assessment of one district takes seconds."""
    code = selection.district
    if not code:
        raise ValueError("district_publication needs a selection of one district")
    key = _cache_key(workspace, selection, policy, weights)

    def assessed() -> Draft:
        store, settings = workspace.store, workspace.settings
        return draft(assess(store, settings, selection, weights, workspace.similar_groups()))

    def make() -> Publication:
        unkeyed = _cache_key(workspace, selection, None, weights)
        path = workspace.root / "cache" / f"district-{unkeyed}-{code}.pickle"
        found = _cached(path, assessed)
        return derive(publish([found], policy)[0])

    return _cached(workspace.root / "cache" / f"district-sna-{key}-{code}.pickle", make)


def on_disk(
    workspace: Workspace, selection: Selection, policy: Policy, weights: Weights | None = None
) -> bool:
    """Whether `publications` (`district_publication`, for a district's selection) would read
    this set from the workspace's cache (not make it)."""
    key = _cache_key(workspace, selection, policy, weights)
    name = f"district-sna-{key}-{selection.district}" if selection.district else f"sna-{key}"
    return (workspace.root / "cache" / f"{name}.pickle").exists()


def measure_tables(workspace: Workspace, selection: Selection) -> dict[str | None, list[Table]]:
    """Every measure of the workspace's outcomes frameworks (shipped and its own) for the whole
    area (None) and each CSP, over the selection's months."""
    from svduty.analysis.measure_series import framework_series
    from svduty.measures.framework import frameworks

    chosen = frameworks(workspace.root)
    ids = [m.id for f in chosen for m in f.measures]
    by_area: dict[str, dict[str, Series]] = {}
    for framework in chosen:
        found = framework_series(workspace.store, workspace.settings, framework.measures)
        for measure in framework.measures:
            # named by its id, or with its framework where two frameworks share the id
            key = measure.id if ids.count(measure.id) == 1 else f"{framework.id}/{measure.id}"
            for name, series in found[measure.id].items():
                by_area.setdefault(name, {})[key] = series
    whole = next(iter(by_area), None)
    return {
        None if name == whole else name: draft_measures(found, selection.start, selection.end)
        for name, found in by_area.items()
    }


def places(
    workspace: Workspace,
    selection: Selection,
    policy: Policy,
    weights: Weights | None = None,
) -> Publication:
    """Hotspots and near repeats of one area, published on their own (their analyses are
    cached whatever the policy: only their publication differs)."""
    key = _cache_key(workspace, selection, None, weights)
    area = selection.district or selection.csp or "whole"
    found = _cached(
        workspace.root / "cache" / f"places-{key}-{outputs.slug(area)}.pickle",
        lambda: assess_places(
            workspace.store, workspace.settings, selection, weights, workspace.boundaries()
        ),
    )
    return derive_places(publish([draft_places(area, found)], policy)[0])


SUFFIXES = {"html": ".html", "json": "-summary.json", "charts": "-charts.json", "pdf": ".pdf"}
"""Each kind of file one report writes, by the suffix after its name."""
_ABOUT = "about.json"  # beside a kept view: its name, period and kinds of file


_QUARTERS = {1: (0, "04", "06"), 2: (0, "07", "09"), 3: (0, "10", "12"), 4: (1, "01", "03")}
"""A financial quarter's first and last month, and the years after the financial year's start."""


def _covered(selection: Selection, whole: Publication) -> tuple[str | None, str | None]:
    """First and last month the selection covers: those asked for, else those of the whole
    area's records (Home Office quarters as their months), so every report of a set carries the
    same period."""
    start, end = selection.start, selection.end
    text = str(whole.value("report", "period") or "")
    months = re.fullmatch(r"(\d{4}-\d{2}) to (\d{4}-\d{2})", text)
    quarters = re.fullmatch(r"(\d{4})/\d{2} Q([1-4]) to (\d{4})/\d{2} Q([1-4])", text)
    if months:
        first, last = months.groups()
    elif quarters:
        after, month, _ = _QUARTERS[int(quarters[2])]
        first = f"{int(quarters[1]) + after}-{month}"
        after, _, month = _QUARTERS[int(quarters[4])]
        last = f"{int(quarters[3]) + after}-{month}"
    else:
        return start, end
    return start or first, end or last


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
    run: str | None = None,
    pack: bool = False,
) -> dict[str, Path]:
    """Write one report's HTML, summary JSON, Vega-Lite specs and (with `pdf`) PDF, named
    `sna-<area>-<from>-to-<to>-<definition>[-internal]` (see `svduty.outputs`); internal ones
    to `internal/` below `out`. `run` ties the reports of one command together in the
    manifest. `pack`: the success measures' board pack instead, named `measures-...`."""
    started = time.perf_counter()
    settings = workspace.settings
    if csp and settings.csps and csp not in settings.csps:
        raise InputError(f"no CSP {csp!r} in this workspace; its CSPs: {', '.join(settings.csps)}")
    selection = selection_of(workspace, definition, period, csp)
    policy = Policy(settings.disclosure_threshold, internal=unsuppressed)
    weights = weights or workspace.weights()
    area = csp or settings.area or "workspace"
    folder = outputs.folder_for(out or workspace.reports_dir, unsuppressed)
    recommendations = read_recommendations(workspace.root, settings)
    written = hashlib.sha256(
        json.dumps(
            [
                recommendations.get("sha256"),
                recommendations.get("changed"),
                catalogue_version(workspace),
                date.today().isoformat(),  # gaps judge provision on the day of drawing
            ]
        ).encode()
    ).hexdigest()[:8]
    drawn = (
        workspace.root
        / "cache"
        / (
            f"out-{_cache_key(workspace, selection, policy, weights)}-{outputs.slug(area)}"
            f"-{written}{'-pdf' if pdf else ''}{'-pack' if pack else ''}"
        )
    )
    audited: dict[str, Any] = {
        "definition": selection.definition.id,
        "version": selection.definition.version,
        "sha256": selection.definition.sha256,
        "area": csp or settings.area,
        "period": selection.requested,
        "unsuppressed": unsuppressed,
        "recommendations": {
            k: recommendations.get(k) for k in ("file", "sha256", "changed") if k in recommendations
        },
    }
    publication = "internal" if unsuppressed else "published"
    outputs.check_folder(folder, publication)
    with outputs.staging(folder) as scratch:
        about = _from_cache(drawn, scratch)
        if about is None:
            about = _draw(
                workspace,
                selection,
                policy,
                weights,
                csp,
                area,
                pdf,
                scratch,
                started,
                progress,
                recommendations,
                pack,
            )
            _keep_outputs(scratch, about, drawn)
        else:
            audited["from_cache"] = True
        name, covered = about["name"], about["period"]
        entry = outputs.new_entry(
            run,
            workspace.actor,
            report="measures" if pack else "sna",
            selection={
                "definition": selection.definition.id,
                "version": selection.definition.version,
                "sha256": selection.definition.sha256,
                "area": area,
                "period": {"from": covered[0], "to": covered[1]},
                "requested": selection.requested,
            },
            policy={
                "publication": publication,
                "disclosure_threshold": policy.threshold,
            },
            weights=None if weights is None else weights.source,
            data_version=workspace.data_version,
            engine=settings.engine,
        )
        staged = {kind: scratch / f"{name}{SUFFIXES[kind]}" for kind in about["kinds"]}
        paths, manifest = outputs.place(staged, folder, name, SUFFIXES, entry)
    audited.update(run=entry["run"], manifest=str(manifest.resolve()))
    workspace.audit("report", audited, paths.values())
    return paths


def _draw(
    workspace: Workspace,
    selection: Selection,
    policy: Policy,
    weights: Weights | None,
    csp: str | None,
    area: str,
    pdf: bool,
    scratch: Path,
    started: float,
    progress: Progress | None,
    recommendations: dict[str, Any],
    pack: bool = False,
) -> dict[str, Any]:
    """Assess, publish and render into `scratch`; what was drawn, for the cache and the
    manifest."""
    if progress:
        progress("assessing and publishing")
    pubs = publications(workspace, selection, policy, weights, progress)
    if csp not in pubs:
        raise InputError(f"no report for {csp!r}: the workspace holds only Home Office tables")
    pub = pubs[csp]
    pub = Publication(
        pub.id,
        pub.policy,
        dict(pub.tables),
        dict(pub.count_columns),
        pub.provenance,
        dict(pub.extras),
        pub.primary,
        pub.secondary,
    )
    covered = _covered(selection, pubs[None])
    if pack:
        name = outputs.report_name("measures", area, covered, None, policy.internal)
        if progress:
            progress("drawing")
        paths = render_pack(pub, scratch, name, pdf)
        return {"name": name, "period": list(covered), "kinds": sorted(paths)}
    if pub.provenance["records"]:
        if progress:
            progress("hotspots and near repeats")
        conclude_places(pub.merge(places(workspace, selection, policy, weights)))
        if progress:
            progress("interventions and gaps")
        add_gaps(pub, provision(workspace, selection.for_area(None), policy, pubs=pubs), csp)
    complete(pub, recommendations)
    name = outputs.report_name("sna", area, covered, selection.definition.id, policy.internal)
    if progress:
        progress("drawing")
    paths = render(pub, selection.definition, scratch, name, pdf, weights, started)
    return {"name": name, "period": list(covered), "kinds": sorted(paths)}


def _keep_outputs(scratch: Path, about: dict[str, Any], folder: Path) -> None:
    """Keep what was drawn, so the same view asked for again is a copy (none on a read-only
    share)."""
    staging = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=folder.name, suffix=".tmp"))
        for kind in about["kinds"]:
            name = f"{about['name']}{SUFFIXES[kind]}"
            shutil.copyfile(scratch / name, staging / name)
        (staging / _ABOUT).write_text(json.dumps(about), encoding="utf-8")
        staging.rename(folder)
    except OSError:  # a read-only share, or another reader kept the same view first
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _from_cache(folder: Path, scratch: Path) -> dict[str, Any] | None:
    """Copy a kept view into `scratch`; what it holds, or None when nothing (usable) is kept."""
    try:
        about = json.loads((folder / _ABOUT).read_text(encoding="utf-8"))
        for kind in about["kinds"]:
            name = f"{about['name']}{SUFFIXES[kind]}"
            shutil.copyfile(folder / name, scratch / name)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return dict(about)
