"""A workspace's DuckDB store compiles each distinct query once (`engine.remembering_compiles`)."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from svduty.engine import remembering_compiles


@pytest.fixture
def backend():
    connected = remembering_compiles(ibis.duckdb.connect())
    connected.raw_sql(
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a'), (1, 'b'), (2, 'c'), (3, 'd')) v(x, y)"
    )
    yield connected
    connected.disconnect()


@pytest.fixture
def compiled(backend, monkeypatch) -> list[object]:
    """Every expression Ibis's compiler translates to SQL, in order."""
    kind = type(backend.compiler)
    made: list[object] = []
    original = kind.to_sqlglot

    def counted(self, expr, **kwargs):  # type: ignore[no-untyped-def]
        made.append(expr)
        return original(self, expr, **kwargs)

    monkeypatch.setattr(kind, "to_sqlglot", counted)
    return made


def test_an_expression_asked_again_is_compiled_once(backend, compiled):
    t = backend.table("t")
    first = t.filter(t.x == 1).count()
    again = backend.table("t").filter(backend.table("t").x == 1).count()  # built anew, equal
    other = t.filter(t.x == 2).count()
    assert first.execute() == 2 and again.execute() == 2 and other.execute() == 1
    assert len(compiled) == 2  # `again` took the SQL of `first`
    # what ran: each count as the table of one row, at the default limit
    sql = [backend.compile(e.as_table(), limit="default") for e in (first, again, other)]
    assert sql[0] == sql[1] != sql[2] and "1" in sql[0] and "2" in sql[2]
    assert len(compiled) == 2


def test_limits_and_parameters_still_reach_the_compiler(backend):
    t = backend.table("t")
    assert len(t.order_by("x").execute(limit=2)) == 2
    assert len(t.order_by("x").execute()) == 4  # the limited SQL is not taken for the whole
    chosen = ibis.param("int64")
    picked = t.filter(t.x == chosen).count()
    assert picked.execute(params={chosen: 1}) == 2
    assert picked.execute(params={chosen: 3}) == 1


def test_the_default_limit_is_read_when_the_query_runs(backend, monkeypatch):
    t = backend.table("t")
    assert len(t.execute()) == 4
    monkeypatch.setattr(ibis.options.sql, "default_limit", 2)
    assert len(backend.table("t").execute()) == 2  # the same query, compiled before


def test_a_query_holding_a_data_frame_is_not_kept(backend, compiled):
    frame = ibis.memtable(pd.DataFrame({"x": [1, 2]}))
    assert backend.execute(frame.count()) == 2
    assert backend.execute(frame.count()) == 2
    assert len(compiled) == 2
