"""DATA-UNAVAILABLE: which data could not be obtained, why, and which checks it leaves unevaluated.

Reading taken (safer): a category that could not be obtained is not treated as an empty record.
Rules that fire on the *absence* of data in that category (SCOPE-*, BLEED-LAB-MISSING for that
test, checklist inferences) do not claim it is absent; rules that fire on data present still
fire on whatever was obtained. `params["rules"]` lists every rule reading the category (for the
audit and the log; the card names the checks in words).

When every category a check reads is unavailable and nothing of them could be read, none of the
safety checks could run: the card is then critical (RULES.md: "When an order is in scope, the
clinician always gets cards ... a critical DATA-UNAVAILABLE card"). The Patient resource alone
feeds no check, so a record reduced to it counts as "nothing obtained" (the safer reading).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from cds_hooks.cards import Indicator
from service.facts.model import PatientFacts
from service.rules.catalog import rules_reading
from service.rules.common import fire
from service.rules.finding import Finding
from service.rules.policy import Policy
from service.vocabulary import DataCategory

RULE_ID = "DATA-UNAVAILABLE"


def evaluate(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    if not facts.unavailable:
        return []
    categories = sorted(facts.unavailable, key=lambda c: list(DataCategory).index(c))
    unreadable: dict[str, int] = {}
    for item in facts.invalid_resources:
        unreadable[item.category.value] = unreadable.get(item.category.value, 0) + 1
    finding = fire(
        RULE_ID,
        {
            "categories": [c.value for c in categories],
            "rules": list(rules_reading(frozenset(categories))),
            "unreadable": unreadable,  # category -> resources that could not be read
            "nothing_obtained": _no_check_can_run(facts),
        },
    )
    if finding.params["nothing_obtained"]:
        finding = replace(finding, indicator=Indicator.CRITICAL)
    return [finding]


def _no_check_can_run(facts: PatientFacts) -> bool:
    """Every category some check reads is unavailable and no data of them was read."""
    checked = {c for c in DataCategory if rules_reading(frozenset({c}))}
    nothing_read = not (facts.labs or facts.medications or facts.conditions or facts.allergies)
    return checked <= facts.unavailable and nothing_read


def with_fetch_gaps(
    findings: Sequence[Finding], gaps: Mapping[DataCategory, Sequence[tuple[str, bool]]]
) -> list[Finding]:
    """`findings` with the DATA-UNAVAILABLE finding told why each category is missing.

    `gaps[category]` holds (failure code, partial) for each prefetch key of the category that
    could not be obtained (codes of `cds_hooks.service.FailureCode`; partial: the pages obtained
    are used). The card words them; the codes also go to the log and the metric.
    """
    if not gaps:
        return list(findings)
    reasons = {
        category.value: sorted({code for code, _ in pairs}) for category, pairs in gaps.items()
    }
    partial = sorted(
        category.value
        for category, pairs in gaps.items()
        if pairs and all(is_partial for _, is_partial in pairs)
    )
    return [
        replace(f, params=replace(f.params, reasons=reasons, partial=partial))
        if f.rule_id == RULE_ID
        else f
        for f in findings
    ]
