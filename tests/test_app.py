"""The assembled app: audit records, per-request log line, report, and the feedback loop."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import pytest

from service.app import create_app
from service.config import parse_config
from service.prefetch_templates import prefetch_templates
from service.report import render_report
from service.storage import Store
from service.valuesets import load_valuesets

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
NOW = datetime.fromisoformat(MANIFEST["now"])
RULES = "cementoplasty-cds/rules"
LOW_PLATELETS = "BLEED-PLATELETS-LOW/unit-G-L-at-limit.json"


@pytest.fixture
def store() -> Store:
    return Store("sqlite://")


@pytest.fixture
def app(store: Store):
    return create_app(parse_config({"auth": {"required": False}}), store=store, clock=lambda: NOW)


def call(app, fixture: str):
    body = (FIXTURES / fixture).read_bytes()
    response = app.test_client().post(
        "/cds-services/cementoplasty-order-select", data=body, content_type="application/json"
    )
    assert response.status_code == 200, response.get_json()
    return json.loads(body), response.get_json()


def test_each_evaluation_is_audited_with_its_rules_cards_and_resources(app, store) -> None:
    request, response = call(app, LOW_PLATELETS)
    app.extensions["cementoplasty_audit"].flush()

    (record,) = store.audit_records(request["hookInstance"])
    assert record.service == "cementoplasty-order-select"
    assert record.patient_id == request["context"]["patientId"]
    assert set(record.rules_fired) == set(MANIFEST["fixtures"][LOW_PLATELETS]["expected"])
    assert {(c.uuid, c.indicator) for c in record.cards} >= {
        (c["uuid"], c["indicator"]) for c in response["cards"]
    }
    assert any(
        ref.startswith("Observation/") for ref in record.resources_used["BLEED-PLATELETS-LOW"]
    )
    assert record.latency_ms is not None and record.latency_ms > 0
    assert record.status == 200


def test_an_out_of_scope_order_is_not_audited(app, store) -> None:
    request, response = call(app, "TRIGGER/chest-xray-not-cementoplasty.json")
    app.extensions["cementoplasty_audit"].flush()
    assert response == {"cards": []}
    assert store.audit_records(request["hookInstance"]) == []


def test_one_json_log_line_per_request_without_names_or_tokens(app, caplog) -> None:
    body = json.loads((FIXTURES / LOW_PLATELETS).read_text())
    body["fhirAuthorization"] = {
        "access_token": "SECRET-TOKEN-123",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds-service",
    }
    body["fhirServer"] = "https://ehr.example/fhir"
    patient = {"resourceType": "Patient", "id": body["context"]["patientId"]}
    patient["name"] = [{"family": "Dupont-Secret", "given": ["Jeanne"]}]
    body["prefetch"]["patient"] = patient
    with caplog.at_level(logging.INFO):
        response = app.test_client().post("/cds-services/cementoplasty-order-select", json=body)
    assert response.status_code == 200
    (line,) = [r for r in caplog.records if r.name == "service.request"]
    assert line.fields["status"] == 200
    assert line.fields["hookInstance"] == body["hookInstance"]
    assert "BLEED-PLATELETS-LOW" in line.fields["rule_ids"]
    assert line.fields["cards"]["critical"] >= 1
    everything = "\n".join(
        r.getMessage() + json.dumps(getattr(r, "fields", {}), default=str) for r in caplog.records
    )
    assert "SECRET-TOKEN-123" not in everything
    assert "Dupont-Secret" not in everything


def test_report_counts_fired_accepted_and_overridden(app, store) -> None:
    _, response = call(app, LOW_PLATELETS)
    app.extensions["cementoplasty_audit"].flush()
    critical = next(c for c in response["cards"] if c["indicator"] == "critical")
    reason = critical["overrideReasons"][0]
    feedback = {
        "feedback": [
            {
                "card": critical["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": reason, "userComment": "platelets transfused"},
                "outcomeTimestamp": "2026-11-26T09:05:00+01:00",
            }
        ]
    }
    answer = app.test_client().post(
        "/cds-services/cementoplasty-order-select/feedback", json=feedback
    )
    assert answer.status_code == 200
    report = render_report(store)
    line = next(row for row in report.splitlines() if "BLEED-PLATELETS-LOW" in row)
    assert "1" in line
    assert reason["code"] in report


@pytest.mark.parametrize(
    ("element", "depth", "status", "rule"),
    [
        # An extension is not a modifier: a FHIR reader may ignore it, and the count is read.
        ("resource", 400, 200, "BLEED-PLATELETS-LOW"),
        # Inside the value the rules read, the depth is validated: the result is reported as
        # unreadable, not silently dropped.
        ("valueQuantity", 400, 200, "BLEED-LAB-UNINTERPRETABLE"),
        ("resource", 5000, 400, None),  # beyond the JSON reader's depth limit
    ],
)
def test_deeply_nested_extensions_are_answered_never_a_500(
    app, element: str, depth: int, status: int, rule: str | None
) -> None:
    body = json.loads((FIXTURES / LOW_PLATELETS).read_text())
    resource = body["prefetch"]["platelets"]["entry"][0]["resource"]
    (resource if element == "resource" else resource[element])["extension"] = "__DEEP__"
    deep = '{"url":"x","extension":[' * depth + '{"url":"x"}' + "]}" * depth
    data = json.dumps(body).replace('"__DEEP__"', f"[{deep}]")
    response = app.test_client().post(
        "/cds-services/cementoplasty-order-select", data=data, content_type="application/json"
    )
    assert response.status_code == status
    if rule is not None:
        rules = {r for c in response.get_json()["cards"] for r in c["extension"][RULES]}
        assert rule in rules


def test_the_start_up_warm_up_request_runs_the_whole_pipeline(store) -> None:
    """If the warm-up request fell out of scope, start-up would warm nothing (silently)."""
    from service.app import WARM_UP_NOW, WARM_UP_REQUEST

    app = create_app(
        parse_config({"auth": {"required": False}}), store=store, clock=lambda: WARM_UP_NOW
    )
    response = app.test_client().post(
        "/cds-services/cementoplasty-order-select",
        data=WARM_UP_REQUEST.read_bytes(),
        content_type="application/json",
    )
    rules = {r for c in response.get_json()["cards"] for r in c["extension"][RULES]}
    assert {"MED-CLOPIDOGREL", "TUMOR-CONTROL", "CHECKLIST"} <= rules
    assert any(rule.startswith(("BLEED-", "IND-", "NONIND-")) for rule in rules)
    assert "DATA-UNAVAILABLE" not in rules  # every key answered: the temperature and neutrophil
    # readers are warmed too, and start-up logs no "data unavailable"
    templates = prefetch_templates(load_valuesets())
    planned = {"plannedServiceRequests", "plannedAppointments"}  # the other moments' keys
    assert set(json.loads(WARM_UP_REQUEST.read_bytes())["prefetch"]) == set(templates) - planned


def test_the_warm_up_request_has_the_size_of_a_busy_patients_prefetch() -> None:
    """Its size is what grows the worker's heap at start-up instead of in the first call."""
    from cds_hooks.request import parse_hook_request
    from service.app import _warm_up_body

    body = _warm_up_body("order-sign")
    request = parse_hook_request("cementoplasty-order-sign", "order-sign", body)
    assert request.hook == "order-sign"
    assert len(body) >= 150_000
    ids = [
        (entry["resource"]["resourceType"], entry["resource"]["id"])
        for value in request.prefetch.values()
        if isinstance(value, dict) and value.get("resourceType") == "Bundle"
        for entry in value["entry"]
    ]
    assert len(ids) >= 200 and len(set(ids)) == len(ids)  # distinct resources, all read


def test_start_up_calls_nothing_that_is_logged_audited_or_counted(
    store, caplog, monkeypatch
) -> None:
    """The warm-up goes through the hook endpoint of a throwaway app, never the real one."""
    from prometheus_client import REGISTRY

    # create_app replaces the root handlers, caplog's with them: keep them for this test.
    monkeypatch.setattr("service.app.configure_logging", lambda level: None)

    def served() -> float:
        return sum(
            sample.value
            for metric in REGISTRY.collect()
            if metric.name == "cds_requests"
            for sample in metric.samples
            if sample.name == "cds_requests_total"
        )

    before = served()
    with caplog.at_level(logging.INFO):
        app = create_app(parse_config({"auth": {"required": False}}), store=store)
    app.extensions["cementoplasty_audit"].flush()
    assert store.audit_records() == []
    assert [r for r in caplog.records if r.name == "service.request"] == []
    assert served() == before
