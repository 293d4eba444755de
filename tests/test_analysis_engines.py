"""Every analysis gives the same answer on DuckDB and on Spark: each result compared field by
field, and the whole assessment's summary.json compared figure by figure."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_workspace

from svduty.analysis.aggregates import aggregate_counts
from svduty.analysis.benchmarks import benchmarks
from svduty.analysis.concentration import concentration
from svduty.analysis.health import health
from svduty.analysis.records import records_analysed
from svduty.analysis.severity import breakdown, load_weights
from svduty.analysis.themes import themes
from svduty.analysis.trends import trend
from svduty.analysis.when import when
from svduty.analysis.where import by_deprivation, rates
from svduty.analysis.who import who
from svduty.counting import Filter, period_filters
from svduty.definitions import load_definition
from svduty.ingest import ingest
from svduty.sna import build_sna
from svduty.synth.check import synthetic_files
from svduty.synth.generate import generate
from svduty.synth.profile import load_profile

pytestmark = pytest.mark.spark

DEFINITION = load_definition("west-mercia-2022")
FILTERS = [*period_filters("2024-03", "2025-02"), Filter("csp", "Shropshire")]


@pytest.fixture(scope="module")
def both(tmp_path_factory, shared: Path):
    root = tmp_path_factory.mktemp("engines")
    generate(
        load_profile("west-mercia"), root / "syn", scale=0.05, years=2, seed=5, start="2024-01"
    )
    files, mappings = synthetic_files(root / "syn")
    workspaces = {}
    for engine in ("duckdb", "spark"):
        ws = make_workspace(root / engine, engine)
        ingest(ws, [shared / "police-uk-west-mercia" / "2025-01"])
        ingest(ws, files, mappings=mappings)
        workspaces[engine] = ws
    yield workspaces
    for ws in workspaces.values():
        ws.close()


def _same(duck: object, spark: object, where: str = "result") -> None:
    if isinstance(duck, pd.DataFrame):
        assert isinstance(spark, pd.DataFrame), where
        keys = list(duck.columns)
        pd.testing.assert_frame_equal(
            duck.sort_values(keys).reset_index(drop=True),
            spark.sort_values(keys).reset_index(drop=True),
            check_dtype=False,
            obj=where,
        )
    elif is_dataclass(duck) and not isinstance(duck, type):
        for item in fields(duck):
            if item.name != "engine":
                _same(getattr(duck, item.name), getattr(spark, item.name), f"{where}.{item.name}")
    elif isinstance(duck, list | tuple):
        assert len(duck) == len(spark), where  # type: ignore[arg-type]
        for i, (a, b) in enumerate(zip(duck, spark, strict=True)):  # type: ignore[call-overload]
            _same(a, b, f"{where}[{i}]")
    elif isinstance(duck, dict):
        assert isinstance(spark, dict) and duck.keys() == spark.keys(), where
        for key in duck:
            _same(duck[key], spark[key], f"{where}[{key}]")
    elif isinstance(duck, np.ndarray):
        np.testing.assert_allclose(duck, spark, rtol=1e-12, err_msg=where)
    elif isinstance(duck, float):
        assert duck == pytest.approx(spark, rel=1e-12), where
    else:
        assert duck == spark, where


ANALYSES = {
    "trend": lambda s, f: trend(s, DEFINITION, f),
    "rates_csp": lambda s, f: rates(s, "csp", DEFINITION, f),
    "rates_lsoa": lambda s, f: rates(s, "lsoa", DEFINITION, f),
    "deprivation": lambda s, f: by_deprivation(s, (), DEFINITION, f),
    "when": lambda s, f: when(s, DEFINITION, f),
    "breakdown": lambda s, f: breakdown(s, DEFINITION, f),
    "who": lambda s, f: who(s, DEFINITION, f),
    "themes": lambda s, f: themes(s, DEFINITION, f),
    "concentration": lambda s, f: concentration(s, _lsoas(s), DEFINITION, f),
    "health": lambda s, f: health(s, DEFINITION, f),
    "records": lambda s, f: _records(s, f),
}


def _records(store, filters):
    """The whole area's records, or (filtered) Shropshire's split from the area's."""
    csp = next((x.value for x in filters if x.column == "csp"), None)
    rest = [x for x in filters if x.column != "csp"]
    return records_analysed(store, DEFINITION, rest, (), ["Shropshire"])[csp]


