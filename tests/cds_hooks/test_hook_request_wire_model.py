"""The hook call's OpenAPI schema is generated from the classes the parser builds (one wire
model). On the bodies below (the sandbox's recorded calls, the hooks' minimal calls, nulls where
a field is optional, and each kind of structural error): what the parser accepts, the served
schema accepts, and what the schema refuses, the parser refuses. What a schema cannot say (the
context each hook needs) is in its description."""

from __future__ import annotations

import copy
import json
from dataclasses import fields
from typing import Any

import jsonschema_rs
import pytest
from support.fhir_builders import collection, searchset
from support.json_edit import DELETE, edited
from support.shared_data import shared_path

from cds_hooks.errors import RequestError
from cds_hooks.openapi import openapi_document
from cds_hooks.request import ContextBundle, HookCall, HookContext, parse_hook_request
from cds_hooks.service import FhirAuthorization

DOCUMENT = openapi_document(["svc"])
TRAFFIC = shared_path("cds-hooks", "sandbox-traffic")
AUTH = {
    "access_token": "tok-123",
    "token_type": "Bearer",
    "expires_in": 300,
    "scope": "patient/*.read",
    "subject": "cds-service",
}


def json_schema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable` said in JSON Schema (which the validator reads)."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: json_schema(value) for key, value in node.items() if key != "nullable"}
    if not node.get("nullable"):
        return out
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    if "type" in out:
        out["type"] = [out["type"], "null"]
        return out
    return {"anyOf": [out, {"type": "null"}]}


def schema_errors(body: Any) -> list[str]:
    schema = {
        "$ref": "#/components/schemas/HookRequest",
        "components": json_schema(DOCUMENT["components"]),
    }
    return [str(e) for e in jsonschema_rs.Draft4Validator(schema).iter_errors(body)]


def parser_accepts(body: dict[str, Any]) -> bool:
    try:
        parse_hook_request(
            "svc",
            body["hook"] if isinstance(body.get("hook"), str) else "order-select",
            json.dumps(body).encode(),
        )
    except RequestError:
        return False
    return True


def minimal_calls() -> list[dict[str, Any]]:
    order = {"resourceType": "ServiceRequest", "id": "sr1"}
    appointment = {"resourceType": "Appointment", "id": "a1", "status": "proposed"}
    base = {"hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"}
    return [
        base
        | {
            "hook": "order-select",
            "context": {"patientId": "p1", "draftOrders": collection(order)},
        },
        base
        | {
            "hook": "order-select",
            "fhirServer": "https://ehr.example/fhir",
            "fhirAuthorization": AUTH,
            "context": {
                "patientId": "p1",
                "userId": "Practitioner/1",
                "selections": ["ServiceRequest/sr1"],
                "draftOrders": collection(order),
            },
            "prefetch": {"patient": None, "labs": searchset()},
        },
        base | {"hook": "order-sign", "context": {"patientId": "p1", "draftOrders": {"entry": []}}},
        base | {"hook": "patient-view", "context": {"patientId": "p1", "encounterId": "e1"}},
        base
        | {
            "hook": "appointment-book",
            "context": {"patientId": "p1", "appointments": collection(appointment)},
        },
    ]


def with_nulls() -> list[dict[str, Any]]:
    """Optional fields sent as null: read as absent by the parser, `nullable` in the schema."""
    select = copy.deepcopy(minimal_calls()[1])
    select["context"] |= {"userId": None, "encounterId": None, "selections": None}
    select["fhirAuthorization"]["patient"] = None
    select["prefetch"] = None
    bare = copy.deepcopy(minimal_calls()[0])
    bare |= {"fhirServer": None, "fhirAuthorization": None}
    bare["context"]["draftOrders"]["entry"] = None
    view = copy.deepcopy(minimal_calls()[3])
    view["context"] |= {"draftOrders": None, "appointments": None}
    return [select, bare, view]


def recorded_calls() -> list[dict[str, Any]]:
    bodies = [
        json.loads(p.read_text(encoding="utf-8"))["body"] for p in sorted(TRAFFIC.glob("*.json"))
    ]
    return [b for b in bodies if isinstance(b, dict) and "hookInstance" in b]


def test_the_recordings_hold_hook_calls() -> None:
    assert len(recorded_calls()) >= 4


@pytest.mark.parametrize(
    "body", [*minimal_calls(), *with_nulls(), *recorded_calls()], ids=lambda b: b["hook"]
)
def test_a_call_the_parser_accepts_is_valid_for_the_served_schema(body: dict[str, Any]) -> None:
    assert parser_accepts(body)
    assert schema_errors(body) == []


def changed(path: str, value: Any) -> dict[str, Any]:
    return edited(minimal_calls()[1], path, value)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("hook", DELETE),
        ("hook", 3),
        ("hook", " "),
        ("hookInstance", DELETE),
        ("hookInstance", None),
        ("hookInstance", "h" * 201),
        ("context", DELETE),
        ("context", []),
        ("context.patientId", DELETE),
        ("context.patientId", "p" * 201),
        ("context.patientId", "  "),
        ("context.userId", 3),
        ("context.encounterId", ["e1"]),
        ("context.draftOrders", [1]),
        ("context.draftOrders.entry", {}),
        ("context.draftOrders.entry", [1]),
        ("context.draftOrders.resourceType", "Parameters"),
        ("context.selections", "ServiceRequest/sr1"),
        ("context.selections", [1]),
        ("prefetch", []),
        ("fhirServer", 12),
        ("fhirServer", " "),
        ("fhirAuthorization", "token"),
        ("fhirAuthorization.access_token", DELETE),
        ("fhirAuthorization.access_token", " "),
        ("fhirAuthorization.token_type", "MAC"),
        ("fhirAuthorization.expires_in", "300"),
        ("fhirAuthorization.expires_in", True),
        ("fhirAuthorization.expires_in", -1),
        ("fhirAuthorization.scope", DELETE),
        ("fhirAuthorization.subject", DELETE),
        ("fhirAuthorization.patient", 7),
    ],
)
def test_what_the_schema_refuses_the_parser_refuses(path: str, value: Any) -> None:
    body = changed(path, value)
    assert schema_errors(body), "the served schema accepts it"
    assert not parser_accepts(body), "the parser accepts it"


@pytest.mark.parametrize(
    ("hook_index", "name", "value"),
    [
        (3, "draftOrders", 5),  # patient-view: not read, still type-checked
        (3, "appointments", [1]),
        (3, "selections", "ServiceRequest/sr1"),
        (2, "selections", 5),  # order-sign
    ],
)
def test_a_context_field_of_another_hook_is_type_checked(
    hook_index: int, name: str, value: Any
) -> None:
    body = copy.deepcopy(minimal_calls()[hook_index])
    body["context"][name] = value
    assert schema_errors(body), "the served schema accepts it"
    assert not parser_accepts(body), "the parser accepts it"


def test_token_type_is_case_insensitive_in_both() -> None:
    body = changed("fhirAuthorization.token_type", "bearer")
    assert parser_accepts(body)
    assert schema_errors(body) == []


@pytest.mark.parametrize("wire_class", [HookCall, HookContext, ContextBundle, FhirAuthorization])
def test_each_field_is_a_schema_property(wire_class: type) -> None:
    name = "HookRequest" if wire_class is HookCall else wire_class.__name__
    properties = DOCUMENT["components"]["schemas"][name]["properties"]
    camel = {
        "".join(w.capitalize() if i else w for i, w in enumerate(f.name.split("_")))
        for f in fields(wire_class)
    }
    if wire_class is FhirAuthorization:  # OAuth 2.0 names, snake case on the wire
        camel = {f.name for f in fields(wire_class)}
    assert set(properties) == camel


def test_the_security_scheme_names_the_configured_algorithms() -> None:
    scheme = openapi_document(["svc"], client_algorithms=("ES256",))["components"]
    description = scheme["securitySchemes"]["cdsClientJwt"]["description"]
    assert "ES256" in description and "RS384" not in description
    off = DOCUMENT["components"]["securitySchemes"]["cdsClientJwt"]["description"]
    assert "does not check" in off
