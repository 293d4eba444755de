"""What the dashboard shows: the published set of a view (area, period, definition or one of its
clauses, published or internal), read from the workspace opened read-only, and the pages it is
cut into.

Every figure comes from `sna.publications`, the same disclosure-controlled (and cached) set the
reports are built from, so a number on the screen is the number in the PDF. The workspace is
reopened when an ingest elsewhere commits new data, and a set once published is kept in memory
for as long as the data stay the same.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

import pandas as pd

from svduty.definitions import load_definition
from svduty.definitions.model import Definition
from svduty.errors import InputError
from svduty.publish import Policy, Publication
from svduty.report.charts import Chart
from svduty.report.sections import Page
from svduty.web.definitions import Choices
from svduty.workspace import SNAPSHOT_FILE, Workspace

if TYPE_CHECKING:
    from svduty.definitions.classify import Explanation

CHARTED = {
    "trends": ("trends",),
    "where": ("where",),
    "when": ("when",),
    "who": ("who",),
    "themes": ("themes",),
    "what": ("what",),
    "health": ("health",),
}
"""Each page's charts: those the report's sections of these names draw."""
PAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "overview": ("Overview", ("summary", "records", "report")),
    "trends": ("Trends", ("trends",)),
    "where": ("Where", ("where", "concentration")),
    "when": ("When", ("when",)),
    "who": ("Who", ("who",)),
    "themes": ("Themes", ("themes",)),
    "what": ("What", ("what",)),
    "health": ("Health", ("health",)),
    "measures": ("Success measures", ("measures",)),
    "gaps": ("Interventions and gaps", ("gaps",)),
    "quality": ("Data quality and lineage", ("sources", "limitations")),
}
"""Each page: its title and the published sections it shows, in order."""
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
T = TypeVar("T")
KEPT = 32
"""Published sets kept in memory (each a few megabytes at most)."""


@dataclass(frozen=True)
class View:
    """A page's filters, all held in its URL so a view can be shared."""

    area: str | None = None  # a CSP's name or a district's code; None: the whole area
    start: str | None = None  # YYYY-MM
    end: str | None = None
    internal: bool = False  # unsuppressed, for analysts: NOT FOR PUBLICATION
    definition: str | None = None  # a definition's id; None: the workspace's
    clause: str | None = None  # one clause of it, counted on its own

    @classmethod
    def of(
        cls, params: dict[str, str], csps: list[str], choices: Choices | None = None,
        districts: Collection[str] = (),
    ) -> View:  # fmt: skip
        """The view a URL asks for: its area one of `csps` (names) or `districts` (codes); with
        `choices`, its definition and clause are checked."""
        area = params.get("area") or None
        if area is not None and area not in csps and area not in districts:
            allowed = "; ".join(
                [f"the CSPs {', '.join(csps)}" if csps else "", ", ".join(districts)]
            ).strip("; ")
            raise InputError(
                f"area {area!r} is not one of this partnership's CSPs or districts: leave it "
                f"out for the whole area, or give {allowed or 'no area'}"
            )
        months = {}
        for key in ("start", "end"):
            value = params.get(key) or None
            if value is not None and not _MONTH.fullmatch(value):
                raise InputError(f"{key} {value!r}: write a month as YYYY-MM")
            months[key] = value
        if months["start"] and months["end"] and months["start"] > months["end"]:
            raise InputError(f"start {months['start']} is after end {months['end']}")
        definition, clause = params.get("definition") or None, params.get("clause") or None
        if choices is not None:
            choices.chosen(definition, clause)  # refuses an unknown id or clause, naming it
            if definition == choices.default.id:
                definition = None  # the workspace's own: the published set's
        internal = params.get("view") == "internal"
        return cls(area, months["start"], months["end"], internal, definition, clause)

    def chosen(self) -> bool:
        """A period, definition or clause other than the published set's."""
        return any((self.start, self.end, self.definition, self.clause))

    def query(self, **changes: Any) -> str:
        """This view's URL query, with `changes` made."""
        view = replace(self, **changes)
        pairs = {
            "area": view.area,
            "start": view.start,
            "end": view.end,
            "view": "internal" if view.internal else None,
            "definition": view.definition,
            "clause": view.clause,
        }
        return urlencode({k: v for k, v in pairs.items() if v})


