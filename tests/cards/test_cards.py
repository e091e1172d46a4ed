"""The card contract of RULES.md, in English and French, on findings from real rule runs."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from fhir.resources.R4B.communicationrequest import CommunicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task
from support.rule_facts import IN_SCOPE, NOW, PARIS, condition, facts, lab, med, procedure
from support.scenarios import everything_wrong, kitchen_sink

from cds_hooks.cards import Card, Indicator
from service.cards.base import OVERRIDE_REASONS
from service.cards.evidence import EVIDENCE_EXTENSION
from service.cards.messages import UnsupportedLocale, messages, normalise_locale
from service.cards.render import RULES_EXTENSION, render_cards
from service.facts.model import MedicationSourceKind
from service.rules.case import case_summary
from service.rules.catalog import CATALOG, RuleGroup
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DrugClass, LabKind, ProcedureKind

LOCALES = ("en", "fr")
POLICY = Policy(unlisted_hold_days={"prasugrel": 7})
VALIDATORS = {
    "ServiceRequest": ServiceRequest,
    "Task": Task,
    "CommunicationRequest": CommunicationRequest,
}


def cards_for(patient, locale: str = "en", now: datetime = NOW) -> tuple[Card, ...]:
    findings = evaluate_rules(patient, POLICY, now)
    return [r.card for r in render_cards(findings, case_summary(patient), locale, now)]


def shown(iso: str, locale: str) -> str:
    """A date as cards show it: ISO in English, dd/mm/yyyy in French."""
    return iso if locale == "en" else date.fromisoformat(iso).strftime("%d/%m/%Y")


def rules_of(card: Card) -> list[str]:
    return list(card.extension[RULES_EXTENSION])  # type: ignore[index]


def card_with(cards, rule_id: str) -> Card:
    (card,) = [c for c in cards if rule_id in rules_of(c)]
    return card


def all_scenarios():
    return [(patient, now, locale) for patient, now in kitchen_sink() for locale in LOCALES]


@pytest.mark.parametrize(("patient", "now", "locale"), all_scenarios())
def test_every_fired_rule_is_in_exactly_one_card(patient, now, locale) -> None:
    findings = evaluate_rules(patient, POLICY, now)
    cards = [r.card for r in render_cards(findings, case_summary(patient), locale, now)]
    listed = [rule_id for card in cards for rule_id in rules_of(card)]
    assert sorted(listed) == sorted({f.rule_id for f in findings})
    assert len(listed) == len(set(listed))


@pytest.mark.parametrize(("patient", "now", "locale"), all_scenarios())
def test_card_contract(patient, now, locale) -> None:
    for card in cards_for(patient, locale, now):
        document = card.to_json()
        json.dumps(document)
        assert len(card.summary) < 140
        assert not card.summary.endswith("…"), card.summary  # templates fit without cutting
        assert "{" not in card.summary and "{" not in (card.detail or "")
        expected = Indicator.most_severe([CATALOG[r].indicator for r in rules_of(card)])
        assert card.indicator is expected
        if card.indicator in (Indicator.CRITICAL, Indicator.WARNING):
            assert card.override_reasons
            for reason in card.override_reasons:
                assert (reason.system, reason.code) in OVERRIDE_REASONS and reason.display
        assert card.source.label
        assert document["extension"][RULES_EXTENSION] == rules_of(card)


@pytest.mark.parametrize(("patient", "now", "locale"), all_scenarios())
def test_suggested_resources_are_valid_fhir_r4(patient, now, locale) -> None:
    for card in cards_for(patient, locale, now):
        for suggestion in card.suggestions:
            for action in suggestion.actions:
                resource = dict(action.resource or {})
                VALIDATORS[resource["resourceType"]].model_validate(resource)
                assert "dosage" not in json.dumps(resource).lower()


def test_card_layout_for_everything_wrong() -> None:
    cards = cards_for(everything_wrong())
    plan = [c for c in cards if any(r.startswith("MED-") for r in rules_of(c))]
    assert len(plan) == 1
    assert all(r.startswith("MED-") for r in rules_of(plan[0]))
    summary = card_with(cards, "CHECKLIST")
    assert {"TUMOR-CONTROL", "CHECKLIST", "IND-OPIOID-INTOLERANCE"} <= set(rules_of(summary))
    for rule_id in ("CI-ABS-SYSTEMIC-INFECTION", "CI-REL-EPIDURAL", "BLEED-PLATELETS-LOW"):
        assert rules_of(card_with(cards, rule_id)) == [rule_id]
    assert rules_of(card_with(cards, "DATA-UNAVAILABLE")) == ["DATA-UNAVAILABLE"]
    ranks = [c.indicator.rank for c in cards]
    assert ranks == sorted(ranks, reverse=True)


@pytest.mark.parametrize("locale", LOCALES)
def test_platelet_card_is_specific(locale: str) -> None:
    patient = facts(
        labs=(
            lab(LabKind.PLATELETS, 32_000, datetime(2026, 11, 20, tzinfo=PARIS)),
            lab(LabKind.INR, 1.0),
        )
    )
    card = card_with(cards_for(patient, locale), "BLEED-PLATELETS-LOW")
    assert card.indicator is Indicator.CRITICAL
    space = "\u00a0" if locale == "fr" else " "  # French keeps "32 000" together
    assert f"32{space}000/mm³" in card.summary and shown("2026-11-20", locale) in card.summary
    assert f"50{space}000/mm³" in card.summary
    # The result it judged is named machine-readably, never by its id in the text.
    reference = patient.labs[0].source.reference
    assert reference not in (card.detail or "")
    assert reference in [item["reference"] for item in card.extension[EVIDENCE_EXTENSION]]
    assert "§4" in card.source.label
    assert messages(locale)["guideline"] in card.source.label


@pytest.mark.parametrize("locale", LOCALES)
def test_policy_values_say_they_are_local_policy(locale: str) -> None:
    patient = facts(labs=(lab(LabKind.PLATELETS, 300_000), lab(LabKind.INR, 1.9)))
    card = card_with(cards_for(patient, locale), "BLEED-INR-HIGH")
    local = {"en": "Local protocol of the institution", "fr": "Protocole local de l'établissement"}
    inr = {"en": "highest INR accepted 1.5", "fr": "INR accepté jusqu'à 1,5"}[locale]
    assert local[locale] in (card.detail or "") and inr in (card.detail or "")
    missing = card_with(cards_for(facts(labs=()), locale), "BLEED-LAB-MISSING")
    window = {"en": "the last 7 days", "fr": "les 7 derniers jours"}[locale]
    assert local[locale] in (missing.detail or "") and window in (missing.detail or "")
    for text in (card.detail or "", missing.detail or ""):
        assert "inr_max" not in text and "lab_max_age_days" not in text and "[policy]" not in text


@pytest.mark.parametrize("locale", LOCALES)
def test_missing_labs_suggest_one_loinc_service_request_per_test(locale: str) -> None:
    card = card_with(cards_for(facts(labs=()), locale), "BLEED-LAB-MISSING")
    resources = [a.resource for s in card.suggestions for a in s.actions]
    codes = [r["code"]["coding"][0]["code"] for r in resources]  # type: ignore[index]
    assert codes == ["777-3", "5894-1", "6301-6"]
    for resource in resources:
        assert resource["status"] == "draft" and resource["intent"] == "order"
        assert resource["subject"] == {"reference": "Patient/pat-1"}
        assert resource["code"]["coding"][0]["system"] == "http://loinc.org"
        ServiceRequest.model_validate(dict(resource))


@pytest.mark.parametrize("locale", LOCALES)
def test_clopidogrel_plan_dates_and_agreement(locale: str) -> None:
    clopidogrel = med("clopidogrel", DrugClass.CLOPIDOGREL)
    card = card_with(cards_for(facts(medications=(clopidogrel,)), locale), "MED-CLOPIDOGREL")
    detail = card.detail or ""
    assert shown("2026-12-01", locale) in detail and shown("2026-12-02", locale) in detail
    agreement = "anaesthesia team and the prescriber" if locale == "en" else "l'équipe d'anesthésie"
    assert agreement in detail
    assert shown("2026-12-07", locale) in card.summary
    (suggestion,) = card.suggestions
    (action,) = suggestion.actions
    task = action.resource
    assert task["resourceType"] == "Task"
    assert task["code"]["coding"][0]["code"] == "suspend"
    assert task["focus"] == {"reference": clopidogrel.source.reference}
    assert task["restriction"]["period"] == {"start": "2026-12-02", "end": "2026-12-07"}
    assert shown("2026-12-01", locale) in task["description"]
    Task.model_validate(dict(task))


def test_patient_reported_drug_gets_a_patient_instruction() -> None:
    statement = med("apixaban", DrugClass.DOAC, kind=MedicationSourceKind.STATEMENT)
    card = card_with(cards_for(facts(medications=(statement,))), "MED-DOAC")
    (suggestion,) = card.suggestions
    (action,) = suggestion.actions
    request = action.resource
    assert request["resourceType"] == "CommunicationRequest"
    assert request["about"] == [{"reference": statement.source.reference}]
    assert request["recipient"] == [{"reference": "Patient/pat-1"}]
    # Lay language: the last day as people say it, no code, no clock arithmetic.
    assert "Friday 4 December" in request["payload"][0]["contentString"]
    assert "00:00" in (card.detail or "")  # the assumed time is visible to the clinician
    CommunicationRequest.model_validate(dict(request))


@pytest.mark.parametrize("locale", LOCALES)
def test_hold_too_late_and_starting_today(locale: str) -> None:
    patient = facts(medications=(med("clopidogrel", DrugClass.CLOPIDOGREL),))
    late = card_with(
        cards_for(patient, locale, datetime(2026, 12, 3, 9, tzinfo=PARIS)), "MED-HOLD-TOO-LATE"
    )
    assert late.indicator is Indicator.CRITICAL
    assert set(rules_of(late)) == {"MED-CLOPIDOGREL", "MED-HOLD-TOO-LATE"}
    assert late.suggestions[0].actions[0].resource["priority"] == "urgent"  # type: ignore[index]
    today = card_with(
        cards_for(patient, locale, datetime(2026, 12, 2, 9, tzinfo=PARIS)), "MED-CLOPIDOGREL"
    )
    assert today.indicator is Indicator.WARNING
    word = "today" if locale == "en" else "aujourd'hui"
    assert word in (today.detail or "")


@pytest.mark.parametrize("locale", LOCALES)
def test_plan_card_texts_for_every_drug_kind(locale: str) -> None:
    patient = facts(
        medications=(
            med("warfarin", DrugClass.VKA),
            med("enoxaparin", DrugClass.LMWH),
            med("aspirin", DrugClass.ASPIRIN, dose=75),
            med("prasugrel", DrugClass.OTHER_ANTITHROMBOTIC),
            med("ticagrelor", DrugClass.OTHER_ANTITHROMBOTIC),
        )
    )
    card = card_with(cards_for(patient, locale), "MED-VKA")
    detail = card.detail or ""
    assert (
        shown("2026-12-06", locale) in detail and shown("2026-12-05", locale) in detail
    )  # LMWH: none on D-1, last on D-2
    prescriber = "prescriber" if locale == "en" else "prescripteur"
    assert prescriber in detail
    labels = " ".join(s.label for s in card.suggestions)
    assert len(card.suggestions) == 3  # warfarin, enoxaparin, prasugrel (configured delay)
    names = ("warfarin", "enoxaparin", "prasugrel")
    if locale == "fr":
        names = ("warfarine", "énoxaparine", "prasugrel")
    for drug in names:
        assert drug in labels


def test_without_procedure_date_plan_uses_d_minus_n() -> None:
    patient = facts(
        procedures=(procedure(day=None),),
        medications=(med("clopidogrel", DrugClass.CLOPIDOGREL),),
    )
    for locale, prefix in (("en", "D-5"), ("fr", "J-5")):
        card = card_with(cards_for(patient, locale), "MED-CLOPIDOGREL")
        assert prefix in (card.detail or "")
        # An undated plan is never a Task (it would have no start): a request to the team.
        request = dict(card.suggestions[0].actions[0].resource)  # type: ignore[arg-type]
        assert request["resourceType"] == "CommunicationRequest"
        CommunicationRequest.model_validate(request)


def test_data_unavailable_card_names_categories_and_checks_in_words() -> None:
    card = card_with(cards_for(everything_wrong(), "fr"), "DATA-UNAVAILABLE")
    assert card.indicator is Indicator.WARNING
    assert "allergies" in card.summary
    assert "l'indication selon la douleur" in (card.detail or "")
    assert "IND-PAIN-UNCONTROLLED" not in (card.detail or "")  # rule IDs: audit and log only


def test_summary_card_lists_checklist_items() -> None:
    card = card_with(cards_for(facts()), "CHECKLIST")
    assert card.indicator is Indicator.INFO
    assert rules_of(card) == ["TUMOR-CONTROL", "CHECKLIST"]
    assert "No lesion opening into a joint" in (card.detail or "")
    assert "CI-REL-JOINT-OPENING" not in (card.detail or "")  # v2: items in words, no rule ID
    assert not card.override_reasons


def test_locales() -> None:
    assert normalise_locale("fr-FR") == "fr"
    assert normalise_locale("EN") == "en"
    with pytest.raises(UnsupportedLocale):
        normalise_locale("de")
    en = card_with(cards_for(facts()), "CHECKLIST")
    fr = card_with(cards_for(facts(), "fr-FR"), "CHECKLIST")
    assert en.summary != fr.summary


def test_no_patient_id_no_lab_order_but_card_still_says_so() -> None:
    patient = facts(labs=(), patient_id=None)
    card = card_with(
        [
            r.card
            for r in render_cards(
                evaluate_rules(patient, POLICY, NOW), case_summary(patient), "en", NOW
            )
        ],
        "BLEED-LAB-MISSING",
    )
    assert not card.suggestions
    assert "platelet count" in card.summary


def test_message_files_have_the_same_keys() -> None:
    def keys(tree, prefix=""):
        out = set()
        for key, value in tree.items():
            out.add(prefix + key)
            if isinstance(value, dict):
                out |= keys(value, f"{prefix}{key}.")
        return out

    assert keys(messages("en")) == keys(messages("fr"))
    # MED-* wording lives under "plan": they share the one antithrombotic plan card.
    not_plan = {r for r, spec in CATALOG.items() if spec.group is not RuleGroup.ANTITHROMBOTIC}
    assert set(messages("en")["rules"]) == not_plan


def test_procedure_date_is_a_date() -> None:
    assert isinstance(facts().procedures[0].scheduled_date, date)


@pytest.mark.parametrize("locale", LOCALES)
def test_a_late_hold_is_suggested_from_today_not_from_a_past_date(locale: str) -> None:
    now = datetime(2026, 12, 5, 9, tzinfo=PARIS)  # holds from 12-02 and 12-05 00:00 (DOAC)
    order = med("clopidogrel", DrugClass.CLOPIDOGREL)
    statement = med("apixaban", DrugClass.DOAC, kind=MedicationSourceKind.STATEMENT)
    cards = cards_for(facts(medications=(order, statement)), locale, now)
    card = card_with(cards, "MED-HOLD-TOO-LATE")
    word = "now" if locale == "en" else "dès maintenant"
    task = card.suggestions[0].actions[0].resource
    assert task["restriction"]["period"]["start"] == "2026-12-05"  # type: ignore[index]
    assert len(card.suggestions) == 2
    for suggestion in card.suggestions:
        assert word in suggestion.label
        assert "12-02" not in suggestion.label and "00:00" not in suggestion.label


def plan_card(locale: str, *medications) -> Card:
    cards = cards_for(facts(medications=medications), locale)
    (card,) = [c for c in cards if any(r.startswith("MED-") for r in rules_of(c))]
    return card


def test_french_cards_name_drugs_in_french() -> None:
    card = plan_card(
        "fr",
        med("aspirin", DrugClass.ASPIRIN, dose=300),
        med("acenocoumarol", DrugClass.VKA),
        med("phenprocoumon", DrugClass.VKA),
        med("ticagrelor", DrugClass.OTHER_ANTITHROMBOTIC),
    )
    text = " ".join([card.summary, card.detail or ""] + [s.label for s in card.suggestions])
    for name in ("aspirine 300\u00a0mg/jour", "acénocoumarol", "phenprocoumone", "ticagrélor"):
        assert f"**{name}" in (card.detail or "")
    assert "aspirine" in card.summary  # names beyond the 140 characters are counted ("+1")
    assert "(aspirin)" not in text and "**aspirin " not in text
    assert "Suspendre la prescription (aspirine" in text


def test_a_drug_without_a_localised_name_shows_the_record_name_part() -> None:
    unknown = med(
        "cangrelor",
        DrugClass.OTHER_ANTITHROMBOTIC,
        display="Cangrelor 50 MG Injection [Kengrexal] extra words to be cut away",
    )
    card = plan_card("fr", unknown)
    assert "**Cangrelor**\u00a0:" in (card.detail or "")
    assert "cangrelor" not in card.summary.replace("Cangrelor", "")


@pytest.mark.parametrize("locale", LOCALES)
def test_high_dose_aspirin_line_says_the_hold_once(locale: str) -> None:
    detail = plan_card(locale, med("aspirin", DrugClass.ASPIRIN, dose=200)).detail or ""
    stop = "stop 5 days before" if locale == "en" else "arrêt 5\u00a0jours avant"
    assert detail.count(stop) == 1
    space = "\u00a0" if locale == "fr" else " "  # French: a no-break space before the unit
    assert f"200{space}mg/" in detail and f"≥ 160{space}mg/" in detail


@pytest.mark.parametrize("locale", LOCALES)
def test_unlisted_drug_with_a_configured_delay_is_named_once(locale: str) -> None:
    detail = plan_card(locale, med("prasugrel", DrugClass.OTHER_ANTITHROMBOTIC)).detail or ""
    (line,) = [line for line in detail.split("\n\n") if "prasugrel" in line]
    assert line.count("**prasugrel**") == 1
    local = (
        "local protocol of the institution"
        if locale == "en"
        else "protocole local de l'établissement"
    )
    assert local in line


def test_dose_problems_are_shown_in_english_and_a_generic_phrase_in_french() -> None:
    aspirin = med("aspirin", DrugClass.ASPIRIN, dose_problem="no dosage")
    assert "no dosage" in (plan_card("en", aspirin).detail or "")
    french = plan_card("fr", aspirin).detail or ""
    assert "no dosage" not in french
    assert "dose quotidienne non calculable" in french


@pytest.mark.parametrize("locale", LOCALES)
def test_one_day_is_singular(locale: str) -> None:
    patient = facts(
        procedures=(procedure(day=None),),
        medications=(med("prasugrel", DrugClass.OTHER_ANTITHROMBOTIC),),
    )
    findings = evaluate_rules(patient, Policy(unlisted_hold_days={"prasugrel": 1}), NOW)
    card = card_with(
        [r.card for r in render_cards(findings, case_summary(patient), locale, NOW)],
        "MED-ANTITHROMBOTIC-UNLISTED",
    )
    assert ("1 day " if locale == "en" else "1\u00a0jour ") in (card.detail or "")
    assert "1 days" not in (card.detail or "") and "1\u00a0jours" not in (card.detail or "")


def test_french_cards_write_dates_numbers_and_results_the_french_way() -> None:
    inr = lab(LabKind.INR, 1.51, datetime(2026, 11, 19, 8, tzinfo=PARIS))
    patient = facts(labs=(lab(LabKind.PLATELETS, 50_000, unit="G/L"), inr))
    cards = cards_for(patient, "fr", NOW)
    inr_card = card_with(cards, "BLEED-INR-HIGH")
    assert "INR 1,51 le 19/11/2026" in inr_card.summary
    assert "(résultat\u00a0: 1,51)" in (inr_card.detail or "")
    platelets = card_with(cards, "BLEED-PLATELETS-LOW")
    assert "50\u00a0000/mm³" in platelets.summary and "rendu" not in (platelets.detail or "")
    english = card_with(cards_for(patient, "en", NOW), "BLEED-INR-HIGH")
    assert "INR 1.51 on 2026-11-19" in english.summary


def test_french_hold_instant_is_day_month_year_and_local_time() -> None:
    at = datetime(2026, 11, 22, 8, 30, tzinfo=PARIS)
    patient = facts(
        procedures=(procedure(day=at.date(), at=at),),
        medications=(med("apixaban", DrugClass.DOAC),),
    )
    card = card_with(cards_for(patient, "fr", datetime(2026, 11, 18, 10, tzinfo=PARIS)), "MED-DOAC")
    assert "20/11/2026 à 08:30" in (card.detail or "")
    assert "20/11/2026 à 08:30" in card.suggestions[0].label


@pytest.mark.parametrize(
    "kind", [ProcedureKind.CRYOABLATION, ProcedureKind.RADIOFREQUENCY_ABLATION]
)
@pytest.mark.parametrize("locale", LOCALES)
def test_pure_thermal_ablation_summary_does_not_speak_of_cement(kind, locale: str) -> None:
    patient = facts(procedures=(procedure(kind),))
    card = card_with(cards_for(patient, locale), "CHECKLIST")
    assert card.summary.startswith(
        "Thermal ablation:" if locale == "en" else "Thermo-ablation\u00a0:"
    )
    cement = "ement" if locale == "en" else "iment"  # Cementoplasty, cement / Cimentoplastie
    assert cement not in card.summary
    mixed = facts(procedures=(procedure(kind), procedure()))
    assert cement in card_with(cards_for(mixed, locale), "CHECKLIST").summary


@pytest.mark.parametrize("locale", LOCALES)
def test_contraindication_card_shows_when_the_condition_was_recorded(locale: str) -> None:
    recorded = replace(
        condition("systemic-infection", display="Sepsis"),
        recorded=datetime(2026, 11, 23, 23, 30, tzinfo=UTC),  # 24/11 00:30 at the site
    )
    date_only = replace(
        condition("skin-infection", display="Cellulitis"),
        recorded=datetime(2026, 11, 20, tzinfo=timezone(timedelta(hours=14))),  # "2026-11-20"
    )
    undated = condition("radiculopathy", display="Sciatica")
    patient = facts(conditions=(*IN_SCOPE, recorded, date_only, undated))
    cards = cards_for(patient, locale)
    sepsis = card_with(cards, "CI-ABS-SYSTEMIC-INFECTION").detail or ""
    assert shown("2026-11-24", locale) in sepsis and recorded.source.reference not in sepsis
    assert shown("2026-11-20", locale) in (card_with(cards, "CI-ABS-SKIN-INFECTION").detail or "")
    sciatica = card_with(cards, "CI-REL-RADICULOPATHY").detail or ""
    assert ("date not recorded" if locale == "en" else "date non renseignée") in sciatica


@pytest.mark.parametrize("locale", LOCALES)
def test_cement_allergy_summary_has_no_doubled_brackets(locale: str) -> None:
    allergic = condition("cement-allergy", display="Allergie au ciment PMMA")
    card = card_with(
        cards_for(facts(conditions=(*IN_SCOPE, allergic)), locale), "CI-ABS-CEMENT-ALLERGY"
    )
    assert ") (" not in card.summary
    assert "Allergie au ciment PMMA" in (card.detail or "")
