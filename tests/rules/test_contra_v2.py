"""Catalog v2 for the contraindication, indication, procedure and checklist rules, and their
cards (RULES.md "Changes in version 2", groups 1, 6, 7, 8, 10, 11, 14, 17). Each test would
fail on version 1's behaviour."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from support.rule_facts import IN_SCOPE, NOW, allergy, condition, facts, lab, med, procedure

from service.cards.render import render_cards
from service.facts.model import AllergyFact
from service.rules.case import case_summary
from service.rules.catalog import RULE_IDS
from service.rules.checklist import checklist_items
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DrugClass, LabKind, ProcedureKind

POLICY = Policy()
ALWAYS = {"TUMOR-CONTROL", "CHECKLIST"}
SUSPECTED = "CI-ABS-INFECTION-SUSPECTED"
RULE_ID = re.compile(r"\b(?:" + "|".join(map(re.escape, RULE_IDS)) + r")\b")


def fired(patient, now=NOW) -> set[str]:
    return {f.rule_id for f in evaluate_rules(patient, POLICY, now)}


def finding(patient, rule_id: str):
    (match,) = [f for f in evaluate_rules(patient, POLICY, NOW) if f.rule_id == rule_id]
    return match


def card(patient, rule_id: str, locale: str = "en"):
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, POLICY, NOW), case_summary(patient), locale, NOW
        )
    ]
    (match,) = [c for c in cards if rule_id in c.extension["cementoplasty-cds/rules"]]
    return match


def temperature(value: float, unit: str = "Cel", hours: float = 6):
    return lab(LabKind.TEMPERATURE, value, NOW - timedelta(hours=hours), unit=unit)


# ---- infection ---------------------------------------------------------------------------------


def test_fever_condition_temperature_or_antibiotic_suspects_an_infection() -> None:
    assert fired(facts(conditions=(*IN_SCOPE, condition("fever")))) == ALWAYS | {SUSPECTED}
    assert fired(facts(labs=(temperature(38.0),))) >= {SUSPECTED}  # at the threshold
    antibiotic = med("amoxicillin", DrugClass.ANTIBACTERIAL)
    assert fired(facts(medications=(antibiotic,))) == ALWAYS | {SUSPECTED}
    suspected = condition("suspected:systemic-infection", display="Suspected sepsis")
    assert fired(facts(conditions=(*IN_SCOPE, suspected))) == ALWAYS | {SUSPECTED}


def test_temperature_threshold_window_and_units() -> None:
    assert SUSPECTED not in fired(facts(labs=(temperature(37.9),)))
    assert SUSPECTED not in fired(facts(labs=(temperature(38.6, hours=49),)))
    assert SUSPECTED in fired(facts(labs=(temperature(38.6, hours=47),)))
    assert SUSPECTED in fired(facts(labs=(temperature(101.3, "[degF]"),)))  # 38.5 °C
    assert SUSPECTED not in fired(facts(labs=(temperature(100.0, "[degF]"),)))  # 37.8 °C
    # An unknown unit, or a Fahrenheit value written as Celsius, is never read as a fever.
    assert SUSPECTED not in fired(facts(labs=(temperature(38.5, "K"),)))
    assert SUSPECTED not in fired(facts(labs=(temperature(100.4, "Cel"),)))
    future = temperature(39.0, hours=-3)
    assert SUSPECTED not in fired(facts(labs=(future,)))


def test_a_documented_infection_says_it_all() -> None:
    patient = facts(
        conditions=(*IN_SCOPE, condition("systemic-infection"), condition("fever")),
        medications=(med("amoxicillin", DrugClass.ANTIBACTERIAL),),
    )
    assert fired(patient) == ALWAYS | {"CI-ABS-SYSTEMIC-INFECTION"}


def test_a_suspicion_is_quoted_as_noted_not_documented() -> None:
    suspected = replace(
        condition("suspected:systemic-infection", display="Suspected sepsis"),
        matched_text="Suspected sepsis",
    )
    detail = card(facts(conditions=(*IN_SCOPE, suspected)), SUSPECTED).detail or ""
    assert '- Noted: "Suspected sepsis"' in detail and "Documented" not in detail


def test_suspected_card_asks_to_rule_out_and_names_prophylaxis() -> None:
    patient = facts(
        labs=(temperature(38.4),), medications=(med("amoxicillin", DrugClass.ANTIBACTERIAL),)
    )
    shown = card(patient, SUSPECTED)
    assert shown.indicator.value == "warning" and shown.override_reasons
    assert "Rule out an ongoing infection" in (shown.detail or "")
    assert "38.4 °C" in (shown.detail or "")
    assert "prophylaxis" in (shown.detail or "")
    assert "38,4\u00a0°C" in (card(patient, SUSPECTED, "fr").detail or "")


# ---- coagulopathy, epidural, cement -----------------------------------------------------------


def test_coagulopathy_card_says_when_severe_and_shows_the_labs() -> None:
    patient = facts(conditions=(*IN_SCOPE, condition("coagulopathy")))
    params = finding(patient, "CI-ABS-COAGULOPATHY").params
    assert [lab["kind"] for lab in params["labs"]] == ["platelets", "tp", "inr"]
    shown = card(patient, "CI-ABS-COAGULOPATHY")
    assert "when severe" in shown.summary
    assert "250 000/mm³" in (shown.detail or "") and "90 %" in (shown.detail or "")


def test_cord_compression_asks_for_an_urgent_opinion() -> None:
    epidural = facts(conditions=(*IN_SCOPE, condition("epidural-extension")))
    assert "urgent" not in (card(epidural, "CI-REL-EPIDURAL").detail or "")
    compression = facts(conditions=(*IN_SCOPE, condition("epidural-extension", "cord-compression")))
    detail = card(compression, "CI-REL-EPIDURAL").detail or ""
    assert "neurological deficit" in detail and "urgent" in detail
    assert "déficit neurologique" in (card(compression, "CI-REL-EPIDURAL", "fr").detail or "")


def test_cement_allergy_card_shows_date_status_criticality_reaction() -> None:
    acrylates = AllergyFact(
        concepts=frozenset({"cement-allergy"}),
        display="Acrylates",
        source=allergy("cement-allergy").source,
        recorded=NOW - timedelta(days=400),
        verification="confirmed",
        criticality="high",
        reactions=("Eczéma de contact",),
    )
    shown = card(facts(allergies=(acrylates,)), "CI-ABS-CEMENT-ALLERGY")
    detail = shown.detail or ""
    assert "2025-10-21" in detail and "confirmed" in detail
    assert "criticality: high" in detail and "Eczéma de contact" in detail


def test_gentamicin_allergy_is_conditional_on_an_antibiotic_cement() -> None:
    patient = facts(allergies=(allergy("cement-antibiotic-allergy"),))
    shown = card(patient, "CI-ABS-CEMENT-ALLERGY")
    assert "antibiotic-loaded cement is planned" in shown.summary


# ---- text-documented contraindications ------------------------------------------------------


def test_text_fired_card_quotes_the_text_and_says_if_this_is_the_target() -> None:
    wall = replace(
        condition("posterior-wall", display="Recul du mur postérieur de L2"),
        matched_text="Recul du mur postérieur de L2",
    )
    at_t12 = procedure(ProcedureKind.VERTEBROPLASTY, frozenset({"spine"}))
    at_t12 = replace(at_t12, body_site_display="Vertèbre T12")
    patient = facts(procedures=(at_t12,), conditions=(*IN_SCOPE, wall))
    detail = card(patient, "CI-REL-POSTERIOR-WALL").detail or ""
    assert '"Recul du mur postérieur de L2"' in detail and "if this is the target" in detail
    same_level = replace(at_t12, body_site_display="Vertèbre L2")
    patient = facts(procedures=(same_level,), conditions=(*IN_SCOPE, wall))
    assert "if this is the target" not in (card(patient, "CI-REL-POSTERIOR-WALL").detail or "")
    # A region rather than a level: the joint opening of a femur while the target is T12.
    femur = replace(
        condition("joint-opening", display="Ouverture articulaire du fémur"),
        matched_text="Ouverture articulaire du fémur",
        text_sites=frozenset({"long-bone", "weight-bearing"}),
    )
    patient = facts(procedures=(at_t12,), conditions=(*IN_SCOPE, femur))
    assert "if this is the target" in (card(patient, "CI-REL-JOINT-OPENING").detail or "")
    hip = procedure(ProcedureKind.OSTEOPLASTY, frozenset({"long-bone", "weight-bearing"}))
    patient = facts(procedures=(hip,), conditions=(*IN_SCOPE, femur))
    assert "if this is the target" not in (card(patient, "CI-REL-JOINT-OPENING").detail or "")


# ---- pain ----------------------------------------------------------------------------------


def test_controlled_pain_is_quiet_beside_opioid_intolerance() -> None:
    morphine = med("morphine", DrugClass.OPIOID, DrugClass.ANALGESIC)
    pain = lab(LabKind.PAIN_SCORE, 2)
    labs = (*facts().labs, pain)
    controlled = facts(labs=labs, medications=(morphine,))
    assert "NONIND-PAIN-CONTROLLED" in fired(controlled)
    intolerant = facts(
        labs=labs, medications=(morphine,), conditions=(*IN_SCOPE, condition("constipation"))
    )
    assert fired(intolerant) == ALWAYS | {"IND-OPIOID-INTOLERANCE"}
    detail = card(controlled, "NONIND-PAIN-CONTROLLED").detail or ""
    assert "local protocol of the institution" in detail
    assert "on movement" in detail and "debated" in detail


# ---- procedure -------------------------------------------------------------------------------


def test_ablation_alone_on_a_weight_bearing_site() -> None:
    rfa = ProcedureKind.RADIOFREQUENCY_ABLATION
    bearing = procedure(rfa, frozenset({"spine", "weight-bearing"}))
    assert "PROC-ABLATION-WEIGHT-BEARING" in fired(facts(procedures=(bearing,)))
    sternum = procedure(rfa, frozenset({"flat-bone"}))
    assert "PROC-ABLATION-WEIGHT-BEARING" not in fired(facts(procedures=(sternum,)))
    combined = (bearing, procedure(ProcedureKind.VERTEBROPLASTY))
    assert "PROC-ABLATION-WEIGHT-BEARING" not in fired(facts(procedures=combined))
    unknown = facts(procedures=(procedure(rfa, frozenset()),))
    assert "PROC-ABLATION-WEIGHT-BEARING" not in fired(unknown)
    assert "ablation-weight-bearing" in checklist_items(unknown, POLICY, NOW)
    assert "ablation-weight-bearing" not in checklist_items(facts(), POLICY, NOW)


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_cryoablation_margin_sentence_is_never_on_radiofrequency(locale: str) -> None:
    margin = {"en": "safety margin", "fr": "marge"}[locale]
    rfa = facts(procedures=(procedure(ProcedureKind.RADIOFREQUENCY_ABLATION),))
    assert margin not in (card(rfa, "PROC-THERMAL-ABLATION", locale).detail or "")
    cryo = facts(procedures=(procedure(ProcedureKind.CRYOABLATION),))
    assert margin in (card(cryo, "PROC-THERMAL-ABLATION", locale).detail or "")


def test_ablation_only_wording_for_prophylaxis_and_tumour_control() -> None:
    immuno = (*IN_SCOPE, condition("immunocompromised"))
    cement = facts(conditions=immuno)
    assert "foreign material" in (card(cement, "INF-PROPHYLAXIS").detail or "")
    ablation = facts(
        procedures=(procedure(ProcedureKind.CRYOABLATION, frozenset({"flat-bone"})),),
        conditions=immuno,
    )
    detail = card(ablation, "INF-PROPHYLAXIS").detail or ""
    assert "foreign material" not in detail and "cement" not in detail.lower()
    summary = card(ablation, "TUMOR-CONTROL").detail or ""
    assert "radiotherapy" in summary and "Cementoplasty does not" not in summary


def test_immunocompromise_v2_reasons() -> None:
    steroid = med("prednisone", DrugClass.CORTICOSTEROID)
    assert "INF-PROPHYLAXIS" in fired(facts(medications=(steroid,)))
    assert "dose and the duration" in (
        card(facts(medications=(steroid,)), "INF-PROPHYLAXIS").detail or ""
    )
    labs = facts().labs
    low = lab(LabKind.NEUTROPHILS, 999)
    assert "INF-PROPHYLAXIS" in fired(facts(labs=(*labs, low)))
    at_limit = lab(LabKind.NEUTROPHILS, 1000)
    assert "INF-PROPHYLAXIS" not in fired(facts(labs=(*labs, at_limit)))
    stale = lab(LabKind.NEUTROPHILS, 400, NOW - timedelta(days=8))
    assert "INF-PROPHYLAXIS" not in fired(facts(labs=(*labs, stale)))


# ---- checklist and summary ----------------------------------------------------------------


def test_checklist_always_items_and_vertebral_only_items() -> None:
    items = checklist_items(facts(), POLICY, NOW)
    assert items[:8] == [
        "mdt-decision",
        "lesion-responsible",
        "indication-context",
        "global-care",
        "no-infection",
        "puncture-skin",
        "antithrombotics-confirmed",
        "cement-allergy-asked",
    ]
    femur = facts(procedures=(procedure(ProcedureKind.OSTEOPLASTY, frozenset({"long-bone"})),))
    femur_items = checklist_items(femur, POLICY, NOW)
    assert "posterior-wall" not in femur_items and "asymptomatic-fracture" not in femur_items
    assert {"diffuse-pain", "joint-opening"} <= set(femur_items)
    unknown = facts(procedures=(procedure(ProcedureKind.OSTEOPLASTY, frozenset()),))
    assert "posterior-wall" in checklist_items(unknown, POLICY, NOW)


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_summary_card_shows_passes_and_no_rule_id(locale: str) -> None:
    patient = facts(conditions=())  # SCOPE-NO-BONE-METASTASIS goes in the summary card too
    shown = card(patient, "CHECKLIST", locale)
    assert not RULE_ID.search(shown.detail or ""), shown.detail
    assert not RULE_ID.search(shown.summary)
    expected = {
        "en": "Platelets 250 000/mm³ on 2026-11-24: meets > 50 000/mm³",
        "fr": "Plaquettes 250\u00a0000/mm³ le 24/11/2026\u00a0: conforme (> 50\u00a0000/mm³)",
    }[locale]
    assert expected in (shown.detail or "")


def test_a_failed_check_is_not_listed_as_passed() -> None:
    low = facts(labs=(lab(LabKind.PLATELETS, 30_000), *facts().labs[1:]))
    detail = card(low, "CHECKLIST").detail or ""
    assert "Platelets 30 000" not in detail and "TP 90 %" in detail
    sick = facts(conditions=(*IN_SCOPE, condition("skin-infection")))
    assert "no contraindication documented" not in (card(sick, "CHECKLIST").detail or "")


def test_a_provisional_coded_infection_is_critical_and_says_so() -> None:
    """Reading kept (RULES.md "Documented": only refuted / entered-in-error are excluded): a
    provisional coded infection is documented, and the card says it is not confirmed."""
    provisional = replace(condition("systemic-infection"), verification="provisional")
    patient = facts(conditions=(*IN_SCOPE, provisional))
    shown = card(patient, "CI-ABS-SYSTEMIC-INFECTION")
    assert shown.indicator.value == "critical"
    assert "not confirmed: provisional" in (shown.detail or "")


def test_pain_threshold_note_names_no_configuration_key() -> None:
    pain = lab(LabKind.PAIN_SCORE, 7)
    patient = facts(
        labs=(*facts().labs, pain), medications=(med("paracetamol", DrugClass.ANALGESIC),)
    )
    detail = card(patient, "IND-PAIN-UNCONTROLLED").detail or ""
    assert "local protocol of the institution" in detail
    assert "pain_uncontrolled_min" not in detail


def test_a_fever_earlier_in_the_48_hours_is_not_hidden_by_a_newer_normal_temperature() -> None:
    from service.facts.labs import extract_labs
    from service.valuesets import load_valuesets

    def observation(oid: str, value: float, hours: float) -> dict:
        return {
            "resourceType": "Observation",
            "id": oid,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
            "effectiveDateTime": (NOW - timedelta(hours=hours)).isoformat(),
            "valueQuantity": {
                "value": value,
                "unit": "Cel",
                "system": "http://unitsofmeasure.org",
                "code": "Cel",
            },
        }

    resources = [
        observation("t1", 37.1, 1),
        observation("t2", 39.2, 20),
        observation("t3", 39.5, 60),
    ]
    labs = tuple(extract_labs(resources, load_valuesets(), now=NOW))
    assert sorted(lab.value for lab in labs) == [37.1, 39.2]  # the 60-hour-old one is not read
    patient = facts(labs=(*facts().labs, *labs))
    assert SUSPECTED in fired(patient)
    assert "Temperature 37.1" not in (card(patient, "CHECKLIST").detail or "")
    normal = facts(labs=(*facts().labs, labs[0] if labs[0].value == 37.1 else labs[1]))
    assert "Temperature 37.1 °C" in (card(normal, "CHECKLIST").detail or "")


def test_the_cement_allergy_card_knows_which_record_is_an_antibiotic_one() -> None:
    """Each record behind CI-ABS-CEMENT-ALLERGY says what it is and where it is (display,
    reference), and an allergy to an antibiotic of loaded cements is marked as such: the card
    words it as conditional on an antibiotic cement (mutation survivors: the flag, the display
    and the reference dropped)."""
    cement = allergy("cement-allergy")
    gentamicin = replace(allergy("cement-antibiotic-allergy"), display="Gentamicine")
    shown = finding(facts(allergies=(cement, gentamicin)), "CI-ABS-CEMENT-ALLERGY")
    records = shown.params["records"]
    assert [(r.display, r.reference, r.antibiotic) for r in records] == [
        ("cement-allergy", cement.source.reference, False),
        ("Gentamicine", gentamicin.source.reference, True),
    ]
    assert set(shown.evidence) == {cement.source, gentamicin.source}
    assert shown.params["antibiotic_only"] is False


def test_the_infection_card_cites_every_record_behind_it() -> None:
    """The evidence of CI-ABS-INFECTION-SUSPECTED names the condition, the temperature and the
    antibiotic it rests on (a mutation survivor dropped them all)."""
    fever = condition("fever")
    antibiotic = med("amoxicillin", DrugClass.ANTIBACTERIAL)
    fever_reading = temperature(38.6)
    shown = finding(
        facts(conditions=(fever,), medications=(antibiotic,), labs=(fever_reading,)), SUSPECTED
    )
    assert {fever.source, antibiotic.source, fever_reading.source} <= set(shown.evidence)
