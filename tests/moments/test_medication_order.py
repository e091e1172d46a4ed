"""An antithrombotic ordered while a cementoplasty or ablation is planned (order-select /
order-sign): unit tests of the decision from the draft alone, and HTTP tests both languages."""

from __future__ import annotations

import json

import flask
import pytest
from build import med_request
from support.moment_support import (
    APIXABAN,
    CLOPIDOGREL,
    CLOPIDOGREL_TABLET,
    NOW,
    PARACETAMOL,
    draft_medication,
    make_app,
    medication_order,
    planned,
    post,
    record_prefetch,
    rules_of,
)
from support.shared_data import shared_path

from cds_hooks.request import parse_hook_request
from service.cementoplasty import service_definition
from service.config import Config
from service.moments.medication_order import antithrombotic_drafts, evaluate_medication_order
from service.prefetch_templates import prefetch_templates
from service.valuesets import load_valuesets

VALUESETS = load_valuesets()
SANDBOX = shared_path("cds-hooks", "sandbox-traffic")


@pytest.fixture(scope="module")
def app() -> flask.Flask:
    return make_app(NOW)


class NoFhirCall:
    """A PrefetchSource that fails the test if the service asks for the patient's data."""

    def resolve(self):
        raise AssertionError("patient data resolved: a FHIR call the draft alone could avoid")


def parsed(body: dict):
    return parse_hook_request("svc", body["hook"], json.dumps(body).encode())


def drugs(body: dict) -> list[str]:
    return [fact.ingredient for fact in antithrombotic_drafts(parsed(body), VALUESETS)]


def test_the_antithrombotic_is_read_from_the_draft_alone() -> None:
    assert drugs(medication_order("order-sign", [draft_medication()], None)) == ["clopidogrel"]
    tablet = draft_medication(medication=CLOPIDOGREL_TABLET)
    assert drugs(medication_order("order-sign", [tablet], None)) == ["clopidogrel"]
    assert drugs(medication_order("order-sign", [draft_medication(medication=APIXABAN)], None)) == [
        "apixaban"
    ]
    assert (
        drugs(medication_order("order-sign", [draft_medication(medication=PARACETAMOL)], None))
        == []
    )
    assert drugs(medication_order("order-sign", [draft_medication(medication=None)], None)) == []


def test_selections_scope_the_draft_on_order_select() -> None:
    both = [draft_medication("m-clopi"), draft_medication("m-para", PARACETAMOL)]
    body = medication_order("order-select", both, None, ["MedicationRequest/m-para"])
    assert drugs(body) == []
    body = medication_order("order-select", both, None, ["MedicationRequest/m-clopi"])
    assert drugs(body) == ["clopidogrel"]
    assert drugs(medication_order("order-select", both, None)) == ["clopidogrel"]


def test_a_contained_medication_is_resolved_from_the_draft() -> None:
    draft = draft_medication(medication=None)
    draft["contained"] = [{"resourceType": "Medication", "id": "m", "code": CLOPIDOGREL}]
    draft["medicationReference"] = {"reference": "#m"}
    assert drugs(medication_order("order-sign", [draft], None)) == ["clopidogrel"]


@pytest.mark.parametrize(
    "medication", [PARACETAMOL, None], ids=["not an antithrombotic", "no medication yet"]
)
def test_no_antithrombotic_costs_no_fhir_call(medication) -> None:
    body = medication_order("order-select", [draft_medication(medication=medication)], None)
    config = Config()
    definition = service_definition("order-select", prefetch_templates(VALUESETS))
    evaluation = evaluate_medication_order(
        parsed(body), NoFhirCall(), "en", config, VALUESETS, lambda: NOW, definition
    )
    assert evaluation.response.cards == ()


