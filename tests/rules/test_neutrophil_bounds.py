"""INF-PROPHYLAXIS on a neutrophil count written as a bound (RULES.md: < 1 000/mm³). A bound is
low only when it settles it: "<500" and "<=1000" are low (the safer reading of "at most 1 000"),
">500" and "<2000" are not. A mutation run of service/rules/procedure.py found the bounds
unpinned: any of these could flip and no test noticed. The finding carries the count and
cites it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from support.rule_facts import NOW, facts, lab, normal_labs

from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import LabKind


def prophylaxis(neutrophils):
    patient = facts(labs=(*normal_labs(), neutrophils))
    return [f for f in evaluate_rules(patient, Policy(), NOW) if f.rule_id == "INF-PROPHYLAXIS"]


@pytest.mark.parametrize(
    ("comparator", "value", "low"),
    [
        ("<", 500.0, True),
        ("<", 1000.0, True),
        ("<=", 1000.0, True),
        ("<=", 999.0, True),
        ("<", 2000.0, False),
        ("<=", 1001.0, False),
        (">", 500.0, False),
        (">=", 200.0, False),
        (None, 999.0, True),
        (None, 1000.0, False),
    ],
)
def test_a_neutrophil_bound_is_low_only_when_it_settles_it(comparator, value, low) -> None:
    count = replace(lab(LabKind.NEUTROPHILS, value), comparator=comparator)
    found = prophylaxis(count)
    assert bool(found) is low
    if low:
        (finding,) = found
        assert finding.params["neutrophils"].value == value
        assert count.source in finding.evidence