@dataclass(frozen=True)
class District:
    """A district of a CSP: the third level of the area filter, for analysts and admins (its
    figures are a set of their own, see `Published.set_of`), known in URLs by its code."""

    code: str
    name: str
    csp: str

    @property
    def label(self) -> str:
        return f"{self.name} (district of {self.csp})"


def scoped(pub: Publication, others: set[str], places: Collection[str] = ()) -> Publication:
    """The whole area's publication as a partner limited to some CSPs sees it: every row, column
    and sentence naming another CSP (`others`) or one of its districts (`places`: their names
    and codes) left out, and the funnels comparing the CSPs with it. Leaving out published cells
    reveals nothing new."""
    if not others:
        return pub
    words = set(others) | set(places)
    named = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(words, key=len)[::-1])) + r")\b")
    tables = {}
    for key, frame in pub.tables.items():
        kept = frame.drop(columns=[c for c in frame.columns if c in words])
        mentions = pd.Series(False, index=kept.index)
        for column in kept.columns:
            if kept[column].dtype == object:
                text = kept[column].map(lambda v: v if isinstance(v, str) else "")
                mentions |= text.isin(words)
                if key.startswith(("conclusions/", "summary/")):
                    mentions |= text.map(lambda v: named.search(v) is not None)
        tables[key] = kept[~mentions]
        if key.startswith(("conclusions/", "summary/")) and list(frame.columns) == ["value"]:
            tables[key] = _sentences_without(frame, named)
    extras = {k: v for k, v in pub.extras.items() if k != "funnels"}
    return replace(pub, tables=tables, extras=extras)


def _sentences_without(frame: pd.DataFrame, named: re.Pattern[str]) -> pd.DataFrame:
    """A sentence, or a list of them, with those naming another CSP or its places hidden."""
    value = frame["value"].iloc[0]
    if isinstance(value, list):
        value = [v for v in value if named.search(str(v)) is None]
    elif isinstance(value, str) and named.search(value) is not None:
        value = None
    return pd.DataFrame({"value": [value]})


class _Charts(Page):
    """The report's sections drawing into a page that keeps each chart's data and draws none
    (the browser draws them from their Vega-Lite specs)."""

    def chart(self, chart: Chart) -> str:
        if chart.empty() is None:
            self.charts.append(chart)
        return ""


def chart_specs(pub: Publication, page: str) -> list[tuple[Chart, dict[str, Any]]]:
    """The charts the report draws for the page's sections, with their Vega-Lite specs: the same
    published figures, so a chart on screen is the chart in the PDF."""
    from svduty.report.sections import RECORD_SECTIONS

    if not pub.provenance.get("records"):
        return []
    builders = {key: build for key, _, build in RECORD_SECTIONS}
    drawn = _Charts(pub, pub.provenance["definition"]["id"])
    for key in CHARTED.get(page, ()):
        builders[key](drawn)
    return [(chart, chart.vega_lite()) for chart in drawn.charts]