def test_the_sandbox_rx_view_draft_gives_no_card(app: flask.Flask) -> None:
    recorded = json.loads((SANDBOX / "order-select-medication.json").read_text())["body"]
    assert (post(app, recorded)) == (200, {"cards": []})
    recorded = json.loads((SANDBOX / "order-sign-medication.json").read_text())["body"]
    assert (post(app, recorded)) == (200, {"cards": []})


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_clopidogrel_ordered_with_a_planned_vertebroplasty(app: flask.Flask, hook: str) -> None:
    body = medication_order(hook, [draft_medication()], record_prefetch([planned()]))
    status, response = post(app, body)
    assert status == 200
    [card] = response["cards"]
    assert card["summary"] == (
        "clopidogrel ordered: it must be stopped from 2026-12-04, 5 days before the "
        "vertebroplasty of 2026-12-09"
    )
    assert card["indicator"] == "warning"
    assert card["extension"]["cementoplasty-cds/rules"] == ["MED-CLOPIDOGREL"]
    assert "no dose from **2026-12-04**" in card["detail"]
    assert "on **2026-12-09** (in 7 days)" in card["detail"]
    _, response = post(app, body, "fr")
    assert response["cards"][0]["summary"] == (
        "clopidogrel\u00a0: arrêt dès le 04/12/2026 (5\u00a0jours avant le geste du 09/12/2026, "
        "vertébroplastie)"
    )


def test_only_the_ordered_drug_is_planned(app: flask.Flask) -> None:
    """A VKA already in the record is the order's and chart's business, not this card's."""
    warfarin = med_request("mr-warfarin", {"text": "warfarin 5 mg"})
    prefetch = record_prefetch([planned()], medicationRequests=[warfarin])
    _, response = post(app, medication_order("order-sign", [draft_medication()], prefetch))
    assert rules_of(response) == ["MED-CLOPIDOGREL"]


def test_a_doac_is_held_48_hours_before(app: flask.Flask) -> None:
    prefetch = record_prefetch([planned(when="2026-12-09T14:00:00+01:00")])
    body = medication_order("order-sign", [draft_medication(medication=APIXABAN)], prefetch)
    _, response = post(app, body)
    [card] = response["cards"]
    assert card["summary"] == (
        "apixaban ordered: it must be stopped from 2026-12-07 14:00, 48 h before the "
        "vertebroplasty of 2026-12-09"
    )
    assert card["extension"]["cementoplasty-cds/rules"] == ["MED-DOAC"]


def test_an_order_too_close_to_the_procedure_is_critical(app: flask.Flask) -> None:
    prefetch = record_prefetch([planned(when="2026-12-05")])
    _, response = post(app, medication_order("order-sign", [draft_medication()], prefetch))
    [card] = response["cards"]
    assert card["indicator"] == "critical"
    assert card["extension"]["cementoplasty-cds/rules"] == ["MED-CLOPIDOGREL", "MED-HOLD-TOO-LATE"]
    assert card["summary"] == (
        "clopidogrel ordered: its hold should have started on 2026-11-30 for the "
        "vertebroplasty of 2026-12-05"
    )
    assert card["overrideReasons"]


def test_nothing_planned_or_not_an_antithrombotic_is_quiet(app: flask.Flask) -> None:
    nothing = medication_order("order-sign", [draft_medication()], record_prefetch())
    assert post(app, nothing) == (200, {"cards": []})
    done = record_prefetch([planned(status="completed")])
    assert post(app, medication_order("order-sign", [draft_medication()], done)) == (
        200,
        {"cards": []},
    )
    other = draft_medication(medication=PARACETAMOL)
    assert post(app, medication_order("order-sign", [other], record_prefetch([planned()]))) == (
        200,
        {"cards": []},
    )


def test_a_planned_procedure_without_a_date(app: flask.Flask) -> None:
    prefetch = record_prefetch([planned(when=None)])
    _, response = post(app, medication_order("order-sign", [draft_medication()], prefetch))
    [card] = response["cards"]
    assert card["summary"] == (
        "clopidogrel ordered while a vertebroplasty is planned (date not given): see the hold plan"
    )
    assert "no dose from D-5" in card["detail"]
