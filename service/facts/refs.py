"""Small readers shared by the extractors.

Every value read from a resource is client input: a string may be a list, an object, a number.
These readers check types first, so a malformed element reads as absent, never as a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from service.facts.model import InvalidResource, ResourceRef
from service.vocabulary import DataCategory

T = TypeVar("T")

logger = logging.getLogger(__name__)


def resource_ref(resource: dict[str, Any]) -> ResourceRef:
    resource_type = resource.get("resourceType")
    resource_id = resource.get("id")
    meta = resource.get("meta")
    version = meta.get("versionId") if isinstance(meta, dict) else None
    return ResourceRef(
        resource_type=resource_type if isinstance(resource_type, str) else "Resource",
        id=resource_id if isinstance(resource_id, str) and resource_id else None,
        version=version if isinstance(version, str) else None,
    )


def status_codes(concept: Any) -> set[str]:
    """The codes of a status CodeableConcept (clinicalStatus, verificationStatus)."""
    if not isinstance(concept, dict):
        return set()
    return {
        c["code"]
        for c in as_list(concept.get("coding"))
        if isinstance(c, dict) and isinstance(c.get("code"), str)
    }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def is_one_of(value: Any, allowed: frozenset[str]) -> bool:
    """`value in allowed` for a string only (a list or an object is unhashable: never a crash)."""
    return isinstance(value, str) and value in allowed


def unreadable(resource: dict[str, Any], exc: Exception, category: DataCategory) -> InvalidResource:
    """A resource whose reading raised: reported as invalid, logged without any of its content."""
    source = resource_ref(resource)
    logger.error(
        "could not read %s/%s: %s",
        source.resource_type,
        (source.id or "-")[:64],
        type(exc).__name__,
    )
    return InvalidResource(category, source, f"could not be read ({type(exc).__name__})")


def read_each(
    resources: list[dict[str, Any]],
    read_one: Callable[[dict[str, Any]], T | None],
    category: DataCategory,
) -> tuple[list[T], list[InvalidResource]]:
    """`read_one` over every resource: its facts (None: not one the rules read), and the
    resources whose reading raised, each reported as invalid instead of failing the call."""
    facts: list[T] = []
    invalid: list[InvalidResource] = []
    for resource in resources:
        try:
            fact = read_one(resource)
        except Exception as exc:  # this resource only; logged without content
            invalid.append(unreadable(resource, exc, category))
            continue
        if fact is not None:
            facts.append(fact)
    return facts, invalid


# The element naming the patient, by resource type (R4).
PATIENT_ELEMENT = {
    "Observation": "subject",
    "MedicationRequest": "subject",
    "MedicationStatement": "subject",
    "Condition": "subject",
    "AllergyIntolerance": "patient",
}


def referenced_patient_id(reference: Any) -> str | None:
    """The Patient id a Reference names ("Patient/p1", "https://x/fhir/Patient/p1/_history/2"),
    or None when it names no Patient by id (absent, a urn:uuid, an identifier, a Group...)."""
    if not isinstance(reference, dict):
        return None
    target = reference.get("reference")
    if not isinstance(target, str):
        return None
    parts = [part for part in target.strip().split("/") if part]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2] == "Patient":
        return parts[-1]
    return None


def names_another_patient(resource: dict[str, Any], patient_id: str | None) -> bool:
    """True when the resource's subject/patient names a Patient other than `patient_id`.

    A resource that names no Patient by id (no subject, a urn:uuid, an identifier) is kept: the
    prefetch or the search asked for this patient, and dropping it could hide a
    contraindication. Only a reference that certainly names someone else is dropped."""
    if patient_id is None:
        return False
    element = PATIENT_ELEMENT.get(str(resource.get("resourceType")))
    if element is None:
        return False
    named = referenced_patient_id(resource.get(element))
    return named is not None and named != patient_id


def has_modifier_extension(value: Any) -> bool:
    """True when `value` (a resource, with its contained resources and backbone elements)
    carries a non-empty `modifierExtension` anywhere. The service understands none: a modifier
    changes the meaning of the element it sits in (e.g. "not given"), so it is never ignored.
    Iterative (client input may nest deeply: no recursion limit to hit). Nearly every resource
    has none: one orjson serialisation (C, microseconds) rules that out before any walk."""
    try:
        if b'"modifierExtension"' not in orjson.dumps(value):
            return False
    except (TypeError, orjson.JSONEncodeError):
        pass  # not serialisable (an integer beyond 64 bits...): walk it
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("modifierExtension"):
                return True
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))
    return False
