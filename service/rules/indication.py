"""IND-* and NONIND-*: pain control and opioid tolerance (§3, §4).

Pain rules need a recent usable pain score and an active analgesic; without either they do not
fire and the checklist asks the team to assess pain (never silent). Scores strictly between
`pain_controlled_max` and `pain_uncontrolled_min` fire neither rule. NONIND-PAIN-CONTROLLED stays
quiet when IND-OPIOID-INTOLERANCE fires: pain controlled at the price of poorly tolerated opioids
is an indication (§3), not a non-indication.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.facts.model import LabResult, MedicationFact, PatientFacts
from service.rules.common import (
    conditions_with,
    fire,
    lab_params,
    latest_lab,
    medications_in,
    rounded,
)
from service.rules.finding import Finding
from service.rules.policy import Policy
from service.vocabulary import DrugClass, LabKind

OPIOID_INTOLERANCE_CONCEPTS = ("constipation", "urinary-retention", "confusion")


def usable_pain_score(facts: PatientFacts, policy: Policy, now: datetime) -> LabResult | None:
    """The latest recent pain score, if usable; a score dated in the future never counts."""
    recent, _ = latest_lab(facts, LabKind.PAIN_SCORE, now, policy.lab_max_age_days)
    return recent if recent is not None and recent.interpretable else None


@dataclass(frozen=True)
class PainInputs:
    """What the pain rules compare: the latest usable score and the active analgesics."""

    score: LabResult
    value: float
    analgesics: tuple[MedicationFact, ...]


def pain_inputs(facts: PatientFacts, policy: Policy, now: datetime) -> PainInputs | None:
    """The pain rules' inputs, or None when they cannot be evaluated (no active analgesic, no
    recent usable score): then the checklist carries the item (checklist.py)."""
    analgesics = medications_in(facts, DrugClass.ANALGESIC, DrugClass.OPIOID)
    score = usable_pain_score(facts, policy, now)
    if not analgesics or score is None or score.value is None:
        return None
    return PainInputs(score, score.value, tuple(analgesics))


def evaluate(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    findings: list[Finding] = []
    intolerance = _opioid_intolerance(facts)
    pain = pain_inputs(facts, policy, now)
    if pain is not None:
        params = {
            **lab_params(pain.score, now),
            "analgesics": [m.display for m in pain.analgesics],
            "uncontrolled_min": policy.pain_uncontrolled_min,
            "controlled_max": policy.pain_controlled_max,
        }
        evidence = [pain.score.source, *(m.source for m in pain.analgesics)]
        if rounded(pain.value) >= rounded(policy.pain_uncontrolled_min):
            findings.append(fire("IND-PAIN-UNCONTROLLED", params, evidence))
        elif rounded(pain.value) <= rounded(policy.pain_controlled_max) and intolerance is None:
            findings.append(fire("NONIND-PAIN-CONTROLLED", params, evidence))
    if intolerance is not None:
        findings.append(intolerance)
    return findings


def _opioid_intolerance(facts: PatientFacts) -> Finding | None:
    """IND-OPIOID-INTOLERANCE: an active opioid and a complication or an intolerance of it."""
    opioids = medications_in(facts, DrugClass.OPIOID)
    if not opioids:
        return None
    effects = conditions_with(facts, *OPIOID_INTOLERANCE_CONCEPTS)
    allergies = tuple(a for a in facts.allergies if "opioid-allergy" in a.concepts)
    if not effects and not allergies:
        return None
    return fire(
        "IND-OPIOID-INTOLERANCE",
        {
            "opioids": [m.display for m in opioids],
            "effects": [c.display for c in effects] + [a.display for a in allergies],
        },
        [m.source for m in opioids] + [c.source for c in effects] + [a.source for a in allergies],
    )
