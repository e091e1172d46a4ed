"""The pain rules need a usable pain score AND a current analgesic treatment (RULES.md: the
pain is judged "under treatment"); when either is missing the checklist asks for the pain
assessment instead. A mutation run of service/rules/indication.py found the opioid class
unpinned: a patient on morphine alone (class OPIOID, not ANALGESIC) could lose his pain cards
and get the checklist item instead, and no test noticed."""

from __future__ import annotations

import pytest
from support.rule_facts import IN_SCOPE, NOW, allergy, condition, facts, lab, med, normal_labs

from service.rules.checklist import checklist_items
from service.rules.indication import evaluate
from service.rules.policy import Policy
from service.vocabulary import DrugClass, LabKind

MORPHINE = med("morphine", DrugClass.OPIOID)
PARACETAMOL = med("paracetamol", DrugClass.ANALGESIC)


@pytest.mark.parametrize("treatment", [MORPHINE, PARACETAMOL], ids=["opioid", "analgesic"])
def test_a_treated_patient_with_a_pain_score_is_assessed(treatment) -> None:
    score = lab(LabKind.PAIN_SCORE, 8)
    patient = facts(labs=(*normal_labs(), score), medications=(treatment,))
    assert "pain-assessment" not in checklist_items(patient, Policy(), NOW)
    (finding,) = evaluate(patient, Policy(), NOW)
    assert finding.rule_id == "IND-PAIN-UNCONTROLLED"
    assert finding.params["analgesics"] == [treatment.display]
    assert finding.evidence == (score.source, treatment.source)


def test_without_a_treatment_or_a_score_the_checklist_asks_for_the_assessment() -> None:
    untreated = facts(labs=(*normal_labs(), lab(LabKind.PAIN_SCORE, 8)))
    unscored = facts(medications=(MORPHINE,))
    for patient in (untreated, unscored):
        assert "pain-assessment" in checklist_items(patient, Policy(), NOW)
        assert evaluate(patient, Policy(), NOW) == []


def test_an_unreadable_pain_score_leaves_the_assessment_to_the_checklist() -> None:
    # A score written "severe" (no number) cannot be compared to 4/10 or 7/10: the pain is not
    # assessed, and the checklist must still ask for it.
    unreadable = lab(LabKind.PAIN_SCORE, None, problem="non-numeric value (valueString)")
    patient = facts(labs=(*normal_labs(), unreadable), medications=(MORPHINE,))
    assert "pain-assessment" in checklist_items(patient, Policy(), NOW)
    assert evaluate(patient, Policy(), NOW) == []


def test_opioid_intolerance_names_the_opioid_then_its_effects_and_allergies() -> None:
    constipation = condition("constipation", display="Opioid-induced constipation")
    allergy_ = allergy("opioid-allergy")
    patient = facts(
        medications=(MORPHINE,), conditions=(*IN_SCOPE, constipation), allergies=(allergy_,)
    )
    (finding,) = evaluate(patient, Policy(), NOW)
    assert finding.rule_id == "IND-OPIOID-INTOLERANCE"
    assert finding.params["opioids"] == ["Morphine"]
    assert finding.params["effects"] == ["Opioid-induced constipation", "opioid-allergy"]
    assert finding.evidence == (MORPHINE.source, constipation.source, allergy_.source)
