"""The parameters each rule's finding carries: one frozen dataclass per rule (PARAMS).

The card renderer reads the findings alone (never the facts), so these are everything a card
shows or a suggestion needs. `fire` (service/rules/common.py) builds the rule's own class from
the values a rule function gives it: a value the class does not declare, or one it requires and
is not given, is a TypeError, never a key silently missing on a card.

Every class is also a read-only Mapping of its fields (`params["value"]`, `"kind" in record`,
`{**params, "for_rule": ...}`), so that the evidence extension can walk the values that name a
resource, and so that code written against the earlier dictionaries keeps working.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    """A parameters class's field names, in declaration order: read once per class, since the
    card renderer looks values up by name tens of thousands of times a second."""
    return tuple(f.name for f in fields(cls))


@cache
def _field_set(cls: type) -> frozenset[str]:
    return frozenset(_field_names(cls))


class Params(Mapping[str, Any]):
    """Read-only Mapping view of a parameters dataclass (its fields, in declaration order)."""

    def __getitem__(self, key: str) -> Any:
        if key not in _field_set(type(self)):
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_field_names(type(self)))

    def __len__(self) -> int:
        return len(_field_names(type(self)))


_P = dict(frozen=True, kw_only=True, eq=True)


# ---------------------------------------------------------------------------------- shown values


@dataclass(**_P)  # type: ignore[call-overload]
class LabShown(Params):
    """One laboratory result as a card shows it (service/rules/common.lab_params)."""

    value: float | None
    comparator: str | None
    original_value: str
    original_unit: str | None
    date: str | None  # ISO date on the site's calendar
    reference: str
    problem: str | None
    problem_code: str | None
    kind: str  # LabKind value
    preliminary: bool
    zone_assumed: bool
    stale: bool = False  # older than the window: shown with its value and date
    max_age_days: int | None = None  # the window, for a stale result
    celsius: float | None = None  # a temperature, converted


@dataclass(**_P)  # type: ignore[call-overload]
class RecordShown(Params):
    """A Condition behind a card: name, resource, recorded date."""

    display: str
    reference: str
    date: str | None
    dated: bool


@dataclass(**_P)  # type: ignore[call-overload]
class DocumentedCondition(Params):
    """A Condition a contraindication fired from: quoted when read from its text."""

    display: str
    reference: str
    date: str | None
    dated: bool
    kind: str = "condition"
    text: str | None
    verification: str | None
    other_site: bool
    suspected: bool = False


@dataclass(**_P)  # type: ignore[call-overload]
class AllergyShown(Params):
    """An AllergyIntolerance behind the cement-allergy card: date, status, criticality, reaction."""

    display: str
    reference: str
    date: str | None
    kind: str = "allergy"
    verification: str | None
    criticality: str | None
    reactions: Sequence[str]
    text: str | None
    antibiotic: bool = False  # an antibiotic of an antibiotic-loaded cement


@dataclass(**_P)  # type: ignore[call-overload]
class ProcedureShown(Params):
    """The one procedure the antithrombotic plan is for (service/rules/schedule.py)."""

    reference: str
    display: str
    day: str  # ISO date on the site's calendar
    start: str  # ISO instant in the site's zone (00:00 when no time is given)
    time_given: bool
    several: bool
    undated_orders: int


@dataclass(**_P)  # type: ignore[call-overload]
class ConditionalHold(Params):
    """The hold an aspirin of unknown dose gets if its dose is >= 160 mg/day."""

    days_before: int
    last_dose_on: str | None
    hold_from: str | None


@dataclass(**_P)  # type: ignore[call-overload]
class PassedCheck(Params):
    """A check the record passes, with the value and date it passed on."""

    check: str  # platelets, tp, inr, temperature, conditions
    lab: LabShown | None = None
    threshold: float | None = None
    celsius: float | None = None
    conditions: int | None = None  # records read
    allergies: int | None = None


# ---------------------------------------------------------------------------------- per rule


@dataclass(**_P)  # type: ignore[call-overload]
class NoParams(Params):
    """A rule whose card needs nothing but its wording."""


@dataclass(**_P)  # type: ignore[call-overload]
class NotLungPrimaryParams(Params):
    metastasis: str


@dataclass(**_P)  # type: ignore[call-overload]
class PainParams(LabShown):
    """IND-PAIN-UNCONTROLLED, NONIND-PAIN-CONTROLLED: the score, the analgesics, the thresholds."""

    analgesics: Sequence[str]
    uncontrolled_min: float
    controlled_max: float


@dataclass(**_P)  # type: ignore[call-overload]
class OpioidIntoleranceParams(Params):
    opioids: Sequence[str]
    effects: Sequence[str]


@dataclass(**_P)  # type: ignore[call-overload]
class ContraindicationParams(Params):
    """A contraindication documented by Conditions."""

    conditions: Sequence[str]
    records: Sequence[DocumentedCondition]


@dataclass(**_P)  # type: ignore[call-overload]
class EpiduralParams(ContraindicationParams):
    compression: bool  # a cord or cauda equina compression: the urgent-opinion sentence


@dataclass(**_P)  # type: ignore[call-overload]
class CoagulopathyParams(ContraindicationParams):
    labs: Sequence[LabShown]  # the latest platelets, TP and INR shown beside it


@dataclass(**_P)  # type: ignore[call-overload]
class InfectionSuspectedParams(Params):
    conditions: Sequence[str]
    records: Sequence[DocumentedCondition]
    temperatures: Sequence[LabShown]
    antibiotics: Sequence[str]


@dataclass(**_P)  # type: ignore[call-overload]
class CementAllergyParams(Params):
    conditions: Sequence[str]
    records: Sequence[AllergyShown | DocumentedCondition]
    antibiotic_only: bool


@dataclass(**_P)  # type: ignore[call-overload]
class LabFindingParams(LabShown):
    """BLEED-PLATELETS-LOW, BLEED-TP-LOW: the deciding result, those shown beside it."""

    also: Sequence[LabShown]
    threshold: float


@dataclass(**_P)  # type: ignore[call-overload]
class InrHighParams(LabFindingParams):
    tp: LabShown | None  # a usable TP > 50 %: the card shows it (then a warning)
    inr_alone: bool  # no usable TP: the INR alone stands for the coagulation requirement
    vka: bool


@dataclass(**_P)  # type: ignore[call-overload]
class LabMissingParams(Params):
    missing: Sequence[str]  # test keys: platelets, tp, inr
    unusable: Sequence[LabShown]  # unusable, and stale results shown with their value and date
    max_age_days: int


@dataclass(**_P)  # type: ignore[call-overload]
class LabUninterpretableParams(Params):
    results: Sequence[LabShown]


@dataclass(**_P)  # type: ignore[call-overload]
class SitesParams(Params):
    sites: Sequence[str]


@dataclass(**_P)  # type: ignore[call-overload]
class ProceduresParams(Params):
    procedures: Sequence[str]


@dataclass(**_P)  # type: ignore[call-overload]
class ThermalAblationParams(ProceduresParams):
    cryoablation: bool  # the safety-margin sentence is for cryoablation only


@dataclass(**_P)  # type: ignore[call-overload]
class WeightBearingParams(ProceduresParams):
    sites: Sequence[str]


@dataclass(**_P)  # type: ignore[call-overload]
class ProphylaxisParams(Params):
    reasons: Sequence[str]
    records: Sequence[RecordShown]
    corticosteroid: bool
    ablation_only: bool
    neutrophils: LabShown | None


@dataclass(**_P)  # type: ignore[call-overload]
class TumorControlParams(Params):
    ablation_only: bool


@dataclass(**_P)  # type: ignore[call-overload]
class ChecklistParams(Params):
    items: Sequence[str]  # checklist item keys, worded by the card
    passed: Sequence[PassedCheck]


@dataclass(**_P)  # type: ignore[call-overload]
class DataUnavailableParams(Params):
    categories: Sequence[str]
    rules: Sequence[str]  # for the audit and the log, never the card
    unreadable: Mapping[str, int]  # category -> resources that could not be read
    nothing_obtained: bool
    reasons: Mapping[str, Sequence[str]] = field(default_factory=dict)  # failure codes
    partial: Sequence[str] = ()  # categories obtained in part


# ---------------------------------------------------------------------------------- the plan


@dataclass(**_P)  # type: ignore[call-overload]
class MedicationParams(Params):
    """One medication record's line of the plan (every MED-* finding but the cardiac one)."""

    drug: str  # ingredient key
    ingredients: Sequence[str]
    display: str
    displays: Sequence[str]
    record: str  # the MedicationRequest or MedicationStatement
    record_kind: str  # MedicationSourceKind value
    order_id: str | None
    combination: bool
    procedure: ProcedureShown | None
    procedure_date: str | None
    antiplatelet_hold: bool = False
    for_rule: str | None = None  # MED-HOLD-TOO-LATE / -TIME-UNKNOWN: the rule of their line


