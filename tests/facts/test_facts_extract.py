"""extract_facts as a whole: unavailable categories, keys, speed of a typical request."""

from __future__ import annotations

import time

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

from service.facts.extract import extract_facts
from service.vocabulary import DataCategory


def test_unavailable_keys_map_to_categories(valuesets, all_triggers):
    data = prefetch(
        unavailable={"coagulation": "timeout", "medicationStatements": "HTTP 500", "odd": "x"},
        platelets=[observation("777-3", 150, "10*3/uL")],
    )
    facts = extract_facts(
        hook_call([service_request(VERTEBROPLASTY)]), data, valuesets, all_triggers, NOW
    )
    assert facts.unavailable == {DataCategory.COAGULATION, DataCategory.MEDICATIONS}
    assert facts.patient_id == "p1"


def test_out_of_scope_request_still_extracts_without_procedures(valuesets, all_triggers):
    request = hook_call([service_request(concept(text="IRM lombaire"))])
    facts = extract_facts(request, prefetch(), valuesets, all_triggers, NOW)
    assert facts.procedures == ()


def test_duplicates_across_keys_are_read_once(valuesets, all_triggers):
    order = medication_request(concept(RXNORM, "11289"))
    data = prefetch(medicationRequests=[order], other=[order])
    facts = extract_facts(
        hook_call([service_request(VERTEBROPLASTY)]), data, valuesets, all_triggers, NOW
    )
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


def test_typical_request_is_fast(valuesets, all_triggers):
    """200 Observations, 25 medications, 40 conditions: a few ms (generous margin here)."""
    request = hook_call([service_request(VERTEBROPLASTY)])
    data = typical_prefetch()
    extract_facts(request, data, valuesets, all_triggers, NOW)  # warm caches
    runs = 20
    start = time.perf_counter()
    for _ in range(runs):
        facts = extract_facts(request, data, valuesets, all_triggers, NOW)
    per_call = (time.perf_counter() - start) / runs
    assert {m.ingredient for m in facts.medications} == {"warfarin", "aspirin", "clopidogrel"}
    assert len(facts.conditions) == 2
    assert per_call < 0.05, f"{per_call * 1000:.1f} ms per extraction"
