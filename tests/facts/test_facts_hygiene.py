"""Data hygiene (RULES.md v2 group 16): another patient's resources, modifierExtensions, code-system
aliases, MedicationRequest intents, contained references."""

from __future__ import annotations

import logging

import pytest
from support.fhir_builders import (
    ATC,
    ICD10,
    ICD10CM,
    LOINC,
    NOW,
    RXNORM,
    SNOMED,
    VERTEBROPLASTY,
    allergy,
    concept,
    condition,
    medication_request,
    medication_statement,
    observation,
    service_request,
)
from support.hook_calls import hook_call, prefetch

from service.facts.extract import MODIFIER_NOT_UNDERSTOOD, extract_facts
from service.facts.refs import has_modifier_extension, referenced_patient_id
from service.valuesets.codeable import codings, normalise_system
from service.vocabulary import DataCategory, LabKind

MODIFIER = [{"url": "http://example.org/fhir/StructureDefinition/not-given", "valueBoolean": True}]
SEPSIS = concept(SNOMED, "91302008")


def facts_for(valuesets, triggers, **keys):
    request = hook_call([service_request(VERTEBROPLASTY)])  # context.patientId = p1
    return extract_facts(request, prefetch(**keys), valuesets, triggers, NOW)


def other(resource, element="subject", patient="Patient/p2"):
    resource[element] = {"reference": patient}
    return resource


# ------------------------------------------------------------------ another patient's resources


def test_another_patients_sepsis_is_never_used(valuesets, all_triggers, caplog):
    sepsis = other(condition(SEPSIS))
    with caplog.at_level(logging.WARNING, logger="service.facts.extract"):
        facts = facts_for(valuesets, all_triggers, conditions=[sepsis])
    assert facts.conditions == ()
    # Logged by type and count, never the other patient's reference or the resource's id.
    (record,) = [r for r in caplog.records if "another patient" in r.getMessage()]
    assert "Condition x1" in record.getMessage()
    assert "p2" not in record.getMessage() and sepsis["id"] not in record.getMessage()


def test_this_patients_sepsis_is_used(valuesets, all_triggers):
    facts = facts_for(valuesets, all_triggers, conditions=[condition(SEPSIS)])
    assert [c.concepts for c in facts.conditions] == [frozenset({"systemic-infection"})]


def test_another_patients_newer_normal_count_does_not_hide_this_patients_low_count(
    valuesets, all_triggers
):
    mine = observation("777-3", 30, "10*3/uL", effective="2026-11-18T08:00:00+01:00")
    theirs = other(observation("777-3", 250, "10*3/uL", effective="2026-11-20T08:00:00+01:00"))
    facts = facts_for(valuesets, all_triggers, platelets=[theirs, mine])
    assert [(lab.value, lab.source.id) for lab in facts.labs] == [(30_000.0, mine["id"])]


@pytest.mark.parametrize(
    ("build", "element"),
    [
        (lambda: medication_request(concept(RXNORM, "11289")), "subject"),
        (lambda: medication_statement(concept(RXNORM, "11289")), "subject"),
    ],
)
def test_another_patients_warfarin_is_never_used(valuesets, all_triggers, build, element):
    resource = other(build(), element)
    key = (
        "medicationRequests"
        if resource["resourceType"] == "MedicationRequest"
        else "medicationStatements"
    )
    assert facts_for(valuesets, all_triggers, **{key: [resource]}).medications == ()


def test_another_patients_allergy_is_never_used(valuesets, all_triggers):
    mine = allergy(concept(text="Polymethyl methacrylate"))
    theirs = other(allergy(concept(text="Polymethyl methacrylate")), "patient")
    facts = facts_for(valuesets, all_triggers, allergies=[mine, theirs])
    assert [a.source.id for a in facts.allergies] == [mine["id"]]


@pytest.mark.parametrize(
    "reference",
    [
        "Patient/p2",
        "https://ehr.example/fhir/Patient/p2",
        "https://ehr.example/fhir/Patient/p2/_history/3",
    ],
)
def test_every_form_of_another_patients_reference_is_recognised(valuesets, all_triggers, reference):
    sepsis = other(condition(SEPSIS), patient=reference)
    assert facts_for(valuesets, all_triggers, conditions=[sepsis]).conditions == ()


