"""The resources each bleeding finding rests on (the card's evidence extension) and the bound
that cannot settle a threshold. A mutation run of service/rules/bleeding.py left the evidence
lists unpinned: a mutant could drop the TP a warning rests on, or a stale result shown on the
missing-lab card, and no test noticed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from support.rule_facts import NOW, facts, lab

from service.rules.bleeding import UNDECIDED_BOUND, evaluate
from service.rules.common import FUTURE_DATED
from service.rules.policy import Policy
from service.vocabulary import LabKind

PLATELETS_OK = lab(LabKind.PLATELETS, 250_000, unit="10*3/uL")
TP_OK = lab(LabKind.TP_PERCENT, 90, unit="%")


def fired(*labs):
    return {f.rule_id: f for f in evaluate(facts(labs=labs), Policy(), NOW)}


def test_a_low_count_rests_on_itself_and_the_count_of_the_same_instant() -> None:
    low = lab(LabKind.PLATELETS, 30_000, unit="10*3/uL")
    same_instant = replace(lab(LabKind.PLATELETS, 260_000, unit="10*3/uL"), effective=low.effective)
    finding = fired(low, same_instant, TP_OK)["BLEED-PLATELETS-LOW"]
    assert finding.evidence[0] == low.source
    assert set(finding.evidence) == {low.source, same_instant.source}


def test_an_inr_warning_rests_on_the_inr_and_the_tp_that_meets_the_guideline() -> None:
    inr = lab(LabKind.INR, 1.8)
    warning = fired(PLATELETS_OK, TP_OK, inr)["BLEED-INR-HIGH"]
    assert warning.evidence == (inr.source, TP_OK.source)
    critical = fired(PLATELETS_OK, inr)["BLEED-INR-HIGH"]
    assert critical.evidence == (inr.source,)
    # A low TP has a card of its own (BLEED-TP-LOW): the INR's critical card does not rest on it.
    low_tp = lab(LabKind.TP_PERCENT, 40, unit="%")
    both = fired(PLATELETS_OK, low_tp, inr)
    assert both["BLEED-INR-HIGH"].evidence == (inr.source,)
    assert both["BLEED-TP-LOW"].evidence == (low_tp.source,)


def test_the_missing_lab_card_rests_on_the_unusable_and_the_stale_results() -> None:
    unreadable = lab(LabKind.PLATELETS, None, problem="no unit: cannot be converted to /mm3")
    stale = lab(LabKind.PLATELETS, 30_000, NOW - timedelta(days=10), unit="10*3/uL")
    found = fired(unreadable, stale, TP_OK)
    assert found["BLEED-LAB-UNINTERPRETABLE"].evidence == (unreadable.source,)
    missing = found["BLEED-LAB-MISSING"]
    assert missing.evidence == (unreadable.source, stale.source)
    shown = missing.params["unusable"]
    assert [(p.reference, p.stale) for p in shown] == [
        (unreadable.source.reference, False),
        (stale.source.reference, True),
    ]


def test_a_bound_that_cannot_settle_the_threshold_is_shown_as_undecided() -> None:
    bound = replace(lab(LabKind.PLATELETS, 60_000, unit="10*3/uL"), comparator="<")
    found = fired(bound, TP_OK)
    (shown,) = found["BLEED-LAB-UNINTERPRETABLE"].params["results"]
    assert shown.problem_code == UNDECIDED_BOUND and shown.comparator == "<"
    settled = replace(lab(LabKind.PLATELETS, 20_000, unit="10*3/uL"), comparator="<")
    assert "BLEED-LAB-UNINTERPRETABLE" not in fired(settled, TP_OK)


def test_a_future_dated_result_is_reported_as_such_beside_the_usable_count() -> None:
    future = lab(LabKind.PLATELETS, 250_000, NOW + timedelta(days=3), unit="10*3/uL")
    found = fired(PLATELETS_OK, future, TP_OK)
    (shown,) = found["BLEED-LAB-UNINTERPRETABLE"].params["results"]
    assert (shown.reference, shown.problem_code) == (future.source.reference, FUTURE_DATED)
    assert "BLEED-LAB-MISSING" not in found
