"""TUMOR-CONTROL and CHECKLIST: once whenever TRIGGER passes (§1, §2, §3, Tableau 8).

The checklist names what the record cannot show. Items are keys; the card wording maps them.
"""

from __future__ import annotations

from datetime import datetime

from service.config import Policy
from service.facts.model import PatientFacts
from service.rules.common import conditions_with, fire
from service.rules.contraindications import CODED_ONLY, CONDITION_RULES
from service.rules.finding import Finding
from service.rules.indication import pain_assessable
from service.rules.schedule import scheduled_procedure

# Always on the checklist (§3 first paragraph).
ALWAYS = ("mdt-decision", "lesion-responsible")


def checklist_items(facts: PatientFacts, policy: Policy, now: datetime) -> list[str]:
    items = list(ALWAYS)
    for rule_id in CODED_ONLY:
        if not conditions_with(facts, CONDITION_RULES[rule_id]):
            items.append(rule_id)
    if not pain_assessable(facts, policy, now):
        items.append("pain-assessment")
    if any(not p.body_sites for p in facts.procedures):
        items.append("target-site")
    if any("pelvis" in p.body_sites for p in facts.procedures):
        items.append("iliac-wing")
    if any(p.kind.is_thermal_ablation for p in facts.procedures):
        items.append("ablation-neural")
    if scheduled_procedure(facts, now) is None:
        items.append("procedure-date")
    return items


def evaluate(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    return [
        fire("TUMOR-CONTROL"),
        fire("CHECKLIST", {"items": checklist_items(facts, policy, now)}),
    ]
