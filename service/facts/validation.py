"""fhir.resources R4B validation of the values the rules COMPARE, and of nothing else.

What is validated, and why:
* An Observation the rules read (a platelet count, an INR...; labs.py): its value is compared to
  a threshold, so a resource that is not valid R4 is not trusted and the result is reported as
  uninterpretable. Only the few Observations the rules read are validated, not the whole prefetch.
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
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)

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


def validation_error(resource: Any) -> str | None:
    """None when `resource` is a valid R4 resource of a validated type, else a short reason."""
    if not isinstance(resource, dict):
        return "not a JSON object"
    resource_type = resource.get("resourceType")
    if resource_type not in _MODULES:
        return f"unexpected resource type {str(resource_type)[:40]!r}"
    try:
        _model(resource_type).model_validate(resource)
    except Exception as exc:  # pydantic.ValidationError, KeyError, ValueError, TypeError...
        reason = _summary(f"invalid FHIR R4 {resource_type}", exc)
        logger.warning("skipping %s/%s: %s", resource_type, str(resource.get("id"))[:64], reason)
        return reason
    return None


def dosage_error(dosages: Any) -> str | None:
    """None when every Dosage element in the list `dosages` is valid R4, else a short reason.

    What is not a list of objects is left to the dose reader, which says so in its own words.
    """
    if not isinstance(dosages, list):
        return None
    model = _dosage_model()
    for dosage in dosages:
        if not isinstance(dosage, dict):
            continue
        try:
            model.model_validate(dosage)
        except Exception as exc:  # pydantic.ValidationError, ValueError, TypeError...
            return _summary("dosage is not valid FHIR R4", exc)
    return None


def _summary(prefix: str, exc: Exception) -> str:
    """`prefix`, then the failing element paths (at most 3): never a value."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return f"{prefix} ({type(exc).__name__})"
    try:
        paths = sorted(
            {".".join(str(p) for p in error.get("loc", ())) or "(resource)" for error in errors()}
        )
    except Exception:
        paths = []
    if not paths:
        return prefix
    return f"{prefix}: " + ", ".join(paths[:3]) + (" ..." if len(paths) > 3 else "")
