"""Medication matching (codes, ATC, French names and brands, references) and daily doses."""

from __future__ import annotations

import pytest
from support.fhir_builders import (
    ATC,
    NOW,
    RXNORM,
    VERTEBROPLASTY,
    concept,
    dosage,
    medication_request,
    medication_statement,
    service_request,
)
from support.hook_calls import hook_call, prefetch

from service.facts.dosage import daily_dose_mg
from service.facts.extract import extract_facts
from service.facts.model import MedicationSourceKind
from service.vocabulary import DataCategory, DrugClass


def facts_for(valuesets, triggers, referenced=None, **keys):
    request = hook_call([service_request(VERTEBROPLASTY)])
    return extract_facts(request, prefetch(referenced=referenced, **keys), valuesets, triggers, NOW)


def meds(valuesets, triggers, *resources, **kwargs):
    requests = [r for r in resources if r["resourceType"] == "MedicationRequest"]
    statements = [r for r in resources if r["resourceType"] == "MedicationStatement"]
    facts = facts_for(
        valuesets, triggers, medicationRequests=requests, medicationStatements=statements, **kwargs
    )
    return facts


@pytest.mark.parametrize(
    ("concept", "ingredient", "drug_class"),
    [
        (concept(RXNORM, "11289"), "warfarin", DrugClass.VKA),
        (concept(RXNORM, "32968"), "clopidogrel", DrugClass.CLOPIDOGREL),
        (concept(RXNORM, "855332"), "warfarin", DrugClass.VKA),  # Synthea product code
        (concept(RXNORM, "309362"), "clopidogrel", DrugClass.CLOPIDOGREL),
        (concept(RXNORM, "1114195"), "rivaroxaban", DrugClass.DOAC),
        (concept(ATC, "B01AA12"), "fluindione", DrugClass.VKA),
        (concept(ATC, "B01AC06"), "aspirin", DrugClass.ASPIRIN),
        (concept(ATC, "N02BA01"), "aspirin", DrugClass.ASPIRIN),
        (concept(ATC, "B01AE07"), "dabigatran", DrugClass.DOAC),
        (concept(ATC, "B01AB05"), "enoxaparin", DrugClass.LMWH),
        (concept(ATC, "B01AX05"), "fondaparinux", DrugClass.OTHER_ANTITHROMBOTIC),
        (concept(ATC, "B01AF03"), "edoxaban", DrugClass.DOAC),  # RULES.md v2: a DOAC
        (concept(ATC, "B01AD02"), "alteplase", DrugClass.OTHER_ANTITHROMBOTIC),
        (concept(ATC, "B01AD11"), "atc:B01AD11", DrugClass.OTHER_ANTITHROMBOTIC),  # class B01AD
        (concept(ATC, "B01AC30"), "antiplatelet-combination", DrugClass.OTHER_ANTITHROMBOTIC),
        (concept(ATC, "N02AA01"), "morphine", DrugClass.OPIOID),
    ],
)
def test_codes(valuesets, all_triggers, concept, ingredient, drug_class):
    (fact,) = meds(valuesets, all_triggers, medication_request(concept)).medications
    assert fact.ingredient == ingredient
    assert drug_class in fact.classes
    assert fact.code is not None


def test_atc_class_prefix_without_a_listed_ingredient(valuesets, all_triggers):
    (fact,) = meds(valuesets, all_triggers, medication_request(concept(ATC, "B01AA99"))).medications
    assert fact.classes == {DrugClass.VKA}
    assert fact.ingredient == "atc:B01AA99"


def test_analgesic_aspirin_is_also_an_analgesic(valuesets, all_triggers):
    (fact,) = meds(valuesets, all_triggers, medication_request(concept(ATC, "N02BA01"))).medications
    assert fact.classes == {DrugClass.ASPIRIN, DrugClass.ANALGESIC}


