"""Reading a FHIR Bundle as a prefetch or a search page holds it: its resources, without search
outcomes, and whether it carries an error OperationOutcome."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ERROR_SEVERITIES = ("error", "fatal")


def bundle_resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entry resources of a Bundle, without search-outcome entries."""
    return read_entries(bundle)[0]


def has_error_outcome(value: Mapping[str, Any]) -> bool:
    """An OperationOutcome, or a Bundle with an OperationOutcome entry of severity error/fatal."""
    if value.get("resourceType") == "OperationOutcome":
        return True
    return value.get("resourceType") == "Bundle" and read_entries(value)[1]


def read_entries(bundle: Mapping[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """`bundle_resources` and whether an entry is an error OperationOutcome, in one pass over
    the entries (a prefetch holds hundreds)."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return [], False
    resources = []
    has_error = False
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        if resource.get("resourceType") == "OperationOutcome":
            has_error = has_error or _is_error_outcome(resource)
            continue
        search = entry.get("search")
        if isinstance(search, dict) and search.get("mode") == "outcome":
            continue
        resources.append(resource)
    return resources, has_error


def _is_error_outcome(outcome: Mapping[str, Any]) -> bool:
    issues = outcome.get("issue")
    return isinstance(issues, list) and any(
        isinstance(i, dict) and i.get("severity") in _ERROR_SEVERITIES for i in issues
    )
