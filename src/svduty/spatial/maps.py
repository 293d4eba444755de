"""Static maps for the PDF and the page, and GeoJSON for the dashboard. No tile server: district
and CSP outlines come from the area's boundaries (bundled, or a file the partnership gives), so
a map draws offline and identically; without boundaries it draws cells only and says so.

Every map has a legend, a scale bar (a round number of kilometres), a north arrow and the
boundaries it was drawn with (or the sentence saying there are none); grid cells are drawn in BNG
metres, the system they were made in."""

from __future__ import annotations

import gc
import io
import json
from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as DrawnPath
from pyproj import Transformer
from shapely import MultiPolygon, Polygon, set_precision, to_geojson, total_bounds, union_all
from shapely import transform as transform_shapes

from svduty.errors import InputError
from svduty.reference.boundaries import NO_BOUNDARIES, Boundaries
from svduty.spatial.grid import Grid

CLASS_COLOURS = {
    "hot 99%": "#b2182b",
    "hot 95%": "#ef8a62",
    "hot 90%": "#fddbc7",
    "not significant": "#f7f7f7",
    "cold 90%": "#d1e5f0",
    "cold 95%": "#67a9cf",
    "cold 99%": "#2166ac",
}
NOT_DRAWN = ("not significant", "outside the area", "no pattern detected")
PATTERN_COLOURS = {
    "intensifying hot spot": "#bd0026",
    "persistent hot spot": "#f03b20",
    "diminishing hot spot": "#fd8d3c",
    "consecutive hot spot": "#fed976",
    "new hot spot": "#ffffb2",
    "sporadic hot spot": "#c994c7",
    "oscillating hot spot": "#dd3497",
    "historical hot spot": "#8c6d31",
    "intensifying cold spot": "#08306b",
    "persistent cold spot": "#2171b5",
    "diminishing cold spot": "#6baed6",
    "consecutive cold spot": "#9ecae1",
    "new cold spot": "#deebf7",
    "sporadic cold spot": "#a1d99b",
    "oscillating cold spot": "#41ab5d",
    "historical cold spot": "#bdbdbd",
}


def _rings(shape: Polygon | MultiPolygon) -> Iterable[np.ndarray]:
    polygons = shape.geoms if isinstance(shape, MultiPolygon) else [shape]
    for polygon in polygons:
        yield np.asarray(polygon.exterior.coords)


@dataclass(frozen=True)
class Outlines:
    """What a map draws besides its data: the reported area's CSPs (bold, named) and districts
    (thin), and the source of both. Only the reported area's: never a neighbour's."""

    csps: dict[str, Polygon | MultiPolygon]
    districts: tuple[Polygon | MultiPolygon, ...]
    source: str

    @property
    def area(self) -> Polygon | MultiPolygon:
        """The union of the CSP outlines: the area whose cells are tested."""
        return union_all(list(self.csps.values()))


def outlines(
    boundaries: Boundaries | None, csp_districts: dict[str, tuple[str, ...]]
) -> Outlines | None:
    """Each CSP's outline as the union of its districts' (`csp_districts`: district codes per
    CSP of the reported area); None without boundaries."""
    if boundaries is None or not csp_districts:
        return None
    shapes = boundaries.districts
    wanted = tuple((name, tuple(sorted(codes))) for name, codes in csp_districts.items())
    missing = sorted({c for _, codes in wanted for c in codes} - set(shapes))
    if missing:
        raise InputError(
            f"boundaries ({boundaries.source}) have no outline for district(s) "
            f"{', '.join(missing)}: give a boundary file that covers the area"
        )
    return Outlines(
        {name: union_all([shapes[c] for c in codes]) for name, codes in wanted},
        tuple(shapes[c] for _, codes in wanted for c in codes),
        boundaries.source,
    )


