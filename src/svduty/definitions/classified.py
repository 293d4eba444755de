"""What a stored classification covers, so that an ingest classifies only the incidents it added.

A definition's stored classification is kept with a note, in the catalogue's `meta`, of what it
was made from (the definition's content, svduty's version and rules code, the reference tables,
the people its age rules read), the last batch it covers and its summary. When asked for new
incidents only and all of that is unchanged, the incidents of later batches are classified alone
and their summary added: an ingest into a national workspace then costs what it adds, not a
reclassification of every incident. Anything else classifies every incident again. The note
names the stored version of the classification it describes, so a note that outlived its rows
is never trusted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from svduty import __version__
from svduty.definitions.classify import COUNTS, ClassificationSummary, classify
from svduty.definitions.model import Definition
from svduty.engine import Store

NOTE = "classified:{definition}"


def classify_kept(
    con: duckdb.DuckDBPyConnection, store: Store, definition: Definition, only_new: bool
) -> tuple[ClassificationSummary, int]:
    """Every incident's classification stored, and its summary; with `only_new`, incidents
    already classified under the same inputs are left as stored. Also returns how many
    incidents were classified now."""
    if not store.adds_derived:
        summary = classify(store, definition)
        return summary, summary.incidents
    inputs = _inputs(con, definition)
    [(through,)] = con.execute("SELECT coalesce(max(batch_id), 0) FROM batches").fetchall()
    note = _note(con, definition.id) if only_new else None
    stored = store.derived_versions("classifications").get(definition.id)
    if note is not None and note.get("inputs") == inputs and note.get("version") == stored:
        kept = _summary(definition, store.name, note["summary"])
        if note["through"] == through:
            return kept, 0
        added = classify(store, definition, after_batch=note["through"])
        summary, now = kept.plus(added), added.incidents
    else:
        summary = classify(store, definition)
        now = summary.incidents
    note = {
        "inputs": inputs,
        "version": store.derived_versions("classifications")[definition.id],
        "through": through,
        "summary": {
            "incidents": summary.incidents,
            "in_definition": summary.in_definition,
            "clauses": summary.clauses.to_dict("records"),
        },
    }
    con.execute(
        "INSERT OR REPLACE INTO meta VALUES (?, ?)",
        [NOTE.format(definition=definition.id), json.dumps(note, default=int)],
    )
    return summary, now


def _inputs(con: duckdb.DuckDBPyConnection, definition: Definition) -> dict[str, Any]:
    """What the stored classification depends on besides the incidents themselves."""
    [(reference,)] = con.execute("SELECT max(value) FROM meta WHERE key = 'reference'").fetchall()
    people = None
    if definition.age_rules():
        [(people,)] = con.execute("SELECT max(batch_id) FROM involvements").fetchall()
    return {
        "sha256": definition.sha256,
        "svduty": __version__,
        "rules": _rules_digest(),
        "reference": reference,
        "people_through": people,
    }


def _rules_digest() -> str:
    """The code that turns a definition into a classification, as it reads: a change to it
    classifies every incident again even where svduty's version number stayed the same."""
    from svduty.definitions import classify as classify_module
    from svduty.definitions import rules

    digest = hashlib.sha256()
    for module in (classify_module, rules):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()


def _note(con: duckdb.DuckDBPyConnection, definition_id: str) -> dict[str, Any] | None:
    rows = con.execute(
        "SELECT value FROM meta WHERE key = ?", [NOTE.format(definition=definition_id)]
    ).fetchall()
    if not rows:
        return None
    try:
        note = json.loads(rows[0][0])
    except ValueError:
        return None
    return note if isinstance(note, dict) else None


def _summary(definition: Definition, engine: str, kept: dict[str, Any]) -> ClassificationSummary:
    return ClassificationSummary(
        definition,
        engine,
        int(kept["incidents"]),
        int(kept["in_definition"]),
        pd.DataFrame(kept["clauses"], columns=["clause", "name", *COUNTS]),
    )
