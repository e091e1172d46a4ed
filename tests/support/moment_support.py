"""Hook requests of the moments (patient-view, appointment-book, a medication ordered) for the
fixture patient (fixtures/build.py), and the real app at a fixed "now" to post them to."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import flask
from build import (
    PATIENT_ID,
    SUBJECT,
    T12,
    VERTEBROPLASTY,
    baseline,
    bundle,
    inr,
    platelets,
    service_request,
    tp,
)

from service.app import create_app
from service.config import parse_config
from service.storage import Store
from support.fhir_builders import (
    RXNORM,
    collection,
    concept,
    hook_request,
    medication_request,
    order_context,
)

Json = dict[str, Any]

# Two days before clopidogrel's hold for a vertebroplasty on 2026-12-09 (hold from 12-04).
NOW = datetime.fromisoformat("2026-12-02T09:00:00+01:00")
PROCEDURE_DAY = "2026-12-09"
RULES = "cementoplasty-cds/rules"

CLOPIDOGREL = concept(RXNORM, "32968", "clopidogrel")
# The sandbox's Rx View picks products (RxNorm SCD) that drugs.json does not list: they are
# matched by the ingredient name in the display.
CLOPIDOGREL_TABLET = concept(RXNORM, "309362", "Clopidogrel 75 MG Oral Tablet")
APIXABAN = concept(RXNORM, "1364430", "apixaban 5 MG Oral Tablet")
PARACETAMOL = concept(RXNORM, "161", "acetaminophen")
ABLATION = concept(None, None, "Radiofrequency ablation of bone metastasis")


def make_app(now: datetime = NOW) -> flask.Flask:
    """The real app, auth off, no FHIR server, an in-memory store, a fixed clock."""
    config = parse_config({"auth": {"required": False}, "logging": {"level": "WARNING"}})
    return create_app(config, store=Store("sqlite://"), clock=lambda: now)


def planned(
    sid: str = "sr-planned-1",
    when: str | None = PROCEDURE_DAY,
    status: str = "active",
    code: Json = VERTEBROPLASTY,
    site: Json | None = T12,
) -> Json:
    return service_request(sid, code, site, when, status)


def appointment(
    aid: str = "appt-1",
    start: str = "2026-12-09T08:30:00+01:00",
    based_on: str | None = "sr-planned-1",
    status: str = "booked",
    service_type: Json | None = None,
) -> Json:
    resource: Json = {
        "resourceType": "Appointment",
        "id": aid,
        "status": status,
        "start": start,
        "end": start.replace("08:30", "10:00"),
        "participant": [{"actor": SUBJECT, "status": "accepted"}],
    }
    if based_on:
        resource["basedOn"] = [{"reference": f"ServiceRequest/{based_on}"}]
    if service_type:
        resource["serviceType"] = [service_type]
    return resource


def draft_medication(mid: str = "request-123", medication: Json | None = CLOPIDOGREL) -> Json:
    """A draft MedicationRequest as the sandbox's Rx View sends it (no medication at first)."""
    return medication_request(
        medication, id=mid, status="draft", patient_id=PATIENT_ID, authored_on="2026-12-02"
    )


def record_prefetch(
    requests: list[Json] = (),  # type: ignore[assignment]
    appointments: list[Json] = (),  # type: ignore[assignment]
    **changes: list[Json],
) -> Json:
    """The baseline patient's prefetch (fixtures/build.py) with the planned procedure keys."""
    prefetch = copy.deepcopy(baseline()["prefetch"])
    # The baseline's results are dated for the fixtures' "now" (2026-11-26): here, two days
    # before NOW, so that they are recent for a procedure on PROCEDURE_DAY.
    prefetch["platelets"] = [platelets(210_000, days=4)]
    prefetch["coagulation"] = [tp(88, days=4), inr(1.1, days=4)]
    prefetch.update(changes)
    prefetch["plannedServiceRequests"] = list(requests)
    prefetch["plannedAppointments"] = list(appointments)
    return {
        key: bundle(value) if isinstance(value, list) else value for key, value in prefetch.items()
    }


USER = "Practitioner/prac-ir-3"


def patient_view(prefetch: Json) -> Json:
    context = {"userId": USER, "patientId": PATIENT_ID}
    return hook_request(
        "patient-view", context, prefetch, instance="0b8f6f3a-6a43-4c4e-9d34-6c1d10a0a001"
    )


def medication_order(
    hook: str, drafts: list[Json], prefetch: Json | None, selections: list[str] | None = None
) -> Json:
    context = order_context(drafts, user=USER, patient_id=PATIENT_ID, selections=selections)
    return hook_request(hook, context, prefetch, instance="0b8f6f3a-6a43-4c4e-9d34-6c1d10a0a002")


def appointment_book(appointments: list[Json], prefetch: Json | None) -> Json:
    context = {"userId": USER, "patientId": PATIENT_ID, "appointments": collection(*appointments)}
    return hook_request(
        "appointment-book", context, prefetch, instance="0b8f6f3a-6a43-4c4e-9d34-6c1d10a0a003"
    )


SERVICE = {
    "patient-view": "cementoplasty-patient-view",
    "appointment-book": "cementoplasty-appointment-book",
    "order-select": "cementoplasty-order-select",
    "order-sign": "cementoplasty-order-sign",
}


def post(app: flask.Flask, body: Mapping[str, Any], locale: str = "en") -> tuple[int, Any]:
    response = app.test_client().post(
        f"/cds-services/{SERVICE[str(body['hook'])]}",
        data=json.dumps(body),
        headers={"Content-Type": "application/json", "Accept-Language": locale},
    )
    return response.status_code, response.get_json(silent=True)


def rules_of(response: Mapping[str, Any]) -> list[str]:
    return sorted(rule for card in response["cards"] for rule in card["extension"][RULES])


def plan_card(response: Mapping[str, Any]) -> Json:
    cards = [
        c for c in response["cards"] if any(r.startswith("MED-") for r in c["extension"][RULES])
    ]
    assert len(cards) == 1, response
    return cards[0]