def _decorate(axes: Axes, unit: str, outline: Outlines | None) -> None:
    if outline is not None:
        for shape in outline.districts:
            for ring in _rings(shape):
                axes.plot(ring[:, 0], ring[:, 1], color="#777777", linewidth=0.4)
        for name, shape in outline.csps.items():
            for ring in _rings(shape):
                axes.plot(ring[:, 0], ring[:, 1], color="#111111", linewidth=1.0)
            point = shape.representative_point()
            axes.annotate(
                name,
                (point.x, point.y),
                fontsize=6.5,
                ha="center",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.7},
            )
    west, east = axes.get_xlim()
    south, north = axes.get_ylim()
    span = east - west
    # about a fifth of the map's width, in a round number of kilometres
    km = max(1, round(span / 5000)) if span < 50_000 else 10 * max(1, round(span / 50_000))
    x0, y0 = west + 0.05 * span, south + 0.04 * (north - south)
    axes.plot([x0, x0 + km * 1000], [y0, y0], color="black", linewidth=2.5, solid_capstyle="butt")
    axes.text(x0 + km * 500, y0 + 0.015 * (north - south), f"{km} km", ha="center", fontsize=7)
    ax, ay = east - 0.06 * span, north - 0.12 * (north - south)
    axes.annotate(
        "N",
        xy=(ax, ay + 0.08 * (north - south)),
        xytext=(ax, ay),
        ha="center",
        fontsize=9,
        fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "black"},
    )
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])
    said = f"Boundaries: {outline.source}." if outline is not None else NO_BOUNDARIES
    axes.text(
        0.0,
        -0.02,
        f"British National Grid; {unit}. {said}",
        transform=axes.transAxes,
        fontsize=6,
        va="top",
        wrap=True,
    )


def _extent(
    covered: tuple[float, float, float, float], outline: Outlines | None
) -> tuple[float, float, float, float]:
    """The area's outline, or what the map covers when it has none, with a margin."""
    west, south, east, north = outline.area.bounds if outline is not None else covered
    pad = 0.03 * max(east - west, north - south)
    return west - pad, south - pad, east + pad, north + pad


def _finish(
    figure: Figure,
    axes: Axes,
    covered: tuple[float, float, float, float],
    unit: str,
    outline: Outlines | None,
    title: str,
) -> bytes:
    """Frame the map on the area, add its boundaries and furniture, and render it."""
    west, south, east, north = _extent(covered, outline)
    axes.set_xlim(west, east)
    axes.set_ylim(south, north)
    _decorate(axes, unit, outline)
    axes.set_title(title, loc="left", fontsize=10)
    return _png(figure)


def _legend(axes: Axes, categories: pd.Series, colours: dict[str, str], title: str) -> None:
    """A swatch for each category drawn on the map, in the colours' order."""
    present = [c for c in colours if (categories == c).any() and c not in NOT_DRAWN]
    axes.legend(
        handles=[Patch(facecolor=colours[c], edgecolor="#999999", label=c) for c in present],
        loc="upper left",
        fontsize=7,
        title=title,
        title_fontsize=7,
        frameon=True,
    )


def class_map(
    frame: pd.DataFrame,
    grid: Grid,
    outline: Outlines | None,
    title: str,
    column: str = "class",
    colours: dict[str, str] = CLASS_COLOURS,
    legend: str = "Gi* class",
) -> bytes:
    """One category per cell (Gi* classes, or emerging patterns) as a PNG."""
    order = list(colours)
    shown = frame[column].where(~frame[column].isin(NOT_DRAWN))
    codes = shown.map({c: i for i, c in enumerate(order)}).to_numpy(float)
    image = codes.reshape(grid.rows, grid.columns)
    figure = Figure(figsize=(7, 7.6))
    axes = figure.subplots()
    axes.imshow(
        np.ma.masked_invalid(image),
        origin="lower",
        extent=_bounds(grid),
        cmap=ListedColormap(list(colours.values())),
        vmin=-0.5,
        vmax=len(order) - 0.5,
        interpolation="nearest",
    )
    _legend(axes, frame[column], colours, legend)
    return _finish(figure, axes, _covered(grid), f"{grid.size:,.0f} m cells", outline, title)


