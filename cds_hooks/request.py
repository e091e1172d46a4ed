"""Parse and validate a CDS Hooks 2.0 service call (the POST body) into a `HookRequest`.

Strict on what the specification requires (a clear `RequestError` naming the field), lenient
on everything it allows: unknown fields, `extension` anywhere, minimal draft resources, unknown
resource types, a `draftOrders` Bundle without `type`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import orjson

from cds_hooks.draft_orders import selection_references
from cds_hooks.errors import RequestError
from cds_hooks.service import FhirAuthorization, HookRequest

# Deeper than any FHIR resource a client sends; bounds the recursion of whoever walks the data.
MAX_JSON_DEPTH = 100

ORDER_HOOKS = ("order-select", "order-sign")
PATIENT_VIEW = "patient-view"
APPOINTMENT_BOOK = "appointment-book"


def parse_json_object(
    body: bytes, what: str = "request body", max_depth: int | None = None
) -> dict[str, Any]:
    """Decode a UTF-8 JSON object; any other input is a `RequestError`, never a crash.

    Nesting is bounded by the decoder itself (a RecursionError past Python's recursion limit).
    `max_depth` adds a tighter bound for bodies that are serialised again (feedback is stored as
    canonical JSON); a hook request is not walked: at ~180 KB that walk cost a quarter of a
    typical request, and nothing recurses over a request's arbitrary parts.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(f"The {what} is not UTF-8.", "structure") from None
    text = text.removeprefix("\ufeff")  # RFC 8259 lets a parser ignore a byte order mark
    if not text.strip():
        raise RequestError(f"The {what} is empty; a JSON object is required.", "structure")
    try:
        value = _decode(body, text)
    except _NumberOutOfRange:
        raise RequestError(
            f"The {what} holds a number out of the range of a double (IEEE 754).", "value"
        ) from None
    except RecursionError:
        raise RequestError(f"The {what} is nested too deeply.", "structure") from None
    except ValueError as exc:
        # JSONDecodeError's message is position information only, never input text.
        detail = f": {exc}" if isinstance(exc, json.JSONDecodeError) else ""
        raise RequestError(f"The {what} is not valid JSON{detail}.", "structure") from None
    if not isinstance(value, dict):
        raise RequestError(f"The {what} must be a JSON object.", "structure")
    if max_depth is not None and _depth_exceeds(value, max_depth):
        raise RequestError(f"The {what} is nested deeper than {max_depth} levels.", "structure")
    return value


def parse_hook_request(service_id: str, expected_hook: str, body: bytes) -> HookRequest:
    raw = parse_json_object(body)

    hook = _required_string(raw, "hook")
    hook_instance = _required_string(raw, "hookInstance")
    if hook != expected_hook:
        raise RequestError(
            f"Service '{service_id}' is invoked on hook '{expected_hook}', not '{hook}'.",
            "not-supported",
        )
    context = raw.get("context")
    if not isinstance(context, dict):
        raise RequestError("'context' is required and must be a JSON object.", "required")

    fhir_server = raw.get("fhirServer")
    if fhir_server is not None and (not isinstance(fhir_server, str) or not fhir_server.strip()):
        raise RequestError("'fhirServer' must be a non-empty URL string.")
    fhir_authorization = _fhir_authorization(raw.get("fhirAuthorization"))
    if fhir_authorization is not None and fhir_server is None:
        raise RequestError(
            "'fhirServer' is required when 'fhirAuthorization' is given.", "required"
        )

    prefetch = raw.get("prefetch")
    if prefetch is None:
        prefetch = {}
    elif not isinstance(prefetch, dict):
        raise RequestError("'prefetch' must be a JSON object.")

    if hook in ORDER_HOOKS:
        _check_order_context(hook, context)
    elif hook == PATIENT_VIEW:
        _required_patient_id(hook, context)
    elif hook == APPOINTMENT_BOOK:
        _check_appointment_context(hook, context)

    return HookRequest(
        service_id=service_id,
        hook=hook,
        hook_instance=hook_instance,
        context=context,
        prefetch=prefetch,
        fhir_server=fhir_server.strip() if fhir_server else None,
        fhir_authorization=fhir_authorization,
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


def _required_patient_id(hook: str, context: Mapping[str, Any]) -> None:
    patient_id = context.get("patientId")
    if not isinstance(patient_id, str) or not patient_id.strip():
        raise RequestError(f"'context.patientId' is required on {hook}.", "required")
    if len(patient_id) > MAX_IDENTIFIER_LENGTH:
        raise RequestError(
            f"'context.patientId' is longer than {MAX_IDENTIFIER_LENGTH} characters.", "value"
        )


def _check_appointment_context(hook: str, context: Mapping[str, Any]) -> None:
    """appointment-book: `patientId` and the `appointments` Bundle are required (CDS Hooks
    library, appointment-book 1.0)."""
    _required_patient_id(hook, context)
    appointments = context.get("appointments")
    if not isinstance(appointments, dict) or appointments.get("resourceType") != "Bundle":
        raise RequestError(
            f"'context.appointments' is required on {hook} and must be a Bundle.", "required"
        )
    entries = appointments.get("entry")
    if entries is not None and not isinstance(entries, list):
        raise RequestError("'context.appointments.entry' must be an array.")


def _check_order_context(hook: str, context: Mapping[str, Any]) -> None:
    _required_patient_id(hook, context)
    draft_orders = context.get("draftOrders")
    if not isinstance(draft_orders, dict):
        raise RequestError(
            f"'context.draftOrders' is required on {hook} and must be a Bundle.", "required"
        )
    entries = draft_orders.get("entry")
    if entries is not None and not isinstance(entries, list):
        raise RequestError("'context.draftOrders.entry' must be an array.")
    if hook != "order-select" or "selections" not in context:
        # selections is OPTIONAL on order-select (CDS Hooks library): without it, every draft
        # order is in scope, as on order-sign, so nothing is silently skipped.
        return
    selections = context["selections"]
    if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
        raise RequestError("'context.selections' must be an array of 'Type/id' strings.")
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
    scope = _auth_string(value, "scope")
    subject = _auth_string(value, "subject")
    patient = value.get("patient")
    if patient is not None and not isinstance(patient, str):
        raise RequestError("'fhirAuthorization.patient' must be a string.")
    return FhirAuthorization(
        access_token=access_token.strip(),
        token_type="Bearer",
        expires_in=expires_in,
        scope=scope,
        subject=subject,
        patient=patient or None,
    )


def _auth_string(value: Mapping[str, Any], name: str) -> str:
    field_value = value.get(name)
    if not isinstance(field_value, str) or not field_value.strip():
        raise RequestError(f"'fhirAuthorization.{name}' is required (a string).", "required")
    return field_value


# An identifier longer than this is no identifier (a FHIR id has at most 64 characters, a
# hookInstance is a UUID): refused at the door rather than stored, logged or audited.
MAX_IDENTIFIER_LENGTH = 200


def _required_string(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"'{name}' is required and must be a non-empty string.", "required")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise RequestError(f"'{name}' is longer than {MAX_IDENTIFIER_LENGTH} characters.", "value")
    return value


# Maps every ASCII digit to "0": a run of 19 digits in the body is then one substring search.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def decode_json(body: bytes) -> Any:
    """Any JSON value, decoded exactly as a request body is: NaN, Infinity, numbers beyond a
    double and invalid UTF-8 are refused with a ValueError (RecursionError past the nesting
    limit). For answers of a FHIR server, which reach the rules like prefetched data."""
    return _decode(body, body.decode("utf-8-sig"))


def _decode(body: bytes, text: str) -> Any:
    """The value `json.loads` with the hooks below gives, or its error; orjson when that is
    the same thing (in C: a typical 180 KB request decodes in half the time).

    orjson refuses NaN/Infinity, numbers beyond a double, invalid surrogates and nesting past
    its limit; each refusal goes to the standard decoder, which accepts or refuses with our
    own messages. The one value orjson reads differently is an integer beyond 64 bits (a
    float): a body holding a run of 19 digits anywhere takes the standard decoder. UTF-8
    continuation bytes are never ASCII digits, so the byte scan sees the characters' digits.
    """
    if _NINETEEN_DIGITS not in body.translate(_DIGITS_TO_ZERO):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # the standard decoder decides, with its own error
    return json.loads(
        text, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_bounded_int
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class _NumberOutOfRange(ValueError):
    pass


# JSON numbers past the range of a double (RFC 8259 section 6: not interoperable): 1e999 would
# become inf, and 10**400 an int that turns into an OverflowError wherever it meets a float.
_MAX_DOUBLE = 1.7976931348623157e308


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _NumberOutOfRange(literal[:20])
    return value


def _bounded_int(literal: str) -> int:
    # Longer than any double written out (309 digits and a sign): refuse before converting.
    if len(literal) > 320:
        raise _NumberOutOfRange(literal[:20])
    value = int(literal)
    if abs(value) > _MAX_DOUBLE:
        raise _NumberOutOfRange(literal[:20])
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Iterative (no recursion) check that containers nest at most `limit` levels."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False