@dataclass(**_P)  # type: ignore[call-overload]
class ClopidogrelParams(MedicationParams):
    aspirin_already: Sequence[str] = ()  # a combination tablet beside an aspirin already taken


@dataclass(**_P)  # type: ignore[call-overload]
class DoacParams(MedicationParams):
    not_in_guideline: bool  # edoxaban
    renal_caveat: bool  # dabigatran
    time_assumed: bool  # a date-only procedure: counted from 00:00


@dataclass(**_P)  # type: ignore[call-overload]
class AspirinParams(MedicationParams):
    daily_dose_mg: float | None
    as_needed: bool
    total_mg: float
    remaining_mg: float
    threshold_mg: float
    at_limit: bool
    dose_problems: Sequence[str]
    total_unknown: bool
    if_high_dose: ConditionalHold | None = None
    continued: bool = False


@dataclass(**_P)  # type: ignore[call-overload]
class UnlistedParams(MedicationParams):
    configured_days: int | None


@dataclass(**_P)  # type: ignore[call-overload]
class VkaParams(MedicationParams):
    vka_stop_days: int
    lmwh_days_before: int
    vka_hold_from: str | None = None
    vka_last_dose_on: str | None = None
    lmwh_hold_from: str | None = None
    lmwh_last_dose_on: str | None = None
    inr_day: str | None = None


