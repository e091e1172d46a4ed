"""Malformed elements read as absent, and a resource whose reading raises only affects itself.

Each case below once raised out of extract_facts (a 500 for the whole hook call).
"""

from __future__ import annotations

import logging

import pytest
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

from service.facts import medications as medications_module
from service.facts.dosage import daily_dose_mg
from service.facts.extract import extract_facts
from service.facts.labs import extract_labs
from service.facts.refs import status_codes
from service.valuesets.codeable import codings
from service.vocabulary import DataCategory

CLOPIDOGREL = concept(RXNORM, "32968", text="clopidogrel 75 mg")
UNHASHABLE = ([], ["final"], {}, {"a": 1})


def facts_for(valuesets, triggers, **keys):
    request = hook_call([service_request(VERTEBROPLASTY)])
    return extract_facts(request, prefetch(**keys), valuesets, triggers, NOW)


@pytest.mark.parametrize("value", UNHASHABLE)
def test_unhashable_resource_type_is_ignored(valuesets, all_triggers, value) -> None:
    bad = observation("777-3", 150, "10*3/uL", resourceType=value)
    good = observation("777-3", 150, "10*3/uL")
    facts = facts_for(valuesets, all_triggers, platelets=[bad, good])
    assert [lab.source.id for lab in facts.labs] == [good["id"]]


@pytest.mark.parametrize("value", UNHASHABLE)
def test_unhashable_status_is_not_a_usable_status(valuesets, all_triggers, value) -> None:
    obs = observation("777-3", 150, "10*3/uL", status=value)
    order = medication_request(CLOPIDOGREL, status=value)  # type: ignore[arg-type]
    facts = facts_for(valuesets, all_triggers, platelets=[obs], medicationRequests=[order])
    assert facts.labs == () and facts.medications == ()


@pytest.mark.parametrize("value", [5, 2.5, True, "coding", {"code": "x"}])
def test_coding_that_is_not_a_list_has_no_codes(value) -> None:
    assert codings({"coding": value}) == []
    assert status_codes({"coding": value}) == set()


def test_condition_with_a_numeric_status_coding_is_read(valuesets, all_triggers) -> None:
    sepsis = condition(concept(SNOMED, "91302008", text="Sepsis"))
    sepsis["verificationStatus"] = {"coding": 1e308}
    facts = facts_for(valuesets, all_triggers, conditions=[sepsis])
    assert [c.source.id for c in facts.conditions] == [sepsis["id"]]


@pytest.mark.parametrize("value", [1e308, 10**300])
def test_huge_dose_is_a_dose_problem(value) -> None:
    dose_mg, problem = daily_dose_mg([dosage(value, "mg", frequency=1)])
    assert dose_mg is None and problem


def test_timing_code_with_non_object_coding_is_no_frequency() -> None:
    given = dosage(75, "mg")
    given["timing"] = {"code": {"coding": [5, {"code": ["BID"]}, {"code": "BID"}]}}
    assert daily_dose_mg([given]) == (150.0, None)


def test_a_medication_whose_reading_raises_is_invalid_not_a_crash(
    valuesets, all_triggers, monkeypatch, caplog
) -> None:
    """A bug or an unforeseen input on one resource: that resource is reported, nothing else."""
    broken = medication_request(CLOPIDOGREL, dosage=[dosage(75, "mg", frequency=1)])
    fine = medication_request(concept(RXNORM, "11289", text="warfarin"))
    real_one = medications_module._one

    def one_that_raises(resource, *args):
        if resource is broken:
            raise ZeroDivisionError("secret patient content")
        return real_one(resource, *args)

    monkeypatch.setattr(medications_module, "_one", one_that_raises)
    with caplog.at_level(logging.ERROR):
        facts = facts_for(valuesets, all_triggers, medicationRequests=[broken, fine])
    assert [m.ingredient for m in facts.medications] == ["warfarin"]
    (invalid,) = facts.invalid_resources
    assert invalid.source.id == broken["id"] and invalid.category is DataCategory.MEDICATIONS
    assert "ZeroDivisionError" in invalid.reason
    assert "secret" not in caplog.text and broken["id"] in caplog.text


def test_an_observation_whose_interpretation_raises_is_uninterpretable(
    valuesets, monkeypatch
) -> None:
    from service.facts import labs as labs_module

    def interpret_that_raises(*args):
        raise KeyError("x")

    monkeypatch.setattr(labs_module, "interpret", interpret_that_raises)
    (lab,) = extract_labs([observation("777-3", 150, "10*3/uL")], valuesets, NOW)
    assert not lab.interpretable and "KeyError" in (lab.problem or "")
