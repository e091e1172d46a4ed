"""parse_hook_request: strict on what the spec requires, lenient on what it allows."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from support.json_edit import DELETE, edited

from cds_hooks.errors import RequestError
from cds_hooks.json_body import MAX_JSON_DEPTH, parse_json_object
from cds_hooks.request import parse_hook_request

AUTH = {
    "access_token": "tok-123",
    "token_type": "Bearer",
    "expires_in": 300,
    "scope": "patient/*.read",
    "subject": "cds-service",
}


def select_body() -> dict[str, Any]:
    return {
        "hook": "order-select",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "fhirServer": "https://ehr.example/fhir",
        "fhirAuthorization": dict(AUTH),
        "context": {
            "userId": "Practitioner/1",
            "patientId": "p1",
            "selections": ["ServiceRequest/sr1"],
            "draftOrders": {
                "resourceType": "Bundle",
                "entry": [
                    {"resource": {"resourceType": "ServiceRequest", "id": "sr1"}},
                    {"resource": {"resourceType": "MedicationRequest", "id": "mr1"}},
                ],
            },
        },
        "prefetch": {"patient": None},
    }


def parse(body: Any, hook: str = "order-select") -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_hook_request("svc", hook, data)


def test_valid_request_is_parsed() -> None:
    request = parse(select_body())
    assert request.hook == "order-select"
    assert request.patient_id == "p1"
    assert request.fhir_server == "https://ehr.example/fhir"
    assert request.fhir_authorization is not None
    assert request.fhir_authorization.access_token == "tok-123"
    assert "tok-123" not in repr(request)
    assert request.prefetch == {"patient": None}


def test_lenient_on_what_the_spec_allows() -> None:
    body = select_body()
    body["extension"] = {"com.example.x": {"a": 1}}
    body["unknownField"] = [1, 2]
    body["context"]["draftOrders"].pop("resourceType", None)  # no type, no resourceType
    body["context"]["draftOrders"]["entry"].append({"resource": {"resourceType": "FutureThing"}})
    body["context"]["draftOrders"]["entry"].append({"fullUrl": "urn:uuid:1"})
    body["context"]["extension"] = {"com.example": True}
    del body["prefetch"]
    del body["fhirAuthorization"]
    request = parse(body)
    assert request.prefetch == {}
    assert request.fhir_authorization is None


def test_selection_matched_by_full_url() -> None:
    body = select_body()
    body["context"]["draftOrders"]["entry"] = [
        {"fullUrl": "https://ehr.example/fhir/ServiceRequest/sr1", "resource": {"status": "draft"}}
    ]
    assert parse(body).context["selections"] == ["ServiceRequest/sr1"]


def mutate(path: str, value: Any) -> dict[str, Any]:
    return edited(select_body(), path, value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (b'"text"', "JSON object"),
        (b"\xff\xfe{}", "UTF-8"),
        (b'{"hook": NaN}', "not valid JSON"),
        (mutate("hook", DELETE), "'hook'"),
        (mutate("hook", 3), "'hook'"),
        (mutate("hook", " "), "'hook'"),
        (mutate("hookInstance", DELETE), "'hookInstance'"),
        (mutate("hookInstance", None), "'hookInstance'"),
        (mutate("context", DELETE), "'context'"),
        (mutate("context", []), "'context'"),
        (mutate("hook", "order-sign"), "not 'order-sign'"),
        (mutate("prefetch", []), "'prefetch'"),
        (mutate("fhirServer", 12), "'fhirServer'"),
        (mutate("fhirServer", DELETE), "'fhirServer' is required"),
        (mutate("fhirAuthorization", "token"), "'fhirAuthorization'"),
        (mutate("fhirAuthorization.access_token", DELETE), "access_token"),
        (mutate("fhirAuthorization.token_type", "MAC"), "token_type"),
        (mutate("fhirAuthorization.expires_in", "300"), "expires_in"),
        (mutate("fhirAuthorization.expires_in", True), "expires_in"),
        (mutate("fhirAuthorization.scope", DELETE), "scope"),
        (mutate("fhirAuthorization.subject", DELETE), "subject"),
        (mutate("context.patientId", DELETE), "patientId"),
        (mutate("context.draftOrders", DELETE), "draftOrders"),
        (mutate("context.draftOrders", [1]), "draftOrders"),
        (mutate("context.draftOrders.entry", {}), "entry"),
        (mutate("context.selections", "ServiceRequest/sr1"), "selections"),
        (mutate("context.selections", [1]), "selections"),
        (mutate("context.selections", ["ServiceRequest/nope"]), "'ServiceRequest/nope'"),
        # No identifier longer than a store column: refused here, never stored (a review saw a
        # 201-character hookInstance stall the audit trail on PostgreSQL).
        (mutate("hookInstance", "h" * 201), "hookInstance"),
        (mutate("context.patientId", "p" * 201), "patientId"),
    ],
)
def test_invalid_requests_name_the_problem(body: Any, expected: str) -> None:
    with pytest.raises(RequestError) as error:
        parse(body)
    assert expected in error.value.message
    assert "tok-123" not in error.value.message


def test_token_type_is_case_insensitive() -> None:
    body = mutate("fhirAuthorization.token_type", "bearer")
    auth = parse(body).fhir_authorization
    assert auth is not None and auth.token_type == "Bearer"


def test_deep_nesting_is_a_request_error_not_a_crash() -> None:
    deep = b'{"hook": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(RequestError, match="nested"):
        parse(deep)


def test_a_depth_bound_applies_where_asked() -> None:
    nested: Any = {}
    body = {"x": nested}
    for _ in range(MAX_JSON_DEPTH + 5):
        nested["a"] = {}
        nested = nested["a"]
    raw = json.dumps(body).encode()
    assert parse_json_object(raw)["x"]  # hook requests: the decoder's own bound only
    with pytest.raises(RequestError, match="nested deeper"):
        parse_json_object(raw, max_depth=MAX_JSON_DEPTH)


def test_order_sign_needs_no_selections() -> None:
    body = copy.deepcopy(select_body())
    body["hook"] = "order-sign"
    del body["context"]["selections"]
    assert parse(body, hook="order-sign").hook == "order-sign"


def test_byte_order_mark_is_ignored() -> None:
    assert parse(b"\xef\xbb\xbf" + json.dumps(select_body()).encode()).hook == "order-select"
