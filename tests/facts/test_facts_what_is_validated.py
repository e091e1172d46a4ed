"""fhir.resources validation (~0.05-0.6 ms an element) runs only where the rules compare a value:
never on a whole MedicationRequest, MedicationStatement, Medication, Condition or allergy; on the
Dosage elements of an aspirin only (its daily dose is compared to 160 mg/day)."""

from __future__ import annotations

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
    service_request,
)
from support.hook_calls import hook_call
from support.hook_calls import prefetch as resolved

from service.facts import validation
from service.facts.extract import extract_facts

WARFARIN = {"resourceType": "Medication", "id": "m-warfarin", "code": concept(RXNORM, "11289")}
ASPIRIN = concept(RXNORM, "1191", text="aspirin")


def test_only_aspirin_dosages_are_validated(valuesets, all_triggers, monkeypatch) -> None:
    validated: list[str] = []
    real_model, real_dosage = validation._model, validation.dosage_error

    def counting_model(resource_type):
        validated.append(resource_type)
        return real_model(resource_type)

    def counting_dosage(dosages):
        validated.append("Dosage")
        return real_dosage(dosages)

    monkeypatch.setattr(validation, "_model", counting_model)
    monkeypatch.setattr("service.facts.medications.dosage_error", counting_dosage)
    orders = [
        medication_request(None, medicationReference={"reference": "Medication/m-warfarin"}),
        medication_request(concept(RXNORM, "312961", text="Simvastatin 20 MG Oral Tablet")),
        medication_request(ASPIRIN, dosage=[dosage(75, "mg", frequency=1)]),
    ]
    statement = medication_statement(concept(RXNORM, "32968", text="clopidogrel"))
    request = hook_call([service_request(VERTEBROPLASTY)])
    data = resolved(
        medicationRequests=orders,
        medicationStatements=[statement],
        medications=[WARFARIN],
        conditions=[condition(concept(SNOMED, "91302008", text="Sepsis"))],
        allergies=[allergy(concept(SNOMED, "427811002"))],
    )
    facts = extract_facts(request, data, valuesets, all_triggers, NOW)
    assert sorted(m.ingredient for m in facts.medications) == ["aspirin", "clopidogrel", "warfarin"]
    assert len(facts.conditions) == 1 and len(facts.allergies) == 1
    assert validated == ["Dosage"]