@pytest.mark.parametrize(
    ("text", "ingredient", "drug_class"),
    [
        ("KARDEGIC 75 mg, poudre pour solution buvable en sachet", "aspirin", DrugClass.ASPIRIN),
        ("Kardégic 160 mg", "aspirin", DrugClass.ASPIRIN),
        ("ASPÉGIC 1000 mg", "aspirin", DrugClass.ASPIRIN),
        ("Acide acétylsalicylique 100 mg", "aspirin", DrugClass.ASPIRIN),
        ("PLAVIX 75 mg cp", "clopidogrel", DrugClass.CLOPIDOGREL),
        ("Previscan 20 mg comprimé quadrisécable", "fluindione", DrugClass.VKA),
        ("SINTROM 4 mg", "acenocoumarol", DrugClass.VKA),
        ("Coumadine 2 mg", "warfarin", DrugClass.VKA),
        ("Warfarine", "warfarin", DrugClass.VKA),
        ("Xarelto 20 mg", "rivaroxaban", DrugClass.DOAC),
        ("ELIQUIS 5 mg", "apixaban", DrugClass.DOAC),
        ("Pradaxa 110 mg gélule", "dabigatran", DrugClass.DOAC),
        ("Lovenox 4000 UI anti-Xa/0,4 mL", "enoxaparin", DrugClass.LMWH),
        ("Fragmine 5000 UI", "dalteparin", DrugClass.LMWH),
        ("FRAXIPARINE 0,3 mL", "nadroparin", DrugClass.LMWH),
        ("Innohep 10 000 UI", "tinzaparin", DrugClass.LMWH),
        ("Héparine de bas poids moléculaire", "lmwh", DrugClass.LMWH),
        ("Arixtra 2,5 mg", "fondaparinux", DrugClass.OTHER_ANTITHROMBOTIC),
        ("Efient 10 mg", "prasugrel", DrugClass.OTHER_ANTITHROMBOTIC),
        ("Brilique 90 mg", "ticagrelor", DrugClass.OTHER_ANTITHROMBOTIC),
        ("Brilinta 90 mg", "ticagrelor", DrugClass.OTHER_ANTITHROMBOTIC),
        ("Héparine sodique 5000 UI/mL", "heparin", DrugClass.OTHER_ANTITHROMBOTIC),
        ("Skenan LP 30 mg", "morphine", DrugClass.OPIOID),
        ("Oxycodone Hydrochloride 5 MG Oral Tablet", "oxycodone", DrugClass.OPIOID),
    ],
)
def test_display_text_and_french_brands(valuesets, all_triggers, text, ingredient, drug_class):
    (fact,) = meds(valuesets, all_triggers, medication_request(concept(text=text))).medications
    assert fact.ingredient == ingredient
    assert drug_class in fact.classes
    assert fact.code is None
    assert fact.display == text


def test_word_boundaries(valuesets, all_triggers):
    # "plavix" inside another word, or a drug name inside an unrelated word, never matches
    resource = medication_request(concept(text="Antiplavixine sirop"))
    assert meds(valuesets, all_triggers, resource).medications == ()


def test_unlisted_product_code_falls_back_to_the_display(valuesets, all_triggers):
    concept = {
        "coding": [{"system": RXNORM, "code": "243670", "display": "Aspirin 81 MG Oral Tablet"}]
    }
    (fact,) = meds(valuesets, all_triggers, medication_request(concept)).medications
    assert fact.ingredient == "aspirin" and fact.code is None


def test_combination_brand_gives_one_fact_per_ingredient_without_dose(valuesets, all_triggers):
    resource = medication_request(
        concept(text="DuoPlavin 75 mg/75 mg"), dosage=[dosage(1, "{tbl}", 1)]
    )
    facts = meds(valuesets, all_triggers, resource).medications
    assert {f.ingredient for f in facts} == {"clopidogrel", "aspirin"}
    assert all(f.daily_dose_mg is None and "combination" in f.dose_problem for f in facts)


def test_unrelated_drugs_are_not_facts(valuesets, all_triggers):
    resource = medication_request(concept(RXNORM, "197361", text=None))  # amlodipine product
    resource["medicationCodeableConcept"]["coding"][0]["display"] = "Amlodipine 5 MG Oral Tablet"
    assert meds(valuesets, all_triggers, resource).medications == ()


@pytest.mark.parametrize(
    "status",
    ["stopped", "completed", "on-hold", "cancelled", "draft", "entered-in-error", "unknown"],
)
def test_request_status_other_than_active_is_not_a_medication(valuesets, all_triggers, status):
    resource = medication_request(concept(RXNORM, "11289"), status=status)
    assert meds(valuesets, all_triggers, resource).medications == ()


