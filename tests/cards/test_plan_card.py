"""The antithrombotic plan card of RULES.md v2: one procedure, one line and one suggestion per
medication record, suspension Tasks only with a known start, lay patient messages."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from fhir.resources.R4B.communicationrequest import CommunicationRequest
from fhir.resources.R4B.task import Task
from support.rule_facts import IN_SCOPE, NOW, PARIS, condition, facts, med, procedure

from cds_hooks.cards import Card, Indicator
from service.cards.render import RULES_EXTENSION, render_cards
from service.facts.model import MedicationSourceKind
from service.rules.case import case_summary
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DrugClass

LOCALES = ("en", "fr")
VALIDATORS = {"Task": Task, "CommunicationRequest": CommunicationRequest}
POLICY = Policy()


def plan_card(patient, locale: str = "en", now: datetime = NOW, policy: Policy = POLICY) -> Card:
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, policy, now), case_summary(patient), locale, now
        )
    ]
    (card,) = [c for c in cards if any(r.startswith("MED-") for r in c.extension[RULES_EXTENSION])]  # type: ignore[index]
    for suggestion in card.suggestions:
        for action in suggestion.actions:
            resource = dict(action.resource or {})
            VALIDATORS[resource["resourceType"]].model_validate(resource)
    return card


def resources(card: Card) -> list[dict]:
    return [dict(a.resource or {}) for s in card.suggestions for a in s.actions]


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=PARIS)


def text_of(card: Card) -> str:
    return " ".join([card.summary, card.detail or "", *(s.label for s in card.suggestions)])


# ---- one procedure ------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_two_orders_one_procedure_for_the_line_and_the_task(locale: str) -> None:
    # The reported case: orders on 05/12 (date only) and 07/12 10:00. v1 held clopidogrel for
    # 05/12 while its Task ended on 07/12.
    early = replace(procedure(day=date(2026, 12, 5)), display="Vertébroplastie T12")
    late = procedure(day=date(2026, 12, 7), at=at("2026-12-07", 10))
    clopidogrel = med("clopidogrel", DrugClass.CLOPIDOGREL)
    card = plan_card(facts(procedures=(late, early), medications=(clopidogrel,)), locale)
    (task,) = resources(card)
    assert task["restriction"]["period"] == {"start": "2026-11-30", "end": "2026-12-05"}
    detail = card.detail or ""
    day = "2026-12-05" if locale == "en" else "05/12/2026"
    assert "Vertébroplastie T12" in detail and day in detail  # the card names its order
    assert ("2026-11-30" if locale == "en" else "30/11/2026") in detail
    assert "2026-12-07" not in json.dumps(task) and "07/12" not in detail


def test_a_timed_procedure_ends_the_task_at_its_instant_and_a_doac_starts_at_its_hold() -> None:
    patient = facts(
        procedures=(procedure(day=date(2026, 12, 7), at=at("2026-12-07", 9)),),
        medications=(med("apixaban", DrugClass.DOAC),),
    )
    (task,) = resources(plan_card(patient))
    assert task["restriction"]["period"] == {
        "start": "2026-12-05T09:00:00+01:00",
        "end": "2026-12-07T09:00:00+01:00",
    }
    assert task["status"] == "requested" and task["intent"] == "proposal"
    assert task["for"] == {"reference": "Patient/pat-1"}
    assert task["code"]["coding"][0]["code"] == "suspend"


# ---- per record -----------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_kardegic_and_aspegic_one_suggestion_on_the_high_dose_record_only(locale: str) -> None:
    kardegic = med("aspirin", DrugClass.ASPIRIN, dose=75, display="Kardégic 75\u00a0mg")
    aspegic = med("aspirin", DrugClass.ASPIRIN, dose=3000, display="Aspégic 1 g")
    card = plan_card(facts(medications=(kardegic, aspegic)), locale)
    (task,) = resources(card)
    assert task["focus"] == {"reference": aspegic.source.reference}
    detail = card.detail or ""
    assert "Kardégic 75\u00a0mg" in detail and "Aspégic 1 g" in detail
    assert ("may be continued" if locale == "en" else "peut être poursuivie") in detail
    assert kardegic.source.reference not in detail  # no resource id in clinician text


@pytest.mark.parametrize("locale", LOCALES)
def test_aspirin_at_exactly_160_asks_the_prescriber(locale: str) -> None:
    detail = plan_card(
        facts(medications=(med("aspirin", DrugClass.ASPIRIN, dose=160),)), locale
    ).detail
    assert ("guideline's limit" if locale == "en" else "à la limite de la recommandation") in (
        detail or ""
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_duoplavin_is_replaced_by_aspirin_alone_never_half_stopped(locale: str) -> None:
    duoplavin = med("clopidogrel", DrugClass.CLOPIDOGREL, display="DuoPlavin 75 mg/75 mg")
    aspirin_part = replace(
        med("aspirin", DrugClass.ASPIRIN, display="DuoPlavin 75 mg/75 mg"), source=duoplavin.source
    )
    card = plan_card(facts(medications=(duoplavin, aspirin_part)), locale)
    (request,) = resources(card)
    assert request["resourceType"] == "CommunicationRequest"  # never a Task on half a tablet
    assert request["about"] == [{"reference": duoplavin.source.reference}]
    assert len(request["recipient"]) == 2 and "subject" in request
    text = text_of(card)
    assert (
        "aspirin alone below 160 mg/day" if locale == "en" else "aspirine seule à moins de 160"
    ) in text
    assert "Suspend" not in text and "Suspendre" not in text
    assert "Tell the patient: stop clopidogrel" not in text


# ---- suggestions ------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_vka_gets_a_request_to_the_prescriber_and_anaesthesia_never_a_task(locale: str) -> None:
    warfarin = med("warfarin", DrugClass.VKA)
    card = plan_card(facts(medications=(warfarin,)), locale)
    (request,) = resources(card)
    assert request["resourceType"] == "CommunicationRequest"
    assert request["about"] == [{"reference": warfarin.source.reference}]
    detail = card.detail or ""
    assert ("5 days" if locale == "en" else "5\u00a0jours") in detail
    local = (
        "local protocol of the institution"
        if locale == "en"
        else "protocole local de l'établissement"
    )
    assert local in detail
    assert ("2026-12-06" if locale == "en" else "06/12/2026") in detail  # INR on D-1
    assert card.indicator is Indicator.WARNING


@pytest.mark.parametrize("locale", LOCALES)
def test_warfarin_two_days_before_is_critical(locale: str) -> None:
    card = plan_card(facts(medications=(med("warfarin", DrugClass.VKA),)), locale, at("2026-12-05"))
    assert card.indicator is Indicator.CRITICAL
    assert "MED-VKA-TOO-LATE" in card.extension[RULES_EXTENSION]  # type: ignore[index]
    words = (
        ("no longer possible", "vitamin K")
        if locale == "en"
        else ("n'est plus possible", "vitamine K")
    )
    assert all(word in (card.detail or "") for word in words)
    (request,) = resources(card)
    assert request["priority"] == "urgent"


def test_never_a_task_without_a_start() -> None:
    undated = facts(
        procedures=(procedure(day=None),),
        medications=(med("clopidogrel", DrugClass.CLOPIDOGREL), med("warfarin", DrugClass.VKA)),
    )
    for resource in resources(plan_card(undated)):
        assert resource["resourceType"] == "CommunicationRequest"
    dated = plan_card(facts(medications=(med("clopidogrel", DrugClass.CLOPIDOGREL),)))
    for resource in resources(dated):
        assert resource["restriction"]["period"]["start"]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "en",
            "Do not take your clopidogrel from Wednesday 2 December; your last dose is on "
            "Tuesday 1 December.",
        ),
        (
            "fr",
            "Ne prenez plus votre clopidogrel à partir du mercredi 2 décembre\u00a0; "
            "votre dernière "
            "prise est le mardi 1er décembre.",
        ),
    ],
)
def test_patient_message_in_lay_language(locale: str, expected: str) -> None:
    statement = med("clopidogrel", DrugClass.CLOPIDOGREL, kind=MedicationSourceKind.STATEMENT)
    (message,) = resources(plan_card(facts(medications=(statement,)), locale))
    assert message["recipient"] == [{"reference": "Patient/pat-1"}]
    content = message["payload"][0]["contentString"]
    assert content.startswith(expected)
    for jargon in (
        "§",
        "D-5",
        "J-5",
        "MedicationStatement",
        "2026-12",
        "antiagrégant",
        "antiplatelet",
    ):
        assert jargon not in content


def test_patient_message_for_an_injection_and_an_instant() -> None:
    lmwh = med("enoxaparin", DrugClass.LMWH, kind=MedicationSourceKind.STATEMENT)
    (message,) = resources(plan_card(facts(medications=(lmwh,)), "fr"))
    assert message["payload"][0]["contentString"].startswith(
        "Ne faites plus les injections de votre énoxaparine à partir du dimanche 6 décembre\u00a0; "
        "votre dernière injection est le samedi 5 décembre."
    )
    doac = med("rivaroxaban", DrugClass.DOAC, kind=MedicationSourceKind.STATEMENT)
    patient = facts(
        procedures=(procedure(day=date(2026, 11, 29), at=at("2026-11-29", 14)),),
        medications=(doac,),
    )
    (message,) = resources(plan_card(patient))
    assert message["payload"][0]["contentString"].startswith(
        "Do not take your rivaroxaban after Friday 27 November at 14:00."
    )


# ---- DOAC wording ---------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_rivaroxaban_hold_is_an_instant_with_its_time(locale: str) -> None:
    # v1: "No dose from 2026-11-27 14:00; last dose no later than 2026-11-27" (an evening dose
    # on the 27th falls inside the 48 h).
    patient = facts(
        procedures=(procedure(day=date(2026, 11, 29), at=at("2026-11-29", 14)),),
        medications=(med("rivaroxaban", DrugClass.DOAC),),
    )
    detail = plan_card(patient, locale, at("2026-11-20")).detail or ""
    instant = (
        "no dose after **2026-11-27 14:00**"
        if locale == "en"
        else "aucune prise après le **27/11/2026 à 14:00**"
    )
    assert instant in detail
    assert "no later than 2026-11-27" not in detail and "au plus tard le 27/11/2026" not in detail


@pytest.mark.parametrize("locale", LOCALES)
def test_date_only_doac_says_the_time_is_not_given(locale: str) -> None:
    detail = plan_card(facts(medications=(med("apixaban", DrugClass.DOAC),)), locale).detail or ""
    if locale == "en":
        assert "Procedure time not given: counted from 00:00 on 2026-12-07" in detail
        assert "last dose on **2026-12-04** at the latest" in detail
    else:
        assert (
            "Heure du geste non précisée\u00a0: délai compté à partir de 00:00 le 07/12/2026"
            in detail
        )
        assert "dernière prise le **04/12/2026** au plus tard" in detail
        assert "AOD" in detail and "nouvel anticoagulant oral" not in detail


@pytest.mark.parametrize("locale", LOCALES)
def test_time_unknown_card_says_check_the_time(locale: str) -> None:
    card = plan_card(
        facts(medications=(med("apixaban", DrugClass.DOAC),)), locale, at("2026-12-05", 9)
    )
    assert card.indicator is Indicator.WARNING
    assert card.extension[RULES_EXTENSION] == ["MED-DOAC", "MED-HOLD-TIME-UNKNOWN"]  # type: ignore[index]
    expected = (
        "Too late if the procedure is before 09:00 on 2026-12-07: check the procedure time"
        if locale == "en"
        else (
            "Trop tard si le geste a lieu avant 09:00 le 07/12/2026\u00a0: "
            "vérifier l'heure du geste"
        )
    )
    assert expected in (card.detail or "")
    assert "Too late: the hold" not in (card.detail or "")
    label = card.suggestions[0].label
    assert (
        "may already have started" if locale == "en" else "a peut-être déjà dû commencer"
    ) in label


@pytest.mark.parametrize("locale", LOCALES)
def test_edoxaban_and_dabigatran_notes(locale: str) -> None:
    detail = (
        plan_card(
            facts(medications=(med("edoxaban", DrugClass.DOAC), med("dabigatran", DrugClass.DOAC))),
            locale,
        ).detail
        or ""
    )
    assert (
        "Edoxaban is not named in the guideline" if locale == "en" else "L'édoxaban n'est pas cité"
    ) in detail
    assert ("Renal impairment" if locale == "en" else "insuffisance rénale") in detail


# ---- cardiac risk, starting today, French terms -----------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_cardiac_sentence_with_every_antiplatelet_hold(locale: str) -> None:
    sentence = "ask the cardiologist" if locale == "en" else "demander l'avis du cardiologue"
    clopidogrel = med("clopidogrel", DrugClass.CLOPIDOGREL)
    assert sentence in (plan_card(facts(medications=(clopidogrel,)), locale).detail or "")
    doac_only = plan_card(facts(medications=(med("apixaban", DrugClass.DOAC),)), locale)
    assert sentence not in (doac_only.detail or "")
    stent = replace(
        condition("coronary-stent", display="Stent coronaire actif"),
        recorded=NOW - timedelta(days=90),
    )
    card = plan_card(facts(conditions=(*IN_SCOPE, stent), medications=(clopidogrel,)), locale)
    assert "MED-CARDIAC-RISK" in card.extension[RULES_EXTENSION]  # type: ignore[index]
    assert "Stent coronaire actif" in (card.detail or "")


@pytest.mark.parametrize("locale", LOCALES)
def test_hold_starting_today_asks_about_todays_dose(locale: str) -> None:
    card = plan_card(
        facts(medications=(med("clopidogrel", DrugClass.CLOPIDOGREL),)), locale, at("2026-12-02", 8)
    )
    words = (
        "if today's dose was already taken, tell the anaesthesia team"
        if locale == "en"
        else ("si la prise du jour a déjà eu lieu, prévenir l'équipe d'anesthésie")
    )
    assert words in (card.detail or "")


def test_french_plan_wording() -> None:
    detail = (
        plan_card(
            facts(
                medications=(
                    med("enoxaparin", DrugClass.LMWH),
                    med("clopidogrel", DrugClass.CLOPIDOGREL),
                    med("warfarin", DrugClass.VKA),
                )
            ),
            "fr",
        ).detail
        or ""
    )
    assert "dernière injection le **05/12/2026** au plus tard" in detail
    assert "Dernière prise" not in detail.split("énoxaparine", 1)[1].split("\n\n")[0]
    assert "à partir de J-5" in detail
    assert "relais par HBPM" in detail
    assert "relay" not in detail and "nouvel anticoagulant" not in detail
    assert "§" not in detail


@pytest.mark.parametrize("locale", LOCALES)
def test_an_undated_order_beside_the_dated_one_is_named(locale: str) -> None:
    patient = facts(
        procedures=(procedure(day=None), procedure()),
        medications=(med("clopidogrel", DrugClass.CLOPIDOGREL),),
    )
    detail = plan_card(patient, locale).detail or ""
    words = (
        "Another order in scope has no date"
        if locale == "en"
        else "Une autre prescription n'a pas de date"
    )
    assert words in detail
    single = plan_card(facts(medications=(med("clopidogrel", DrugClass.CLOPIDOGREL),)), locale)
    assert words not in (single.detail or "")
    assert ("earliest procedure in scope" if locale == "en" else "premier geste prévu") not in (
        single.detail or ""
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_doac_hold_starting_later_today_gives_its_time(locale: str) -> None:
    patient = facts(
        procedures=(procedure(day=date(2026, 12, 7), at=at("2026-12-07", 14)),),
        medications=(med("apixaban", DrugClass.DOAC),),
    )
    detail = plan_card(patient, locale, at("2026-12-05", 9)).detail or ""
    words = "starts **today at 14:00**" if locale == "en" else "commence **aujourd'hui à 14:00**"
    assert words in detail
