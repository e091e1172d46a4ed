"""Small builders of raw FHIR R4 JSON and hook requests for the facts tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cds_hooks.service import HookRequest, ResolvedPrefetch

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"

# "Now" for the facts tests: a few days after the builders' default result date.
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))

_counter = iter(range(1, 1_000_000))


def next_id(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


def observation(
    code: str,
    value: Any = None,
    unit: str | None = None,
    *,
    status: str = "final",
    effective: str | None = "2026-11-20T08:00:00+01:00",
    ucum: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": next_id("obs"),
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "Patient/p1"},
    }
    if effective is not None:
        resource["effectiveDateTime"] = effective
    if value is not None:
        quantity: dict[str, Any] = {"value": value}
        if unit is not None:
            quantity["unit"] = unit
            if ucum:
                quantity["system"] = UCUM
                quantity["code"] = unit
        resource["valueQuantity"] = quantity
    resource.update(extra)
    return resource


def codeable(system: str | None = None, code: str | None = None, text: str | None = None) -> dict:
    concept: dict[str, Any] = {}
    if code is not None:
        concept["coding"] = [{"system": system, "code": code}]
    if text is not None:
        concept["text"] = text
    return concept


def medication_request(
    concept: dict[str, Any] | None = None,
    *,
    status: str = "active",
    dosage: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": next_id("mr"),
        "status": status,
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
    }
    if concept is not None:
        resource["medicationCodeableConcept"] = concept
    if dosage is not None:
        resource["dosageInstruction"] = dosage
    resource.update(extra)
    return resource


def medication_statement(
    concept: dict[str, Any] | None = None, *, status: str = "active", **extra: Any
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": next_id("ms"),
        "status": status,
        "subject": {"reference": "Patient/p1"},
    }
    if concept is not None:
        resource["medicationCodeableConcept"] = concept
    resource.update(extra)
    return resource


def dose(value: Any, unit: str, frequency: Any = None, period: Any = 1, period_unit: str = "d"):
    dosage: dict[str, Any] = {
        "doseAndRate": [
            {"doseQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}
        ]
    }
    if frequency is not None:
        dosage["timing"] = {
            "repeat": {"frequency": frequency, "period": period, "periodUnit": period_unit}
        }
    return dosage


def condition(concept: dict[str, Any], clinical: str | None = "active", **extra: Any) -> dict:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": next_id("cond"),
        "code": concept,
        "subject": {"reference": "Patient/p1"},
    }
    if clinical is not None:
        resource["clinicalStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": clinical,
                }
            ]
        }
    resource.update(extra)
    return resource


def allergy(concept: dict[str, Any], clinical: str | None = "active", **extra: Any) -> dict:
    resource: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": next_id("allergy"),
        "code": concept,
        "patient": {"reference": "Patient/p1"},
    }
    if clinical is not None:
        resource["clinicalStatus"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": clinical,
                }
            ]
        }
    resource.update(extra)
    return resource


def service_request(
    concept: dict[str, Any], *, status: str = "draft", id: str | None = None, **extra: Any
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": id or next_id("sr"),
        "status": status,
        "intent": "order",
        "code": concept,
        "subject": {"reference": "Patient/p1"},
    }
    resource.update(extra)
    return resource


VERTEBROPLASTY = {"coding": [{"system": CPT, "code": "22511"}], "text": "Vertebroplasty L3"}


def hook_request(
    orders: list[dict[str, Any]],
    *,
    hook: str = "order-select",
    selections: list[str] | None = None,
    patient_id: str = "p1",
) -> HookRequest:
    context: dict[str, Any] = {
        "patientId": patient_id,
        "userId": "Practitioner/u1",
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": o} for o in orders]},
    }
    if hook == "order-select":
        context["selections"] = (
            selections
            if selections is not None
            else [f"ServiceRequest/{o['id']}" for o in orders[:1]]
        )
    return HookRequest(
        service_id=f"cementoplasty-{hook}",
        hook=hook,
        hook_instance="d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        context=context,
        prefetch={},
    )


def prefetch(
    unavailable: dict[str, str] | None = None,
    referenced: dict[str, dict[str, Any]] | None = None,
    **keys: list[dict[str, Any]],
) -> ResolvedPrefetch:
    return ResolvedPrefetch(
        resources=keys, unavailable=unavailable or {}, referenced=referenced or {}
    )


def searchset(*resources: dict[str, Any], next_url: str | None = None) -> dict[str, Any]:
    """A FHIR searchset Bundle of `resources` (each a match), with a `next` link when given:
    the one shape every test's prefetch and FHIR stub answers with."""
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle
