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
from svduty.identifiers import READER_ROLES, _role
from svduty.linkage.cohort import Cohort, build
from svduty.linkage.cohort_rules import CohortRules

if TYPE_CHECKING:
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
    role = _role(workspace)
    if role not in READER_ROLES:
        workspace.audit(ACTION, {**asked, "allowed": False, "role": role})
        raise CohortDenied(
            f"the cohort's members are for analysts: {workspace.actor!r} is "
            f"{_who(role)}; partners may have `svduty cohort --aggregate`, and an admin can "
            f"give the role with {_grant(workspace.actor, role, 'analyst')}"
        )
    cohort = _built(workspace, definition, end, run, salt)
    workspace.audit(
        ACTION,
        {**asked, **_about(cohort), "allowed": True, "role": role, "rows": len(cohort.members)},
    )
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
    from svduty.web.accounts import find_user

    asked = {"view": "aggregate", "run": run, "to": end}
    user = find_user(workspace.root, workspace.actor)
    role = None if user is None or user.disabled else user.role
    if user is None or role is None:
        workspace.audit(ACTION, {**asked, "allowed": False, "role": role})
        raise CohortDenied(
            f"the cohort's figures are for the workspace's users: {workspace.actor!r} is "
            f"{_who(role)}; an admin can add them with "
            f"{_grant(workspace.actor, role, 'partner')}"
        )
    if run is not None and role not in READER_ROLES:
        workspace.audit(ACTION, {**asked, "allowed": False, "role": role})
        raise CohortDenied(
            f"a cohort from linked records is built by analysts: {workspace.actor!r} is "
            f"{_who(role)}; without --run or --linked the figures join records by person key"
        )
    cohort = _built(workspace, definition, end, run, None)
    settings = workspace.settings
    policy = Policy(settings.disclosure_threshold)
    pubs = publications(cohort, settings.area or "the whole area", list(settings.csps), policy)
    shown = [p for p in pubs if user.may_see(p.provenance.get("csp"))]
    workspace.audit(
        ACTION,
        {
            **asked,
            **_about(cohort),
            "allowed": True,
            "role": role,
            "areas": [p.id for p in shown],
            "policy": policy.key,
            "suppressed": {"primary": pubs[0].primary, "secondary": pubs[0].secondary},
        },
    )
    return shown


def _built(
    workspace: Workspace, definition: str | None, end: str | None, run: str | None, salt: str | None
) -> Cohort:
    from svduty.definitions import load_definition

    rules = CohortRules.of(workspace.settings.cohort)
    rules.require_purpose()
    chosen = load_definition(definition or workspace.settings.definition)
    clusters, person = None, "person key"
    if run is not None:
        from svduty.linkage.store import find_run, read_clusters

        found = find_run(workspace, None if run == LATEST else run, "clustered")
        clusters = read_clusters(workspace, found.run_id)  # audited there
        person = f"group of person keys and clusters of linkage run {found.run_id}"
    return build(workspace.store, chosen, rules, end, clusters, person, salt)


def _about(cohort: Cohort) -> dict[str, Any]:
    """What was built, for the audit log: rules, period and counts, never a member."""
    rules = asdict(cohort.rules)
    return {
        "rules": rules,
        "period": [cohort.first_month, cohort.last_month],
        "definition": cohort.definition,
        "sources": list(cohort.sources),
        "members": len(cohort.members),
        "people": cohort.people,
    }


def _who(role: str | None) -> str:
    return "not a user of this workspace" if role is None else f"a {role}"


def _grant(actor: str, role: str | None, wanted: str) -> str:
    """The command an admin runs to give `actor` the `wanted` role."""
    if role is None:
        return f"`svduty users add {actor} --role {wanted}`"
    return f"`svduty users set-role {actor} --role {wanted}`"
