"""Charts drawn from published tables: inline SVG for the report (matplotlib, no network, no
JavaScript) and a Vega-Lite spec of the same data for the dashboard. Each chart builds its own
Figure (no pyplot state), so charts can be drawn from several threads at once."""

from __future__ import annotations

import hashlib
import io
import math
import re
from dataclasses import dataclass, field
from typing import Any

import matplotlib

matplotlib.use("Agg")
from markupsafe import escape
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

BLUE = "#1d5c8c"
SHADES = ("#c9c9c9", "#f2ddb3")  # months with no data; months without every source
GAP = "no data (a gap, not a zero)"
PART = "data from only some sources"
HIDDEN = "[c]"
LISTED = 12  # at most this many shown values are named in the sentence that replaces a chart
VEGA_LITE = "https://vega.github.io/schema/vega-lite/v5.json"
SVG_PARAMS: dict[str, Any] = {
    "svg.hashsalt": "svduty",
    "svg.fonttype": "none",
}  # same data, same file


AXIS_FORMAT = ",~r"
"""Vega-Lite (d3) numbers with thousands separators and no trailing zeros: 8,000 and 0.85. Vega
sets the precision from the ticks' step, and "r" (significant digits, decimal notation) keeps
800 as 800 where "g" would write 8e+2."""


