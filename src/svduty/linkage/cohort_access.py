"""Who may see the cohort, and the audit of every look.

The members' list is for analysts and admins of the workspace's accounts (the role check the
identifiers store makes). The aggregate is published figures: any account may have it, a
partner limited to areas only for the whole area and those areas. Every build, refused ones
too, is written to the audit log with what was asked and how many rows came out: fields and
counts, never a value.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from svduty.errors import WorkspaceError
from svduty.identifiers import require_role
from svduty.linkage.cohort import Cohort, build
from svduty.linkage.cohort_rules import CohortRules
from svduty.web.accounts import ROLES

if TYPE_CHECKING:
    from svduty.linkage.store import Run
    from svduty.publish import Publication
    from svduty.workspace import Workspace

ACTION = "cohort"
LATEST = "latest"
"""`run` naming the newest clustered linkage run."""


class CohortDenied(WorkspaceError):
    """The actor may not see the cohort in the form asked."""


def members(
    workspace: Workspace,
    definition: str | None = None,
    end: str | None = None,
    run: str | None = None,
    fields: list[str] | None = None,
    salt: str | None = None,
) -> Cohort:
    """The members' list, for an analyst or admin; audited (refusals too). `run` names a
    clustered linkage run ("latest": the newest) whose clusters join records into people;
    None: one person is one person key."""
    asked = {"view": "members", "fields": fields, "run": run, "to": end}
    user = require_role(
        workspace, ACTION, asked,
        "the cohort's members are for analysts (partners may have `svduty cohort --aggregate`)",
        denied=CohortDenied,
    )  # fmt: skip
    cohort, linked = _built(workspace, definition, end, run, salt)
    workspace.audit(
        ACTION,
        {**asked, **linked, **_about(cohort), "allowed": True, "role": user.role,
         "rows": len(cohort.members)},
    )  # fmt: skip
    return cohort


def aggregate(
    workspace: Workspace,
    definition: str | None = None,
    end: str | None = None,
    run: str | None = None,
) -> list[Publication]:
    """The published figures (whole area first, then each CSP the actor may see), for any
    account; audited (refusals too). From a linkage run (`run`) for analysts only: reading
    which records are one person is theirs alone."""
    from svduty.linkage.cohort_aggregate import publications
    from svduty.publish import Policy

    asked = {"view": "aggregate", "run": run, "to": end}
    user = require_role(
        workspace, ACTION, asked, "the cohort's figures are for the workspace's users", ROLES,
        denied=CohortDenied, grant="partner",
    )  # fmt: skip
    if run is not None:
        require_role(
            workspace, ACTION, asked, "a cohort from linked records is built by analysts",
            advice="without --run or --linked the figures join records by person key",
            denied=CohortDenied,
        )  # fmt: skip
    cohort, linked = _built(workspace, definition, end, run, None)
    settings = workspace.settings
    policy = Policy(settings.disclosure_threshold)
    pubs = publications(cohort, settings.area or "the whole area", list(settings.csps), policy)
    shown = [p for p in pubs if user.may_see(p.provenance.get("csp"))]
    workspace.audit(
        ACTION,
        {
            **asked,
            **linked,
            **_about(cohort),
            "allowed": True,
            "role": user.role,
            "areas": [p.id for p in shown],
            "policy": policy.key,
            "suppressed": {"primary": pubs[0].primary, "secondary": pubs[0].secondary},
        },
    )
    return shown


def _built(
    workspace: Workspace, definition: str | None, end: str | None, run: str | None, salt: str | None
) -> tuple[Cohort, dict[str, Any]]:
    """The cohort, and what the audit log keeps of the linkage run it used (if any): the run
    itself, never "latest"."""
    from svduty.definitions import load_definition

    rules = CohortRules.of(workspace.settings.cohort)
    rules.require_purpose()
    chosen = load_definition(definition or workspace.settings.definition)
    clusters, person, linked = None, "person key", {}
    if run is not None:
        from svduty.linkage.store import find_run, is_current, read_clusters

        found = find_run(workspace, None if run == LATEST else run, "clustered")
        current = is_current(workspace, found)
        if not current:
            workspace.say(_stale(found))
        clusters = read_clusters(workspace, found.run_id)  # audited there
        person = f"group of person keys and clusters of {describe_run(found)}"
        linked = {
            "run": found.run_id, "preset": found.preset,
            "threshold_match_weight": found.threshold_match_weight,
            "data_version": found.data_version, "data_current": current,
        }  # fmt: skip
    return build(workspace.store, chosen, rules, end, clusters, person, salt), linked


def describe_run(run: Run) -> str:
    """A linkage run in words, as outputs name it."""
    return (
        f"linkage run {run.run_id} (preset {run.preset}, threshold match weight "
        f"{run.threshold_match_weight:g}, data version {run.data_version})"
    )


def _stale(run: Run) -> str:
    return (
        f"warning: linkage run {run.run_id} predates batches ingested since (its data version "
        f"{run.data_version}): their records join people by person key alone until `svduty "
        f"link predict --run {run.run_id}` and `svduty link cluster --run {run.run_id}`"
    )


def _about(cohort: Cohort) -> dict[str, Any]:
    """What was built, for the audit log: rules, period and counts, never a member."""
    rules = asdict(cohort.rules)
    return {
        "rules": rules,
        "period": [cohort.first_month, cohort.last_month],
        "definition": cohort.definition,
        "sources": list(cohort.sources),
        "members": len(cohort.members),
        "people": cohort.people_by_source(),
    }
