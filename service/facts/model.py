"""The patient facts the rules read. Plain frozen data: no FHIR JSON, no HTTP, no configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from service.vocabulary import DataCategory, DrugClass, LabKind, ProcedureKind


@dataclass(frozen=True)
class ResourceRef:
    """Which FHIR resource a fact came from (for card detail and the audit)."""

    resource_type: str
    id: str | None = None
    version: str | None = None

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.id}" if self.id else self.resource_type


@dataclass(frozen=True)
class LabResult:
    """One Observation with a usable status (final, amended, corrected).

    `value` is normalised (platelets per mm3, TP %, INR ratio, pain 0-10) or None when the result
    cannot be interpreted; `problem` then says why (unconvertible unit, non-numeric value...).
    """

    kind: LabKind
    value: float | None
    original_value: str
    original_unit: str | None
    effective: datetime | None  # timezone-aware; None when the resource carries no date
    source: ResourceRef
    problem: str | None = None
    # What the date gave: "year", "month", "day" or "time" (see service/facts/dates.py: a date
    # without a time is the earliest instant it can denote, at UTC+14:00; `.date()` is as written).
    effective_precision: str | None = None
    # "<", "<=", ">=", ">" when the lab reported a bound ("<20 G/L"), not an exact value: the
    # rules then decide only when the bound settles the threshold, else it is uninterpretable.
    comparator: str | None = None
    # status `preliminary`: counts only when less favourable than the latest final result
    # (RULES.md v2), and the card says so.
    preliminary: bool = False
    # The date-time was written without a time zone and read in the site's zone (card says so).
    zone_assumed: bool = False
    # `problem` as a code the cards word in each language (labs.problem_code: "no-unit", "unit",
    # "bound", "non-numeric", "no-value", "out-of-range", "invalid", "date", "modifier",
    # "unreadable", "other"); None when there is no problem.
    problem_code: str | None = None

    @property
    def interpretable(self) -> bool:
        return self.value is not None and self.problem is None


class MedicationSourceKind(StrEnum):
    ORDER = "order"  # MedicationRequest
    STATEMENT = "statement"  # MedicationStatement (patient-reported or reconciled)


@dataclass(frozen=True)
class MedicationFact:
    """One active medication, as matched against the drug value sets."""

    ingredient: str  # value-set key of the ingredient, e.g. "clopidogrel", "warfarin"
    classes: frozenset[DrugClass]
    display: str  # what the record calls it, for the card
    source: ResourceRef
    source_kind: MedicationSourceKind
    daily_dose_mg: float | None = None
    dose_problem: str | None = None  # why the daily dose could not be computed
    code: tuple[str, str] | None = None  # (system, code) that matched, if any
    # A Dosage says "as needed" (asNeededBoolean true or asNeededCodeableConcept): aspirin taken
    # as needed is held whatever its computed dose (RULES.md MED-ASPIRIN-HIGH-DOSE).
    as_needed: bool = False


@dataclass(frozen=True)
class ConditionFact:
    """An active Condition, with the value-set concepts it matched (e.g. "bone-metastasis")."""

    concepts: frozenset[str]
    display: str
    source: ResourceRef
    recorded: datetime | None = None
    onset: datetime | None = None  # onsetDateTime, when given (MED-CARDIAC-RISK: ACS < 12 months)
    # Set when the concepts came from the record's text (no code matched): the card quotes it.
    matched_text: str | None = None
    verification: str | None = None  # verificationStatus code (provisional, confirmed...)
    text_sites: frozenset[str] = frozenset()  # body-site groups its text names ("spine"...)


@dataclass(frozen=True)
class AllergyFact:
    """An active AllergyIntolerance, with the value-set concepts its substance matched."""

    concepts: frozenset[str]
    display: str
    source: ResourceRef
    recorded: datetime | None = None  # recordedDate (else onset)
    verification: str | None = None  # verificationStatus code (confirmed, unconfirmed...)
    criticality: str | None = None  # low, high, unable-to-assess
    reactions: tuple[str, ...] = ()  # reaction manifestations, as the record words them
    matched_text: str | None = None


@dataclass(frozen=True)
class TargetProcedure:
    """A draft ServiceRequest in scope whose code is in the trigger value set."""

    kind: ProcedureKind
    display: str
    source: ResourceRef
    body_sites: frozenset[str] = frozenset()  # site concepts, e.g. "long-bone", "pelvis", "spine"
    body_site_display: str | None = None
    scheduled_date: date | None = None  # the procedure date when the order gives one
    scheduled_at: datetime | None = None  # the full timestamp, when it has a time


@dataclass(frozen=True)
class InvalidResource:
    """A resource the rules might need that could not be read or resolved.

    (A medication reference that resolves to nothing, a resource whose reading raised.) Its
    category is also in `PatientFacts.unavailable`, so DATA-UNAVAILABLE reports it.
    `reason` names the failing element, never a value (no patient data, no names).
    """

    category: DataCategory
    source: ResourceRef
    reason: str


@dataclass(frozen=True)
class PatientFacts:
    patient_id: str | None
    procedures: tuple[TargetProcedure, ...]
    labs: tuple[LabResult, ...] = ()
    medications: tuple[MedicationFact, ...] = ()
    conditions: tuple[ConditionFact, ...] = ()
    allergies: tuple[AllergyFact, ...] = ()
    unavailable: frozenset[DataCategory] = field(default_factory=frozenset)
    invalid_resources: tuple[InvalidResource, ...] = ()