def _lsoas(store) -> list[str]:
    areas = store.table("areas")
    return list(areas.filter(areas.csp_name == "Shropshire").to_pandas()["lsoa_code"])


@pytest.mark.parametrize("name", ANALYSES)
@pytest.mark.parametrize("filtered", [False, True], ids=["all", "period-and-csp"])
def test_analysis_agrees(both, name, filtered):
    run = ANALYSES[name]
    filters = FILTERS if filtered else []
    duck, spark = run(both["duckdb"].store, filters), run(both["spark"].store, filters)
    assert (duck.engine, spark.engine) == ("duckdb", "spark")
    _same(duck, spark, name)


def test_weighted_breakdown_agrees(both, tmp_path):
    path = tmp_path / "weights.csv"
    path.write_text("# source: test weights\noffence_code,weight\n8N,184\n5D,1965\n34B,746\n")
    weights = load_weights(path)
    duck = breakdown(both["duckdb"].store, DEFINITION, weights=weights)
    spark = breakdown(both["spark"].store, DEFINITION, weights=weights)
    assert duck.weighted_total and duck.unweighted_codes
    _same(duck, spark, "breakdown")


def test_aggregate_counts_agree(tmp_path_factory, shared: Path):
    results = {}
    for engine in ("duckdb", "spark"):
        ws = make_workspace(tmp_path_factory.mktemp("agg") / engine, engine)
        ingest(ws, [shared / "home-office-prc-2017-18" / "prc-pfa-2017-18.csv"])
        results[engine] = aggregate_counts(ws.store, DEFINITION)
        results[f"{engine} benchmarks"] = benchmarks(ws.store, ws.settings, DEFINITION)
        ws.close()
    assert results["duckdb"].total > 0
    _same(results["duckdb"], results["spark"], "aggregate_counts")
    assert results["duckdb benchmarks"].available
    _same(results["duckdb benchmarks"], results["spark benchmarks"], "benchmarks")


def test_whole_assessment_agrees(both, tmp_path):
    summaries = {}
    for engine, ws in both.items():
        paths = build_sna(ws, out=tmp_path / engine, pdf=False)
        summaries[engine] = json.loads(paths["json"].read_text())
    duck, spark = summaries["duckdb"], summaries["spark"]
    assert (duck.pop("engine"), spark.pop("engine")) == ("duckdb", "spark")
    provenance = duck.pop("provenance"), spark.pop("provenance")
    assert [p.pop("engine") for p in provenance] == ["duckdb", "spark"]
    assert provenance[0] == provenance[1]
    assert duck == spark


def test_hotspots_agree(both):
    from svduty.spatial.hotspots import hotspots

    results = {
        engine: hotspots(ws.store, DEFINITION, cell_size=2000, permutations=99, seed=2)
        for engine, ws in both.items()
    }
    assert results["duckdb"].events > 0
    _same(results["duckdb"], results["spark"], "hotspots")


def test_emerging_hotspots_agree(both):
    from svduty.spatial.emerging import emerging_hotspots

    results = {
        engine: emerging_hotspots(ws.store, DEFINITION, period="month", cell_size=2000)
        for engine, ws in both.items()
    }
    assert len(results["duckdb"].periods) >= 12
    _same(results["duckdb"], results["spark"], "emerging hotspots")


def test_lsoa_hotspots_agree(both):
    from svduty.reference.boundaries import lsoas
    from svduty.spatial.areas import area_hotspots

    results = {
        engine: area_hotspots(ws.store, lsoas(), DEFINITION, permutations=99, seed=3)
        for engine, ws in both.items()
    }
    assert results["duckdb"].events > 0
    _same(results["duckdb"].frame, results["spark"].frame, "LSOA hotspots")
    assert results["duckdb"].notes == results["spark"].notes
