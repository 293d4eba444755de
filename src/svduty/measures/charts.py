"""SPC charts and funnel plots as PNG or SVG (matplotlib, one Figure per chart, no pyplot
state). Drawing is kept apart from the computing in spc.py and funnel.py."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from datetime import date

import matplotlib

matplotlib.use("Agg")
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from svduty.measures.funnel import FunnelResult
from svduty.measures.spc import COLOURS, MIN_POINTS, VARIATIONS, SpcResult

SVG_PARAMS = {"svg.hashsalt": "svduty", "svg.fonttype": "none"}  # same data, same file
RUN_CHART = "#D9D9D9"
TARGET = "#C00000"
BASELINE = "#EDEDED"
SIGNIFICANCE_COLOURS = {
    "High (0.001)": "#B35806",
    "High (0.025)": "#F1A340",
    "Not significant": COLOURS["common"],
    "Low (0.025)": "#998EC3",
    "Low (0.001)": "#542788",
}
"""No judgement of better or worse: a funnel says only that an area differs."""
VARIATION_WORDS = {
    "common_cause": "common cause",
    "improvement_high": "special cause improvement (high)",
    "improvement_low": "special cause improvement (low)",
    "concern_high": "special cause concern (high)",
    "concern_low": "special cause concern (low)",
    "neither_high": "special cause, neither better nor worse (high)",
    "neither_low": "special cause, neither better nor worse (low)",
}
ASSURANCE_WORDS = {
    "pass": "the target is consistently met",
    "fail": "the target is consistently missed",
    "hit_or_miss": "the target is hit or missed by chance",
}


def render(figure: Figure, fmt: str) -> bytes:
    if fmt == "svg":
        with matplotlib.rc_context(SVG_PARAMS):  # type: ignore[arg-type]
            text = io.StringIO()
            figure.savefig(text, format="svg", bbox_inches="tight", metadata={"Date": None})
        return text.getvalue().encode()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def spc_figure(result: SpcResult, title: str, label: str = "Value") -> Figure:
    """Points coloured by variation, the mean and limits of each segment drawn apart, the
    2-sigma lines faint, the target dashed, and the last point's icons said under the title."""
    frame = result.frame
    days = _days(frame["date"])
    figure = Figure(figsize=(10, 5))
    axes = figure.subplots()
    axes.plot(days, frame["value"], color="#7F7F7F", linewidth=1, zorder=1)
    for _, part in frame.groupby("segment", sort=True):
        span = _days(part["date"])
        axes.plot(span, part["mean"], color="#231F20", linewidth=1.4, zorder=2)
        for column, style, width in (
            ("upl", "--", 1.2),
            ("lpl", "--", 1.2),
            ("upper_2sigma", ":", 0.8),
            ("lower_2sigma", ":", 0.8),
        ):
            if part[column].notna().any():
                axes.plot(span, part[column], color="#7F7F7F", linestyle=style, linewidth=width)
    if result.target is not None:
        axes.axhline(result.target, color=TARGET, linestyle="--", linewidth=1.2)
    baseline = days[frame["baseline"].to_numpy(dtype=bool)]
    if len(baseline):
        axes.axvspan(baseline[0], baseline[-1], color=BASELINE, zorder=0, linewidth=0)
    variations = [v if isinstance(v, str) else "" for v in frame["variation"]]
    colours = [COLOURS.get(v, RUN_CHART) for v in variations]
    axes.scatter(days, frame["value"], c=colours, s=36, zorder=3, edgecolors="none")
    said = []
    if result.variation_icon:
        said.append(f"Variation: {VARIATION_WORDS[result.variation_icon]}")
    if result.assurance_icon:
        said.append(f"Assurance: {ASSURANCE_WORDS[result.assurance_icon]}")
    if frame["variation"].isna().all():
        said.append(f"Run chart: limits need {MIN_POINTS} points")
    axes.set_title(title + ("\n" + "; ".join(said) if said else ""), loc="left", fontsize=11)
    axes.set_ylabel("Days between events" if result.chart in ("t", "g") else label)
    _variation_legend(axes, variations, result.target is not None, len(baseline) > 0)
    axes.spines[["top", "right"]].set_visible(False)
    figure.autofmt_xdate()
    return figure


def _days(texts: Iterable[str]) -> np.ndarray:
    return np.array([date.fromisoformat(t) for t in texts], dtype="datetime64[D]")


def _variation_legend(axes: Axes, variations: list[str], target: bool, baseline: bool) -> None:
    shown = [v for v in VARIATIONS if v in variations]
    handles: list[Artist] = [
        Line2D([], [], marker="o", linestyle="", color=COLOURS[v], label=_words(v)) for v in shown
    ]
    handles += [
        Line2D([], [], color="#231F20", label="Mean"),
        Line2D([], [], color="#7F7F7F", linestyle="--", label="Process limits"),
    ]
    if target:
        handles.append(Line2D([], [], color=TARGET, linestyle="--", label="Target"))
    if baseline:
        handles.append(Patch(color=BASELINE, label="Baseline (limits from it)"))
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)


def _words(variation: str) -> str:
    return {
        "common": "Common cause",
        "improvement": "Improvement",
        "concern": "Concern",
        "neither": "Special cause (neither)",
    }[variation]


def funnel_figure(result: FunnelResult, title: str) -> Figure:
    """Areas against their denominators, the baseline and the 95 % and 99.8 % funnels; areas
    outside the 99.8 % funnel are named."""
    frame = result.frame
    figure = Figure(figsize=(9, 6))
    axes = figure.subplots()
    smallest, largest = float(frame["denominator"].min()), float(frame["denominator"].max())
    low = max(smallest * 0.5, largest / 1000)
    grid = np.geomspace(low, largest * 1.05, 200)
    lines = result.limits(grid)
    axes.axhline(result.baseline, color="#231F20", linewidth=1.2)
    for column, style in (
        ("lower_95", "--"),
        ("upper_95", "--"),
        ("lower_998", "-"),
        ("upper_998", "-"),
    ):
        axes.plot(grid, lines[column], color="#7F7F7F", linestyle=style, linewidth=1)
    axes.scatter(
        frame["denominator"],
        frame["value"],
        c=[SIGNIFICANCE_COLOURS[s] for s in frame["significance"]],
        s=40,
        zorder=3,
        edgecolors="white",
        linewidths=0.5,
    )
    for row in frame.itertuples():
        if str(row.significance).endswith("(0.001)"):
            axes.annotate(
                str(row.area), (row.denominator, row.value), xytext=(4, 4),
                textcoords="offset points", fontsize=7,
            )  # fmt: skip
    shown = [s for s in SIGNIFICANCE_COLOURS if s in set(frame["significance"])]
    handles = [
        Line2D([], [], marker="o", linestyle="", color=SIGNIFICANCE_COLOURS[s], label=s)
        for s in shown
    ]
    handles += [
        Line2D([], [], color="#231F20", label=f"Baseline {_number(result.baseline)}"),
        Line2D([], [], color="#7F7F7F", linestyle="--", label="95% limits"),
        Line2D([], [], color="#7F7F7F", label="99.8% limits"),
    ]
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    per_cent = result.kind == "proportion" and result.multiplier == 100
    unit = "%" if per_cent else f"per {result.multiplier:,.0f}"
    axes.set_xlabel("Denominator")
    axes.set_ylabel(f"{result.kind.capitalize()} ({unit})")
    widened = result.overdispersion is not None and result.overdispersion.widened
    axes.set_title(
        title + ("\nLimits widened for overdispersion" if widened else ""), loc="left", fontsize=11
    )
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _number(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "-"
