"""Validation of the few candidate resources with the fhir.resources R4B models.

Only candidates (resources whose code already matched a value set, with a usable status) are
validated: a prefetch of hundreds of Observations is filtered on raw JSON first. Every failure is
caught (pydantic errors, KeyError for an unknown resource type, ValueError...) and summarised by
the failing element paths and error types only: never a value, so never a patient's name.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)

_MODULES = {
    "Observation": "observation",
    "MedicationRequest": "medicationrequest",
    "MedicationStatement": "medicationstatement",
    "Medication": "medication",
    "Condition": "condition",
    "AllergyIntolerance": "allergyintolerance",
    "ServiceRequest": "servicerequest",
}


@cache
def _model(resource_type: str) -> Any:
    import importlib

    module = importlib.import_module(f"fhir.resources.R4B.{_MODULES[resource_type]}")
    return getattr(module, resource_type)


def warm_up() -> None:
    """Import the models now (start-up), not in the first request."""
    for resource_type in _MODULES:
        _model(resource_type)


def validation_error(resource: Any) -> str | None:
    """None when `resource` is a valid R4 resource of a known type, else a short reason."""
    if not isinstance(resource, dict):
        return "not a JSON object"
    resource_type = resource.get("resourceType")
    if resource_type not in _MODULES:
        return f"unexpected resource type {str(resource_type)[:40]!r}"
    try:
        _model(resource_type).model_validate(resource)
    except Exception as exc:  # pydantic.ValidationError, KeyError, ValueError, TypeError...
        errors = getattr(exc, "errors", None)
        if callable(errors):
            try:
                paths = sorted(
                    {
                        ".".join(str(p) for p in error.get("loc", ())) or "(resource)"
                        for error in errors()
                    }
                )
            except Exception:
                paths = []
            if paths:
                shown = ", ".join(paths[:3]) + (" ..." if len(paths) > 3 else "")
                reason = f"invalid FHIR R4 {resource_type}: {shown}"
            else:
                reason = f"invalid FHIR R4 {resource_type}"
        else:
            reason = f"invalid FHIR R4 {resource_type} ({type(exc).__name__})"
        logger.warning("skipping %s/%s: %s", resource_type, str(resource.get("id"))[:64], reason)
        return reason
    return None
