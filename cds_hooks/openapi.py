"""The OpenAPI 3 document of the service's own HTTP endpoints, served at `GET /openapi.json`.

It describes what the service really answers (checked by schemathesis against the live
service in tests/reliability): discovery, service calls and feedback (this package), and the
operations routes `/healthz`, `/readyz`, `/metrics` (served by `service.observability`).
Every error is a FHIR OperationOutcome (`application/fhir+json`); a refused client is a 401 with
`WWW-Authenticate: Bearer`. Schemas follow CDS Hooks 2.0 (https://cds-hooks.hl7.org/2.0/).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from cds_hooks.cards import WIRE_CLASSES, CdsResponse
from cds_hooks.discovery import Discovery
from cds_hooks.feedback import FeedbackRequest
from cds_hooks.request import HookCall

FHIR_JSON = "application/fhir+json"
JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _outcome(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {FHIR_JSON: {"schema": _ref("OperationOutcome")}},
    }


_UNAUTHORIZED = {
    "description": "No valid client JWT (CDS Hooks 'Trusting CDS Clients'); no detail given.",
    "headers": {
        "WWW-Authenticate": {
            "description": '`Bearer`; `Bearer error="invalid_token"` when a token was sent '
            "and refused (RFC 6750 3.1).",
            "required": True,
            "schema": {"type": "string", "pattern": "^Bearer"},
        }
    },
    "content": {FHIR_JSON: {"schema": _ref("OperationOutcome")}},
}
_TOO_LARGE = _outcome("The request body is larger than `server.max_request_bytes`.")
_UNSUPPORTED_TYPE = _outcome("The body is not `application/json` (or another `+json` type).")


def _non_empty_string() -> dict[str, Any]:
    return {"type": "string", "minLength": 1}


# What the parser checks beyond the generated schema (cds_hooks/request.py).
_HOOK_CALL_CHECKS = (
    "A CDS Hooks call. Context by hook (checked by the parser): order-select and order-sign "
    "need `draftOrders` (a Bundle; `selections`, optional on order-select, name its orders); "
    "appointment-book needs `appointments` (a Bundle with its `resourceType`); `fhirServer` is "
    "required when `fhirAuthorization` is given; `hook` is the hook of the service called."
)


def wire_schemas(
    *types: type,
    name: str | None = None,
    description: str | None = None,
    nullable: bool = False,
) -> dict[str, Any]:
    """Component schemas generated from the wire model classes (and every class they use), in
    the OpenAPI 3.0 dialect: `to_json` omits a field rather than writing null, so the null
    branches pydantic adds to optional fields are left out (`nullable`, for what clients send:
    an optional field may be null, read as absent), as are its titles and defaults; a field
    with a default that `to_json` always writes (`ALWAYS_WRITTEN`) is required."""
    schemas: dict[str, Any] = {}
    for wire_type in types:
        generated = TypeAdapter(wire_type).json_schema(
            mode="serialization", ref_template="#/components/schemas/{model}"
        )
        schemas.update(generated.pop("$defs", {}))
        if description:
            generated["description"] = description
        schemas[name or wire_type.__name__] = generated
    out = {name: _openapi_3_0(schema, nullable) for name, schema in schemas.items()}
    for name, schema in out.items():
        written = getattr(WIRE_CLASSES.get(name), "ALWAYS_WRITTEN", ())
        if written:
            schema["required"] = [*schema.get("required", []), *written]
    return out


def _openapi_3_0(schema: Any, nullable: bool = False) -> Any:
    if isinstance(schema, list):
        return [_openapi_3_0(item, nullable) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        key: (
            {name: _openapi_3_0(prop, nullable) for name, prop in value.items()}  # names
            if key == "properties"
            else _openapi_3_0(value, nullable)
        )
        for key, value in schema.items()
        if key not in ("title", "default")
    }
    if "const" in out:  # OpenAPI 3.0 has no `const`
        out["enum"] = [out.pop("const")]
    branches = [b for b in out.get("anyOf", ()) if b != {"type": "null"}]
    if nullable and len(branches) < len(out.get("anyOf", ())):
        out["nullable"] = True
    if "anyOf" in out and len(branches) == 1:
        del out["anyOf"]
        (only,) = branches
        if "$ref" in only and out:  # OpenAPI 3.0: no sibling keywords beside a $ref
            return {"allOf": [only], **out}
        out.update(only)
    elif "anyOf" in out:
        out["anyOf"] = branches
    return out


def _schemas() -> dict[str, Any]:
    return {
        **wire_schemas(CdsResponse, FeedbackRequest, Discovery),
        **wire_schemas(HookCall, name="HookRequest", description=_HOOK_CALL_CHECKS, nullable=True),
        "OperationOutcome": {
            "type": "object",
            "required": ["resourceType", "issue"],
            "properties": {
                "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
                "issue": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["severity", "code"],
                        "properties": {
                            "severity": {
                                "type": "string",
                                "enum": ["fatal", "error", "warning", "information"],
                            },
                            "code": _non_empty_string(),
                            "diagnostics": {"type": "string"},
                        },
                    },
                },
            },
        },
        "Status": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string"}, "reason": {"type": "string"}},
        },
        "FeedbackStored": {
            "type": "object",
            "required": ["status", "items"],
            "properties": {
                "status": {"type": "string", "enum": ["stored"]},
                "items": {"type": "integer", "minimum": 0},
            },
        },
    }


def openapi_document(
    service_ids: Sequence[str],
    *,
    title: str = "CDS Hooks service",
    version: str = "0",
    client_algorithms: Sequence[str] = (),
) -> dict[str, Any]:
    """The OpenAPI 3.0 document; `service_ids` are the ids listed by discovery,
    `client_algorithms` the JWT algorithms the deployment accepts (none: it asks for no JWT)."""
    signed_by = (
        f"A JWT signed by the CDS Client ({' or '.join(client_algorithms)}), "
        "`aud` = the URL called."
        if client_algorithms
        else "A JWT of the CDS Client: this deployment does not check it (authentication off)."
    )
    service_id = {
        "name": "service_id",
        "in": "path",
        "required": True,
        "description": "A service id from discovery; any other id is a 404.",
        "schema": {"type": "string", "enum": list(service_ids)}
        if service_ids
        else {"type": "string"},
    }
    bearer = [{"cdsClientJwt": []}]
    json_body = {"schema": {"type": "object"}}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": title,
            "version": version,
            "description": "CDS Hooks 2.0 service. Errors are FHIR R4 OperationOutcome resources.",
        },
        "paths": {
            "/cds-services": {
                "get": {
                    "operationId": "discovery",
                    "summary": "CDS Hooks discovery: the services and their prefetch templates.",
                    "security": bearer,
                    "responses": {
                        "200": {
                            "description": "The services.",
                            "content": {JSON: {"schema": _ref("Discovery")}},
                        },
                        "401": _UNAUTHORIZED,
                    },
                }
            },
            "/cds-services/{service_id}": {
                "post": {
                    "operationId": "callService",
                    "summary": "Call a service on its hook: cards in answer.",
                    "security": bearer,
                    "parameters": [service_id],
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": _ref("HookRequest")}},
                    },
                    "responses": {
                        "200": {
                            "description": "The cards (possibly none). With an order in scope "
                            "and no patient data obtainable, a critical card says that no "
                            "check could run (never an empty 412).",
                            "content": {JSON: {"schema": _ref("CdsResponse")}},
                        },
                        "400": _outcome("The request is not a valid CDS Hooks call."),
                        "401": _UNAUTHORIZED,
                        "404": _outcome("No service with this id."),
                        "413": _TOO_LARGE,
                        "415": _UNSUPPORTED_TYPE,
                    },
                }
            },
            "/cds-services/{service_id}/feedback": {
                "post": {
                    "operationId": "feedback",
                    "summary": "What the clinician did with cards (stored before the 200).",
                    "security": bearer,
                    "parameters": [service_id],
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": _ref("FeedbackRequest")}},
                    },
                    "responses": {
                        "200": {
                            "description": "Every item stored (an item sent again: once).",
                            "content": {JSON: {"schema": _ref("FeedbackStored")}},
                        },
                        "400": _outcome("The body is not a valid feedback request."),
                        "401": _UNAUTHORIZED,
                        "404": _outcome("No service with this id."),
                        "413": _TOO_LARGE,
                        "415": _UNSUPPORTED_TYPE,
                        "503": {
                            **_outcome("The store is down: nothing stored, send it again."),
                            "headers": {
                                "Retry-After": {
                                    "description": "Seconds to wait before sending it again.",
                                    "required": True,
                                    "schema": {"type": "integer", "minimum": 1},
                                }
                            },
                        },
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Alive: the process answers.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Alive.",
                            "content": {JSON: {"schema": _ref("Status")}},
                        }
                    },
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Ready: the store answers.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Ready.",
                            "content": {JSON: {"schema": _ref("Status")}},
                        },
                        "503": {
                            "description": "The store is unreachable.",
                            "content": {JSON: {"schema": _ref("Status")}},
                        },
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (text exposition format).",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The metrics of every worker.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document (no authentication: it holds no data).",
                    "security": [],
                    "responses": {
                        "200": {"description": "OpenAPI 3 document.", "content": {JSON: json_body}}
                    },
                }
            },
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "cdsClientJwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": signed_by,
                }
            },
        },
    }
