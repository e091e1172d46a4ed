"""context.selections on order-select: which draftOrders entries a selection can name."""

from __future__ import annotations

import json

import pytest

from cds_hooks.draft_orders import selection_references
from cds_hooks.errors import RequestError
from cds_hooks.request import draft_order_references, parse_hook_request
from cds_hooks.service import HookRequest


@pytest.mark.parametrize(
    ("entry", "references"),
    [
        ({"resource": {"resourceType": "ServiceRequest", "id": "a"}}, {"ServiceRequest/a"}),
        (
            {
                "fullUrl": "https://ehr.example/fhir/ServiceRequest/abc",
                "resource": {"resourceType": "ServiceRequest"},
            },
            {"ServiceRequest/abc"},
        ),
        (
            {
                "fullUrl": "ServiceRequest/u",
                "resource": {"resourceType": "ServiceRequest", "id": "i"},
            },
            {"ServiceRequest/u", "ServiceRequest/i"},
        ),
        ({"fullUrl": "urn:uuid:5f6a", "resource": {"resourceType": "ServiceRequest"}}, set()),
        ({"resource": {"resourceType": "ServiceRequest", "id": 3}}, set()),
        (None, set()),
        ("ServiceRequest/a", set()),
    ],
)
def test_selection_references_of_one_entry(entry: object, references: set[str]) -> None:
    assert selection_references(entry) == references


def test_draft_order_references_are_the_union_over_entries() -> None:
    draft = {
        "resourceType": "Bundle",
        "entry": [
            {"fullUrl": "https://ehr.example/fhir/ServiceRequest/x", "resource": {}},
            {"resource": {"resourceType": "MedicationRequest", "id": "m"}},
            "junk",
        ],
    }
    assert draft_order_references(draft) == {"ServiceRequest/x", "MedicationRequest/m"}
    assert draft_order_references({"entry": "x"}) == set()


# --- selections is OPTIONAL on order-select --------------------------------------------


def order_select_body(**context: object) -> bytes:
    body = {
        "hook": "order-select",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {
            "userId": "Practitioner/1",
            "patientId": "p1",
            "draftOrders": {
                "resourceType": "Bundle",
                "entry": [{"resource": {"resourceType": "ServiceRequest", "id": "sr1"}}],
            },
            **context,
        },
    }
    return json.dumps(body).encode()


def test_order_select_without_selections_is_accepted() -> None:
    request = parse_hook_request("svc", "order-select", order_select_body())
    assert "selections" not in request.context


@pytest.mark.parametrize(
    ("selections", "expected"),
    [
        ("ServiceRequest/sr1", "must be an array"),
        ([1], "must be an array"),
        (["ServiceRequest/nope"], "'ServiceRequest/nope'"),
    ],
)
def test_selections_present_must_be_valid(selections: object, expected: str) -> None:
    with pytest.raises(RequestError) as error:
        parse_hook_request("svc", "order-select", order_select_body(selections=selections))
    assert expected in error.value.message


def test_null_selections_are_absent_selections_every_draft_order_in_scope() -> None:
    """The OpenAPI document says an optional field may be null (read as absent): null
    selections select nothing away, as an absent `selections` does."""
    request = parse_hook_request("svc", "order-select", order_select_body(selections=None))
    assert [r["id"] for r in request.orders_in_scope("ServiceRequest")] == ["sr1"]


def test_selections_on_order_sign_are_type_checked_and_select_nothing_away() -> None:
    body = json.loads(order_select_body(selections=["ServiceRequest/other"]))
    body["hook"] = "order-sign"
    request = parse_hook_request("svc", "order-sign", json.dumps(body).encode())
    assert [r["id"] for r in request.orders_in_scope("ServiceRequest")] == ["sr1"]
    body["context"]["selections"] = 5
    with pytest.raises(RequestError, match="must be an array"):
        parse_hook_request("svc", "order-sign", json.dumps(body).encode())


def test_empty_selections_are_valid() -> None:
    request = parse_hook_request("svc", "order-select", order_select_body(selections=[]))
    assert request.context["selections"] == []


def hook_call(hook: str, selections: list[str] | None) -> HookRequest:
    entries = [
        {"resource": {"resourceType": "ServiceRequest", "id": "sr-1"}},
        {"resource": {"resourceType": "ServiceRequest", "id": "sr-2"}},
        {"resource": {"resourceType": "MedicationRequest", "id": "mr-1"}},
    ]
    context: dict = {"patientId": "p", "draftOrders": {"resourceType": "Bundle", "entry": entries}}
    if selections is not None:
        context["selections"] = selections
    return HookRequest("svc", hook, "h", context, {})


@pytest.mark.parametrize(
    ("hook", "selections", "service_requests", "medication_requests"),
    [
        ("order-select", ["ServiceRequest/sr-2"], ["sr-2"], []),
        ("order-select", ["MedicationRequest/mr-1"], [], ["mr-1"]),
        ("order-select", None, ["sr-1", "sr-2"], ["mr-1"]),  # selections is optional
        ("order-sign", ["ServiceRequest/sr-2"], ["sr-1", "sr-2"], ["mr-1"]),  # every draft
        ("patient-view", None, [], []),
    ],
)
def test_the_orders_in_scope_are_the_protocol_s_decision(
    hook: str,
    selections: list[str] | None,
    service_requests: list[str],
    medication_requests: list[str],
) -> None:
    request = hook_call(hook, selections)
    assert [o["id"] for o in request.orders_in_scope("ServiceRequest")] == service_requests
    assert [o["id"] for o in request.orders_in_scope("MedicationRequest")] == medication_requests


def test_the_scope_is_computed_once_per_call() -> None:
    request = hook_call("order-select", ["ServiceRequest/sr-1"])
    first = request.orders_in_scope("ServiceRequest")
    assert request.orders_in_scope("ServiceRequest") is first