def test_do_not_perform_is_not_a_medication(valuesets, all_triggers):
    resource = medication_request(concept(RXNORM, "11289"), doNotPerform=True)
    assert meds(valuesets, all_triggers, resource).medications == ()


def test_statement_and_request_are_both_read_with_their_kind(valuesets, all_triggers):
    facts = meds(
        valuesets,
        all_triggers,
        medication_request(concept(RXNORM, "32968")),
        medication_statement(concept(text="Kardégic 75 mg"), dosage=[dosage(75, "mg", 1)]),
        medication_statement(concept(RXNORM, "11289"), status="stopped"),
    ).medications
    kinds = {(f.ingredient, f.source_kind) for f in facts}
    assert kinds == {
        ("clopidogrel", MedicationSourceKind.ORDER),
        ("aspirin", MedicationSourceKind.STATEMENT),
    }
    aspirin = next(f for f in facts if f.ingredient == "aspirin")
    assert aspirin.daily_dose_mg == 75.0
    assert aspirin.source.resource_type == "MedicationStatement"


# ------------------------------------------------------------------------ medicationReference


def medication(concept, id="med1", **extra):
    return {"resourceType": "Medication", "id": id, "code": concept, **extra}


def test_contained_medication(valuesets, all_triggers):
    resource = medication_request(
        None,
        medicationReference={"reference": "#m"},
        contained=[medication(concept(ATC, "B01AC04"), id="m")],
    )
    (fact,) = meds(valuesets, all_triggers, resource).medications
    assert fact.ingredient == "clopidogrel"


def test_medication_prefetched_under_any_key(valuesets, all_triggers):
    resource = medication_request(None, medicationReference={"reference": "Medication/med7"})
    facts = facts_for(
        valuesets,
        all_triggers,
        medicationRequests=[resource, medication(concept(text="Eliquis 5 mg"), id="med7")],
    )
    (fact,) = facts.medications
    assert fact.ingredient == "apixaban"


def test_medication_from_resolved_references_absolute_url(valuesets, all_triggers):
    resource = medication_request(
        None, medicationReference={"reference": "https://ehr.example/fhir/Medication/42/_history/2"}
    )
    facts = facts_for(
        valuesets,
        all_triggers,
        referenced={"Medication/42": medication(concept(RXNORM, "1364430"), id="42")},
        medicationRequests=[resource],
    )
    assert [f.ingredient for f in facts.medications] == ["apixaban"]


def test_medication_ingredient_codes_when_the_code_says_nothing(valuesets, all_triggers):
    med = medication(
        concept(text="Préparation magistrale"),
        id="m",
        ingredient=[{"itemCodeableConcept": concept(ATC, "B01AF01")}],
    )
    resource = medication_request(None, medicationReference={"reference": "#m"}, contained=[med])
    assert [f.ingredient for f in meds(valuesets, all_triggers, resource).medications] == [
        "rivaroxaban"
    ]


def test_reference_display_when_unresolved(valuesets, all_triggers):
    resource = medication_request(
        None, medicationReference={"reference": "Medication/gone", "display": "Xarelto 15 mg"}
    )
    facts = meds(valuesets, all_triggers, resource)
    assert [f.ingredient for f in facts.medications] == ["rivaroxaban"]
    assert facts.invalid_resources == ()


def test_unresolvable_reference_is_reported_never_silent(valuesets, all_triggers):
    resource = medication_request(None, medicationReference={"reference": "Medication/gone"})
    facts = meds(valuesets, all_triggers, resource)
    assert facts.medications == ()
    (invalid,) = facts.invalid_resources
    assert invalid.category is DataCategory.MEDICATIONS
    assert invalid.source.id == resource["id"]
    assert DataCategory.MEDICATIONS in facts.unavailable


def test_invalid_matching_resource_is_still_a_medication(valuesets, all_triggers):
    """An anticoagulant in the record is always reported: the data was obtained."""
    resource = medication_request(concept(RXNORM, "11289"))
    del resource["intent"]  # required in R4
    facts = meds(valuesets, all_triggers, resource)
    assert [m.ingredient for m in facts.medications] == ["warfarin"]
    assert facts.invalid_resources == ()
    assert DataCategory.MEDICATIONS not in facts.unavailable


# ---------------------------------------------------------------------------- aspirin dose


