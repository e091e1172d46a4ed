"""fhir.resources validation (~0.05-0.6 ms an element) runs only where the rules compare a value:
never on a whole MedicationRequest, MedicationStatement, Medication, Condition or allergy; on the
Dosage elements of an aspirin only (its daily dose is compared to 160 mg/day); on what the
service reads of an Observation it interprets."""

from __future__ import annotations

from support.fhir_builders import (
    EFFECTIVE,
    NOW,
    RXNORM,
    SNOMED,
    VERTEBROPLASTY,
    allergy,
    concept,
    condition,
    dosage,
    medication_request,
    medication_statement,
    observation,
    service_request,
)
from support.hook_calls import hook_call
from support.hook_calls import prefetch as resolved

from service.facts import validation
from service.facts.extract import extract_facts, procedures_in_scope
from service.facts.labs import extract_labs

WARFARIN = {"resourceType": "Medication", "id": "m-warfarin", "code": concept(RXNORM, "11289")}
ASPIRIN = concept(RXNORM, "1191", text="aspirin")


def test_only_aspirin_dosages_are_validated(valuesets, all_triggers, monkeypatch) -> None:
    validated: list[str] = []
    real_model, real_dosage = validation._model, validation.dosage_error

    def counting_model(resource_type):
        validated.append(resource_type)
        return real_model(resource_type)

    def counting_dosage(dosages):
        validated.append("Dosage")
        return real_dosage(dosages)

    monkeypatch.setattr(validation, "_model", counting_model)
    monkeypatch.setattr("service.facts.medications.dosage_error", counting_dosage)
    orders = [
        medication_request(None, medicationReference={"reference": "Medication/m-warfarin"}),
        medication_request(concept(RXNORM, "312961", text="Simvastatin 20 MG Oral Tablet")),
        medication_request(ASPIRIN, dosage=[dosage(75, "mg", frequency=1)]),
    ]
    statement = medication_statement(concept(RXNORM, "32968", text="clopidogrel"))
    request = hook_call([service_request(VERTEBROPLASTY)])
    data = resolved(
        medicationRequests=orders,
        medicationStatements=[statement],
        medications=[WARFARIN],
        conditions=[condition(concept(SNOMED, "91302008", text="Sepsis"))],
        allergies=[allergy(concept(SNOMED, "427811002"))],
    )
    procedures = procedures_in_scope(request, valuesets, all_triggers)
    facts = extract_facts(request, data, valuesets, procedures, NOW)
    assert sorted(m.ingredient for m in facts.medications) == ["aspirin", "clopidogrel", "warfarin"]
    assert len(facts.conditions) == 1 and len(facts.allergies) == 1
    assert validated == ["Dosage"]


# An Observation the rules read is validated on what the service reads of it, and on any key R4
# does not define: an element no reader looks at cannot make a platelet count unusable, a typo
# that hides the element a reader wanted still does.


def test_a_broken_element_no_reader_looks_at_leaves_the_count_usable(valuesets) -> None:
    resource = observation("777-3", 30, "10*3/uL")
    resource["encounter"] = "Encounter/e1"  # a string where a Reference is required
    resource["category"] = {"coding": "laboratory"}  # an object where a list is required
    resource["meta"] = {"versionId": "2", "lastUpdated": "yesterday"}
    (lab,) = extract_labs([resource], valuesets, NOW)
    assert (lab.value, lab.problem) == (30_000, None)
    assert lab.source.version == "2"


def test_a_misspelt_date_element_still_makes_the_count_unusable(valuesets) -> None:
    resource = observation("777-3", 30, "10*3/uL", effective=None, effectiveDatetime=EFFECTIVE)
    (lab,) = extract_labs([resource], valuesets, NOW)
    assert lab.value is None
    assert lab.problem is not None and lab.problem.startswith("invalid FHIR R4 Observation")
    assert "effectiveDatetime" in lab.problem


def test_a_broken_element_the_service_reads_makes_the_count_unusable(valuesets) -> None:
    for element, broken in (
        ("subject", "Patient/p1"),
        ("meta", {"versionId": 2}),
        ("referenceRange", {"low": 0}),
        ("issued", "yesterday"),
        ("valueQuantity", {"value": 30, "unit": "10*3/uL", "system": 5}),
    ):
        resource = observation("777-3", 30, "10*3/uL")
        resource[element] = broken
        (lab,) = extract_labs([resource], valuesets, NOW)
        assert lab.value is None, element
        assert lab.problem is not None and "invalid FHIR R4" in lab.problem, element


def test_a_misspelt_key_inside_meta_still_makes_the_count_unusable(valuesets) -> None:
    # `versionid` hides the versionId the evidence cites: the docstring's "a misspelt or unknown
    # element still makes the result invalid" holds inside meta too; the R4 Meta elements no
    # reader looks at (lastUpdated, source, profile, security, tag) stay out of the check.
    resource = observation("777-3", 30, "10*3/uL")
    resource["meta"] = {"versionid": "2", "lastUpdated": "2026-01-01T00:00:00Z"}
    (lab,) = extract_labs([resource], valuesets, NOW)
    assert lab.value is None
    assert lab.problem is not None and "meta.versionid" in lab.problem


def test_a_lone_surrogate_in_a_text_makes_the_count_unusable(valuesets) -> None:
    # json.loads reads "\ud800" as a lone UTF-16 surrogate: not a character, so not an R4
    # string. A platelet count carrying one is unusable, whichever check answers first.
    resource = observation("777-3", 30, "10*3/uL")
    resource["subject"] = {"reference": "Patient/p1", "display": "Dupont\ud800"}
    (lab,) = extract_labs([resource], valuesets, NOW)
    assert lab.value is None
    assert lab.problem is not None and "invalid FHIR R4 Observation" in lab.problem
