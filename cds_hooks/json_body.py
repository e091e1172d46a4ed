"""Decode a JSON body (a hook call, a feedback request, a FHIR server's answer) exactly one way:
NaN, Infinity, numbers beyond a double, invalid UTF-8 and runaway nesting are refused with a
clear error, never a crash.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from cds_hooks.errors import RequestError

# Deeper than any FHIR resource a client sends; bounds the recursion of whoever walks the data.
MAX_JSON_DEPTH = 100


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