@pytest.mark.parametrize(
    "subject",
    [
        None,  # no subject: the search asked for this patient
        {"reference": "urn:uuid:4f1c"},  # a Bundle-local reference: cannot tell, kept
        {"identifier": {"value": "123"}},
        {"reference": "https://ehr.example/fhir/Patient/p1/_history/2"},
    ],
)
def test_a_reference_that_does_not_certainly_name_someone_else_is_kept(
    valuesets, all_triggers, subject
):
    sepsis = condition(SEPSIS)
    del sepsis["subject"]
    if subject is not None:
        sepsis["subject"] = subject
    assert len(facts_for(valuesets, all_triggers, conditions=[sepsis]).conditions) == 1


def test_referenced_patient_id_reads_only_patient_references():
    assert referenced_patient_id({"reference": "Patient/p1"}) == "p1"
    assert referenced_patient_id({"reference": "Group/g1"}) is None
    assert referenced_patient_id({"reference": "Patient"}) is None
    assert referenced_patient_id({"reference": 5}) is None
    assert referenced_patient_id("Patient/p1") is None


def test_a_prefetched_patient_of_another_id_is_not_this_patient(valuesets, all_triggers):
    patient = {"resourceType": "Patient", "id": "p2"}
    facts = facts_for(valuesets, all_triggers, patient=[patient])
    assert DataCategory.PATIENT in facts.unavailable
    same = facts_for(valuesets, all_triggers, patient=[{"resourceType": "Patient", "id": "p1"}])
    assert DataCategory.PATIENT not in same.unavailable


# ------------------------------------------------------------------------- modifierExtension


@pytest.mark.parametrize(
    ("resource", "key", "category"),
    [
        (condition(SEPSIS, modifierExtension=MODIFIER), "conditions", DataCategory.CONDITIONS),
        (
            allergy(concept(text="Polymethyl methacrylate"), modifierExtension=MODIFIER),
            "allergies",
            DataCategory.ALLERGIES,
        ),
        (
            medication_request(concept(RXNORM, "11289"), modifierExtension=MODIFIER),
            "medicationRequests",
            DataCategory.MEDICATIONS,
        ),
        (
            medication_statement(
                concept(RXNORM, "11289"),
                dosage=[{"text": "5 mg", "modifierExtension": MODIFIER}],  # in a backbone
            ),
            "medicationStatements",
            DataCategory.MEDICATIONS,
        ),
    ],
)
def test_a_modifier_extension_is_named_on_data_unavailable_never_read_as_absent(
    valuesets, all_triggers, resource, key, category
):
    facts = facts_for(valuesets, all_triggers, **{key: [resource]})
    assert (facts.conditions, facts.allergies, facts.medications) == ((), (), ())
    (invalid,) = facts.invalid_resources
    assert (invalid.category, invalid.source.id) == (category, resource["id"])
    assert invalid.reason == MODIFIER_NOT_UNDERSTOOD
    assert category in facts.unavailable


def test_an_empty_modifier_extension_modifies_nothing(valuesets, all_triggers):
    facts = facts_for(valuesets, all_triggers, conditions=[condition(SEPSIS, modifierExtension=[])])
    assert len(facts.conditions) == 1 and facts.invalid_resources == ()


def test_a_lab_with_a_modifier_extension_is_not_usable(valuesets, all_triggers):
    lab = observation("777-3", 250, "10*3/uL", modifierExtension=MODIFIER)
    facts = facts_for(valuesets, all_triggers, platelets=[lab])
    (result,) = facts.labs
    assert result.kind is LabKind.PLATELETS
    assert not result.interpretable
    assert "modifierExtension" in (result.problem or "")


def test_modifier_extension_search_survives_deep_nesting():
    deep: dict = {"resourceType": "Condition"}
    node = deep
    for _ in range(5000):  # deeper than Python's recursion limit
        node["x"] = {}
        node = node["x"]
    assert has_modifier_extension(deep) is False
    node["modifierExtension"] = MODIFIER
    assert has_modifier_extension(deep) is True


