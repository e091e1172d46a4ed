"""patient-view: a chart opened while a cementoplasty or ablation is planned (HTTP, both
languages). The same rules as when the procedure is ordered, and the days left."""

from __future__ import annotations

import copy

import flask
import pytest
from build import PATIENT_ID, med_request, med_statement, platelets
from support.fhir_builders import RXNORM, concept
from support.moment_support import (
    CLOPIDOGREL,
    NOW,
    appointment,
    make_app,
    medication_order,
    patient_view,
    plan_card,
    planned,
    post,
    record_prefetch,
    rules_of,
)

WARFARIN = concept(RXNORM, "855332", "Warfarin Sodium 5 MG Oral Tablet")


@pytest.fixture(scope="module")
def app() -> flask.Flask:
    return make_app(NOW)


def clopidogrel_patient(**changes) -> dict:
    return record_prefetch(
        [planned()],
        medicationStatements=[med_statement("ms-clopi", CLOPIDOGREL)],
        **changes,
    )


def test_nothing_planned_is_quiet(app: flask.Flask) -> None:
    status, body = post(app, patient_view(record_prefetch()))
    assert (status, body) == (200, {"cards": []})
    done = planned(status="completed")
    past = planned(sid="sr-past", when="2026-11-30")
    status, body = post(app, patient_view(record_prefetch([done, past])))
    assert (status, body) == (200, {"cards": []})


def test_the_plan_card_counts_the_days_to_the_hold(app: flask.Flask) -> None:
    status, body = post(app, patient_view(clopidogrel_patient()))
    assert status == 200
    card = plan_card(body)
    assert card["summary"] == (
        "Procedure on 2026-12-09: clopidogrel is to be stopped from 2026-12-04 — in 2 days"
    )
    assert "no dose from **2026-12-04**" in card["detail"]
    assert (
        "**Planned procedure**: Vertébroplastie (Vertèbre T12), on **2026-12-09** (in 7 days)"
        in (card["detail"])
    )
    status, body = post(app, patient_view(clopidogrel_patient()), "fr")
    assert plan_card(body)["summary"] == (
        "Geste le 09/12/2026\u00a0: clopidogrel à arrêter à partir du 04/12/2026 "
        "— dans 2\u00a0jours"
    )
    assert (
        "**Geste prévu**\u00a0: Vertébroplastie (Vertèbre T12), le **09/12/2026** "
        "(dans 7\u00a0jours)" in (plan_card(body)["detail"])
    )


def test_every_card_names_the_planned_procedure(app: flask.Flask) -> None:
    _, body = post(app, patient_view(clopidogrel_patient()))
    assert body["cards"] and all("**Planned procedure**" in c["detail"] for c in body["cards"])


def test_the_same_rules_as_when_the_procedure_is_ordered(app: flask.Flask) -> None:
    """Low platelets and clopidogrel: patient-view fires what order-select fires."""
    prefetch = clopidogrel_patient(platelets=[platelets(42_000, days=4)])
    _, viewed = post(app, patient_view(prefetch))
    order = copy.deepcopy(planned(status="draft"))
    ordered_prefetch = {k: v for k, v in prefetch.items() if not k.startswith("planned")}
    _, ordered = post(app, medication_order("order-sign", [order], ordered_prefetch))
    assert "BLEED-PLATELETS-LOW" in rules_of(viewed)
    assert "MED-CLOPIDOGREL" in rules_of(viewed)
    assert rules_of(viewed) == rules_of(ordered)


def test_a_hold_already_due_says_so(app: flask.Flask) -> None:
    prefetch = record_prefetch(
        [planned(when="2026-12-05")],
        medicationStatements=[med_statement("ms-clopi", CLOPIDOGREL)],
    )
    _, body = post(app, patient_view(prefetch))
    card = plan_card(body)
    assert "MED-HOLD-TOO-LATE" in card["extension"]["cementoplasty-cds/rules"]
    assert card["indicator"] == "critical"
    assert card["summary"].startswith("Procedure on 2026-12-05: the clopidogrel hold should have")


def test_the_booked_appointment_gives_the_date(app: flask.Flask) -> None:
    prefetch = record_prefetch(
        [planned(when="2026-12-20")],
        [appointment(start="2026-12-10T08:30:00+01:00")],
        medicationStatements=[med_statement("ms-clopi", CLOPIDOGREL)],
    )
    _, body = post(app, patient_view(prefetch))
    assert plan_card(body)["summary"] == (
        "Procedure on 2026-12-10: clopidogrel is to be stopped from 2026-12-05 — in 3 days"
    )


def test_no_hold_keeps_the_cards_of_the_rules(app: flask.Flask) -> None:
    _, body = post(app, patient_view(record_prefetch([planned()])))
    assert rules_of(body) == ["CHECKLIST", "TUMOR-CONTROL"]
    assert all("(in 7 days)" in card["detail"] for card in body["cards"])


def test_patient_view_needs_a_patient(app: flask.Flask) -> None:
    request = patient_view(record_prefetch())
    del request["context"]["patientId"]
    status, body = post(app, request)
    assert status == 400 and "patientId" in str(body)


def test_discovery_lists_patient_view_with_the_planned_keys(app: flask.Flask) -> None:
    services = app.test_client().get("/cds-services").get_json()["services"]
    by_id = {s["id"]: s for s in services}
    view = by_id["cementoplasty-patient-view"]
    assert view["hook"] == "patient-view"
    assert view["prefetch"]["plannedServiceRequests"] == (
        "ServiceRequest?patient={{context.patientId}}&status=active,draft,on-hold"
    )
    assert view["prefetch"]["plannedAppointments"].startswith(
        "Appointment?patient={{context.patientId}}&status="
    )
    for service in services:
        for template in service["prefetch"].values():
            assert template.replace("{{context.patientId}}", "").count("{{") == 0
    # The order services keep their keys and also ask for the planned procedure.
    order = by_id["cementoplasty-order-select"]["prefetch"]
    assert {"patient", "platelets", "medicationRequests", "plannedServiceRequests"} <= set(order)
    assert PATIENT_ID


def test_a_vka_counts_the_days_to_the_procedure(app: flask.Flask) -> None:
    """A VKA has no stop day in the guideline: the countdown is to the procedure."""
    warfarin = med_request("mr-warfarin", WARFARIN)
    _, body = post(app, patient_view(record_prefetch([planned()], medicationRequests=[warfarin])))
    assert plan_card(body)["summary"] == (
        "Procedure on 2026-12-09 (in 7 days): warfarin — hold plan to agree with anaesthesia "
        "and the prescriber"
    )
