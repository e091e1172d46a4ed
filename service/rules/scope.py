"""SCOPE-*: is the patient in the population the guideline was written for (§1)?

Both rules fire on the *absence* of a condition: when conditions could not be obtained they do
not fire (DATA-UNAVAILABLE names them instead), so an unreadable record is never reported as a
patient without metastasis.
"""

from __future__ import annotations

from datetime import datetime

from service.facts.model import PatientFacts
from service.rules.common import available, conditions_with, fire
from service.rules.finding import Finding
from service.rules.policy import Policy
from service.vocabulary import DataCategory


def evaluate(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    if not available(facts, DataCategory.CONDITIONS):
        return []
    metastases = conditions_with(facts, "bone-metastasis")
    if not metastases:
        return [fire("SCOPE-NO-BONE-METASTASIS")]
    if not conditions_with(facts, "lung-cancer"):
        return [
            fire(
                "SCOPE-NOT-LUNG-PRIMARY",
                {"metastasis": metastases[0].display},
                [c.source for c in metastases],
            )
        ]
    return []
