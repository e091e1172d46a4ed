"""DATA-UNAVAILABLE: which data could not be obtained and which rules it leaves unevaluated.

Reading taken (safer): a category that could not be obtained is not treated as an empty record.
Rules that fire on the *absence* of data in that category (SCOPE-*, BLEED-LAB-MISSING for that
test, checklist inferences) do not claim it is absent; rules that fire on data present still
fire on whatever was obtained. The card lists every rule reading the category, since each of
them may have missed something.
"""

from __future__ import annotations

from datetime import datetime

from service.config import Policy
from service.facts.model import DataCategory, PatientFacts
from service.rules.catalog import rules_reading
from service.rules.common import fire
from service.rules.finding import Finding


def evaluate(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    if not facts.unavailable:
        return []
    categories = sorted(facts.unavailable, key=lambda c: list(DataCategory).index(c))
    return [
        fire(
            "DATA-UNAVAILABLE",
            {
                "categories": [c.value for c in categories],
                "rules": list(rules_reading(frozenset(categories))),
            },
        )
    ]
