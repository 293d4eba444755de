"""Record look-ups: why one record is in or out of the definition a view counts by, clause by
clause and rule by rule, with the values the rules read.

They are record-level, so for analysts and admins only, marked NOT FOR PUBLICATION, and every
look-up is audited (the record asked for, whether it was found, the definition and the data
version). No other page of the dashboard reads a record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from svduty.definitions.classify import Explanation, NoSuchIncident
from svduty.errors import InputError
from svduty.publish import NOT_FOR_PUBLICATION
from svduty.vocabulary import heading, label
from svduty.web.views import Published, View

ROLES = ("analyst", "admin")
"""Who may look a record up."""
LONGEST = 200
"""Characters of a record's reference read (a crime reference is far shorter)."""
VERDICTS = {True: "yes", False: "no", None: "cannot tell"}


def shown(found: Explanation) -> dict[str, Any]:
    """An explanation as the page shows it: the record's facts, IN or OUT, and each clause's
    verdict with its rules' verdicts and the values they read."""
    facts = found.incident
    return {
        "id": f"{facts['batch_id']}-{facts['source_line']}",
        "in": found.in_definition,
        "facts": [(heading(k), _fact(k, v)) for k, v in facts.items() if v is not None],
        "clauses": [
            {
                "id": c.clause.id,
                "name": c.clause.name,
                "verdict": VERDICTS[c.verdict],
                "rules": [
                    {
                        "rule": r.rule,
                        "verdict": VERDICTS[r.verdict],
                        "values": [
                            (k, "no value" if v is None else v) for k, v in r.values.items()
                        ],
                    }
                    for r in c.rules
                ],
            }
            for c in found.clauses
        ],
        "unassessed": [c.clause.id for c in found.clauses if c.verdict is None],
    }


def _fact(column: str, value: Any) -> Any:
    """A record's value as a reader writes it: a month as YYYY-MM, a coded value in words."""
    if column == "month" and hasattr(value, "strftime"):
        return value.strftime("%Y-%m")
    return label(column, value) if isinstance(value, str) else value


def install(
    app: FastAPI,
    published: Published,
    page: Callable[..., Response],
    audit: Callable[[Request, str, dict[str, Any]], None],
    view_of: Callable[[Request], tuple[View, dict[str, Any]]],
    denied: Callable[[str], Exception],
) -> None:
    """The /records page on the dashboard, using its page drawing, audit and filters."""

    @app.get("/records")
    def records(request: Request, incident: str = "") -> Response:
        if request.state.user.role not in ROLES:
            raise denied("record look-ups are for analysts")
        _, values = view_of(request)
        asked = incident.strip()
        values.update(
            name="records", title="Why a record is in or out", marked=NOT_FOR_PUBLICATION,
            asked=asked,
        )  # fmt: skip
        if not asked:
            return page(request, "records.html.j2", **values)
        if len(asked) > LONGEST:
            raise InputError(f"incident: a reference is at most {LONGEST} characters")
        definition = values["definition"]
        done = {
            "incident": asked,
            "definition": definition.id,
            "version": definition.version,
            "sha256": definition.sha256,
        }
        try:
            found, request.state.data_version = published.explain(definition, asked)
        except NoSuchIncident as error:
            audit(request, "web record look-up", {**done, "found": False})
            return page(request, "records.html.j2", 404, error=str(error), **values)
        except InputError as error:  # a crime reference that several records carry
            audit(request, "web record look-up", {**done, "found": False, "why": str(error)})
            return page(request, "records.html.j2", 400, error=str(error), **values)
        audit(request, "web record look-up", {**done, "found": True})
        return page(request, "records.html.j2", found=shown(found), **values)
