"""fhir.resources R4B validation of the values the rules COMPARE, and of nothing else.

What is validated, and why:
* An Observation the rules read (a platelet count, an INR...; labs.py): its value is compared to
  a threshold, so a resource that is not valid R4 is not trusted and the result is reported as
  uninterpretable. Only the few Observations the rules read are validated, not the whole prefetch,
  and of each only what the service reads or cannot tell from a typo: the R4 elements no reader
  looks at (`UNREAD_OBSERVATION_ELEMENTS`: category, encounter, performer, note...) are left out,
  since their validation was a third of its cost and could not change an answer. Every other key
  is kept, so a misspelt or unknown element (`effectiveDatetime`) still makes the result invalid.
* Of those, an Observation of the plain shape almost every lab result has (status, code, subject,
  effectiveDateTime, issued, valueQuantity, a simple reference range) whose every value is plainly
  valid is accepted by `plainly_valid.py` in a few µs; any other is given to fhir.resources, which
  alone words a reason. The fast check is built to accept nothing fhir.resources rejects; its test
  tries that on generated near-misses and named edge cases (lone surrogates, year 0000...).
* The Dosage elements of an aspirin order or statement (medications.py): its daily dose is
  compared to 160 mg/day, so an invalid Dosage gives "dose unknown" (the safe reading).

Medications, Conditions and AllergyIntolerances are NOT validated as whole resources: the fields
read from them (status, code, medication, recorded date) are type-checked by their readers, and a
matched resource is reported whether or not the rest of it is valid R4 (an anticoagulant in an
order without `intent` is still an anticoagulant). Validating them changed no output and cost
~1 ms a request.

Every failure is caught (pydantic errors, KeyError for an unknown resource type, ValueError...)
and summarised by the failing element paths and error types only: never a value, so never a
patient's name.

Outcomes are remembered by content (see `ValidationMemo`): an EHR calls order-select again at
each change of the order, then order-sign, each time with the same Observations, and one
fhir.resources validation costs 0.1-0.2 ms.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cache
from typing import Any

import orjson

from service.facts.plainly_valid import plainly_valid_observation
from service.observability import count_memo_lookup

logger = logging.getLogger(__name__)

# Distinct contents remembered per process: a few hundred patients' worth of validated labs.
MEMO_ENTRIES = 4096


class ValidationMemo:
    """Validation outcomes (None or the reason) by a digest of the exact JSON content.

    The key is a SHA-256 of the content serialised with sorted keys, so two contents share an
    outcome only when they are the same JSON, types included (5 and "5", 1 and 1.0 and true all
    differ); the digest cannot be forced to collide, so no crafted resource borrows another's
    "valid". Never remembered: a content orjson cannot serialise (an integer beyond 64 bits), or
    whose serialisation holds `null` (NaN and infinities are written so: a FHIR server's answer
    may hold them).
    Least recently used outcomes go first; safe across threads.
    """

    def __init__(self, entries: int = MEMO_ENTRIES) -> None:
        self._entries = entries
        self._outcomes: OrderedDict[bytes, str | None] = OrderedDict()
        self._lock = threading.Lock()

    def outcome(self, kind: str, content: Any, validate: Callable[[], str | None]) -> str | None:
        try:
            canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            return validate()
        if b"null" in canonical:  # orjson writes NaN and infinities as null too: not the same JSON
            return validate()
        key = hashlib.sha256(kind.encode() + b"\0" + canonical).digest()
        with self._lock:
            if key in self._outcomes:
                self._outcomes.move_to_end(key)
                count_memo_lookup("validation", True, len(self._outcomes))
                return self._outcomes[key]
        result = validate()  # outside the lock: threads never wait for each other's validation
        with self._lock:
            self._outcomes[key] = result
            if len(self._outcomes) > self._entries:
                self._outcomes.popitem(last=False)
            count_memo_lookup("validation", False, len(self._outcomes))
        return result

    def __len__(self) -> int:
        return len(self._outcomes)


_memo = ValidationMemo()

_MODULES = {"Observation": "observation"}


@cache
def _model(resource_type: str) -> Any:
    import importlib

    module = importlib.import_module(f"fhir.resources.R4B.{_MODULES[resource_type]}")
    return getattr(module, resource_type)


@cache
def _dosage_model() -> Any:
    from fhir.resources.R4B.dosage import Dosage

    return Dosage


def warm_up() -> None:
    """Import and exercise the models now (start-up), not in the first request."""
    for resource_type in _MODULES:
        _model(resource_type)
    _dosage_model().model_validate({"text": "warm-up"})


# Observation elements of R4 that no reader of the service looks at (labs.py, refs.py, the
# value sets): their validity cannot change a result.
UNREAD_OBSERVATION_ELEMENTS = frozenset(
    {
        "text", "contained", "extension", "identifier", "basedOn", "partOf", "category",
        "focus", "encounter", "performer", "interpretation", "note", "bodySite", "method",
        "specimen", "device", "hasMember", "derivedFrom", "component", "language",
    }
)  # fmt: skip
# `meta` is read for its versionId only (the evidence cites it): its other R4 elements are left
# out, and any other key is kept, so that a misspelt `versionid` is invalid, not silently lost.
UNREAD_META_ELEMENTS = frozenset(
    {"id", "extension", "lastUpdated", "source", "profile", "security", "tag"}
)


def _read_elements(resource: dict[str, Any]) -> dict[str, Any]:
    """`resource` without the elements no reader looks at."""
    kept = {k: v for k, v in resource.items() if k not in UNREAD_OBSERVATION_ELEMENTS}
    meta = kept.get("meta")
    if isinstance(meta, dict):  # anything else is kept whole: invalid as written
        read_meta = {k: v for k, v in meta.items() if k not in UNREAD_META_ELEMENTS}
        if read_meta:
            kept["meta"] = read_meta
        else:
            del kept["meta"]
    return kept


def validation_error(resource: Any) -> str | None:
    """None when what the service reads of `resource` is valid R4, else a short reason."""
    if not isinstance(resource, dict):
        return "not a JSON object"
    resource_type = resource.get("resourceType")
    if resource_type not in _MODULES:
        return f"unexpected resource type {str(resource_type)[:40]!r}"
    read = _read_elements(resource)
    if plainly_valid_observation(read):  # the common shape, in a few µs (plainly_valid.py)
        return None
    reason = _memo.outcome(resource_type, read, lambda: _validate(resource_type, read))
    if reason is not None:
        logger.warning("skipping %s/%s: %s", resource_type, str(resource.get("id"))[:64], reason)
    return reason


def _validate(resource_type: str, resource: dict[str, Any]) -> str | None:
    try:
        _model(resource_type).model_validate(resource)
    except Exception as exc:  # pydantic.ValidationError, KeyError, ValueError, TypeError...
        return _summary(f"invalid FHIR R4 {resource_type}", exc)
    return None


def dosage_error(dosages: Any) -> str | None:
    """None when every Dosage element in the list `dosages` is valid R4, else a short reason.

    What is not a list of objects is left to the dose reader, which says so in its own words.
    """
    if not isinstance(dosages, list):
        return None
    return _memo.outcome("Dosage", dosages, lambda: _validate_dosages(dosages))


def _validate_dosages(dosages: list[Any]) -> str | None:
    model = _dosage_model()
    for dosage in dosages:
        if not isinstance(dosage, dict):
            continue
        try:
            model.model_validate(dosage)
        except Exception as exc:  # pydantic.ValidationError, ValueError, TypeError...
            return _summary("dosage is not valid FHIR R4", exc)
    return None


# Element paths are made of the request's own keys: each is cut, so that a reason (logged, and
# kept in the memo) stays short whatever the keys' length.
MAX_PATH_CHARS = 64


def _summary(prefix: str, exc: Exception) -> str:
    """`prefix`, then the failing element paths (at most 3, each cut short): never a value."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return f"{prefix} ({type(exc).__name__})"
    try:
        paths = sorted(
            {
                (".".join(str(p) for p in error.get("loc", ())) or "(resource)")[:MAX_PATH_CHARS]
                for error in errors()
            }
        )
    except Exception:
        paths = []
    if not paths:
        return prefix
    return f"{prefix}: " + ", ".join(paths[:3]) + (" ..." if len(paths) > 3 else "")
