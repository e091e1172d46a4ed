"""Lab choice at its edges, and the findings' records: a result exactly at the window's start, the
future-dated results' order, the pain-controlled evidence, the ablation items, the prophylaxis
records. A mutation run of service/rules/ left each unpinned."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from support.rule_facts import IN_SCOPE, NOW, condition, facts, lab, med, procedure

from service.rules import bleeding, indication
from service.rules.checklist import checklist_items
from service.rules.common import FUTURE_DATED
from service.rules.policy import Policy
from service.rules.procedure import evaluate as procedure_rules
from service.vocabulary import DrugClass, LabKind, ProcedureKind

TP_OK = lab(LabKind.TP_PERCENT, 90, unit="%")


def test_an_unusable_count_at_the_window_start_is_listed_once_not_as_stale() -> None:
    policy = Policy()
    at_start = lab(
        LabKind.PLATELETS,
        None,
        NOW - timedelta(days=policy.lab_max_age_days),
        problem="no unit: cannot be converted to /mm3",
    )
    found = {f.rule_id: f for f in bleeding.evaluate(facts(labs=(at_start, TP_OK)), policy, NOW)}
    shown = found["BLEED-LAB-MISSING"].params["unusable"]
    assert [(p.reference, p.stale) for p in shown] == [(at_start.source.reference, False)]


def test_future_dated_results_are_listed_oldest_first() -> None:
    later = lab(LabKind.PLATELETS, 250_000, NOW + timedelta(days=9), unit="10*3/uL")
    sooner = lab(LabKind.PLATELETS, 260_000, NOW + timedelta(days=2), unit="10*3/uL")
    usable = lab(LabKind.PLATELETS, 240_000, unit="10*3/uL")
    found = {
        f.rule_id: f
        for f in bleeding.evaluate(facts(labs=(usable, later, sooner, TP_OK)), Policy(), NOW)
    }
    shown = found["BLEED-LAB-UNINTERPRETABLE"].params["results"]
    assert [p.reference for p in shown] == [sooner.source.reference, later.source.reference]
    assert {p.problem_code for p in shown} == {FUTURE_DATED}


def test_controlled_pain_rests_on_the_score_and_the_treatment() -> None:
    score = lab(LabKind.PAIN_SCORE, 2)
    paracetamol = med("paracetamol", DrugClass.ANALGESIC)
    (finding,) = indication.evaluate(
        facts(labs=(score,), medications=(paracetamol,)), Policy(), NOW
    )
    assert finding.rule_id == "NONIND-PAIN-CONTROLLED"
    assert finding.evidence == (score.source, paracetamol.source)


def test_the_weight_bearing_question_is_for_an_ablation_alone_without_a_site() -> None:
    no_site = procedure(ProcedureKind.VERTEBROPLASTY, frozenset())
    ablation = procedure(ProcedureKind.CRYOABLATION, frozenset())
    assert "ablation-weight-bearing" not in checklist_items(
        facts(procedures=(no_site,)), Policy(), NOW
    )
    assert "ablation-weight-bearing" in checklist_items(
        facts(procedures=(ablation,)), Policy(), NOW
    )


def test_prophylaxis_shows_the_condition_with_its_recorded_day() -> None:
    hiv = replace(
        condition("immunocompromised", display="HIV infection"),
        recorded=datetime(2026, 11, 2, 9, 0, tzinfo=NOW.tzinfo),
    )
    (finding,) = procedure_rules(facts(conditions=(*IN_SCOPE, hiv)), Policy(), NOW)
    (record,) = finding.params["records"]
    assert (record.display, record.date, record.reference) == (
        "HIV infection",
        "2026-11-02",
        hiv.source.reference,
    )
