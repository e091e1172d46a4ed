"""Prefetch templates, one key per concern, within the CDS Hooks 2.0 prefetch restrictions.

Only the `{{context.patientId}}` token; token search parameters by equality (several values
comma-separated: OR, as FHIR search defines it); `_sort` and `_count`. No nested tokens, no
`_include`. Observation codes come from the value sets (labs.json), never from literals here.

The date-bounded variant (`bounded_prefetch_templates`) adds to each lab search
`date=ge{{today() - N days}}`, a CDS Hooks 3.0 relative-date token (STU "Simpler FHIRPath"): the
service's own FHIR fallback always renders it (on the site's day); discovery offers it only when
the operator says the EHR evaluates such tokens (`[prefetch] relative_dates = true`).
"""

from __future__ import annotations

from service.config import Config
from service.facts.planned import APPOINTMENT_STATUSES, PLANNED_STATUSES
from service.prefetch_coverage import LAB_WINDOW_KEYS
from service.valuesets import ValueSets
from service.vocabulary import LabKind

PATIENT = "{{context.patientId}}"

# The statuses of a planned procedure, as service/facts/planned.py reads them.
_PLANNED_REQUEST_STATUSES = ",".join(sorted(PLANNED_STATUSES))
_PLANNED_APPOINTMENT_STATUSES = ",".join(APPOINTMENT_STATUSES)

# Enough recent results to hold the latest of each kind even when a kind is measured often.
_COUNTS = {"platelets": 10, "coagulation": 30, "pain": 10, "temperature": 20, "neutrophils": 10}


# The lab searches bounded by date: those whose rules read only the lab window.
BOUNDED_KEYS = LAB_WINDOW_KEYS


def lab_lookback_days(lab_max_age_days: int) -> int:
    """How far back a bounded lab search reaches: four lab windows, at least 30 days. Beyond
    the window a result is not usable, but RULES.md shows it with its date ("older than 7
    days") rather than "no result": the bound keeps three windows of such stale results (and
    a month at the least) while sparing the pages of years of results."""
    return max(30, 4 * lab_max_age_days)


def _observations(valuesets: ValueSets, kinds: tuple[LabKind, ...], count: int) -> str:
    codes = ",".join(f"{system}|{code}" for system, code in valuesets.lab_codes(*kinds))
    return f"Observation?patient={PATIENT}&code={codes}&_sort=-date&_count={count}"


def bounded_prefetch_templates(valuesets: ValueSets, lab_max_age_days: int) -> dict[str, str]:
    """`prefetch_templates` with each lab search bounded by a relative date."""
    since = f"&date=ge{{{{today() - {lab_lookback_days(lab_max_age_days)} days}}}}"
    return {
        key: template + since if key in BOUNDED_KEYS else template
        for key, template in prefetch_templates(valuesets).items()
    }


def service_templates(
    valuesets: ValueSets, config: Config
) -> tuple[dict[str, str], dict[str, str]]:
    """The templates discovery offers, and those the FHIR fallback renders: the fallback is
    always bounded by date; discovery offers the bounded ones only when the EHR evaluates
    `today()` tokens (`[prefetch] relative_dates`), else the CDS Hooks 2.0 ones."""
    bounded = bounded_prefetch_templates(valuesets, config.policy.lab_max_age_days)
    advertised = bounded if config.prefetch.relative_dates else prefetch_templates(valuesets)
    return advertised, bounded


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