def density_map(values: np.ndarray, grid: Grid, outline: Outlines | None, title: str) -> bytes:
    figure = Figure(figsize=(7, 7.6))
    axes = figure.subplots()
    image = values.reshape(grid.rows, grid.columns)
    shown = axes.imshow(
        np.ma.masked_where(image <= image.max() * 0.01, image),
        origin="lower",
        cmap="YlOrRd",
        extent=_bounds(grid),
        interpolation="nearest",
    )
    if outline is not None:  # the surface ends at the area's edge, as its counts do
        edge = PathPatch(_path(outline.area), visible=False)
        axes.add_patch(edge)
        shown.set_clip_path(edge)
    figure.colorbar(shown, ax=axes, shrink=0.6, label="Incidents per square km, whole period")
    return _finish(figure, axes, _covered(grid), f"{grid.size:,.0f} m cells", outline, title)


def _path(shape: Polygon | MultiPolygon) -> DrawnPath:
    """A polygon with its holes as one matplotlib path (even-odd filling keeps holes empty)."""
    parts = shape.geoms if isinstance(shape, MultiPolygon) else [shape]
    rings = [np.asarray(r.coords)[:, :2] for p in parts for r in (p.exterior, *p.interiors)]
    return DrawnPath.make_compound_path(*(DrawnPath(ring, closed=True) for ring in rings))


def area_map(
    frame: pd.DataFrame,
    shapes: np.ndarray,
    outline: Outlines | None,
    title: str,
    column: str = "class",
    colours: dict[str, str] = CLASS_COLOURS,
    legend: str = "Gi* class",
) -> bytes:
    """One category per polygon (LSOA Gi* classes) as a choropleth PNG."""
    figure = Figure(figsize=(7, 7.6))
    axes = figure.subplots()
    # one collection, not a patch per polygon: drawing 781 patches one by one took seconds
    patches = [PathPatch(_path(shape)) for shape in shapes]
    collection = PatchCollection(
        patches,
        linewidths=0.15,
        edgecolors="#bbbbbb",
        facecolors=[colours.get(c, "#ffffff") for c in frame[column]],
    )
    axes.add_collection(collection)
    _legend(axes, frame[column], colours, legend)
    covered = tuple(total_bounds(shapes))
    return _finish(figure, axes, covered, f"{len(shapes):,} LSOAs", outline, title)


def _covered(grid: Grid) -> tuple[float, float, float, float]:
    return grid.x0, grid.y0, grid.x0 + grid.columns * grid.size, grid.y0 + grid.rows * grid.size


def _bounds(grid: Grid) -> tuple[float, float, float, float]:
    return (grid.x0, grid.x0 + grid.columns * grid.size, grid.y0, grid.y0 + grid.rows * grid.size)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def cells_geojson(frame: pd.DataFrame, grid: Grid) -> str:
    """Grid cells as WGS84 polygons with every column as a property (RFC 7946 wants WGS84).
    Built column by column: a national grid has millions of cells."""
    to_wgs = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    half = grid.size / 2
    x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
    corners = [
        (x - half, y - half),
        (x + half, y - half),
        (x + half, y + half),
        (x - half, y + half),
    ]
    wgs = [np.round(np.column_stack(to_wgs.transform(cx, cy)), 6) for cx, cy in corners]
    with _without_cycle_collection():
        rings = np.stack([*wgs, wgs[0]], axis=1).tolist()  # cell, corner (closed), lon/lat
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": row,
            }
            for ring, row in zip(rings, _records(frame), strict=True)
        ]
        return json.dumps({"type": "FeatureCollection", "features": features}, allow_nan=False)


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Millions of small lists and dicts, none in a cycle: the cycle collector would walk the
    growing structure again and again (a third of the time at 200,000 cells)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _records(frame: pd.DataFrame) -> list[dict[Hashable, Any]]:
    """Rows as JSON values: NumPy scalars as Python ones, a missing value (NaN) as null, since
    JSON has no NaN and strict readers refuse the literal."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def areas_geojson(frame: pd.DataFrame, shapes: np.ndarray) -> str:
    """Area polygons in WGS84 with every column as a property, for the dashboard."""
    to_wgs = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    wgs = transform_shapes(shapes, lambda xy: np.column_stack(to_wgs.transform(xy[:, 0], xy[:, 1])))
    wgs = set_precision(wgs, 1e-6)  # about 0.1 m: enough for a map, a third of the size
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(to_geojson(shape, indent=None)),
            "properties": row,
        }
        for shape, row in zip(wgs, _records(frame), strict=True)
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, allow_nan=False)