class Published:
    """The workspace, read-only, and the published sets of the views asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._workspace: Workspace | None = None
        self._stamp: tuple[int, int] | None = None
        self._choices: Choices | None = None
        self._sets: OrderedDict[tuple[Any, ...], dict[str | None, Publication]] = OrderedDict()
        self._facts: tuple[tuple[int, int] | None, tuple[str, str, list[str], int]] | None = None
        self._making: dict[tuple[Any, ...], threading.Lock] = {}
        self._places: tuple[str, dict[str, set[str]]] | None = None
        self._districts: tuple[str, dict[str, District]] | None = None
        self._provision: tuple[tuple[int, int] | None, str] | None = None
        self.changed: Callable[[], None] | None = None
        """Called (outside any lock) when the data version seen changes: warms the new sets."""

    def _snapshot(self) -> tuple[int, int] | None:
        try:
            found = (self.root / SNAPSHOT_FILE).stat()
        except FileNotFoundError:
            return None
        return found.st_ino, found.st_mtime_ns

    def _current(self) -> Workspace:
        """The open workspace, reopened when a writer has committed since (held under the
        lock)."""
        stamp = self._snapshot()
        if self._workspace is None or stamp != self._stamp:
            if self._workspace is not None:
                self._workspace.close()
            self._workspace = Workspace.open(self.root, read_only=True, say=lambda _: None)
            self._stamp = stamp
            self._choices = None
        return self._workspace

    def facts(self) -> tuple[str, str, list[str], int]:
        """The area's name, the data version, its CSPs and the disclosure threshold (read once
        per data version: asked at every request)."""
        stamp = self._snapshot()
        known = self._facts
        if known is not None and known[0] == stamp:
            return known[1]
        with self._lock:
            ws = self._current()
            settings = ws.settings
            found = (
                str(settings.area or ""), ws.data_version, list(settings.csps),
                settings.disclosure_threshold,
            )  # fmt: skip
            before, self._facts = self._facts, (self._stamp, found)
        if self.changed is not None and (before is None or before[1][1] != found[1]):
            self.changed()
        return found

    def _chosen(self) -> Choices:
        """The definitions a view may choose (held under the lock; read again on reopening)."""
        ws = self._current()
        if self._choices is None:
            self._choices = Choices(load_definition(ws.settings.definition))
        return self._choices

    def choices(self) -> Choices:
        with self._lock:
            return self._chosen()

    def definition(self, view: View) -> Definition:
        """The definition the view counts by: its own, one clause of it, or the workspace's."""
        with self._lock:
            return self._chosen().chosen(view.definition, view.clause)

    def set_of(self, view: View, build: bool = True) -> dict[str | None, Publication] | None:
        """The whole area's publication and each CSP's for the view's period and definition,
        controlled together (so no figure is recoverable across them): kept in memory, else read
        from the workspace's cache, else (when `build`) made. None, without `build`, when it
        would have to be made or another thread is making it. Made or read on a connection of
        its own, so a build of many seconds holds up no other request. A district's view (its
        code the view's area) has a set of its own, that district's publication alone
        (`sna.district_publication`, for analysts), made only when asked for."""
        from svduty.counting import Filter
        from svduty.interventions.published import with_gaps
        from svduty.sna import district_publication, on_disk, publications, selection_of

        _, version, _, threshold = self.facts()
        definition = self.definition(view)
        policy = Policy(threshold, internal=view.internal)
        provision = self.provision()
        district = self.districts().get(view.area or "")
        code = district.code if district else None
        key = (version, provision, view.start, view.end, definition.sha256, policy.key, code)
        with self._lock:
            if key in self._sets:
                self._sets.move_to_end(key)
                return self._sets[key]
            making = self._making.setdefault(key, threading.Lock())
        if not making.acquire(blocking=build):
            return None
        try:
            with self._lock:
                if key in self._sets:  # made while this request waited for it
                    return self._sets[key]
            ws = Workspace.open(self.root, read_only=True, say=lambda _: None)
            try:
                period = [
                    *([Filter("month", view.start, ">=")] if view.start else []),
                    *([Filter("month", view.end, "<=")] if view.end else []),
                ]
                selection = selection_of(ws, definition, period=period or None)
                if district is not None:
                    selection = selection.for_district(district.code, district.csp)
                if not build and not on_disk(ws, selection, policy):
                    return None
                found: dict[str | None, Publication]
                if district is not None:  # a set of its own, for analysts
                    found = {district.code: district_publication(ws, selection, policy)}
                else:
                    found = with_gaps(ws, selection, policy, publications(ws, selection, policy))
                made = (ws.data_version, provision, view.start, view.end, definition.sha256,
                        policy.key, code)  # fmt: skip
            finally:
                ws.close()
            with self._lock:
                self._sets[made] = found
                while len(self._sets) > KEPT:
                    self._sets.popitem(last=False)
            return found
        finally:
            making.release()
            with self._lock:
                if self._making.get(key) is making and not making.locked():
                    del self._making[key]

    def provision(self) -> str:
        """The interventions catalogue's version and the day: what the gap tables of a set
        rest on besides the data (read once per commit of the workspace)."""
        stamp = self._snapshot()
        known = self._provision
        if known is None or known[0] != stamp:
            from svduty.interventions.store import catalogue_version

            with self._lock:
                found = catalogue_version(self._current())
            known = self._provision = (stamp, found)
        return f"{known[1]}-{date.today().isoformat()}"

    def places_of(self, csps: set[str]) -> set[str]:
        """The names and codes of the CSPs' districts (read once per data version): what a
        sentence about another CSP may name instead of the CSP."""
        if not csps:
            return set()
        version = self.facts()[1]
        if self._places is None or self._places[0] != version:
            from svduty.analysis.assessment import csp_districts
            from svduty.reference.places import places

            with self._lock:
                ws = self._current()
                groups = csp_districts(ws.store, ws.settings, None)
                known = places(ws.store)
            names = dict(zip(known["la_code"], known["la_name"], strict=True))
            found = {
                csp: {n for code in codes for n in (code, names.get(code)) if n}
                for csp, codes in groups.items()
            }
            self._places = (version, found)
        return {n for csp in csps for n in self._places[1].get(csp, set())}

    def districts(self) -> dict[str, District]:
        """Each CSP's districts by code, in the CSPs' order then by name (read once per data
        version): the third level of the area filter."""
        version = self.facts()[1]
        known = self._districts
        if known is not None and known[0] == version:
            return known[1]
        from svduty.analysis.assessment import csp_districts, district_names

        with self._lock:
            ws = self._current()
            if not ws.settings.csps:
                groups: dict[str, tuple[str, ...]] = {}
            else:
                groups = csp_districts(ws.store, ws.settings, None)
            codes = tuple(c for found in groups.values() for c in found)
            names = district_names(ws.store, codes)
        found = {
            code: District(code, names.get(code, code), csp)
            for csp, codes in groups.items()
            for code in sorted(codes, key=lambda c: names.get(c, c))
        }
        self._districts = (version, found)
        return found

    def made(self, view: View) -> dict[str | None, Publication]:
        """The view's set, made now if it must be (for an export or a map layer, which wait)."""
        found = self.set_of(view, build=True)
        if found is None:  # set_of makes what it has not got when asked to build
            raise RuntimeError("a published set was not made")
        return found

    def using(self, work: Callable[[Workspace], T]) -> T:
        """`work` done on the open workspace, under the lock: for what reads more than the
        published sets (the maps' boundaries and hotspots)."""
        with self._lock:
            return work(self._current())

    def lineage(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every batch (file, kind, rows read, accepted and rejected, when, status) and the
        rejected rows counted by file, field and reason: for analysts, not for publication
        (a file's name and a rejected value may say more than a count)."""
        with self._lock:
            con = self._current().con
            batches = con.execute(
                "SELECT batch_id, file_name, source_kind, rows_read, rows_accepted, "
                "rows_rejected, synthetic, status, finished_at FROM batches ORDER BY batch_id"
            ).fetchdf()
            rejects = con.execute(
                "SELECT file_name, field, reason, count(*) AS rows FROM rejects "
                "GROUP BY ALL ORDER BY rows DESC, file_name LIMIT 200"
            ).fetchdf()
        return batches, rejects

    def explain(self, definition: Definition, incident: str) -> tuple[Explanation, str]:
        """Why one record is in or out of the definition, rule by rule, and the data version
        read: record-level, for analysts only."""
        from svduty.definitions.classify import explain

        with self._lock:
            ws = self._current()
            return explain(ws.store, definition, incident), ws.data_version

    def close(self) -> None:
        with self._lock:
            if self._workspace is not None:
                self._workspace.close()
                self._workspace = None
