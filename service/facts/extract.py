"""HookRequest + ResolvedPrefetch -> PatientFacts: the one entry point of this package.

Resources are taken from every prefetch key by their resourceType (deduplicated by type/id), so a
resource sent under an unexpected key is still read. What could not be obtained
(`ResolvedPrefetch.unavailable`, mapped by KEY_CATEGORIES) and what could not be read
(`invalid_resources`) end in `PatientFacts.unavailable`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from cds_hooks.service import HookRequest, ResolvedPrefetch
from service.facts.clinical import extract_allergies, extract_conditions
from service.facts.labs import extract_labs
from service.facts.medications import MedicationIndex, extract_medications
from service.facts.model import (
    DataCategory,
    InvalidResource,
    PatientFacts,
    ProcedureKind,
    TargetProcedure,
)
from service.facts.procedures import extract_procedures
from service.prefetch_templates import KEY_CATEGORIES
from service.valuesets import ValueSets

logger = logging.getLogger(__name__)

_TYPES = (
    "Observation",
    "MedicationRequest",
    "MedicationStatement",
    "Medication",
    "Condition",
    "AllergyIntolerance",
)


def procedures_in_scope(
    request: HookRequest, valuesets: ValueSets, trigger_procedures: frozenset[ProcedureKind]
) -> list[TargetProcedure]:
    """The TRIGGER: target procedures of the draft orders in scope (empty: nothing to do)."""
    return extract_procedures(request.hook, request.context, valuesets, trigger_procedures)


def collect_resources(data: ResolvedPrefetch) -> dict[str, list[dict[str, Any]]]:
    """Resources of the types read here, from every key, each (type, id) once."""
    by_type: dict[str, list[dict[str, Any]]] = {t: [] for t in _TYPES}
    seen: set[tuple[str, str]] = set()

    def add(resources: Any) -> None:
        for resource in resources:
            if not isinstance(resource, dict):
                continue
            resource_type = resource.get("resourceType")
            if not isinstance(resource_type, str):  # a list or an object is unhashable
                continue
            if resource_type == "Bundle":  # a key sent as a Bundle that was not unpacked
                entries = resource.get("entry") or ()
                add(entry.get("resource") for entry in entries if isinstance(entry, dict))
                continue
            kept = by_type.get(resource_type)
            if kept is None:
                continue
            resource_id = resource.get("id")
            if isinstance(resource_id, str):
                if (resource_type, resource_id) in seen:
                    continue
                seen.add((resource_type, resource_id))
            kept.append(resource)

    for resources in data.resources.values():
        add(resources or ())
    return by_type


def extract_facts(
    request: HookRequest,
    data: ResolvedPrefetch,
    valuesets: ValueSets,
    trigger_procedures: frozenset[ProcedureKind],
    now: datetime | None = None,
) -> PatientFacts:
    """The facts; given `now`, only the lab results the rules read are interpreted."""
    procedures = procedures_in_scope(request, valuesets, trigger_procedures)
    resources = collect_resources(data)
    invalid_labs: list[InvalidResource] = []
    labs = extract_labs(resources["Observation"], valuesets, invalid_labs, now)
    index = MedicationIndex(resources["Medication"], data.referenced)
    medications, invalid_meds = extract_medications(
        resources["MedicationRequest"], resources["MedicationStatement"], index, valuesets
    )
    conditions, invalid_conditions = extract_conditions(resources["Condition"], valuesets)
    allergies, invalid_allergies = extract_allergies(resources["AllergyIntolerance"], valuesets)
    invalid = (*invalid_labs, *invalid_meds, *invalid_conditions, *invalid_allergies)
    unavailable: set[DataCategory] = {
        KEY_CATEGORIES[key] for key in data.unavailable if key in KEY_CATEGORIES
    }
    unavailable.update(item.category for item in invalid)
    if invalid:
        logger.warning("%d resource(s) could not be read (see invalid_resources)", len(invalid))
    return PatientFacts(
        patient_id=request.patient_id,
        procedures=tuple(procedures),
        labs=tuple(labs),
        medications=tuple(medications),
        conditions=tuple(conditions),
        allergies=tuple(allergies),
        unavailable=frozenset(unavailable),
        invalid_resources=invalid,
    )
