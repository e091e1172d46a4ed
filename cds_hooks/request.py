"""The hook call's wire model (the POST body of a CDS Hooks 2.0 service call) and its parser.

`HookCall.from_json` checks a client's JSON and says which field is wrong (a RequestError,
answered 400); the OpenAPI document's `HookRequest` schema is generated from the same classes
(cds_hooks/openapi.py). Strict on what the specification requires, lenient on everything it
allows: unknown fields, `extension` anywhere, minimal draft resources, unknown resource types, a
`draftOrders` Bundle without `type`. What the schema cannot say (the context each hook needs,
selections that name draft orders, `fhirServer` beside `fhirAuthorization`) is said in its
description and checked here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from cds_hooks.cards import NOT_BLANK
from cds_hooks.draft_orders import selection_references
from cds_hooks.errors import RequestError
from cds_hooks.json_body import parse_json_object
from cds_hooks.service import FhirAuthorization, HookRequest

# An identifier longer than this is no identifier (a FHIR id has at most 64 characters, a
# hookInstance is a UUID): refused at the door rather than stored, logged or audited.
MAX_IDENTIFIER_LENGTH = 200

HookName = Literal["order-select", "order-sign", "patient-view", "appointment-book"]
ORDER_HOOKS = ("order-select", "order-sign")
_WIRE = ConfigDict(extra="allow")  # a client may send more than the specification lists
Identifier = Annotated[
    str, Field(min_length=1, max_length=MAX_IDENTIFIER_LENGTH, pattern=NOT_BLANK)
]


@dataclass(frozen=True)
class ContextBundle:
    """`context.draftOrders` or `context.appointments`: a Bundle, read entry by entry."""

    __pydantic_config__ = _WIRE

    resource_type: Annotated[Literal["Bundle"] | None, Field(alias="resourceType")] = None
    entry: tuple[dict[str, Any], ...] | None = None

    @classmethod
    def from_json(cls, value: Any, where: str, hook: str, required: bool) -> ContextBundle:
        if not isinstance(value, dict):
            if required:
                raise RequestError(
                    f"'{where}' is required on {hook} and must be a Bundle.", "required"
                )
            raise RequestError(f"'{where}' must be a Bundle.")
        resource_type = value.get("resourceType")
        if resource_type is not None and resource_type != "Bundle":
            raise RequestError(f"'{where}' must be a Bundle, not {str(resource_type)[:40]!r}.")
        entries = value.get("entry")
        if entries is not None and not (
            isinstance(entries, list) and all(isinstance(e, dict) for e in entries)
        ):
            raise RequestError(f"'{where}.entry' must be an array of objects.")
        return cls(resource_type, None if entries is None else tuple(entries))


@dataclass(frozen=True)
class HookContext:
    """The context fields the service reads. The call keeps the context as sent besides: a
    prefetch template may name any of its fields (`{{context.X}}`)."""

    __pydantic_config__ = _WIRE

    patient_id: Annotated[Identifier, Field(alias="patientId")]
    user_id: Annotated[str | None, Field(alias="userId")] = None
    encounter_id: Annotated[str | None, Field(alias="encounterId")] = None
    # order-select: the draft orders the clinician selected ("Type/id"); optional.
    selections: tuple[str, ...] | None = None
    draft_orders: Annotated[ContextBundle | None, Field(alias="draftOrders")] = None
    appointments: ContextBundle | None = None

    @classmethod
    def from_json(cls, context: Mapping[str, Any], hook: str) -> HookContext:
        patient_id = context.get("patientId")
        if not isinstance(patient_id, str) or not patient_id.strip():
            raise RequestError(f"'context.patientId' is required on {hook}.", "required")
        if len(patient_id) > MAX_IDENTIFIER_LENGTH:
            raise RequestError(
                f"'context.patientId' is longer than {MAX_IDENTIFIER_LENGTH} characters.",
                "value",
            )
        for name in ("userId", "encounterId"):
            if context.get(name) is not None and not isinstance(context[name], str):
                raise RequestError(f"'context.{name}' must be a string.")
        # Read on the hooks that need them, type-checked wherever they are sent; null is absent.
        draft_orders = appointments = None
        if hook in ORDER_HOOKS or context.get("draftOrders") is not None:
            draft_orders = ContextBundle.from_json(
                context.get("draftOrders"), "context.draftOrders", hook, hook in ORDER_HOOKS
            )
        booking = hook == "appointment-book"  # CDS Hooks library, appointment-book 1.0
        if booking or context.get("appointments") is not None:
            appointments = ContextBundle.from_json(
                context.get("appointments"), "context.appointments", hook, booking
            )
            if booking and appointments.resource_type is None:
                raise RequestError(
                    f"'context.appointments' is required on {hook} and must be a Bundle.",
                    "required",
                )
        selections = context.get("selections")
        if selections is not None:
            if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
                raise RequestError("'context.selections' must be an array of 'Type/id' strings.")
            # Optional on order-select (CDS Hooks library): without it, every draft order is in
            # scope, as on order-sign (whose scope is every draft order, whatever it names).
            if hook == "order-select":
                _check_selected(selections, context["draftOrders"])
            selections = tuple(selections)
        return cls(
            patient_id=patient_id,
            user_id=context.get("userId"),
            encounter_id=context.get("encounterId"),
            selections=selections,
            draft_orders=draft_orders,
            appointments=appointments,
        )


@dataclass(frozen=True)
class HookCall:
    """A CDS Hooks service call as the client sends it."""

    __pydantic_config__ = _WIRE

    hook: HookName
    hook_instance: Annotated[Identifier, Field(alias="hookInstance")]
    context: HookContext
    fhir_server: Annotated[
        str | None,
        Field(alias="fhirServer", pattern=NOT_BLANK, json_schema_extra={"format": "uri"}),
    ] = None
    fhir_authorization: Annotated[FhirAuthorization | None, Field(alias="fhirAuthorization")] = None
    # Key → the resource or search Bundle the client prefetched (null: the data is empty); a
    # value of another shape is that key's data unavailable, not a refused call.
    prefetch: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], expected_hook: str, service_id: str) -> HookCall:
        hook = _identifier(raw, "hook")
        hook_instance = _identifier(raw, "hookInstance")
        if hook != expected_hook:
            raise RequestError(
                f"Service '{service_id}' is invoked on hook '{expected_hook}', not '{hook}'.",
                "not-supported",
            )
        context = raw.get("context")
        if not isinstance(context, dict):
            raise RequestError("'context' is required and must be a JSON object.", "required")
        fhir_server = raw.get("fhirServer")
        if fhir_server is not None and (
            not isinstance(fhir_server, str) or not fhir_server.strip()
        ):
            raise RequestError("'fhirServer' must be a non-empty URL string.")
        fhir_authorization = _fhir_authorization(raw.get("fhirAuthorization"))
        if fhir_authorization is not None and fhir_server is None:
            raise RequestError(
                "'fhirServer' is required when 'fhirAuthorization' is given.", "required"
            )
        prefetch = raw.get("prefetch")
        if prefetch is not None and not isinstance(prefetch, dict):
            raise RequestError("'prefetch' must be a JSON object.")
        return cls(
            hook=hook,  # type: ignore[arg-type]  # the service's own hook, one of HookName
            hook_instance=hook_instance,
            context=HookContext.from_json(context, hook),
            fhir_server=fhir_server.strip() if fhir_server else None,
            fhir_authorization=fhir_authorization,
            prefetch=prefetch,
        )


def parse_hook_request(service_id: str, expected_hook: str, body: bytes) -> HookRequest:
    """The checked call, for the service. It keeps the context as sent, not `HookContext`: a
    prefetch template may name any context field, and the draft orders are read as raw JSON
    (a draft is incomplete by nature; see HookRequest.orders_in_scope)."""
    raw = parse_json_object(body)
    call = HookCall.from_json(raw, expected_hook, service_id)
    return HookRequest(
        service_id=service_id,
        hook=call.hook,
        hook_instance=call.hook_instance,
        context=raw["context"],
        prefetch=call.prefetch or {},
        fhir_server=call.fhir_server,
        fhir_authorization=call.fhir_authorization,
    )


def draft_order_references(draft_orders: Mapping[str, Any]) -> set[str]:
    """The "Type/id" of every resource in a draftOrders Bundle (entries without one skipped)."""
    references: set[str] = set()
    entries = draft_orders.get("entry")
    if not isinstance(entries, list):
        return references
    for entry in entries:
        references |= selection_references(entry)
    return references


def _check_selected(selections: list[str], draft_orders: Mapping[str, Any]) -> None:
    known = draft_order_references(draft_orders)
    missing = [s for s in selections if s not in known]
    if missing:
        shown = ", ".join(repr(s[:100]) for s in missing[:5])
        raise RequestError(
            f"'context.selections' names orders absent from 'context.draftOrders': {shown}."
        )


def _fhir_authorization(value: Any) -> FhirAuthorization | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RequestError("'fhirAuthorization' must be a JSON object.")
    access_token = value.get("access_token")
    if not isinstance(access_token, str) or not access_token.strip():
        raise RequestError("'fhirAuthorization.access_token' is required (a string).", "required")
    token_type = value.get("token_type")
    # OAuth 2.0 token types are case-insensitive (RFC 6749 section 5.1).
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise RequestError("'fhirAuthorization.token_type' must be 'Bearer'.")
    expires_in = value.get("expires_in")
    if isinstance(expires_in, float) and expires_in.is_integer():
        expires_in = int(expires_in)
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in < 0:
        raise RequestError(
            "'fhirAuthorization.expires_in' is required (a non-negative integer).", "required"
        )
    patient = value.get("patient")
    if patient is not None and not isinstance(patient, str):
        raise RequestError("'fhirAuthorization.patient' must be a string.")
    return FhirAuthorization(
        access_token=access_token.strip(),
        token_type="Bearer",
        expires_in=expires_in,
        scope=_auth_string(value, "scope"),
        subject=_auth_string(value, "subject"),
        patient=patient or None,
    )


def _auth_string(value: Mapping[str, Any], name: str) -> str:
    field_value = value.get(name)
    if not isinstance(field_value, str) or not field_value.strip():
        raise RequestError(f"'fhirAuthorization.{name}' is required (a string).", "required")
    return field_value


def _identifier(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"'{name}' is required and must be a non-empty string.", "required")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise RequestError(f"'{name}' is longer than {MAX_IDENTIFIER_LENGTH} characters.", "value")
    return value