def figure_text(value: float, _: Any = None) -> str:
    """An axis figure as the tables show it: 8,000, not 8000; fractions to what they need."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"


THOUSANDS = FuncFormatter(figure_text)


def gaps(values: Any) -> list[float]:
    """Hidden (None) values as NaN: a gap in a line, no bar; never a false zero."""
    return [float("nan") if v is None else float(v) for v in values]


@dataclass(frozen=True)
class Chart:
    """One chart: `kind` is bar, line, lines or heatmap; `series` maps a name to values along
    `labels` (a heatmap's series are its rows)."""

    id: str
    kind: str
    title: str
    labels: list[str]
    series: dict[str, list[float]]
    unit: str = "Incidents"
    horizontal: bool = False
    x_title: str = ""
    notes: list[str] = field(default_factory=list)
    shaded: dict[str, list[str]] = field(default_factory=dict)  # legend -> labels shaded

    def html(self) -> str:
        """The chart as a figure, hidden values named under it where the drawing cannot mark
        each; or, when there is nothing to draw, a sentence saying so."""
        empty = self.empty()
        if empty:
            return f'<p class="note nochart">{escape(empty)}</p>'
        caption = ""
        hidden = self.hidden()
        if hidden and self.kind == "lines":
            listed = "; ".join(f"{name}: {_runs(labels)}" for name, labels in hidden.items())
            caption = (
                f"<figcaption class='note'>{HIDDEN} hidden (small counts), left as gaps: "
                f"{escape(listed)}.</figcaption>"
            )
        figure = f'<figure class="chart" data-chart="{escape(self.id)}">'
        return f"{figure}{self.svg()}{caption}</figure>"

    def empty(self) -> str | None:
        """Why the chart has nothing to show (None when it has): every value hidden, missing
        or zero, more than half of the values with data hidden (a chart of mostly [c] marks
        reads as noise, and its marks collide), or a line of one point."""
        values = [v for series in self.series.values() for v in series]
        shown = [v for v in values if not math.isnan(v)]
        what = self.title.split(":")[0]
        if not shown:
            return (
                f"{what}: no chart, as every value is hidden ({HIDDEN}) or has no data."
                if values
                else f"{what}: no chart, as there is nothing to count."
            )
        hidden = sum(len(labels) for labels in self.hidden().values())
        held = len(shown) + hidden  # values with data: shown or hidden
        if hidden * 2 > held:
            return (
                f"{what}: no chart, as {hidden} of the {held} values with data are hidden "
                f"({HIDDEN}, small counts){self._listed(shown)}."
            )
        if not any(shown):
            if hidden:
                return (
                    f"{what}: no chart, as every value shown is zero and the other {hidden} "
                    f"are hidden ({HIDDEN}, small counts)."
                )
            return f"{what}: no chart, as every value shown is zero."
        if self.kind in ("line", "lines") and all(
            sum(not math.isnan(v) for v in series) < 2 for series in self.series.values()
        ):
            only = ", ".join(
                f"{label} {v:,.0f}"
                for series in self.series.values()
                for label, v in zip(self.labels, series, strict=True)
                if not math.isnan(v)
            )
            return f"{what}: no chart, as there is one value only ({only}) and no line to draw."
        return None

    def _listed(self, shown: list[float]) -> str:
        """The shown values, named, when there are few enough to read in a sentence."""
        if len(shown) > LISTED or len(self.series) > 1:
            return ""
        pairs = [
            f"{label} {v:,.4g}"
            for series in self.series.values()
            for label, v in zip(self.labels, series, strict=True)
            if not math.isnan(v)
        ]
        return f"; shown: {', '.join(pairs)}"

    def hidden(self) -> dict[str, list[str]]:
        """Labels of each series whose value is hidden: missing where the month has data."""
        gaps = set(self.shaded.get(GAP, []))
        out = {
            name: [
                label
                for label, v in zip(self.labels, values, strict=True)
                if math.isnan(v) and label not in gaps
            ]
            for name, values in self.series.items()
        }
        return {name: labels for name, labels in out.items() if labels}

    def svg(self) -> str:
        with matplotlib.rc_context(SVG_PARAMS):  # type: ignore[arg-type]
            figure = getattr(self, f"_draw_{self.kind}")()
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
        return _prefixed(buffer.getvalue(), self.id)

    def png(self, dpi: int = 150) -> bytes:
        """The same drawing as `svg`, as a PNG image (for slides and documents)."""
        figure = getattr(self, f"_draw_{self.kind}")()
        buffer = io.BytesIO()
        figure.savefig(
            buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None}
        )
        return buffer.getvalue()

    def vega_lite(self) -> dict[str, Any]:
        """The chart's data and encoding; hidden values are null (Vega-Lite leaves a gap)."""
        rows = [
            {"label": label, "series": name, "value": None if math.isnan(v) else v}
            for name, values in self.series.items()
            for label, v in zip(self.labels, values, strict=True)
        ]
        x: dict[str, Any] = {
            "field": "label",
            "type": "ordinal",
            "sort": None,
            "title": self.x_title,
        }
        y = {
            "field": "value",
            "type": "quantitative",
            "title": self.unit,
            "axis": {"format": AXIS_FORMAT},
        }
        spec: dict[str, Any] = {
            "$schema": VEGA_LITE,
            "title": self.title,
            "data": {"values": rows},
            "width": "container",
        }
        if self.kind == "heatmap":
            spec["mark"] = "rect"
            spec["encoding"] = {
                "x": x,
                "y": {"field": "series", "type": "ordinal", "sort": None, "title": ""},
                "color": {
                    "field": "value",
                    "type": "quantitative",
                    "title": self.unit,
                    "scale": {"scheme": "blues"},
                    "legend": {"format": AXIS_FORMAT},
                },
            }
        elif self.kind == "bar":
            spec["mark"] = "bar"
            spec["encoding"] = {"y": x, "x": y} if self.horizontal else {"x": x, "y": y}
        else:
            spec["mark"] = {"type": "line", "point": True}
            spec["encoding"] = {"x": x, "y": y}
            if self.kind == "lines":
                spec["encoding"]["color"] = {"field": "series", "type": "nominal", "title": ""}
        shades = self._shades()
        if not shades:
            return spec
        # shaded months behind the data, on the same x scale (all labels, in order)
        x["scale"] = {"domain": list(self.labels)}
        legend = list(self.shaded)
        band = {
            "data": {"values": [{"label": m, "shade": name} for name, m in shades]},
            "mark": {"type": "rect", "opacity": 0.6},
            "encoding": {
                "x": x,
                "color": {
                    "field": "shade",
                    "type": "nominal",
                    "title": "",
                    "scale": {"domain": legend, "range": list(SHADES[: len(legend)])},
                },
            },
        }
        data = {key: spec.pop(key) for key in ("data", "mark", "encoding")}
        spec["layer"] = [band, data]
        return spec

    def _shades(self) -> list[tuple[str, str]]:
        """(legend, label) of every shaded label that is on the chart."""
        on_chart = set(self.labels)
        return [(name, m) for name, months in self.shaded.items() for m in months if m in on_chart]

    def _draw_shades(self, axes: Axes) -> None:
        """Shaded bands over runs of shaded labels, one legend entry each."""
        index = {label: i for i, label in enumerate(self.labels)}
        for (name, months), colour in zip(self.shaded.items(), SHADES, strict=False):
            places = sorted(index[m] for m in months if m in index)
            runs: list[list[int]] = []
            for i in places:
                if runs and runs[-1][1] == i - 1:
                    runs[-1][1] = i
                else:
                    runs.append([i, i])
            for n, (first, last) in enumerate(runs):
                axes.axvspan(
                    first - 0.5,
                    last + 0.5,
                    color=colour,
                    alpha=0.6,
                    linewidth=0,
                    zorder=0,
                    label=name if n == 0 else None,
                )

    def _draw_bar(self) -> Figure:
        values = next(iter(self.series.values()))
        height = max(2.5, 0.28 * len(self.labels)) if self.horizontal else 3.2
        figure = Figure(figsize=(8, height))
        axes = figure.subplots()
        # every label keeps its place; only shown values get a bar (a hidden one gets none)
        places = [len(values) - 1 - i for i in range(len(values))] if self.horizontal else None
        if self.horizontal:
            axes.set_yticks(places or [], self.labels)
            axes.set_ylim(-0.6, len(values) - 0.4)
            axes.set_xlabel(self.unit)
            axes.xaxis.set_major_formatter(THOUSANDS)
        else:
            axes.set_xticks(range(len(values)), self.labels)
            axes.set_xlim(-0.6, len(values) - 0.4)
            axes.set_ylabel(self.unit)
            axes.yaxis.set_major_formatter(THOUSANDS)
            if len(self.labels) > 6:
                axes.tick_params(axis="x", labelrotation=90)
            self._draw_shades(axes)
        for i, v in enumerate(values):
            if math.isnan(v):
                continue
            if places is not None:
                (bar,) = axes.barh([places[i]], [v], color=BLUE)
            else:
                (bar,) = axes.bar([i], [v], color=BLUE)
            bar.set_gid(f"bar-{i}")
        self._mark_hidden(axes, values)
        self._finish(axes)
        return figure

    def _mark_hidden(self, axes: Axes, values: list[float]) -> None:
        """A hidden value is drawn as nothing, with [c] where it would stand (a month with no
        data is not hidden: its grey band says so)."""
        hidden = set(self.hidden().get(next(iter(self.series)), []))
        for i, v in enumerate(values):
            if not (math.isnan(v) and self.labels[i] in hidden):
                continue
            if self.horizontal:
                mark = axes.text(0, len(values) - 1 - i, f" {HIDDEN}", va="center", fontsize=7)
            else:
                mark = axes.text(i, 0, HIDDEN, ha="center", va="bottom", fontsize=7)
            mark.set_gid(f"hidden-{i}")

    def _draw_line(self) -> Figure:
        return self._draw_lines()

    def _draw_lines(self) -> Figure:
        figure = Figure(figsize=(8, 3.6 if len(self.series) > 1 else 3.2))
        axes = figure.subplots()
        for name, values in self.series.items():
            axes.plot(
                self.labels,
                values,
                marker="o",
                markersize=3 if len(self.series) == 1 else 2,
                linewidth=1.2,
                label=name if len(self.series) > 1 else None,
                color=BLUE if len(self.series) == 1 else None,
            )
        self._draw_shades(axes)
        if len(self.series) == 1:
            self._mark_hidden(axes, next(iter(self.series.values())))
        axes.set_ylabel(self.unit)
        axes.yaxis.set_major_formatter(THOUSANDS)
        axes.set_ylim(bottom=0)
        step = max(1, len(self.labels) // 12)
        axes.set_xticks(range(0, len(self.labels), step), self.labels[::step], rotation=90)
        if len(self.series) > 1 or self._shades():
            axes.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        self._finish(axes)
        return figure

    def _draw_heatmap(self) -> Figure:
        figure = Figure(figsize=(8, 3))
        axes = figure.subplots()
        rows = list(self.series)
        image = axes.imshow([self.series[r] for r in rows], aspect="auto", cmap="Blues")
        for r, row in enumerate(rows):
            for c, v in enumerate(self.series[row]):
                if math.isnan(v):
                    mark = axes.text(c, r, HIDDEN, ha="center", va="center", fontsize=5)
                    mark.set_gid(f"hidden-{r}-{c}")
        axes.set_yticks(range(len(rows)), rows)
        axes.set_xticks(range(0, len(self.labels), 2), self.labels[::2])
        axes.set_xlabel(self.x_title)
        figure.colorbar(image, ax=axes, label=self.unit, format=THOUSANDS)
        axes.set_title(self.title, loc="left", fontsize=11)
        return figure

    def _finish(self, axes: Axes) -> None:
        axes.set_title(self.title, loc="left", fontsize=11)
        axes.spines[["top", "right"]].set_visible(False)
        if self.x_title:
            axes.set_xlabel(self.x_title)


def _runs(labels: list[str]) -> str:
    """Labels as runs of neighbours: "2023-01 to 2023-03, 2023-07"."""
    months: list[list[str]] = []
    for label in labels:
        if months and _next_month(months[-1][-1]) == label:
            months[-1].append(label)
        else:
            months.append([label])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]} to {run[-1]}" for run in months)


def _next_month(label: str) -> str | None:
    if not re.fullmatch(r"\d{4}-\d{2}", label):
        return None
    year, month = int(label[:4]), int(label[5:])
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def _prefixed(text: str, chart_id: str) -> str:
    """The SVG with its element ids prefixed by the chart's, so charts on a page never clash."""
    text = text[text.index("<svg") :]
    prefix = "c" + hashlib.sha256(chart_id.encode()).hexdigest()[:8] + "-"
    text = re.sub(r'id="([^"]+)"', rf'id="{prefix}\1"', text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}\1"', text)
    return re.sub(r"#([A-Za-z_][\w.-]*)\)", rf"#{prefix}\1)", text)
