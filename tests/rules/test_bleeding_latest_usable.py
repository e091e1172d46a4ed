"""BLEED-* on RULES.md v2 "Latest": ties, preliminary results, stale values, BLEED-INR-HIGH's
indicator (group 13) and the pins of the same-date tie-break and the 1-hour future tolerance."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest
from support.rule_facts import NOW, facts, lab, med

from cds_hooks.cards import Indicator
from service.rules.common import FUTURE_TOLERANCE, fire, is_future, latest_lab
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DataCategory, DrugClass, LabKind

POLICY = Policy()
YESTERDAY = NOW - timedelta(days=1)
ALWAYS = {"TUMOR-CONTROL", "CHECKLIST"}


def found(patient, policy: Policy = POLICY) -> dict:
    return {f.rule_id: f for f in evaluate_rules(patient, policy, NOW)}


def coagulation(tp: float | None = 90, inr: float = 1.0) -> tuple:
    labs = [lab(LabKind.INR, inr)]
    if tp is not None:
        labs.append(lab(LabKind.TP_PERCENT, tp))
    return tuple(labs)


# ----------------------------------------------------------------------------------- ties


def test_two_counts_at_the_same_instant_the_less_favourable_decides_in_any_order() -> None:
    low = lab(LabKind.PLATELETS, 30_000, YESTERDAY)
    high = lab(LabKind.PLATELETS, 250_000, YESTERDAY)
    for order in itertools.permutations((low, high, *coagulation())):
        result = found(facts(labs=order))
        assert result["BLEED-PLATELETS-LOW"].params["reference"] == low.source.reference
        (also,) = result["BLEED-PLATELETS-LOW"].params["also"]  # the card shows both
        assert also["reference"] == high.source.reference
        assert {r.reference for r in result["BLEED-PLATELETS-LOW"].evidence} == {
            low.source.reference,
            high.source.reference,
        }


def test_two_inrs_at_the_same_instant_the_higher_decides() -> None:
    low = lab(LabKind.INR, 1.1, YESTERDAY)
    high = lab(LabKind.INR, 2.0, YESTERDAY)
    for order in ((low, high), (high, low)):
        labs = (lab(LabKind.PLATELETS, 250_000), *order)
        assert found(facts(labs=labs))["BLEED-INR-HIGH"].params["value"] == 2.0


def test_two_passing_counts_at_the_same_instant_show_both_and_fire_nothing() -> None:
    a = lab(LabKind.PLATELETS, 180_000, YESTERDAY)
    b = lab(LabKind.PLATELETS, 250_000, YESTERDAY)
    assert set(found(facts(labs=(a, b, *coagulation())))) == ALWAYS


def test_a_usable_and_an_unusable_result_at_the_same_instant() -> None:
    """The usable one decides; the unusable one is reported (it never hides it)."""
    usable = lab(LabKind.PLATELETS, 30_000, YESTERDAY)
    unusable = lab(LabKind.PLATELETS, None, YESTERDAY, problem="no unit")
    for order in ((usable, unusable), (unusable, usable)):
        result = found(facts(labs=(*order, *coagulation())))
        assert set(result) == ALWAYS | {"BLEED-PLATELETS-LOW", "BLEED-LAB-UNINTERPRETABLE"}
        assert result["BLEED-PLATELETS-LOW"].params["also"] == []


def test_latest_lab_same_date_tie_break_prefers_the_uninterpretable_result() -> None:
    """`latest_lab` (kept for the pain rules): of two results at the same instant, the
    uninterpretable one is the latest (the safer reading), whatever their order."""
    usable = lab(LabKind.PAIN_SCORE, 2, YESTERDAY)
    unusable = lab(LabKind.PAIN_SCORE, None, YESTERDAY, problem="non-numeric value")
    for order in ((usable, unusable), (unusable, usable)):
        recent, newest = latest_lab(facts(labs=order), LabKind.PAIN_SCORE, NOW, 7)
        assert recent is not None and recent.source == unusable.source
        assert newest is not None and newest.source == unusable.source


# ------------------------------------------------------------------------------ preliminary


def preliminary(kind: LabKind, value: float, when=YESTERDAY):
    return replace(lab(kind, value, when), preliminary=True)


def test_a_newer_less_favourable_preliminary_result_decides_and_says_so() -> None:
    final = lab(LabKind.PLATELETS, 250_000, NOW - timedelta(days=2))
    early = preliminary(LabKind.PLATELETS, 30_000)
    result = found(facts(labs=(final, early, *coagulation())))
    low = result["BLEED-PLATELETS-LOW"]
    assert (low.params["reference"], low.params["preliminary"]) == (early.source.reference, True)
    (also,) = low.params["also"]  # the final result it overrides is shown beside it
    assert (also["reference"], also["preliminary"]) == (final.source.reference, False)


def test_a_more_favourable_preliminary_result_does_not_count() -> None:
    final = lab(LabKind.PLATELETS, 30_000, NOW - timedelta(days=2))
    early = preliminary(LabKind.PLATELETS, 250_000)
    low = found(facts(labs=(final, early, *coagulation())))["BLEED-PLATELETS-LOW"]
    assert (low.params["reference"], low.params["preliminary"]) == (final.source.reference, False)
    assert low.params["also"] == []


def test_a_preliminary_result_older_than_the_latest_final_one_does_not_count() -> None:
    final = lab(LabKind.PLATELETS, 250_000, YESTERDAY)
    early = preliminary(LabKind.PLATELETS, 30_000, NOW - timedelta(days=2))
    assert set(found(facts(labs=(final, early, *coagulation())))) == ALWAYS


def test_a_preliminary_result_alone_fires_when_failing_never_meets_the_requirement() -> None:
    failing = found(facts(labs=(preliminary(LabKind.PLATELETS, 30_000), *coagulation())))
    assert set(failing) == ALWAYS | {"BLEED-PLATELETS-LOW"}
    passing = found(facts(labs=(preliminary(LabKind.PLATELETS, 250_000), *coagulation())))
    assert set(passing) == ALWAYS | {"BLEED-LAB-MISSING"}
    assert passing["BLEED-LAB-MISSING"].params["missing"] == ["platelets"]


# ---------------------------------------------------------------------------- stale results


def test_a_stale_usable_result_is_shown_rather_than_a_newer_stale_unusable_one() -> None:
    days = POLICY.lab_max_age_days
    older = lab(LabKind.PLATELETS, 30_000, NOW - timedelta(days=days + 5))
    newer = lab(LabKind.PLATELETS, None, NOW - timedelta(days=days + 1), problem="no unit")
    result = found(facts(labs=(newer, older, *coagulation())))
    (shown,) = result["BLEED-LAB-MISSING"].params["unusable"]
    assert (shown["reference"], shown["value"], shown["stale"]) == (
        older.source.reference,
        30_000,
        True,
    )


def test_zone_assumed_is_carried_to_the_card() -> None:
    low = replace(lab(LabKind.PLATELETS, 30_000), zone_assumed=True)
    params = found(facts(labs=(low, *coagulation())))["BLEED-PLATELETS-LOW"].params
    assert params["zone_assumed"] is True


# ---------------------------------------------------------------- BLEED-INR-HIGH (group 13)


def inr_high(tp: float | None, medications=(), unavailable=frozenset()):
    labs = (lab(LabKind.PLATELETS, 250_000), *coagulation(tp=tp, inr=1.9))
    return found(facts(labs=labs, medications=medications, unavailable=unavailable))[
        "BLEED-INR-HIGH"
    ]


def test_inr_high_is_a_warning_when_a_usable_tp_above_50_exists_and_no_vka() -> None:
    finding = inr_high(tp=65)
    assert finding.indicator is Indicator.WARNING
    assert finding.params["tp"]["value"] == 65  # the card shows that TP
    assert finding.params["inr_alone"] is False
    assert len(finding.evidence) == 2


@pytest.mark.parametrize(
    ("tp", "medications", "unavailable", "inr_alone"),
    [
        (65, (med("warfarin", DrugClass.VKA),), frozenset(), False),  # a VKA is active
        (None, (), frozenset(), True),  # no TP: the INR alone is used
        (40, (), frozenset(), False),  # TP not > 50 %
        (50, (), frozenset(), False),  # TP exactly at the threshold does not meet it
        (65, (), frozenset({DataCategory.MEDICATIONS}), False),  # a VKA cannot be excluded
    ],
)
def test_inr_high_is_critical_otherwise(tp, medications, unavailable, inr_alone) -> None:
    finding = inr_high(tp, medications, unavailable)
    assert finding.indicator is Indicator.CRITICAL
    assert finding.params["inr_alone"] is inr_alone
    # A TP that meets the guideline is shown even then; one that does not is on its own card.
    assert (finding.params["tp"] is not None) == (tp is not None and tp > 50)


def test_inr_high_with_an_unusable_tp_is_critical_and_says_inr_alone() -> None:
    labs = (
        lab(LabKind.PLATELETS, 250_000),
        lab(LabKind.INR, 1.9),
        lab(LabKind.TP_PERCENT, None, problem="unit s is not %"),
    )
    finding = found(facts(labs=labs))["BLEED-INR-HIGH"]
    assert finding.indicator is Indicator.CRITICAL
    assert finding.params["inr_alone"] is True


def test_a_stale_tp_does_not_make_inr_high_a_warning() -> None:
    labs = (
        lab(LabKind.PLATELETS, 250_000),
        lab(LabKind.INR, 1.9),
        lab(LabKind.TP_PERCENT, 80, NOW - timedelta(days=POLICY.lab_max_age_days + 1)),
    )
    assert found(facts(labs=labs))["BLEED-INR-HIGH"].indicator is Indicator.CRITICAL


def test_fire_refuses_an_indicator_the_catalog_does_not_give() -> None:
    high = found(facts(labs=(lab(LabKind.PLATELETS, 250_000), lab(LabKind.INR, 1.9))))
    params = high["BLEED-INR-HIGH"].params  # a finding's params are typed: fire needs them whole
    warning = fire("BLEED-INR-HIGH", params, indicator=Indicator.WARNING)
    assert warning.indicator is Indicator.WARNING
    with pytest.raises(ValueError):
        fire("BLEED-INR-HIGH", indicator=Indicator.INFO)
    with pytest.raises(ValueError):
        fire("BLEED-PLATELETS-LOW", indicator=Indicator.WARNING)


# ------------------------------------------------------------------- future tolerance (pin)


def test_the_rules_future_tolerance_is_one_hour_exactly() -> None:
    assert timedelta(hours=1) == FUTURE_TOLERANCE
    at_limit = lab(LabKind.PLATELETS, 30_000, NOW + FUTURE_TOLERANCE)
    past_limit = lab(LabKind.PLATELETS, 30_000, NOW + FUTURE_TOLERANCE + timedelta(seconds=1))
    assert not is_future(at_limit, NOW)
    assert is_future(past_limit, NOW)
    assert "BLEED-PLATELETS-LOW" in found(facts(labs=(at_limit, *coagulation())))
    beyond = found(facts(labs=(past_limit, *coagulation())))
    assert "BLEED-PLATELETS-LOW" not in beyond
    assert "BLEED-LAB-UNINTERPRETABLE" in beyond


def test_a_preliminary_result_equal_to_the_final_one_does_not_count() -> None:
    """Only a LESS favourable preliminary result counts: an equal one leaves the final one."""
    final = lab(LabKind.PLATELETS, 30_000, NOW - timedelta(days=2))
    early = preliminary(LabKind.PLATELETS, 30_000)
    low = found(facts(labs=(final, early, *coagulation())))["BLEED-PLATELETS-LOW"]
    assert (low.params["reference"], low.params["preliminary"]) == (final.source.reference, False)


def test_a_tie_of_equal_values_gives_one_answer_whatever_the_order() -> None:
    a = lab(LabKind.PLATELETS, 30_000, YESTERDAY)
    b = lab(LabKind.PLATELETS, 30_000, YESTERDAY)
    first = found(facts(labs=(a, b, *coagulation())))["BLEED-PLATELETS-LOW"].params
    second = found(facts(labs=(b, a, *coagulation())))["BLEED-PLATELETS-LOW"].params
    assert first["reference"] == second["reference"]
    assert first["also"][0]["reference"] == second["also"][0]["reference"]
