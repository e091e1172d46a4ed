"""The one set of builders of raw FHIR R4 JSON, and of the CDS Hooks request that carries it.

The unit tests, the fixture generator (fixtures/build.py and its cases), the demo patients
(scripts/demo-patients.py) and the benchmark (bench/) all build their resources here. What is
particular to one of them (the fixture patient and its EHR's habits, the benchmark's seeded
patient, dates relative to a "now") is composed where it is used, from these builders' keyword
arguments: a builder's defaults are the unit tests' (one patient "p1", generated ids, no more
fields than a resource needs).

Plain JSON and the standard library only, never the service's packages: the scripts and the
benchmark import this module with `PYTHONPATH=tests` (README), whatever else is importable.

Key order is fixed (the committed fixtures are byte-compared after each regeneration): each
builder writes its keys in FHIR's order, and `**extra` fields last, in the caller's order.
A keyword that takes `str | Json` takes a code of the field's usual code system, or the whole
CodeableConcept when it needs more (a display, a text, another system).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

Json = dict[str, Any]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
UCUM = "http://unitsofmeasure.org"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
OBSERVATION_CATEGORY = f"{TERMINOLOGY}/observation-category"
CONDITION_CLINICAL = f"{TERMINOLOGY}/condition-clinical"
CONDITION_VERIFICATION = f"{TERMINOLOGY}/condition-ver-status"
CONDITION_CATEGORY = f"{TERMINOLOGY}/condition-category"
ALLERGY_CLINICAL = f"{TERMINOLOGY}/allergyintolerance-clinical"
ALLERGY_VERIFICATION = f"{TERMINOLOGY}/allergyintolerance-verification"
TIMING_ABBREVIATION = f"{TERMINOLOGY}/v3-GTSAbbreviation"

# The unit tests' defaults: their one patient, their "now", a result dated a few days before
# it, and their draft order.
PATIENT = "p1"
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
EFFECTIVE = "2026-11-20T08:00:00+01:00"
VERTEBROPLASTY: Json = {"coding": [{"system": CPT, "code": "22511"}], "text": "Vertebroplasty L3"}

_counter = iter(range(1, 1_000_000))


def next_id(prefix: str) -> str:
    """A resource id no other builder call returns (for callers that do not name one)."""
    return f"{prefix}-{next(_counter)}"


# ----------------------------------------------------------------------------- data types


def coding(system: str | None, code: str, display: str | None = None) -> Json:
    result: Json = {"system": system, "code": code}
    if display is not None:
        result["display"] = display
    return result


def concept(
    system: str | None = None,
    code: str | None = None,
    display: str | None = None,
    text: str | None = None,
    *,
    also: Sequence[Json] = (),
    display_as_text: bool = True,
) -> Json:
    """A CodeableConcept: the coding (system, code, display) when there is a code, then the
    codings `also` (the same concept in other systems); its text is `text`, else the display,
    as EHRs send it (`display_as_text=False`: no text then). No code and no text: `{}`."""
    result: Json = {}
    codings = ([coding(system, code, display)] if code is not None else []) + list(also)
    if codings:
        result["coding"] = codings
    if text is None and display_as_text:
        text = display
    if text is not None:
        result["text"] = text
    return result


def ref(resource_type: str, resource_id: str) -> Json:
    return {"reference": f"{resource_type}/{resource_id}"}


def quantity(
    value: Any,
    unit: str | None = None,
    *,
    ucum: bool = True,
    code: str | None = None,
    comparator: str | None = None,
) -> Json:
    """A Quantity; with a unit, its UCUM code too (the unit itself unless `code` differs), or
    the unit as text only (`ucum=False`). `value` is any JSON: the tests send invalid ones."""
    result: Json = {"value": value}
    if comparator is not None:
        result["comparator"] = comparator
    if unit is not None:
        result["unit"] = unit
        if ucum:
            result["system"] = UCUM
            result["code"] = code or unit
    return result


def _coded(system: str, value: str | Json) -> Json:
    """A status or category: a code of `system`, or the CodeableConcept given."""
    return {"coding": [coding(system, value)]} if isinstance(value, str) else value


# ----------------------------------------------------------------------------- resources


def observation(
    code: str | Json,
    value: Any = None,
    unit: str | None = None,
    *,
    id: str | None = None,
    status: str = "final",
    category: str | Json | None = None,
    patient_id: str = PATIENT,
    effective: str | None = EFFECTIVE,
    ucum: bool = True,
    **extra: Any,
) -> Json:
    """An Observation of `code` (a LOINC code, or a CodeableConcept) whose value, when given,
    is the Quantity (value, unit); another value[x] goes in `extra` (valueString=...)."""
    resource: Json = {"resourceType": "Observation", "id": id or next_id("obs"), "status": status}
    if category is not None:
        resource["category"] = [_coded(OBSERVATION_CATEGORY, category)]
    resource["code"] = {"coding": [coding(LOINC, code)]} if isinstance(code, str) else code
    resource["subject"] = ref("Patient", patient_id)
    if effective is not None:
        resource["effectiveDateTime"] = effective
    if value is not None:
        resource["valueQuantity"] = quantity(value, unit, ucum=ucum)
    resource.update(extra)
    return resource


def condition(
    code: Json,
    clinical: str | Json | None = "active",
    *,
    id: str | None = None,
    verification: str | Json | None = None,
    category: str | Json | None = None,
    patient_id: str = PATIENT,
    **extra: Any,
) -> Json:
    resource: Json = {"resourceType": "Condition", "id": id or next_id("cond")}
    if clinical is not None:
        resource["clinicalStatus"] = _coded(CONDITION_CLINICAL, clinical)
    if verification is not None:
        resource["verificationStatus"] = _coded(CONDITION_VERIFICATION, verification)
    if category is not None:
        resource["category"] = [_coded(CONDITION_CATEGORY, category)]
    resource["code"] = code
    resource["subject"] = ref("Patient", patient_id)
    resource.update(extra)
    return resource


def allergy(
    code: Json,
    clinical: str | Json | None = "active",
    *,
    id: str | None = None,
    verification: str | Json | None = None,
    type: str | None = None,
    category: Sequence[str] | None = None,
    criticality: str | None = None,
    patient_id: str = PATIENT,
    **extra: Any,
) -> Json:
    resource: Json = {"resourceType": "AllergyIntolerance", "id": id or next_id("allergy")}
    if clinical is not None:
        resource["clinicalStatus"] = _coded(ALLERGY_CLINICAL, clinical)
    if verification is not None:
        resource["verificationStatus"] = _coded(ALLERGY_VERIFICATION, verification)
    if type is not None:
        resource["type"] = type
    if category is not None:
        resource["category"] = list(category)
    if criticality is not None:
        resource["criticality"] = criticality
    resource["code"] = code
    resource["patient"] = ref("Patient", patient_id)
    resource.update(extra)
    return resource


def medication(code: Json, *, id: str | None = None) -> Json:
    return {"resourceType": "Medication", "id": id or next_id("med"), "code": code}


def dosage(
    value: Any = None,
    unit: str = "mg",
    frequency: Any = None,
    period: Any = 1,
    period_unit: str = "d",
    *,
    text: str | None = None,
    sequence: int | None = None,
    timing_code: str | None = None,
    **extra: Any,
) -> Json:
    """A Dosage: `value` `unit` per intake (none without a value), `frequency` intakes per
    `period` `period_unit`, or a Timing.code abbreviation (`timing_code`: QD, BID, Q3H...).
    The values are any JSON: the tests send invalid ones."""
    result: Json = {}
    if sequence is not None:
        result["sequence"] = sequence
    if text is not None:
        result["text"] = text
    if frequency is not None:
        result["timing"] = {
            "repeat": {"frequency": frequency, "period": period, "periodUnit": period_unit}
        }
    elif timing_code is not None:
        result["timing"] = {"code": {"coding": [coding(TIMING_ABBREVIATION, timing_code)]}}
    if value is not None:
        result["doseAndRate"] = [{"doseQuantity": quantity(value, unit)}]
    result.update(extra)
    return result


def medication_request(
    medication: Json | None = None,
    *,
    id: str | None = None,
    status: str = "active",
    intent: str = "order",
    patient_id: str = PATIENT,
    authored_on: str | None = None,
    requester: str | None = None,
    contained: Sequence[Json] = (),
    reference: bool = False,
    dosage: Sequence[Json] = (),
    **extra: Any,
) -> Json:
    """A MedicationRequest of `medication`: a CodeableConcept, or with `reference` a Reference
    (to a Medication of the prefetch, or "#id" of one in `contained`)."""
    resource: Json = {
        "resourceType": "MedicationRequest",
        "id": id or next_id("mr"),
        "status": status,
        "intent": intent,
        "subject": ref("Patient", patient_id),
    }
    if authored_on is not None:
        resource["authoredOn"] = authored_on
    if requester is not None:
        resource["requester"] = {"reference": requester}
    if contained:
        resource["contained"] = list(contained)
    if medication is not None:
        resource["medicationReference" if reference else "medicationCodeableConcept"] = medication
    if dosage:
        resource["dosageInstruction"] = list(dosage)
    resource.update(extra)
    return resource


def medication_statement(
    medication: Json | None = None,
    *,
    id: str | None = None,
    status: str = "active",
    patient_id: str = PATIENT,
    **extra: Any,
) -> Json:
    resource: Json = {
        "resourceType": "MedicationStatement",
        "id": id or next_id("ms"),
        "status": status,
    }
    if medication is not None:
        resource["medicationCodeableConcept"] = medication
    resource["subject"] = ref("Patient", patient_id)
    resource.update(extra)
    return resource


def service_request(
    code: Json,
    *,
    id: str | None = None,
    status: str = "draft",
    intent: str = "order",
    category: Json | None = None,
    patient_id: str = PATIENT,
    **extra: Any,
) -> Json:
    resource: Json = {
        "resourceType": "ServiceRequest",
        "id": id or next_id("sr"),
        "status": status,
        "intent": intent,
    }
    if category is not None:
        resource["category"] = [category]
    resource["code"] = code
    resource["subject"] = ref("Patient", patient_id)
    resource.update(extra)
    return resource


# ----------------------------------------------------------------------------- bundles


def _entry(resource: Json, full_url: str | None) -> Json:
    entry: Json = {} if full_url is None else {"fullUrl": full_url}
    entry["resource"] = resource
    return entry


def searchset(
    *resources: Json,
    base: str | None = None,
    total: int | None = None,
    next_url: str | None = None,
) -> Json:
    """A searchset Bundle of `resources` (each a match): each entry's fullUrl under the server's
    `base` when given, the `total` number of matches (all pages) when given, and a `next` link
    when there are more pages."""
    bundle: Json = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    bundle["entry"] = [
        _entry(r, None if base is None else f"{base}/{r['resourceType']}/{r['id']}")
        | {"search": {"mode": "match"}}
        for r in resources
    ]
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def collection(*resources: Json, full_urls: bool = False) -> Json:
    """A collection Bundle (draft orders, appointments of a hook's context); `full_urls`: each
    entry's fullUrl is the resource's relative "Type/id", as some EHRs send it."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            _entry(r, f"{r['resourceType']}/{r['id']}" if full_urls else None) for r in resources
        ],
    }


# ----------------------------------------------------------------------------- hook requests


def order_context(
    orders: Sequence[Json],
    *,
    user: str,
    patient_id: str = PATIENT,
    encounter: str | None = None,
    selections: Sequence[str] | None = None,
    full_urls: bool = False,
) -> Json:
    """The context of an order hook (order-select, order-sign): the draft `orders` and, when
    given, the `selections` among them."""
    context: Json = {"userId": user, "patientId": patient_id}
    if encounter is not None:
        context["encounterId"] = encounter
    if selections is not None:
        context["selections"] = list(selections)
    context["draftOrders"] = collection(*orders, full_urls=full_urls)
    return context


def hook_request(
    hook: str,
    context: Json,
    prefetch: Json | None = None,
    *,
    instance: str,
    fhir_server: str | None = None,
    fhir_authorization: Json | None = None,
) -> Json:
    """The JSON body of a hook call (CDS Hooks 2.0); without `prefetch` when it is None."""
    body: Json = {"hookInstance": instance, "hook": hook}
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
    if fhir_authorization is not None:
        body["fhirAuthorization"] = fhir_authorization
    body["context"] = context
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body
