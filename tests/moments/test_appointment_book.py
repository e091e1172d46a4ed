"""appointment-book: booking (or moving) the procedure's appointment recomputes the plan from
the appointment's start (HTTP, both languages; the decision without FHIR call)."""

from __future__ import annotations

import json

import flask
import pytest
from build import med_statement
from support.fhir_builders import concept
from support.moment_support import (
    CLOPIDOGREL,
    NOW,
    appointment,
    appointment_book,
    make_app,
    patient_view,
    plan_card,
    planned,
    post,
    record_prefetch,
)

from cds_hooks.request import parse_hook_request
from service.cementoplasty import service_definition
from service.config import Config
from service.moments.appointment_book import AppointmentBookService
from service.prefetch_templates import prefetch_templates
from service.valuesets import load_valuesets


@pytest.fixture(scope="module")
def app() -> flask.Flask:
    return make_app(NOW)


def on_clopidogrel(appointments=()) -> dict:
    return record_prefetch(
        [planned(when="2026-12-20")],
        list(appointments),
        medicationStatements=[med_statement("ms-clopi", CLOPIDOGREL)],
    )


def test_the_appointment_start_dates_the_plan(app: flask.Flask) -> None:
    booked = appointment(start="2026-12-10T08:30:00+01:00")
    status, body = post(app, appointment_book([booked], on_clopidogrel()))
    assert status == 200
    card = plan_card(body)
    assert card["summary"] == (
        "Procedure on 2026-12-10: clopidogrel is to be stopped from 2026-12-05 — in 3 days"
    )
    assert "no dose from **2026-12-05**" in card["detail"]
    _, body = post(app, appointment_book([booked], on_clopidogrel()), "fr")
    assert plan_card(body)["summary"] == (
        "Geste le 10/12/2026\u00a0: clopidogrel à arrêter à partir du 05/12/2026 "
        "— dans 3\u00a0jours"
    )


def test_a_rescheduled_appointment_gives_the_new_dates(app: flask.Flask) -> None:
    """The record still holds the old slot (12-10); the appointment being booked is 12-14."""
    old = appointment(start="2026-12-10T08:30:00+01:00")
    moved = appointment(start="2026-12-14T08:30:00+01:00")
    _, body = post(app, appointment_book([moved], on_clopidogrel([old])))
    card = plan_card(body)
    assert card["summary"] == (
        "Procedure on 2026-12-14: clopidogrel is to be stopped from 2026-12-09 — in 7 days"
    )
    assert "no dose from **2026-12-09**" in card["detail"]
    assert "2026-12-05" not in card["detail"]


def test_an_appointment_naming_the_procedure(app: flask.Flask) -> None:
    named = appointment(based_on=None, service_type=concept(None, None, "Vertébroplastie"))
    prefetch = record_prefetch(medicationStatements=[med_statement("ms-clopi", CLOPIDOGREL)])
    _, body = post(app, appointment_book([named], prefetch))
    assert plan_card(body)["summary"].startswith("Procedure on 2026-12-09: clopidogrel")


@pytest.mark.parametrize(
    "booked",
    [
        appointment(based_on=None, service_type=concept(None, None, "Consultation")),
        appointment(based_on="sr-unknown"),
        appointment(status="cancelled"),
        appointment(start="2026-11-30T08:30:00+01:00"),
    ],
    ids=["another service", "another request", "cancelled", "past"],
)
def test_other_appointments_are_quiet(app: flask.Flask, booked: dict) -> None:
    assert post(app, appointment_book([booked], on_clopidogrel())) == (200, {"cards": []})


def test_an_appointment_that_cannot_be_the_procedure_costs_no_fhir_call() -> None:
    class NoFhirCall:
        def resolve(self):
            raise AssertionError("patient data resolved for an unrelated appointment")

    config = Config()
    valuesets = load_valuesets()
    service = AppointmentBookService(
        service_definition("appointment-book", prefetch_templates(valuesets)),
        config,
        valuesets,
        lambda: NOW,
    )
    consult = appointment(based_on=None, service_type=concept(None, None, "Consultation"))
    body = appointment_book([consult], None)
    request = parse_hook_request("s", "appointment-book", json.dumps(body).encode())
    assert service.evaluate(request, NoFhirCall(), "en").response.cards == ()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.pop("appointments"), "appointments"),
        (lambda c: c.update(appointments=[]), "appointments"),
        (lambda c: c.update(appointments={"resourceType": "Appointment"}), "appointments"),
        (lambda c: c["appointments"].update(entry={}), "entry"),
        (lambda c: c.pop("patientId"), "patientId"),
    ],
)
def test_appointment_book_context_is_checked(app: flask.Flask, change, message: str) -> None:
    body = appointment_book([appointment()], on_clopidogrel())
    change(body["context"])
    status, response = post(app, body)
    assert status == 400 and message in json.dumps(response)


@pytest.mark.parametrize(
    "odd",
    [
        {"basedOn": 3},
        {"basedOn": {"reference": "ServiceRequest/sr-planned-1"}},
        {"basedOn": [{"reference": 3}], "serviceType": "x"},
        {"start": 20261210, "status": ["booked"]},
        {"reasonCode": [{"coding": "x", "text": 7}]},
    ],
)
def test_odd_appointments_never_crash(app: flask.Flask, odd: dict) -> None:
    booked = {**appointment(), **odd}
    status, body = post(app, appointment_book([booked, "x", {"resource": 3}], on_clopidogrel()))
    assert status == 200 and isinstance(body["cards"], list)
    status, body = post(app, patient_view_of([booked]))
    assert status == 200 and isinstance(body["cards"], list)


def patient_view_of(appointments: list) -> dict:
    return patient_view(on_clopidogrel(appointments))
