"""extract_facts as a whole: unavailable categories, keys, a typical request."""

from __future__ import annotations

from support.fhir_builders import (
    NOW,
    RXNORM,
    SNOMED,
    VERTEBROPLASTY,
    concept,
    condition,
    dosage,
    medication_request,
    observation,
    service_request,
)
from support.hook_calls import hook_call, prefetch

from service.facts.extract import extract_facts, procedures_in_scope
from service.vocabulary import DataCategory


def test_unavailable_keys_map_to_categories(valuesets, all_triggers):
    data = prefetch(
        unavailable={"coagulation": "timeout", "medicationStatements": "HTTP 500", "odd": "x"},
        platelets=[observation("777-3", 150, "10*3/uL")],
    )
    request = hook_call([service_request(VERTEBROPLASTY)])
    procedures = procedures_in_scope(request, valuesets, all_triggers)
    facts = extract_facts(request, data, valuesets, procedures, NOW)
    assert facts.unavailable == {DataCategory.COAGULATION, DataCategory.MEDICATIONS}
    assert facts.patient_id == "p1"


def test_out_of_scope_request_has_no_target_and_its_facts_are_still_read(valuesets, all_triggers):
    request = hook_call([service_request(concept(text="IRM lombaire"))])
    procedures = procedures_in_scope(request, valuesets, all_triggers)
    assert procedures == []
    data = prefetch(platelets=[observation("777-3", 150, "10*3/uL")])
    facts = extract_facts(request, data, valuesets, procedures, NOW)
    assert facts.procedures == ()
    assert [lab.value for lab in facts.labs] == [150_000]


def test_the_targets_are_the_callers(valuesets, all_triggers):
    """The moments pass a planned procedure: the facts are about it, whatever the request's
    draft orders say."""
    ordered = hook_call([service_request(VERTEBROPLASTY)])
    (vertebroplasty,) = procedures_in_scope(ordered, valuesets, all_triggers)
    request = hook_call([service_request(concept(text="IRM lombaire"))])
    facts = extract_facts(request, prefetch(), valuesets, [vertebroplasty], NOW)
    assert facts.procedures == (vertebroplasty,)


def test_duplicates_across_keys_are_read_once(valuesets, all_triggers):
    order = medication_request(concept(RXNORM, "11289"))
    data = prefetch(medicationRequests=[order], other=[order])
    request = hook_call([service_request(VERTEBROPLASTY)])
    procedures = procedures_in_scope(request, valuesets, all_triggers)
    facts = extract_facts(request, data, valuesets, procedures, NOW)
    assert len(facts.medications) == 1


def typical_prefetch():
    observations = [
        observation(code, 100 + i, unit, effective=f"2026-{1 + i % 11:02d}-{1 + i % 27:02d}")
        for i in range(200)
        for code, unit in [(("777-3", "718-7", "72514-3", "2345-7")[i % 4], "10*3/uL")]
    ]
    for o in observations:
        if o["code"]["coding"][0]["code"] == "72514-3":
            o["valueQuantity"] = {"value": 4, "unit": "{score}"}
    meds = [
        medication_request(concept(RXNORM, str(100000 + i)), dosage=[dosage(10, "mg", 1)])
        for i in range(22)
    ] + [
        medication_request(concept(RXNORM, "11289")),
        medication_request(concept(text="Kardégic 75 mg"), dosage=[dosage(75, "mg", 1)]),
        medication_request(concept(text="Plavix 75 mg"), dosage=[dosage(75, "mg", 1)]),
    ]
    conditions = [condition(concept(SNOMED, str(1000 + i))) for i in range(38)] + [
        condition(concept(SNOMED, "94222008")),
        condition(concept(SNOMED, "254637007")),
    ]
    return prefetch(
        platelets=observations, medicationRequests=meds, conditions=conditions, allergies=[]
    )


def test_typical_request(valuesets, all_triggers):
    """200 Observations, 25 medications, 40 conditions (its speed: bench/phases.py)."""
    request = hook_call([service_request(VERTEBROPLASTY)])
    procedures = procedures_in_scope(request, valuesets, all_triggers)
    facts = extract_facts(request, typical_prefetch(), valuesets, procedures, NOW)
    assert {m.ingredient for m in facts.medications} == {"warfarin", "aspirin", "clopidogrel"}
    assert len(facts.conditions) == 2
    assert len(facts.procedures) == 1
