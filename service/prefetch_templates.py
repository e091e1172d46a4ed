"""Prefetch templates, one key per concern, within the CDS Hooks 2.0 prefetch restrictions.

Only the `{{context.patientId}}` token; token search parameters by equality (several values
comma-separated: OR, as FHIR search defines it); `_sort` and `_count`. No nested tokens, no
`_include`. Observation codes come from the value sets (labs.json), never from literals here.
"""

from __future__ import annotations

from service.facts.planned import APPOINTMENT_STATUSES, PLANNED_STATUSES
from service.valuesets import ValueSets
from service.vocabulary import LabKind

PATIENT = "{{context.patientId}}"

# The statuses of a planned procedure, as service/facts/planned.py reads them.
_PLANNED_REQUEST_STATUSES = ",".join(sorted(PLANNED_STATUSES))
_PLANNED_APPOINTMENT_STATUSES = ",".join(APPOINTMENT_STATUSES)

# Enough recent results to hold the latest of each kind even when a kind is measured often.
_COUNTS = {"platelets": 10, "coagulation": 30, "pain": 10, "temperature": 20, "neutrophils": 10}


def _observations(valuesets: ValueSets, kinds: tuple[LabKind, ...], count: int) -> str:
    codes = ",".join(f"{system}|{code}" for system, code in valuesets.lab_codes(*kinds))
    return f"Observation?patient={PATIENT}&code={codes}&_sort=-date&_count={count}"


def prefetch_templates(valuesets: ValueSets) -> dict[str, str]:
    return {
        "patient": f"Patient/{PATIENT}",
        "platelets": _observations(valuesets, (LabKind.PLATELETS,), _COUNTS["platelets"]),
        "coagulation": _observations(
            valuesets,
            (LabKind.TP_PERCENT, LabKind.INR, LabKind.PT_SECONDS),
            _COUNTS["coagulation"],
        ),
        "pain": _observations(valuesets, (LabKind.PAIN_SCORE,), _COUNTS["pain"]),
        "medicationStatements": f"MedicationStatement?patient={PATIENT}&status=active",
        "medicationRequests": f"MedicationRequest?patient={PATIENT}&status=active",
        # No clinical-status filter: a Condition counts when its status is active, recurrence or
        # relapse, or ABSENT (facts/clinical.py reads it in code). A token search can OR the
        # three codes, but "absent" needs `:missing=true`, a separate search that cannot be ORed
        # with them, and `active` alone misses a recurrent sepsis (RULES.md v2 group 16). Asking
        # for every Condition of the patient is the one query that misses none; resolved ones
        # are dropped in code.
        "conditions": f"Condition?patient={PATIENT}",
        # No status filter: an allergy without clinicalStatus still counts (see facts/clinical.py).
        "allergies": f"AllergyIntolerance?patient={PATIENT}",
        # CI-ABS-INFECTION-SUSPECTED (fever in the last 48 h) and INF-PROPHYLAXIS (neutrophils).
        "temperature": _observations(valuesets, (LabKind.TEMPERATURE,), _COUNTS["temperature"]),
        "neutrophils": _observations(valuesets, (LabKind.NEUTROPHILS,), _COUNTS["neutrophils"]),
        # The planned procedure (patient-view, appointment-book, a medication ordered): no code
        # filter, a local code named by its text only must still be found.
        "plannedServiceRequests": (
            f"ServiceRequest?patient={PATIENT}&status={_PLANNED_REQUEST_STATUSES}"
        ),
        "plannedAppointments": (
            f"Appointment?patient={PATIENT}&status={_PLANNED_APPOINTMENT_STATUSES}"
        ),
    }
