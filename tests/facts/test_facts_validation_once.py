"""Strict FHIR validation (~0.1-0.6 ms a resource) runs only on medications that matched a drug
of interest, and once per resource however many orders point to a shared Medication."""

from __future__ import annotations

from fhir_builders import (
    RXNORM,
    VERTEBROPLASTY,
    codeable,
    hook_request,
    medication_request,
    service_request,
)
from fhir_builders import prefetch as resolved

from service.facts import medications as medications_module
from service.facts.extract import extract_facts

WARFARIN = {"resourceType": "Medication", "id": "m-warfarin", "code": codeable(RXNORM, "11289")}


def test_validation_only_for_matched_drugs_and_once_per_resource(
    valuesets, all_triggers, monkeypatch
) -> None:
    validated: list[str] = []
    real = medications_module.validation_error

    def counting(resource):
        validated.append(f"{resource['resourceType']}/{resource['id']}")
        return real(resource)

    monkeypatch.setattr(medications_module, "validation_error", counting)
    orders = [
        medication_request(None, medicationReference={"reference": "Medication/m-warfarin"})
        for _ in range(5)
    ]
    other = medication_request(codeable(RXNORM, "312961", "Simvastatin 20 MG Oral Tablet"))
    request = hook_request([service_request(VERTEBROPLASTY)])
    data = resolved(medicationRequests=[*orders, other], medications=[WARFARIN])
    facts = extract_facts(request, data, valuesets, all_triggers)
    assert [m.ingredient for m in facts.medications] == ["warfarin"] * 5
    assert sorted(validated) == sorted(
        ["Medication/m-warfarin", *(f"MedicationRequest/{o['id']}" for o in orders)]
    )
