"""order-select scope: the orders the request layer accepts as selected are the orders in scope.

Both use `cds_hooks.request.selection_references`, so a selection made through `fullUrl` (a
draft with no `id`) is never accepted by validation and then silently out of scope.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.fhir_builders import CPT, VERTEBROPLASTY, concept, service_request

from cds_hooks.request import parse_hook_request
from service.facts.extract import procedures_in_scope
from service.vocabulary import ProcedureKind


def without_id(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "id"}


def order_select(entries: list[dict[str, Any]], selections: list[str]) -> Any:
    body = {
        "hook": "order-select",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {
            "userId": "Practitioner/u1",
            "patientId": "p1",
            "selections": selections,
            "draftOrders": {"resourceType": "Bundle", "entry": entries},
        },
    }
    return parse_hook_request(
        "cementoplasty-order-select", "order-select", json.dumps(body).encode()
    )


@pytest.mark.parametrize(
    ("entry", "selection"),
    [
        (
            {
                "fullUrl": "https://ehr.example/fhir/ServiceRequest/abc",
                "resource": without_id(service_request(VERTEBROPLASTY)),
            },
            "ServiceRequest/abc",
        ),
        (
            {
                "fullUrl": "ServiceRequest/abc",
                "resource": without_id(service_request(VERTEBROPLASTY)),
            },
            "ServiceRequest/abc",
        ),
        (
            {
                "fullUrl": "https://ehr.example/fhir/ServiceRequest/by-url",
                "resource": service_request(VERTEBROPLASTY, id="by-id"),
            },
            "ServiceRequest/by-url",
        ),
        (
            {
                "fullUrl": "https://ehr.example/fhir/ServiceRequest/by-url",
                "resource": service_request(VERTEBROPLASTY, id="by-id"),
            },
            "ServiceRequest/by-id",
        ),
        ({"resource": service_request(VERTEBROPLASTY, id="plain")}, "ServiceRequest/plain"),
    ],
)
def test_an_accepted_selection_is_in_scope(valuesets, all_triggers, entry, selection) -> None:
    other = {"resource": service_request(VERTEBROPLASTY, id="not-selected")}
    request = order_select([entry, other], [selection])  # validation accepts it...
    procedures = procedures_in_scope(request, valuesets, all_triggers)
    # ...and the service reads exactly that order, not the other one.
    assert [p.kind for p in procedures] == [ProcedureKind.VERTEBROPLASTY]
    assert [p.source.id for p in procedures] == [entry["resource"].get("id")]


def order_select_without_selections(entries: list[dict[str, Any]]) -> Any:
    body = {
        "hook": "order-select",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {
            "userId": "Practitioner/u1",
            "patientId": "p1",
            "draftOrders": {"resourceType": "Bundle", "entry": entries},
        },
    }
    return parse_hook_request(
        "cementoplasty-order-select", "order-select", json.dumps(body).encode()
    )


def test_order_select_without_selections_reads_every_draft_order(valuesets, all_triggers) -> None:
    entries = [
        {"resource": service_request(VERTEBROPLASTY, id="a")},
        {"resource": service_request(concept(CPT, "20982"), id="b")},
        {"resource": {"resourceType": "MedicationRequest", "id": "m"}},
    ]
    request = order_select_without_selections(entries)
    procedures = procedures_in_scope(request, valuesets, all_triggers)
    assert [(p.kind, p.source.id) for p in procedures] == [
        (ProcedureKind.VERTEBROPLASTY, "a"),
        (ProcedureKind.RADIOFREQUENCY_ABLATION, "b"),
    ]


def test_order_select_with_empty_selections_reads_nothing(valuesets, all_triggers) -> None:
    request = order_select([{"resource": service_request(VERTEBROPLASTY, id="a")}], [])
    assert procedures_in_scope(request, valuesets, all_triggers) == []