@pytest.mark.parametrize(
    ("dosage", "expected"),
    [
        ([dosage(75, "mg", 1)], 75.0),  # 75 mg/day
        ([dosage(100, "mg", 2)], 200.0),  # 100 mg twice a day
        ([dosage(0.5, "g", 1)], 500.0),  # 0.5 g once a day
        ([dosage(160, "mg", 1)], 160.0),
        ([dosage(75, "mg", 1, 2, "d")], 37.5),  # every other day
        ([dosage(300, "mg", 1, 1, "wk")], 42.857),
        ([dosage(500, "mg", 1, 6, "h")], 2000.0),
        ([dosage(100, "mg", 1), dosage(75, "mg", 1)], 175.0),  # taken together
    ],
)
def test_daily_dose(dosage, expected):
    assert daily_dose_mg(dosage) == (expected, None)


def test_dose_with_unit_text_only():
    dosage = {
        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "g"}}],
        "timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}},
    }
    assert daily_dose_mg([dosage]) == (3000.0, None)


def test_timing_code_bid():
    given = dosage(100, "mg")
    given["timing"] = {"code": {"coding": [{"code": "BID"}]}}
    assert daily_dose_mg([given]) == (200.0, None)


def test_frequency_max_is_the_upper_bound():
    given = dosage(100, "mg", 1)
    given["timing"]["repeat"]["frequencyMax"] = 3
    assert daily_dose_mg([given]) == (300.0, None)


def test_consecutive_sequences_keep_the_largest_day():
    first, second = dosage(300, "mg", 1), dosage(75, "mg", 1)
    first["sequence"], second["sequence"] = 1, 2
    assert daily_dose_mg([first, second]) == (300.0, None)


@pytest.mark.parametrize(
    ("dosage", "problem"),
    [
        (None, "no dosage"),
        ([], "no dosage"),
        ([dosage(100, "mg")], "no timing"),  # missing frequency
        (
            [{**dosage(100, "mg"), "timing": {"repeat": {"period": 1, "periodUnit": "d"}}}],
            "no frequency",
        ),
        ([dosage(1, "{tbl}", 1)], "not a mass"),
        ([{"text": "1 sachet le midi"}], "text only"),
        (
            [{"doseAndRate": [{"doseRange": {"low": {"value": 75}, "high": {"value": 150}}}]}],
            "range",
        ),
        ([dosage(100, "mg", 1, 1, "fortnight")], "period unit"),
        ([{**dosage(100, "mg"), "timing": {"repeat": {"frequency": 1}}}], "without a period"),
        ([dosage("100", "mg", 1)], "not a number"),
    ],
)
def test_dose_not_computable_is_none_with_a_problem_never_a_guess(dosage, problem):
    value, why = daily_dose_mg(dosage)
    assert value is None
    assert problem in why


def test_aspirin_fact_carries_dose_or_problem(valuesets, all_triggers):
    with_dose = medication_request(concept(ATC, "B01AC06"), dosage=[dosage(100, "mg", 2)])
    without = medication_request(concept(text="Kardégic 75"), dosage=[dosage(75, "mg")])
    facts = {f.source.id: f for f in meds(valuesets, all_triggers, with_dose, without).medications}
    assert facts[with_dose["id"]].daily_dose_mg == 200.0
    assert facts[with_dose["id"]].dose_problem is None
    assert facts[without["id"]].daily_dose_mg is None
    assert facts[without["id"]].dose_problem


def test_a_medication_that_cannot_be_read_is_reported_not_dropped() -> None:
    """A review found these dropped with no DATA-UNAVAILABLE: a Plavix order disappeared."""
    from service.facts.medications import MedicationIndex, extract_medications
    from service.valuesets import load_valuesets

    listed = {
        "resourceType": "MedicationRequest",
        "id": "mr-list",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": [{"text": "Plavix 75 mg"}],
    }
    no_code = {
        "resourceType": "MedicationRequest",
        "id": "mr-nocode",
        "status": "active",
        "intent": "order",
        "contained": [{"resourceType": "Medication", "id": "m"}],
        "medicationReference": {"reference": "#m"},
    }
    facts, invalid = extract_medications(
        [listed, no_code], [], MedicationIndex([], {}), load_valuesets()
    )
    assert facts == []
    assert {item.source.id for item in invalid} == {"mr-list", "mr-nocode"}
