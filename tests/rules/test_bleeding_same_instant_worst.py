"""Two failing results of one test at the same instant: the finding gives the worse as the
deciding value (the lower platelet count or TP, the higher INR) and the other beside it,
whatever their order in the record. A mutation run of service/rules/bleeding.py found the
direction of each test unpinned: the milder value could have been shown as the deciding one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.rule_facts import NOW, facts, lab, normal_labs

from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import LabKind

YESTERDAY = NOW - timedelta(days=1)


@pytest.mark.parametrize(
    ("kind", "rule_id", "milder", "worse"),
    [
        (LabKind.PLATELETS, "BLEED-PLATELETS-LOW", 45_000.0, 30_000.0),
        (LabKind.TP_PERCENT, "BLEED-TP-LOW", 45.0, 30.0),
        (LabKind.INR, "BLEED-INR-HIGH", 2.0, 3.0),
    ],
)
@pytest.mark.parametrize("worse_first", [True, False])
def test_the_worse_of_two_failing_results_at_one_instant_decides(
    kind: LabKind, rule_id: str, milder: float, worse: float, worse_first: bool
) -> None:
    pair = [lab(kind, worse, YESTERDAY), lab(kind, milder, YESTERDAY)]
    others = tuple(result for result in normal_labs() if result.kind is not kind)
    labs = (*others, *(pair if worse_first else reversed(pair)))
    (finding,) = [
        f
        for f in evaluate_rules(facts(labs=labs), Policy(inr_max=1.5), NOW)
        if f.rule_id == rule_id
    ]
    assert finding.params["value"] == worse
    assert [shown.value for shown in finding.params["also"]] == [milder]
