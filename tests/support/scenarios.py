"""Patients that, between them, fire every rule of the catalog (for rule and card tests)."""

from __future__ import annotations

from datetime import datetime, timedelta

from service.facts.model import MedicationSourceKind, PatientFacts
from service.vocabulary import DataCategory, DrugClass, LabKind, ProcedureKind
from support.rule_facts import IN_SCOPE, NOW, allergy, condition, facts, lab, med, procedure


def everything_wrong() -> PatientFacts:
    """One patient firing as many rules at once as can fire together."""
    long_name = "Secondary malignant neoplasm of bone and bone marrow, thoracic vertebra T7 " * 3
    return facts(
        procedures=(
            procedure(ProcedureKind.KYPHOPLASTY, frozenset({"spine"})),
            procedure(ProcedureKind.CRYOABLATION, frozenset({"long-bone", "pelvis"})),
        ),
        labs=(
            lab(LabKind.PLATELETS, 32_000, unit="10*3/uL"),
            lab(LabKind.TP_PERCENT, None, problem="unit 's' is not a percentage"),
            lab(LabKind.INR, 2.4),
            lab(LabKind.PAIN_SCORE, 8),
        ),
        conditions=(
            condition("bone-metastasis", display=long_name),
            condition("systemic-infection", display="Sepsis " + long_name),
            condition("skin-infection"),
            condition("coagulopathy"),
            condition("cement-allergy"),
            condition("diffuse-pain"),
            condition("asymptomatic-fracture"),
            condition("radiculopathy"),
            condition("epidural-extension"),
            condition("posterior-wall"),
            condition("joint-opening"),
            condition("immunocompromised"),
            condition("constipation"),
        ),
        allergies=(allergy("cement-allergy"), allergy("opioid-allergy")),
        medications=(
            med("warfarin", DrugClass.VKA, display="Warfarin Sodium 5 MG Oral Tablet"),
            med("clopidogrel", DrugClass.CLOPIDOGREL, display="Plavix 75 mg"),
            med(
                "clopidogrel",
                DrugClass.CLOPIDOGREL,
                kind=MedicationSourceKind.STATEMENT,
                display="clopidogrel (patient-reported)",
            ),
            med("apixaban", DrugClass.DOAC, display="Eliquis 5 mg"),
            med(
                "aspirin",
                DrugClass.ASPIRIN,
                dose=75,
                kind=MedicationSourceKind.STATEMENT,
                display="Kardégic 75 mg",
            ),
            med("enoxaparin", DrugClass.LMWH),
            med("prasugrel", DrugClass.OTHER_ANTITHROMBOTIC),
            med("ticagrelor", DrugClass.OTHER_ANTITHROMBOTIC),
            med("morphine", DrugClass.OPIOID, DrugClass.ANALGESIC),
            med("methotrexate", DrugClass.CYTOTOXIC),
        ),
        unavailable=frozenset({DataCategory.ALLERGIES, DataCategory.PAIN}),
    )


def kitchen_sink() -> list[tuple[PatientFacts, datetime]]:
    late = NOW + timedelta(days=11)  # 2026-12-06: every day-based hold is already past
    return [
        (everything_wrong(), NOW),
        (everything_wrong(), late),
        (facts(conditions=()), NOW),
        (
            facts(
                conditions=(condition("bone-metastasis"),),
                labs=(lab(LabKind.PLATELETS, 50_000), lab(LabKind.TP_PERCENT, 50)),
            ),
            NOW,
        ),
        (
            facts(
                labs=(lab(LabKind.PLATELETS, 300_000), lab(LabKind.PAIN_SCORE, 2)),
                medications=(
                    med("paracetamol", DrugClass.ANALGESIC),
                    med("aspirin", DrugClass.ASPIRIN, dose=500),
                    med("aspirin", DrugClass.ASPIRIN, dose_problem="no frequency"),
                ),
            ),
            NOW,
        ),
        (
            facts(
                labs=(lab(LabKind.PLATELETS, 300_000),),
                medications=(med("aspirin", DrugClass.ASPIRIN, dose_problem="no frequency"),),
            ),
            NOW,
        ),
        (  # 2026-12-05, procedure 12-07 without a time: DOAC hold past only if before 10:00
            facts(
                conditions=(*IN_SCOPE, condition("coronary-stent")),
                medications=(
                    med("apixaban", DrugClass.DOAC),
                    med("clopidogrel", DrugClass.CLOPIDOGREL),
                    med("warfarin", DrugClass.VKA),
                ),
            ),
            NOW + timedelta(days=10),
        ),
        # v2: a fever and an antibiotic without a documented infection; an ablation alone on
        # a weight-bearing site.
        (
            facts(
                labs=(lab(LabKind.TEMPERATURE, 38.6, unit="Cel"),),
                medications=(med("amoxicillin", DrugClass.ANTIBACTERIAL),),
                procedures=(
                    procedure(
                        ProcedureKind.RADIOFREQUENCY_ABLATION,
                        frozenset({"spine", "weight-bearing"}),
                    ),
                ),
            ),
            NOW,
        ),
    ]
