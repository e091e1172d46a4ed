"""Planned procedures read from the record's ServiceRequests and Appointments."""

from __future__ import annotations

from datetime import date

import pytest
from support.fhir_builders import concept
from support.moment_support import ABLATION, appointment, planned

from service.config import Config
from service.facts.planned import (
    bundle_appointments,
    planned_procedures,
    planned_resources,
)
from service.valuesets import load_valuesets
from service.vocabulary import ProcedureKind

TODAY = date(2026, 12, 2)
VALUESETS = load_valuesets()
TRIGGER = Config().triggers.procedures


def read(requests, appointments=(), today=TODAY, **kw):
    return planned_procedures(requests, appointments, VALUESETS, TRIGGER, today, **kw)


@pytest.mark.parametrize("status", ["active", "draft", "on-hold"])
def test_a_planned_request_is_a_target_procedure(status: str) -> None:
    [target] = read([planned(status=status)])
    assert target.kind is ProcedureKind.VERTEBROPLASTY
    assert target.scheduled_date == date(2026, 12, 9)
    assert target.source.reference == "ServiceRequest/sr-planned-1"
    assert "spine" in target.body_sites


@pytest.mark.parametrize("status", ["completed", "revoked", "entered-in-error", "unknown", None])
def test_a_request_that_is_not_a_plan_is_not_read(status) -> None:
    assert read([planned(status=status)]) == []


def test_a_past_date_is_not_planned_today_and_no_date_are() -> None:
    assert read([planned(when="2026-12-01")]) == []
    assert [t.scheduled_date for t in read([planned(when="2026-12-02")])] == [TODAY]
    [undated] = read([planned(when=None)])
    assert undated.scheduled_date is None and undated.scheduled_at is None


def test_a_request_outside_the_trigger_set_is_not_planned() -> None:
    mri = concept("http://loinc.org", "24590-2", "MR Spine")
    assert read([planned(code=mri)]) == []


def test_the_booked_appointment_dates_the_procedure() -> None:
    [target] = read([planned(when="2026-12-20")], [appointment(start="2026-12-09T08:30:00+01:00")])
    assert target.scheduled_date == date(2026, 12, 9)
    assert target.scheduled_at is not None and target.scheduled_at.hour == 8
    assert target.source.reference == "ServiceRequest/sr-planned-1"


@pytest.mark.parametrize("status", ["cancelled", "noshow", "entered-in-error", "fulfilled"])
def test_an_appointment_no_longer_planned_does_not_date_it(status: str) -> None:
    [target] = read([planned(when="2026-12-20")], [appointment(status=status)])
    assert target.scheduled_date == date(2026, 12, 20)


def test_a_past_appointment_is_not_a_plan() -> None:
    assert read([planned()], [appointment(start="2026-11-30T08:30:00+01:00")]) == []


def test_an_appointment_based_on_an_absolute_or_versioned_url() -> None:
    booked = appointment(based_on=None)
    booked["basedOn"] = [
        {"reference": "https://ehr.example.org/fhir/ServiceRequest/sr-planned-1/_history/2"}
    ]
    [target] = read([planned(when="2026-12-20")], [booked])
    assert target.scheduled_date == date(2026, 12, 9)


def test_an_appointment_naming_the_procedure_without_a_request() -> None:
    by_type = appointment(based_on=None, service_type=concept(None, None, "Vertébroplastie"))
    [target] = read([], [by_type])
    assert target.kind is ProcedureKind.VERTEBROPLASTY
    assert target.source.reference == "Appointment/appt-1"
    assert target.scheduled_date == date(2026, 12, 9)
    by_reason = appointment(based_on=None)
    by_reason["reasonCode"] = [ABLATION]
    [ablation] = read([], [by_reason])
    assert ablation.kind is ProcedureKind.RADIOFREQUENCY_ABLATION


def test_an_appointment_naming_something_else_is_not_a_procedure() -> None:
    consult = appointment(based_on=None, service_type=concept(None, None, "Consultation"))
    assert read([], [consult]) == []
    # basedOn a ServiceRequest the record does not hold as planned: nothing to date.
    assert read([], [appointment()]) == []


def test_booked_only_keeps_only_what_the_appointments_book() -> None:
    other = planned(sid="sr-other", when="2026-12-05")
    targets = read([planned(), other], [appointment()], booked_only=True)
    assert [t.source.reference for t in targets] == ["ServiceRequest/sr-planned-1"]
    assert read([planned(), other], [], booked_only=True) == []


def test_planned_resources_reads_every_key_once() -> None:
    sr, appt = planned(), appointment()
    searchset = {"resourceType": "Bundle", "entry": [{"resource": sr}, {"resource": appt}]}
    requests, appointments = planned_resources({"a": [sr], "b": [searchset], "c": [None, "x"]})
    assert requests == [sr] and appointments == [appt]


def test_bundle_appointments_reads_only_appointments() -> None:
    bundle = {"resourceType": "Bundle", "entry": [{"resource": appointment()}, {"resource": {}}, 3]}
    assert [a["id"] for a in bundle_appointments(bundle)] == ["appt-1"]
    assert bundle_appointments(None) == [] and bundle_appointments({"entry": "x"}) == []
