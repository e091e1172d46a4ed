"""A medication that cannot be read is reported with the element that failed, never dropped.

The reader (`service.facts.medications._one`) either matches a drug, or reports the resource as
unreadable (category medications, so DATA-UNAVAILABLE names it) when it could not even tell
which drug it is, or leaves it out when it read a drug that is not one the rules care about. The
reason names the failing element (it goes to the log for the integration engineer, never a
value). Mutation testing found these paths unpinned: a mutant could swap two reasons, report a
readable drug or drop an unreadable one, and no test noticed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from support.fhir_builders import ATC, concept, dosage, medication_request, medication_statement

from service.facts.medications import MedicationIndex, extract_medications
from service.facts.model import InvalidResource, MedicationFact, MedicationSourceKind, ResourceRef
from service.valuesets import ValueSets
from service.vocabulary import DataCategory, DrugClass

Json = dict[str, Any]


def read(
    valuesets: ValueSets,
    requests: Sequence[Json] = (),
    statements: Sequence[Json] = (),
    referenced: dict[str, Json] | None = None,
) -> tuple[list[MedicationFact], list[InvalidResource]]:
    index = MedicationIndex([], referenced or {})
    return extract_medications(list(requests), list(statements), index, valuesets)


def contained_medication(id: str = "m", **fields: Any) -> Json:
    return {"resourceType": "Medication", "id": id, **fields}


def request_without_medication(**extra: Any) -> Json:
    """A MedicationRequest with no medication[x] but what `extra` gives it."""
    return medication_request(None, **extra)


def request_of_ingredients(*ingredients: Any, display: str | None = None, **extra: Any) -> Json:
    """A MedicationRequest of a contained Medication with no code, made of `ingredients` (a
    CodeableConcept becomes an itemCodeableConcept; anything else is sent as it is)."""
    items = [
        {"itemCodeableConcept": item} if isinstance(item, dict) and "coding" in item else item
        for item in ingredients
    ]
    reference = {"reference": "#m"} | ({"display": display} if display is not None else {})
    return request_without_medication(
        medicationReference=reference,
        contained=[contained_medication(ingredient=items)],
        **extra,
    )


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: request_without_medication(), "no medication[x]"),
        (
            lambda: request_without_medication(medicationCodeableConcept="Plavix 75 mg"),
            "medicationCodeableConcept is not an object",
        ),
        (
            lambda: request_without_medication(medicationReference={"reference": "Medication/x"}),
            "medicationReference could not be resolved",
        ),
        (
            lambda: request_without_medication(medicationReference={"reference": ""}),
            "medicationReference could not be resolved",
        ),
        (
            lambda: request_without_medication(medicationReference={"reference": 12}),
            "medicationReference could not be resolved",
        ),
        (
            lambda: request_without_medication(medicationReference={"display": 12}),
            "medicationReference could not be resolved",
        ),
        (
            lambda: request_without_medication(
                medicationReference={"reference": "#m"}, contained=[contained_medication()]
            ),
            "the referenced Medication has no code and no ingredient",
        ),
        (
            lambda: request_without_medication(
                medicationReference={"reference": "#m"},
                contained=[contained_medication(code="B01AC04", ingredient=[])],
            ),
            "the referenced Medication has no code and no ingredient",
        ),
    ],
    ids=[
        "no-medication",
        "concept-a-string",
        "reference-unknown",
        "reference-empty",
        "reference-not-a-string",
        "display-not-a-string-no-reference",
        "medication-empty",
        "medication-code-a-string",
    ],
)
def test_an_unreadable_medication_is_reported_with_its_reason(valuesets, build, reason) -> None:
    resource = build()
    facts, invalid = read(valuesets, requests=[resource])
    assert facts == []
    assert invalid == [
        InvalidResource(
            DataCategory.MEDICATIONS, ResourceRef("MedicationRequest", resource["id"]), reason
        )
    ]


def test_a_statement_that_cannot_be_read_is_reported_as_a_statement(valuesets) -> None:
    statement = medication_statement(None)
    facts, invalid = read(valuesets, statements=[statement])
    assert facts == []
    assert invalid == [
        InvalidResource(
            DataCategory.MEDICATIONS,
            ResourceRef("MedicationStatement", statement["id"]),
            "no medication[x]",
        )
    ]


def test_a_code_less_medication_with_ingredients_of_no_interest_is_read_not_reported(
    valuesets,
) -> None:
    """Its ingredients say which drug it is (metformin): nothing for the rules, none missing."""
    resource = request_of_ingredients(concept(ATC, "A10BA02"))
    assert read(valuesets, requests=[resource]) == ([], [])


def test_a_drug_of_no_interest_is_neither_a_fact_nor_unreadable(valuesets) -> None:
    resource = medication_request(concept(ATC, "A10BA02"))
    assert read(valuesets, requests=[resource]) == ([], [])


def test_an_unresolved_reference_with_a_display_naming_the_drug_is_that_drug(valuesets) -> None:
    resource = request_without_medication(
        medicationReference={"reference": "Medication/gone", "display": "Xarelto 15 mg"}
    )
    facts, invalid = read(valuesets, requests=[resource])
    assert invalid == []
    (fact,) = facts
    assert (fact.ingredient, fact.display) == ("rivaroxaban", "Xarelto 15 mg")
    assert fact.source == ResourceRef("MedicationRequest", resource["id"])
    assert fact.source_kind is MedicationSourceKind.ORDER


def test_a_referenced_medication_is_named_by_its_code_not_by_the_reference_display(
    valuesets,
) -> None:
    resource = request_without_medication(
        medicationReference={"reference": "Medication/7", "display": "Kardégic"},
    )
    plavix = {"resourceType": "Medication", "id": "7", "code": concept(ATC, "B01AC04", "Plavix")}
    facts, invalid = read(valuesets, requests=[resource], referenced={"Medication/7": plavix})
    assert invalid == []
    (fact,) = facts
    assert (fact.ingredient, fact.display) == ("clopidogrel", "Plavix")
    assert fact.code == ("http://www.whocc.no/atc", "B01AC04")
    assert DrugClass.CLOPIDOGREL in fact.classes


def test_a_medication_read_from_its_ingredients_takes_the_reference_display(valuesets) -> None:
    resource = request_of_ingredients(concept(ATC, "B01AF01"), display="Préparation anticoagulante")
    facts, invalid = read(valuesets, requests=[resource])
    assert invalid == []
    (fact,) = facts
    assert (fact.ingredient, fact.display) == ("rivaroxaban", "Préparation anticoagulante")


def test_a_drug_with_no_display_anywhere_is_called_medication(valuesets) -> None:
    resource = request_of_ingredients(concept(ATC, "B01AF01"))
    (fact,), _ = read(valuesets, requests=[resource])
    assert fact.display == "medication"


def test_ingredients_that_are_not_objects_are_skipped_not_fatal(valuesets) -> None:
    resource = request_of_ingredients(
        "warfarin", {"itemCodeableConcept": "x"}, concept(ATC, "B01AA03")
    )
    facts, invalid = read(valuesets, requests=[resource])
    assert [f.ingredient for f in facts] == ["warfarin"]
    assert invalid == []


def test_one_fact_per_ingredient_without_a_dose(valuesets) -> None:
    """Two antithrombotics in one Medication: one fact each, the dose of neither is known."""
    resource = request_of_ingredients(
        concept(ATC, "B01AC06"),
        concept(ATC, "B01AC04"),
        concept(ATC, "B01AC06"),  # listed twice, one fact
        dosageInstruction=[dosage(75, "mg", frequency=1)],
    )
    facts, invalid = read(valuesets, requests=[resource])
    assert invalid == []
    assert sorted(f.ingredient for f in facts) == ["aspirin", "clopidogrel"]
    for fact in facts:
        assert fact.daily_dose_mg is None
        assert fact.dose_problem == "combination product: the dose of each ingredient is not given"


def test_a_single_drug_keeps_its_dose_and_as_needed(valuesets) -> None:
    resource = medication_request(
        concept(ATC, "B01AC06"),
        dosageInstruction=[dosage(300, "mg", frequency=1, asNeededBoolean=True)],
    )
    (fact,), invalid = read(valuesets, requests=[resource])
    assert invalid == []
    assert (fact.daily_dose_mg, fact.dose_problem, fact.as_needed) == (300, None, True)


def test_a_resource_whose_reading_raises_is_reported_and_the_next_one_still_read(
    valuesets, monkeypatch
) -> None:
    """A resource whose reading raises costs itself only: the warfarin order after it is read."""
    from service.facts import medications

    broken = medication_request(concept(ATC, "B01AC04"), dosageInstruction=[{"text": "boom"}])
    warfarin = medication_request(concept(ATC, "B01AA03"))
    real_as_needed = medications.as_needed

    def as_needed(dosages: Any) -> bool:
        if dosages == broken["dosageInstruction"]:
            raise ValueError("unexpected shape")
        return real_as_needed(dosages)

    monkeypatch.setattr(medications, "as_needed", as_needed)
    facts, invalid = read(valuesets, requests=[broken, warfarin])
    assert [f.ingredient for f in facts] == ["warfarin"]
    assert [(item.category, item.source.id) for item in invalid] == [
        (DataCategory.MEDICATIONS, broken["id"])
    ]
