"""A fast "plainly valid" check of the common shape of a lab Observation (issue #15).

fhir.resources validates what the service reads of an Observation in ~100 µs, most of it the
Observation model's fixed cost, not the few elements a lab result carries: it was the largest
single cost of an order-select call on distinct patients. Almost every lab result an EHR sends has
the same plain shape: status, code, subject, effectiveDateTime, issued, a valueQuantity, perhaps a
simple reference range. For that shape only, this module answers in a few µs.

It can only say "plainly valid": every key is one it knows, every value is of a simple form it
checks more strictly than R4 requires. Anything else (a partial date, a leap second, an
effectivePeriod, a primitive extension, an unknown key, a string where an object belongs, a lone
UTF-16 surrogate in a text...) is "not plainly valid", and validation.py then asks fhir.resources,
which stays the authority and words the reason. The check is meant never to accept what
fhir.resources rejects (the reverse costs only time): tests/facts/test_facts_plainly_valid.py
tries that on thousands of generated near-miss Observations and on named edge cases.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

# R4 primitives, each checked no more loosely than fhir.resources does (fhir_core/types.py).
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_CODE = re.compile(r"[^\s]+(\s[^\s]+)*")
_STRING = re.compile(r"[ \r\n\t\S]+")
_URI = re.compile(r"\S+")
# A full date-time with seconds and a time zone; 1-6 fraction digits; no leap second (60).
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+\-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
)
# json.loads reads "\ud800" as a lone surrogate: not a character, and fhir.resources (pydantic)
# rejects any string holding one.
_SURROGATE = re.compile("[\ud800-\udfff]")

OBSERVATION_STATUSES = frozenset(
    {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
     "entered-in-error", "unknown"}
)  # fmt: skip
COMPARATORS = frozenset({"<", "<=", ">=", ">"})


def _matches(pattern: re.Pattern[str], value: Any) -> bool:
    return (
        isinstance(value, str)
        and pattern.fullmatch(value) is not None
        and (value.isascii() or _SURROGATE.search(value) is None)
    )


def _date_time(value: Any) -> bool:
    if not _matches(_DATE_TIME, value):
        return False
    try:  # a real calendar day (not 30 February), as fhir.resources also requires
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# fhir.resources writes a decimal out as text, which Python refuses beyond 4 300 digits. No JSON
# the service reads holds such a number (json_body.py), but the check must not say otherwise.
_MAX_INT = 10**4300


def _decimal(value: Any) -> bool:
    """A JSON number: an int (not a bool, which Python counts as one) or a finite float."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_MAX_INT < value < _MAX_INT
    return isinstance(value, float) and math.isfinite(value)


def _object(value: Any, checks: dict[str, Any]) -> bool:
    """A non-empty JSON object whose every key has a check, and every check passes."""
    if not isinstance(value, dict) or not value:
        return False
    for key, item in value.items():
        check = checks.get(key)
        if check is None or not check(item):
            return False
    return True


def _list_of(check: Any) -> Any:
    return lambda value: isinstance(value, list) and bool(value) and all(map(check, value))


def _string(value: Any) -> bool:
    return _matches(_STRING, value)


def _code(value: Any) -> bool:
    return _matches(_CODE, value)


def _uri(value: Any) -> bool:
    return _matches(_URI, value)


_CODING = {"system": _uri, "code": _code, "display": _string}
_SIMPLE_QUANTITY = {"value": _decimal, "unit": _string, "system": _uri, "code": _code}
_QUANTITY = {**_SIMPLE_QUANTITY, "comparator": lambda v: isinstance(v, str) and v in COMPARATORS}
_CODEABLE_CONCEPT = {"coding": _list_of(lambda v: _object(v, _CODING)), "text": _string}
_REFERENCE = {"reference": _string, "display": _string}
_REFERENCE_RANGE = {  # R4 SimpleQuantity: a Quantity without comparator
    "low": lambda v: _object(v, _SIMPLE_QUANTITY),
    "high": lambda v: _object(v, _SIMPLE_QUANTITY),
    "text": _string,
}
_OBSERVATION = {
    "resourceType": lambda v: v == "Observation",
    "id": lambda v: _matches(_ID, v),
    "meta": lambda v: _object(v, {"versionId": lambda w: _matches(_ID, w)}),
    "status": lambda v: isinstance(v, str) and v in OBSERVATION_STATUSES,
    "code": lambda v: _object(v, _CODEABLE_CONCEPT),
    "subject": lambda v: _object(v, _REFERENCE),
    "effectiveDateTime": _date_time,
    "issued": _date_time,  # an R4 instant: a date-time with seconds and a zone, as checked
    "valueQuantity": lambda v: _object(v, _QUANTITY),
    "referenceRange": _list_of(lambda v: _object(v, _REFERENCE_RANGE)),
}


def plainly_valid_observation(resource: Any) -> bool:
    """True when `resource` has the plain shape above, every value plainly valid R4; False means
    "ask fhir.resources", not "invalid"."""
    return (
        isinstance(resource, dict)
        and "status" in resource  # the two elements R4 requires
        and "code" in resource
        and _object(resource, _OBSERVATION)
    )
