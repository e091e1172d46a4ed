"""A result dated in the future (a typo: 2062 for 2026) never hides the real latest result."""

from __future__ import annotations

from datetime import datetime, timedelta

from support.rule_facts import NOW, PARIS, facts, lab, med

from service.rules.common import FUTURE_DATED, FUTURE_TOLERANCE
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DrugClass, LabKind

POLICY = Policy()
TYPO = datetime(2062, 11, 24, 9, 0, tzinfo=PARIS)
YESTERDAY = NOW - timedelta(days=1)


def findings_by_id(patient, now: datetime = NOW) -> dict:
    return {f.rule_id: f for f in evaluate_rules(patient, POLICY, now)}


def test_future_platelets_do_not_hide_a_critical_count() -> None:
    future = lab(LabKind.PLATELETS, 250_000, TYPO)
    real = lab(LabKind.PLATELETS, 30_000, YESTERDAY)
    found = findings_by_id(facts(labs=(future, real, lab(LabKind.INR, 1.0))))
    assert found["BLEED-PLATELETS-LOW"].params["reference"] == real.source.reference
    (reported,) = found["BLEED-LAB-UNINTERPRETABLE"].params["results"]
    assert reported["reference"] == future.source.reference
    assert reported["problem_code"] == FUTURE_DATED
    assert "BLEED-LAB-MISSING" not in found


def test_only_a_future_result_counts_as_missing() -> None:
    future = lab(LabKind.PLATELETS, 250_000, TYPO)
    found = findings_by_id(facts(labs=(future, lab(LabKind.INR, 1.0))))
    assert found["BLEED-LAB-MISSING"].params["missing"] == ["platelets"]
    assert "BLEED-PLATELETS-LOW" not in found
    assert [r["problem_code"] for r in found["BLEED-LAB-UNINTERPRETABLE"].params["results"]] == [
        FUTURE_DATED
    ]


def test_future_inr_does_not_hide_a_high_one() -> None:
    labs = (
        lab(LabKind.PLATELETS, 250_000),
        lab(LabKind.INR, 1.0, TYPO),
        lab(LabKind.INR, 2.4, YESTERDAY),
    )
    found = findings_by_id(facts(labs=labs))
    assert found["BLEED-INR-HIGH"].params["value"] == 2.4
    assert "BLEED-LAB-UNINTERPRETABLE" in found


def test_within_the_tolerance_a_result_still_counts() -> None:
    """A lab clock a few minutes ahead of ours is not a typo."""
    ahead = lab(LabKind.PLATELETS, 30_000, NOW + FUTURE_TOLERANCE - timedelta(minutes=1))
    found = findings_by_id(facts(labs=(ahead, lab(LabKind.INR, 1.0))))
    assert "BLEED-PLATELETS-LOW" in found
    assert "BLEED-LAB-UNINTERPRETABLE" not in found
    beyond = lab(LabKind.PLATELETS, 30_000, NOW + FUTURE_TOLERANCE + timedelta(minutes=1))
    found = findings_by_id(facts(labs=(beyond, lab(LabKind.INR, 1.0))))
    assert "BLEED-PLATELETS-LOW" not in found
    assert "BLEED-LAB-UNINTERPRETABLE" in found


def test_future_pain_score_does_not_hide_the_real_one() -> None:
    labs = (
        lab(LabKind.PLATELETS, 250_000),
        lab(LabKind.INR, 1.0),
        lab(LabKind.PAIN_SCORE, 1, TYPO),
        lab(LabKind.PAIN_SCORE, 8, YESTERDAY),
    )
    patient = facts(labs=labs, medications=(med("morphine", DrugClass.OPIOID),))
    found = findings_by_id(patient)
    assert found["IND-PAIN-UNCONTROLLED"].params["value"] == 8
    assert "NONIND-PAIN-CONTROLLED" not in found


def test_only_a_future_pain_score_puts_pain_on_the_checklist() -> None:
    labs = (
        lab(LabKind.PLATELETS, 250_000),
        lab(LabKind.INR, 1.0),
        lab(LabKind.PAIN_SCORE, 1, TYPO),
    )
    patient = facts(labs=labs, medications=(med("morphine", DrugClass.OPIOID),))
    found = findings_by_id(patient)
    assert "NONIND-PAIN-CONTROLLED" not in found
    assert "pain-assessment" in found["CHECKLIST"].params["items"]
