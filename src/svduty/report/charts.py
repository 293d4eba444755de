"""Charts as inline SVG (matplotlib, no network, no JavaScript); analyses never draw."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

plt.rcParams["svg.hashsalt"] = "svduty"  # stable ids, so the same data gives the same file
plt.rcParams["svg.fonttype"] = "none"


def _svg(figure: plt.Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def bar_chart(labels: list[str], values: list[int], title: str, horizontal: bool = False) -> str:
    height = max(2.5, 0.28 * len(labels)) if horizontal else 3.2
    figure, axes = plt.subplots(figsize=(8, height))
    if horizontal:
        axes.barh(labels[::-1], values[::-1], color="#1d5c8c")
        axes.set_xlabel("Count")
    else:
        axes.bar(labels, values, color="#1d5c8c")
        axes.set_ylabel("Count")
        if len(labels) > 6:
            axes.tick_params(axis="x", labelrotation=90)
    axes.set_title(title, loc="left", fontsize=11)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)
