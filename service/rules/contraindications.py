"""CI-ABS-* and CI-REL-*: the contraindications of Tableau 8 (§4), from coded conditions.

Four of them are fired only when coded (diffuse pain, asymptomatic fracture, posterior wall,
joint opening); otherwise the checklist names them (see checklist.py).
"""

from __future__ import annotations

from datetime import datetime

from service.config import Policy
from service.facts.model import PatientFacts
from service.rules.common import allergy_record, condition_record, conditions_with, fire
from service.rules.finding import Finding

# rule ID -> condition concept the facts helper matches
CONDITION_RULES: dict[str, str] = {
    "CI-ABS-SYSTEMIC-INFECTION": "systemic-infection",
    "CI-ABS-SKIN-INFECTION": "skin-infection",
    "CI-ABS-COAGULOPATHY": "coagulopathy",
    "CI-ABS-DIFFUSE-PAIN": "diffuse-pain",
    "CI-ABS-ASYMPTOMATIC-FRACTURE": "asymptomatic-fracture",
    "CI-REL-RADICULOPATHY": "radiculopathy",
    "CI-REL-EPIDURAL": "epidural-extension",
    "CI-REL-POSTERIOR-WALL": "posterior-wall",
    "CI-REL-JOINT-OPENING": "joint-opening",
}

# Rules fired only when coded; when not coded they go on the checklist.
CODED_ONLY: tuple[str, ...] = (
    "CI-ABS-DIFFUSE-PAIN",
    "CI-ABS-ASYMPTOMATIC-FRACTURE",
    "CI-REL-POSTERIOR-WALL",
    "CI-REL-JOINT-OPENING",
)


def evaluate(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    findings: list[Finding] = []
    for rule_id, concept in CONDITION_RULES.items():
        matches = conditions_with(facts, concept)
        if matches:
            findings.append(
                fire(
                    rule_id,
                    {
                        "conditions": [c.display for c in matches],
                        "records": [condition_record(c, now) for c in matches],
                    },
                    [c.source for c in matches],
                )
            )
        if rule_id == "CI-ABS-COAGULOPATHY":
            findings.extend(_cement_allergy(facts, now))
    return findings


def _cement_allergy(facts: PatientFacts, now: datetime) -> list[Finding]:
    allergies = [a for a in facts.allergies if "cement-allergy" in a.concepts]
    conditions = conditions_with(facts, "cement-allergy")
    if not allergies and not conditions:
        return []
    return [
        fire(
            "CI-ABS-CEMENT-ALLERGY",
            {
                "conditions": [a.display for a in allergies] + [c.display for c in conditions],
                "records": [allergy_record(a) for a in allergies]
                + [condition_record(c, now) for c in conditions],
            },
            [a.source for a in allergies] + [c.source for c in conditions],
        )
    ]
