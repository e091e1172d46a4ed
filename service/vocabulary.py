"""Words every layer of `service/` shares: kept here so that no layer imports another's module
just for a name (the layers stay acyclic; tests/test_import_layers.py checks it)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

# The languages cards, rule pages and patient messages are written in (service/cards/messages).
Language = Literal["en", "fr"]
SUPPORTED_LOCALES: tuple[str, ...] = get_args(Language)


class DataCategory(StrEnum):
    """Groups of data the rules need; one may be unavailable (prefetch absent, FHIR failed)."""

    PATIENT = "patient"
    PLATELETS = "platelets"
    COAGULATION = "coagulation"
    PAIN = "pain"
    MEDICATIONS = "medications"
    CONDITIONS = "conditions"
    ALLERGIES = "allergies"
    TEMPERATURE = "temperature"
    NEUTROPHILS = "neutrophils"


class LabKind(StrEnum):
    PLATELETS = "platelets"  # normalised to count per mm3 (= per uL)
    TP_PERCENT = "tp"  # prothrombin time as % activity (French "TP", Quick)
    INR = "inr"  # ratio, unitless
    PT_SECONDS = "pt-seconds"  # prothrombin time in seconds: never comparable to the TP threshold
    PAIN_SCORE = "pain"  # 0-10
    # Body temperature: kept as written (Cel or [degF]); the rule converts, since UCUM's
    # factor-based conversion cannot do the affine Fahrenheit -> Celsius one.
    TEMPERATURE = "temperature"
    NEUTROPHILS = "neutrophils"  # normalised to count per mm3 (= per uL)


class DrugClass(StrEnum):
    VKA = "vka"
    CLOPIDOGREL = "clopidogrel"
    DOAC = "doac"  # dabigatran, rivaroxaban, apixaban, edoxaban (the guideline's class)
    ASPIRIN = "aspirin"
    LMWH = "lmwh"
    OTHER_ANTITHROMBOTIC = "other-antithrombotic"  # prasugrel, ticagrelor, UFH, alteplase...
    OPIOID = "opioid"  # ATC N02A
    ANALGESIC = "analgesic"  # ATC N02 (incl. opioids) or NSAID (M01A)
    IMMUNOSUPPRESSANT = "immunosuppressant"
    CYTOTOXIC = "cytotoxic"
    ANTIBACTERIAL = "antibacterial"  # ATC J01: antibacterials for systemic use
    CORTICOSTEROID = "corticosteroid"  # ATC H02AB: systemic glucocorticoids


class ProcedureKind(StrEnum):
    VERTEBROPLASTY = "vertebroplasty"
    KYPHOPLASTY = "kyphoplasty"
    SACROPLASTY = "sacroplasty"
    OSTEOPLASTY = "osteoplasty"  # cementoplasty of any other bone
    RADIOFREQUENCY_ABLATION = "radiofrequency-ablation"
    CRYOABLATION = "cryoablation"

    @property
    def is_thermal_ablation(self) -> bool:
        return self in (ProcedureKind.RADIOFREQUENCY_ABLATION, ProcedureKind.CRYOABLATION)


# The service's prefetch keys (service/prefetch_templates.py writes their queries) and the data
# category each one brings: a key not obtained makes its category unavailable.
KEY_CATEGORIES: dict[str, DataCategory] = {
    "patient": DataCategory.PATIENT,
    "platelets": DataCategory.PLATELETS,
    "coagulation": DataCategory.COAGULATION,
    "pain": DataCategory.PAIN,
    "medicationStatements": DataCategory.MEDICATIONS,
    "medicationRequests": DataCategory.MEDICATIONS,
    "conditions": DataCategory.CONDITIONS,
    "allergies": DataCategory.ALLERGIES,
    "temperature": DataCategory.TEMPERATURE,
    "neutrophils": DataCategory.NEUTROPHILS,
}

# Keys of the planned procedure (patient-view, appointment-book, a medication ordered). Not in
# KEY_CATEGORIES on purpose: a procedure order does not read them, so their absence is no gap in
# the data its rules need (DATA-UNAVAILABLE); a moment that finds nothing planned stays quiet.
PLANNED_KEYS = ("plannedServiceRequests", "plannedAppointments")
