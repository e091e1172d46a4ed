"""Small readers shared by the extractors."""

from __future__ import annotations

from typing import Any

from service.facts.model import ResourceRef


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
        for c in concept.get("coding") or ()
        if isinstance(c, dict) and isinstance(c.get("code"), str)
    }


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
