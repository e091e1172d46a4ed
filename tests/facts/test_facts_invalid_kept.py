"""Whole resources are not validated, except where the rules compare a value read from them.

An active clopidogrel in a MedicationRequest without `intent` once vanished, leaving only "could
not be obtained: medications" (false, and naming neither drug nor resource). Medications,
Conditions and allergies are now read from the fields the rules need, whatever the rest of the
resource holds. A lab value (compared to a threshold) and an aspirin dose (compared to
160 mg/day) are still used only when valid R4.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from support.fhir_builders import (
    NOW,
    RXNORM,
    SNOMED,
    VERTEBROPLASTY,
    allergy,
    concept,
    condition,
    dosage,
    medication_request,
    medication_statement,
    observation,
    service_request,
)
from support.hook_calls import hook_call, prefetch

from service.app import create_app
from service.config import parse_config
from service.facts.extract import extract_facts
from service.storage import Store
from service.vocabulary import DataCategory, DrugClass

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CLOPIDOGREL = concept(RXNORM, "32968", text="clopidogrel 75 mg")
ASPIRIN = concept(RXNORM, "1191", text="aspirin")


def facts_for(valuesets, triggers, **keys):
    request = hook_call([service_request(VERTEBROPLASTY)])
    return extract_facts(request, prefetch(**keys), valuesets, triggers, NOW)


def test_clopidogrel_order_without_intent_is_a_medication(valuesets, all_triggers) -> None:
    order = medication_request(CLOPIDOGREL, dosage=[dosage(75, "mg", frequency=1)])
    del order["intent"]
    facts = facts_for(valuesets, all_triggers, medicationRequests=[order])
    (medication,) = facts.medications
    assert medication.ingredient == "clopidogrel"
    assert DrugClass.CLOPIDOGREL in medication.classes
    assert medication.daily_dose_mg == 75.0 and medication.source.id == order["id"]
    assert facts.invalid_resources == ()
    assert DataCategory.MEDICATIONS not in facts.unavailable


def test_statement_with_a_time_without_zone_is_a_medication(valuesets, all_triggers) -> None:
    statement = medication_statement(CLOPIDOGREL, effectiveDateTime="2026-11-20T08:00:00")
    facts = facts_for(valuesets, all_triggers, medicationStatements=[statement])
    assert [m.ingredient for m in facts.medications] == ["clopidogrel"]
    assert facts.invalid_resources == ()
    assert facts.unavailable == frozenset()


def test_unresolved_reference_is_still_unavailable(valuesets, all_triggers) -> None:
    """Nothing was read from it: that data really could not be obtained."""
    order = medication_request(None, medicationReference={"reference": "Medication/absent"})
    facts = facts_for(valuesets, all_triggers, medicationRequests=[order])
    assert facts.medications == ()
    (invalid,) = facts.invalid_resources
    assert invalid.category is DataCategory.MEDICATIONS and invalid.source.id == order["id"]
    assert DataCategory.MEDICATIONS in facts.unavailable


def test_condition_and_allergy_not_valid_r4_are_facts(valuesets, all_triggers) -> None:
    sepsis = condition(concept(SNOMED, "91302008", text="Sepsis"), recordedDate="2026-11-20T08:00")
    cement = allergy(concept(SNOMED, "427811002"), patient="not a reference")
    facts = facts_for(valuesets, all_triggers, conditions=[sepsis], allergies=[cement])
    assert [c.source.id for c in facts.conditions] == [sepsis["id"]]
    assert [a.source.id for a in facts.allergies] == [cement["id"]]
    assert facts.invalid_resources == ()
    assert facts.unavailable == frozenset()


def test_invalid_observation_stays_uninterpretable(valuesets, all_triggers) -> None:
    """A lab value that cannot be trusted is not used: only its existence is reported."""
    platelets = observation("777-3", 150, "10*3/uL", subject="not a reference")
    facts = facts_for(valuesets, all_triggers, platelets=[platelets])
    (lab,) = facts.labs
    assert not lab.interpretable and "invalid FHIR R4 Observation" in (lab.problem or "")


def test_aspirin_with_an_invalid_dosage_has_an_unknown_dose(valuesets, all_triggers) -> None:
    """75 mg once a day is readable, but the Dosage is not valid R4 (a time without a zone): the
    dose compared to 160 mg/day is not trusted, so it is unknown (never assumed low)."""
    given = dosage(75, "mg", frequency=1)
    given["timing"]["event"] = ["2026-11-20T08:00:00"]
    order = medication_request(ASPIRIN, dosage=[given])
    facts = facts_for(valuesets, all_triggers, medicationRequests=[order])
    (medication,) = facts.medications
    assert DrugClass.ASPIRIN in medication.classes
    assert medication.daily_dose_mg is None
    assert (medication.dose_problem or "").startswith("dosage is not valid FHIR R4: timing.event")
    assert facts.invalid_resources == () and facts.unavailable == frozenset()


def test_aspirin_with_a_valid_dosage_keeps_its_dose(valuesets, all_triggers) -> None:
    order = medication_request(ASPIRIN, dosage=[dosage(75, "mg", frequency=1)])
    facts = facts_for(valuesets, all_triggers, medicationRequests=[order])
    assert [(m.daily_dose_mg, m.dose_problem) for m in facts.medications] == [(75.0, None)]


def rules_fired(request: dict, now: datetime) -> set[str]:
    config = parse_config({"auth": {"required": False}})
    app = create_app(config, store=Store("sqlite://"), clock=lambda: now)
    response = app.test_client().post(
        "/cds-services/cementoplasty-order-select",
        data=json.dumps(request),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200
    return {
        rule
        for card in response.get_json()["cards"]
        for rule in card["extension"]["cementoplasty-cds/rules"]
    }


def test_clopidogrel_without_intent_fires_its_card_over_http() -> None:
    manifest = json.loads((FIXTURES / "manifest.json").read_text("utf-8"))
    path = "MED-CLOPIDOGREL/plavix-hold-future.json"
    request = json.loads((FIXTURES / path).read_text("utf-8"))
    for entry in request["prefetch"]["medicationRequests"]["entry"]:
        del entry["resource"]["intent"]
    rules = rules_fired(request, datetime.fromisoformat(manifest["now"]))
    assert rules == set(manifest["fixtures"][path]["expected"])
    assert "DATA-UNAVAILABLE" not in rules


def test_aspirin_75mg_with_an_invalid_dosage_is_dose_unknown_over_http() -> None:
    manifest = json.loads((FIXTURES / "manifest.json").read_text("utf-8"))
    path = "MED-ASPIRIN-LOW-DOSE/kardegic-75mg-day.json"
    request = json.loads((FIXTURES / path).read_text("utf-8"))
    (entry,) = request["prefetch"]["medicationStatements"]["entry"]
    entry["resource"]["dosage"][0]["timing"]["event"] = ["2026-11-20T08:00:00"]  # no zone
    rules = rules_fired(request, datetime.fromisoformat(manifest["now"]))
    assert "MED-ASPIRIN-LOW-DOSE" in manifest["fixtures"][path]["expected"]
    assert "MED-ASPIRIN-DOSE-UNKNOWN" in rules and "MED-ASPIRIN-LOW-DOSE" not in rules
