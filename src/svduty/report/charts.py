"""Charts as inline SVG (matplotlib, no network, no JavaScript); analyses never draw."""

from __future__ import annotations

import io
import itertools
import re

import matplotlib
import pandas as pd

matplotlib.use("Agg")
import matplotlib.pyplot as plt

plt.rcParams["svg.hashsalt"] = "svduty"  # stable ids, so the same data gives the same file
plt.rcParams["svg.fonttype"] = "none"


_charts = itertools.count(1)


def _svg(figure: plt.Figure) -> str:
    """The figure as inline SVG, its element ids prefixed so charts on one page never clash."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    prefix = f"c{next(_charts)}-"
    text = re.sub(r'id="([^"]+)"', rf'id="{prefix}\1"', text)
    return re.sub(
        r"#([A-Za-z_][\w.-]*)\)",
        rf"#{prefix}\1)",
        re.sub(r'href="#([^"]+)"', rf'href="#{prefix}\1"', text),
    )


def bar_chart(
    labels: list[str],
    values: list[float],
    title: str,
    horizontal: bool = False,
    unit: str = "Count",
) -> str:
    height = max(2.5, 0.28 * len(labels)) if horizontal else 3.2
    figure, axes = plt.subplots(figsize=(8, height))
    if horizontal:
        axes.barh(labels[::-1], values[::-1], color="#1d5c8c")
        axes.set_xlabel(unit)
    else:
        axes.bar(labels, values, color="#1d5c8c")
        axes.set_ylabel(unit)
        if len(labels) > 6:
            axes.tick_params(axis="x", labelrotation=90)
    axes.set_title(title, loc="left", fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def line_chart(labels: list[str], values: list[float], title: str) -> str:
    """A monthly series; suppressed months (NaN) leave a gap rather than a false zero."""
    figure, axes = plt.subplots(figsize=(8, 3.2))
    axes.plot(labels, values, marker="o", markersize=3, color="#1d5c8c")
    _monthly_axes(axes, labels, title)
    return _svg(figure)


def _monthly_axes(axes: plt.Axes, labels: list[str], title: str) -> None:
    """Counts from zero, a month label at most every twelfth of the axis."""
    axes.set_ylabel("Count")
    axes.set_ylim(bottom=0)
    axes.set_title(title, loc="left", fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    step = max(1, len(labels) // 12)
    axes.set_xticks(range(0, len(labels), step), labels[::step], rotation=90)


def heatmap(matrix: pd.DataFrame, title: str) -> str:
    figure, axes = plt.subplots(figsize=(8, 3))
    image = axes.imshow(matrix.to_numpy(), aspect="auto", cmap="Blues")
    axes.set_yticks(range(len(matrix.index)), list(matrix.index))
    axes.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    axes.set_xlabel("Hour of day")
    axes.set_title(title, loc="left", fontsize=11)
    figure.colorbar(image, ax=axes, label="Incidents (weighted)")
    return _svg(figure)


def lines_chart(labels: list[str], series: dict[str, list[float]], title: str) -> str:
    """Several monthly series on one axis (e.g. one per theme), each with its legend entry."""
    figure, axes = plt.subplots(figsize=(8, 3.6))
    for name, values in series.items():
        axes.plot(labels, values, marker="o", markersize=2, linewidth=1.2, label=name)
    _monthly_axes(axes, labels, title)
    axes.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(figure)
