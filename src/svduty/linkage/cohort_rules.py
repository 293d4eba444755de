"""The rules of the most-at-risk cohort: `[cohort]` in svduty.toml.

Each factor is a count of one kind of record about a person over the lookback months and the
threshold it must reach; a person with at least `min_factors` factors met is in the cohort. The
rules are plain numbers a practitioner can redo by hand: there is no score. The cohort is built
for a stated purpose under a stated lawful basis, both required before it is built.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from svduty.errors import InputError

REQUIRED = ("purpose", "lawful_basis")


FACTORS = ("victim", "suspect", "knife", "ae_assault", "youth_justice", "suspensions")
"""The settings that are factors (a threshold of 0 turns one off)."""


@dataclass(frozen=True)
class CohortRules:
    """Thresholds per factor (0 turns a factor off), the lookback, how many factors make a
    member, and why and under what law the cohort is built."""

    lookback_months: int = 24  # months counted, ending with the last month held
    min_factors: int = 2  # factors met to be in the cohort
    victim: int = 2  # serious-violence incidents as a victim
    suspect: int = 2  # serious-violence incidents as a suspect or offender
    knife: int = 1  # knife-enabled serious-violence incidents, in any role
    ae_assault: int = 1  # A&E attendances after an assault
    youth_justice: int = 1  # youth-justice contacts
    suspensions: int = 3  # school suspensions (a permanent exclusion meets the factor alone)
    purpose: str = ""  # why the cohort is built, e.g. "review by the multi-agency panel"
    lawful_basis: str = ""  # e.g. "UK GDPR 6(1)(e); DPA 2018 s.35 (Serious Violence Duty)"

    @classmethod
    def of(cls, settings: dict[str, Any] | None) -> CohortRules:
        """From the `[cohort]` table of svduty.toml; an unknown key or bad value is refused
        with its name (purpose and lawful basis are checked when the cohort is built)."""
        chosen = dict(settings or {})
        known = [f.name for f in fields(cls)]
        for key, value in chosen.items():
            if key not in known:
                raise InputError(
                    f"svduty.toml [cohort]: unknown setting {key!r}; known: {', '.join(known)}"
                )
            if key in REQUIRED:
                if not isinstance(value, str):
                    raise InputError(f"svduty.toml [cohort] {key}: give it as text")
            elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InputError(f"svduty.toml [cohort] {key}: give a whole number of 0 or more")
        rules = cls(**chosen)
        if rules.lookback_months < 1 or rules.min_factors < 1:
            raise InputError("svduty.toml [cohort] lookback_months and min_factors: give 1 or more")
        factors = [f for f in FACTORS if getattr(rules, f) > 0]
        if rules.min_factors > len(factors):
            raise InputError(
                f"svduty.toml [cohort] min_factors = {rules.min_factors}: only {len(factors)} "
                f"factor(s) are on ({', '.join(factors) or 'none'}), so no one could meet it"
            )
        return rules

    def require_purpose(self) -> None:
        """Refuse to build the cohort without its purpose and lawful basis, naming the first
        missing."""
        for key in REQUIRED:
            if not getattr(self, key).strip():
                raise InputError(
                    f"svduty.toml [cohort] {key} is missing: the cohort is built only for a "
                    f"stated purpose under a stated lawful basis; write both in svduty.toml "
                    f"(e.g. {key} = {EXAMPLES[key]!r})"
                )


EXAMPLES = {
    "purpose": "review by the multi-agency serious violence panel",
    "lawful_basis": "UK GDPR Art. 6(1)(e); DPA 2018 s.35; Serious Violence Duty (PCSC Act 2022)",
}
