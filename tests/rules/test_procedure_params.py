"""What the procedure rules hand to their cards: the site or procedure each names (the coded
site's display, else the order's), the cryoablation flag, the prophylaxis reasons, and the
orders they rest on. A mutation run of service/rules/procedure.py left these unpinned: a mutant
could name the order instead of its site, or drop an order from the evidence."""

from __future__ import annotations

from dataclasses import replace

import pytest
from support.rule_facts import NOW, condition, facts, med, procedure

from service.rules.policy import Policy
from service.rules.procedure import evaluate
from service.vocabulary import DrugClass, ProcedureKind


def fired(patient):
    return {f.rule_id: f for f in evaluate(patient, Policy(), NOW)}


def test_a_long_bone_is_named_by_its_site_else_by_its_order() -> None:
    named = replace(
        procedure(ProcedureKind.OSTEOPLASTY, frozenset({"long-bone"})),
        body_site_display="Left femur",
    )
    unnamed = replace(
        procedure(ProcedureKind.OSTEOPLASTY, frozenset({"long-bone"})), body_site_display=None
    )
    spine = procedure()
    finding = fired(facts(procedures=(named, spine, unnamed)))["SITE-LONG-BONE"]
    assert finding.params["sites"] == ["Left femur", "osteoplasty"]
    assert finding.evidence == (named.source, unnamed.source)


def test_kyphoplasty_names_only_the_kyphoplasty_orders() -> None:
    kypho, vertebro = procedure(ProcedureKind.KYPHOPLASTY), procedure()
    finding = fired(facts(procedures=(vertebro, kypho)))["PROC-KYPHOPLASTY"]
    assert finding.params["procedures"] == ["kyphoplasty"]
    assert finding.evidence == (kypho.source,)


@pytest.mark.parametrize(
    ("kinds", "cryoablation"),
    [
        ((ProcedureKind.RADIOFREQUENCY_ABLATION,), False),
        ((ProcedureKind.CRYOABLATION,), True),
        ((ProcedureKind.RADIOFREQUENCY_ABLATION, ProcedureKind.CRYOABLATION), True),
    ],
)
def test_the_margin_sentence_is_for_cryoablation_only(kinds, cryoablation: bool) -> None:
    orders = tuple(procedure(kind, frozenset()) for kind in kinds)
    finding = fired(facts(procedures=(procedure(), *orders)))["PROC-THERMAL-ABLATION"]
    assert finding.params["cryoablation"] is cryoablation
    assert finding.params["procedures"] == [kind.value for kind in kinds]
    assert finding.evidence == tuple(o.source for o in orders)


def test_an_ablation_alone_on_a_weight_bearing_bone_names_its_site_and_order() -> None:
    bearing = replace(
        procedure(ProcedureKind.CRYOABLATION, frozenset({"weight-bearing", "pelvis"})),
        body_site_display="Right iliac bone",
    )
    other = procedure(ProcedureKind.RADIOFREQUENCY_ABLATION, frozenset({"rib"}))
    finding = fired(facts(procedures=(bearing, other)))["PROC-ABLATION-WEIGHT-BEARING"]
    assert finding.params["procedures"] == ["cryoablation"]
    assert finding.params["sites"] == ["Right iliac bone"]
    assert finding.evidence == (bearing.source,)
    with_cement = facts(procedures=(bearing, procedure()))
    assert "PROC-ABLATION-WEIGHT-BEARING" not in fired(with_cement)


def test_prophylaxis_names_the_condition_then_the_drugs_and_says_corticosteroid() -> None:
    immuno = condition("immunocompromised", display="HIV infection")
    steroid = med("prednisone", DrugClass.CORTICOSTEROID)
    cytotoxic = med("oxaliplatin", DrugClass.CYTOTOXIC)
    finding = fired(facts(conditions=(immuno,), medications=(cytotoxic, steroid)))[
        "INF-PROPHYLAXIS"
    ]
    assert finding.params["reasons"] == ["HIV infection", "Oxaliplatin", "Prednisone"]
    assert finding.params["corticosteroid"] is True
    assert finding.params["ablation_only"] is False
    assert finding.evidence == (immuno.source, cytotoxic.source, steroid.source)
    without = fired(facts(medications=(cytotoxic,)))["INF-PROPHYLAXIS"]
    assert without.params["corticosteroid"] is False
