"""evaluate_rules: every rule group over one patient's facts; nothing fires without a trigger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from service.facts.model import PatientFacts
from service.rules import (
    antithrombotics,
    availability,
    bleeding,
    checklist,
    contraindications,
    indication,
    procedure,
    scope,
)
from service.rules.finding import Finding
from service.rules.policy import Policy

# Stored with every audit record: bump it whenever a rule, threshold or value set changes meaning.
RULESET_VERSION = "2026.11.0"

RuleGroupFn = Callable[[PatientFacts, Policy, datetime], list[Finding]]

GROUPS: tuple[RuleGroupFn, ...] = (
    availability.evaluate,
    scope.evaluate,
    indication.evaluate,
    contraindications.evaluate,
    bleeding.evaluate,
    antithrombotics.evaluate,
    procedure.evaluate,
    checklist.evaluate,
)


def evaluate_rules(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    """All findings for `facts` at `now`. TRIGGER: no target procedure, no finding.

    `now` must be timezone-aware ("today" is taken in its time zone): a naive one is a
    ValueError, never a silent guess.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("evaluate_rules needs a timezone-aware `now` (today is taken in its zone)")
    if not facts.procedures:
        return []
    findings: list[Finding] = []
    for group in GROUPS:
        findings.extend(group(facts, policy, now))
    return findings