# ---------------------------------------------------------------------- code-system aliases


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("urn:oid:2.16.840.1.113883.6.1", LOINC),
        ("urn:oid:2.16.840.1.113883.6.96", SNOMED),
        ("urn:oid:2.16.840.1.113883.6.88", RXNORM),
        ("urn:oid:2.16.840.1.113883.6.3", ICD10),
        ("urn:oid:2.16.840.1.113883.6.90", ICD10CM),
        ("urn:oid:2.16.840.1.113883.6.73", ATC),
        ("http://loinc.org/", LOINC),
        (" http://snomed.info/sct/ ", SNOMED),
        ("http://www.whocc.no/atc/", ATC),
    ],
)
def test_code_system_aliases_are_normalised(written, canonical):
    assert normalise_system(written) == canonical
    assert codings({"coding": [{"system": written, "code": "x"}]}) == [(canonical, "x", "")]


def test_an_unknown_oid_is_left_alone():
    assert normalise_system("urn:oid:1.2.3") == "urn:oid:1.2.3"
    assert normalise_system(None) == ""


def test_every_matcher_reads_aliases(valuesets, all_triggers):
    """Labs, drugs and conditions each match a coding written with an alias."""
    facts = facts_for(
        valuesets,
        all_triggers,
        platelets=[
            {
                **observation("777-3", 30, "10*3/uL"),
                "code": {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.1", "code": "777-3"}]},
            }
        ],
        medicationRequests=[
            medication_request(concept("urn:oid:2.16.840.1.113883.6.88", "11289")),
            medication_request(concept("urn:oid:2.16.840.1.113883.6.73", "B01AC04")),
        ],
        conditions=[
            condition(concept("urn:oid:2.16.840.1.113883.6.96", "91302008")),
            condition(concept("urn:oid:2.16.840.1.113883.6.90", "C79.51")),
            condition(concept("http://hl7.org/fhir/sid/icd-10/", "A41.9")),
        ],
    )
    assert [lab.value for lab in facts.labs] == [30_000.0]
    assert sorted(m.ingredient for m in facts.medications) == ["clopidogrel", "warfarin"]
    assert [sorted(c.concepts) for c in facts.conditions] == [
        ["systemic-infection"],
        ["bone-metastasis"],
        ["systemic-infection"],
    ]


# ---------------------------------------------------------------- MedicationRequest intents


@pytest.mark.parametrize("intent", ["proposal", "plan"])
def test_a_proposed_or_planned_drug_is_not_taken(valuesets, all_triggers, intent):
    order = medication_request(concept(RXNORM, "11289"), intent=intent)
    assert facts_for(valuesets, all_triggers, medicationRequests=[order]).medications == ()


@pytest.mark.parametrize(
    "intent",
    [
        "order",
        "original-order",
        "reflex-order",
        "filler-order",
        "instance-order",
        None,
        ["plan"],
    ],
)
def test_an_ordered_drug_counts_and_so_does_one_without_an_intent(valuesets, all_triggers, intent):
    order = medication_request(concept(RXNORM, "11289"))
    if intent is None:
        del order["intent"]
    else:
        order["intent"] = intent
    facts = facts_for(valuesets, all_triggers, medicationRequests=[order])
    assert [m.ingredient for m in facts.medications] == ["warfarin"]


# ------------------------------------------------------------------- contained references


def test_a_contained_reference_resolves_to_the_medication_with_that_id(valuesets, all_triggers):
    """Not to the first contained Medication: "#b" is the clopidogrel, listed second."""
    order = medication_request(
        None,
        medicationReference={"reference": "#b"},
        contained=[
            {"resourceType": "Medication", "id": "a", "code": concept(RXNORM, "11289")},
            {"resourceType": "Medication", "id": "b", "code": concept(ATC, "B01AC04")},
        ],
    )
    facts = facts_for(valuesets, all_triggers, medicationRequests=[order])
    assert [m.ingredient for m in facts.medications] == ["clopidogrel"]


def test_a_contained_reference_to_no_such_id_is_reported(valuesets, all_triggers):
    order = medication_request(
        None,
        medicationReference={"reference": "#zz"},
        contained=[{"resourceType": "Medication", "id": "a", "code": concept(RXNORM, "11289")}],
    )
    facts = facts_for(valuesets, all_triggers, medicationRequests=[order])
    assert facts.medications == ()
    assert DataCategory.MEDICATIONS in facts.unavailable
