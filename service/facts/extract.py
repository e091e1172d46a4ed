"""HookRequest + ResolvedPrefetch -> PatientFacts: the one entry point of this package.

Resources are taken from every prefetch key by their resourceType (deduplicated by type/id), so a
resource sent under an unexpected key is still read. What could not be obtained
(`ResolvedPrefetch.unavailable`, mapped by KEY_CATEGORIES) and what could not be read
(`invalid_resources`) end in `PatientFacts.unavailable`.

Data hygiene, in one place (`collect`), before any reader sees a resource:
* Only the patient's own data: a resource whose subject/patient names another Patient than
  `context.patientId` is dropped (logged by type and count only); a prefetched Patient of another
  id is not this patient (the patient record is then reported unavailable).
* A `modifierExtension` (the service understands none) is never read as if absent: an
  Observation is kept, and labs.py reports it as uninterpretable; any other resource is not read
  and is named on the DATA-UNAVAILABLE card as an InvalidResource of its category.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cds_hooks.service import HookRequest, ResolvedPrefetch
from service.facts.clinical import extract_allergies, extract_conditions
from service.facts.labs import extract_labs
from service.facts.medications import MedicationIndex, extract_medications
from service.facts.model import InvalidResource, PatientFacts, TargetProcedure
from service.facts.procedures import extract_procedures
from service.facts.refs import has_modifier_extension, names_another_patient, resource_ref
from service.valuesets import ValueSets
from service.vocabulary import KEY_CATEGORIES, DataCategory, ProcedureKind

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
    return extract_procedures(
        request.orders_in_scope("ServiceRequest"), valuesets, trigger_procedures
    )


# The category a resource not read (modifierExtension) makes unavailable. Observations are not
# here: labs.py reads them as uninterpretable results of their kind.
_CATEGORIES = {
    "MedicationRequest": DataCategory.MEDICATIONS,
    "MedicationStatement": DataCategory.MEDICATIONS,
    "Medication": DataCategory.MEDICATIONS,
    "Condition": DataCategory.CONDITIONS,
    "AllergyIntolerance": DataCategory.ALLERGIES,
}
MODIFIER_NOT_UNDERSTOOD = "modifierExtension not understood: not read"


@dataclass
class Collected:
    """The resources to read, by type, and what collecting set aside."""

    by_type: dict[str, list[dict[str, Any]]]
    invalid: list[InvalidResource] = field(default_factory=list)
    other_patient: Counter[str] = field(default_factory=Counter)  # dropped, by resource type
    other_patient_record: bool = False  # a prefetched Patient of another id


def collect(data: ResolvedPrefetch, patient_id: str | None) -> Collected:
    """Resources of the types read here, from every key, each (type, id) once; another patient's
    resources dropped, resources with a modifierExtension set aside (module docstring)."""
    collected = Collected({t: [] for t in _TYPES})
    by_type = collected.by_type
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
            if resource_type == "Patient":
                resource_id = resource.get("id")
                if patient_id is not None and isinstance(resource_id, str) and resource_id:
                    collected.other_patient_record |= resource_id != patient_id
                continue
            kept = by_type.get(resource_type)
            if kept is None:
                continue
            resource_id = resource.get("id")
            if isinstance(resource_id, str):
                if (resource_type, resource_id) in seen:
                    continue
                seen.add((resource_type, resource_id))
            if names_another_patient(resource, patient_id):
                collected.other_patient[resource_type] += 1
                continue
            category = _CATEGORIES.get(resource_type)
            if category is not None and has_modifier_extension(resource):
                collected.invalid.append(
                    InvalidResource(category, resource_ref(resource), MODIFIER_NOT_UNDERSTOOD)
                )
                continue
            kept.append(resource)

    for resources in data.resources.values():
        add(resources or ())
    if collected.other_patient:
        # Type and count only: never an id, a name or any other patient data.
        logger.warning(
            "ignored resources of another patient: %s",
            ", ".join(f"{t} x{n}" for t, n in sorted(collected.other_patient.items())),
        )
    if collected.other_patient_record:
        logger.warning("ignored a prefetched Patient whose id is not context.patientId")
    return collected


def extract_facts(
    request: HookRequest,
    data: ResolvedPrefetch,
    valuesets: ValueSets,
    procedures: Sequence[TargetProcedure],
    now: datetime,
) -> PatientFacts:
    """The facts as of `now` (the site's time) about `procedures`, the targets the caller's
    moment decided (the draft orders in scope, or the planned procedure): only the lab results
    the rules read are interpreted."""
    collected = collect(data, request.patient_id)
    resources = collected.by_type
    invalid_labs: list[InvalidResource] = []
    labs = extract_labs(resources["Observation"], valuesets, now, invalid_labs)
    index = MedicationIndex(resources["Medication"], data.referenced)
    medications, invalid_meds = extract_medications(
        resources["MedicationRequest"], resources["MedicationStatement"], index, valuesets
    )
    conditions, invalid_conditions = extract_conditions(resources["Condition"], valuesets)
    allergies, invalid_allergies = extract_allergies(resources["AllergyIntolerance"], valuesets)
    invalid = (
        *collected.invalid,
        *invalid_labs,
        *invalid_meds,
        *invalid_conditions,
        *invalid_allergies,
    )
    unavailable: set[DataCategory] = {
        KEY_CATEGORIES[key] for key in data.unavailable if key in KEY_CATEGORIES
    }
    if collected.other_patient_record:
        unavailable.add(DataCategory.PATIENT)
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
