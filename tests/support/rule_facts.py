"""Builders of PatientFacts for rule and card tests (no FHIR: the facts layer is tested apart)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from service.facts.model import (
    AllergyFact,
    ConditionFact,
    LabResult,
    MedicationFact,
    MedicationSourceKind,
    PatientFacts,
    ResourceRef,
    TargetProcedure,
)
from service.vocabulary import DataCategory, DrugClass, LabKind, ProcedureKind

PARIS = timezone(timedelta(hours=1))
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)
PROCEDURE_DAY = date(2026, 12, 7)

_counter = iter(range(1, 1_000_000))


def ref(resource_type: str) -> ResourceRef:
    return ResourceRef(resource_type, f"{resource_type.lower()}-{next(_counter)}")


def procedure(
    kind: ProcedureKind = ProcedureKind.VERTEBROPLASTY,
    sites: frozenset[str] = frozenset({"spine"}),
    day: date | None = PROCEDURE_DAY,
    at: datetime | None = None,
) -> TargetProcedure:
    return TargetProcedure(
        kind=kind,
        display=kind.value,
        source=ref("ServiceRequest"),
        body_sites=sites,
        body_site_display=", ".join(sorted(sites)) or None,
        scheduled_date=day,
        scheduled_at=at,
    )


def lab(
    kind: LabKind,
    value: float | None,
    when: datetime | None = None,
    unit: str | None = None,
    problem: str | None = None,
) -> LabResult:
    when = when if when is not None else NOW - timedelta(days=1)
    return LabResult(
        kind=kind,
        value=value,
        original_value=str(value) if value is not None else "abc",
        original_unit=unit,
        effective=when,
        source=ref("Observation"),
        problem=problem if value is not None else (problem or "non-numeric value"),
    )


def normal_labs(when: datetime | None = None) -> tuple[LabResult, ...]:
    return (
        lab(LabKind.PLATELETS, 250_000, when, "10*3/uL"),
        lab(LabKind.TP_PERCENT, 90, when, "%"),
        lab(LabKind.INR, 1.0, when),
    )


def condition(*concepts: str, display: str | None = None) -> ConditionFact:
    return ConditionFact(
        concepts=frozenset(concepts), display=display or concepts[0], source=ref("Condition")
    )


def allergy(*concepts: str) -> AllergyFact:
    return AllergyFact(
        concepts=frozenset(concepts), display=concepts[0], source=ref("AllergyIntolerance")
    )


def med(
    ingredient: str,
    *classes: DrugClass,
    dose: float | None = None,
    kind: MedicationSourceKind = MedicationSourceKind.ORDER,
    display: str | None = None,
    dose_problem: str | None = None,
) -> MedicationFact:
    resource = "MedicationRequest" if kind is MedicationSourceKind.ORDER else "MedicationStatement"
    return MedicationFact(
        ingredient=ingredient,
        classes=frozenset(classes),
        display=display or ingredient.capitalize(),
        source=ref(resource),
        source_kind=kind,
        daily_dose_mg=dose,
        dose_problem=dose_problem,
    )


IN_SCOPE = (condition("bone-metastasis"), condition("lung-cancer"))


def facts(
    *,
    procedures: tuple[TargetProcedure, ...] | None = None,
    labs: tuple[LabResult, ...] | None = None,
    medications: tuple[MedicationFact, ...] = (),
    conditions: tuple[ConditionFact, ...] = IN_SCOPE,
    allergies: tuple[AllergyFact, ...] = (),
    unavailable: frozenset[DataCategory] = frozenset(),
    patient_id: str | None = "pat-1",
) -> PatientFacts:
    """A patient in scope with normal recent labs unless told otherwise."""
    return PatientFacts(
        patient_id=patient_id,
        procedures=procedures if procedures is not None else (procedure(),),
        labs=labs if labs is not None else normal_labs(),
        medications=medications,
        conditions=conditions,
        allergies=allergies,
        unavailable=unavailable,
    )


__all__ = ["NOW", "PARIS", "PROCEDURE_DAY", "UTC"]