@dataclass(**_P)  # type: ignore[call-overload]
class TimeUnknownParams(DoacParams):
    late_if_before: str  # "HH:MM"


@dataclass(**_P)  # type: ignore[call-overload]
class CardiacRiskParams(Params):
    conditions: Sequence[RecordShown]
    drugs: Sequence[str]  # ingredient keys of the antiplatelets held


PARAMS: dict[str, type[Params]] = {
    "SCOPE-NO-BONE-METASTASIS": NoParams,
    "SCOPE-NOT-LUNG-PRIMARY": NotLungPrimaryParams,
    "IND-PAIN-UNCONTROLLED": PainParams,
    "IND-OPIOID-INTOLERANCE": OpioidIntoleranceParams,
    "NONIND-PAIN-CONTROLLED": PainParams,
    "CI-ABS-SYSTEMIC-INFECTION": ContraindicationParams,
    "CI-ABS-INFECTION-SUSPECTED": InfectionSuspectedParams,
    "CI-ABS-SKIN-INFECTION": ContraindicationParams,
    "CI-ABS-COAGULOPATHY": CoagulopathyParams,
    "CI-ABS-CEMENT-ALLERGY": CementAllergyParams,
    "CI-ABS-DIFFUSE-PAIN": ContraindicationParams,
    "CI-ABS-ASYMPTOMATIC-FRACTURE": ContraindicationParams,
    "CI-REL-RADICULOPATHY": ContraindicationParams,
    "CI-REL-EPIDURAL": EpiduralParams,
    "CI-REL-POSTERIOR-WALL": ContraindicationParams,
    "CI-REL-JOINT-OPENING": ContraindicationParams,
    "BLEED-PLATELETS-LOW": LabFindingParams,
    "BLEED-TP-LOW": LabFindingParams,
    "BLEED-INR-HIGH": InrHighParams,
    "BLEED-LAB-MISSING": LabMissingParams,
    "BLEED-LAB-UNINTERPRETABLE": LabUninterpretableParams,
    "MED-VKA": VkaParams,
    "MED-VKA-TOO-LATE": VkaParams,
    "MED-CLOPIDOGREL": ClopidogrelParams,
    "MED-DOAC": DoacParams,
    "MED-ASPIRIN-LOW-DOSE": AspirinParams,
    "MED-ASPIRIN-HIGH-DOSE": AspirinParams,
    "MED-ASPIRIN-DOSE-UNKNOWN": AspirinParams,
    "MED-LMWH": MedicationParams,
    "MED-ANTITHROMBOTIC-UNLISTED": UnlistedParams,
    "MED-CARDIAC-RISK": CardiacRiskParams,
    # Its params are those of the line it qualifies (that rule's class, `for_rule` set).
    "MED-HOLD-TOO-LATE": MedicationParams,
    "MED-HOLD-TIME-UNKNOWN": TimeUnknownParams,
    "SITE-LONG-BONE": SitesParams,
    "PROC-KYPHOPLASTY": ProceduresParams,
    "PROC-THERMAL-ABLATION": ThermalAblationParams,
    "PROC-ABLATION-WEIGHT-BEARING": WeightBearingParams,
    "INF-PROPHYLAXIS": ProphylaxisParams,
    "TUMOR-CONTROL": TumorControlParams,
    "CHECKLIST": ChecklistParams,
    "DATA-UNAVAILABLE": DataUnavailableParams,
}

# Rules whose params are those of the plan line they qualify (named by `for_rule`).
QUALIFIES_ITS_LINE = frozenset({"MED-HOLD-TOO-LATE"})


def typed_params(rule_id: str, values: Mapping[str, Any] | None) -> Params:
    """`values` as the parameters class of `rule_id` (a TypeError when they do not fit it)."""
    cls = PARAMS[rule_id]
    if rule_id in QUALIFIES_ITS_LINE and values is not None:
        cls = PARAMS[str(values["for_rule"])]
    if isinstance(values, cls):
        return values
    return cls(**dict(values or {}))
