"""Timing.code abbreviations (HL7 GTSAbbreviation) in the daily dose, and "as needed".

The mutation run found `QD` read as 0 doses a day survive (aspirin 500 mg QD became "low dose,
may be continued"): every abbreviation the reader knows is pinned here, and an unknown one
leaves the dose unknown, never 0.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.fhir_builders import medication_request
from test_facts_medications import meds

from service.facts.dosage import ABBREVIATIONS, as_needed, daily_dose_mg

UCUM = "http://unitsofmeasure.org"
TIMING_ABBREVIATION = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"

# 500 mg per administration -> mg per day, by abbreviation (one value per code the reader knows).
EXPECTED_500_MG = {
    "QD": 500.0,
    "AM": 500.0,
    "PM": 500.0,
    "BED": 500.0,
    "BID": 1000.0,
    "TID": 1500.0,
    "QID": 2000.0,
    "QOD": 250.0,
    "Q1H": 12000.0,
    "Q2H": 6000.0,
    "Q3H": 4000.0,
    "Q4H": 3000.0,
    "Q6H": 2000.0,
    "Q8H": 1500.0,
    "WK": 71.429,
    "MO": 16.427,
}


def coded(code: str, dose_mg: float = 500, system: str | None = TIMING_ABBREVIATION) -> dict:
    coding: dict[str, Any] = {"code": code}
    if system:
        coding["system"] = system
    return {
        "doseAndRate": [
            {"doseQuantity": {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}}
        ],
        "timing": {"code": {"coding": [coding]}},
    }


def test_every_known_abbreviation_is_pinned() -> None:
    assert set(ABBREVIATIONS) == set(EXPECTED_500_MG)


@pytest.mark.parametrize(("code", "expected"), sorted(EXPECTED_500_MG.items()))
def test_abbreviation_gives_its_administrations_per_day(code: str, expected: float) -> None:
    assert daily_dose_mg([coded(code)]) == (expected, None)


@pytest.mark.parametrize("code", ["qd", " QD ", "Qd"])
def test_abbreviation_case_and_spaces(code: str) -> None:
    assert daily_dose_mg([coded(code, system=None)]) == (500.0, None)


def test_aspirin_500_mg_qd_is_not_low_dose() -> None:
    dose, problem = daily_dose_mg([coded("QD")])
    assert problem is None and dose is not None and dose >= 160


@pytest.mark.parametrize("code", ["XYZ", "Q5H", "", "PRN"])
def test_unknown_abbreviation_is_an_unknown_dose_never_zero(code: str) -> None:
    dose, problem = daily_dose_mg([coded(code)])
    assert dose is None and problem


def test_repeat_frequency_wins_over_the_code() -> None:
    dosage = coded("QD")
    dosage["timing"]["repeat"] = {"frequency": 3, "period": 1, "periodUnit": "d"}
    assert daily_dose_mg([dosage]) == (1500.0, None)


@pytest.mark.parametrize(
    ("dosage", "expected"),
    [
        ({"asNeededBoolean": True}, True),
        ({"asNeededCodeableConcept": {"text": "pain"}}, True),
        ({"asNeededBoolean": False}, False),
        ({}, False),
        ("not a dosage", False),
    ],
)
def test_as_needed(dosage: Any, expected: bool) -> None:
    assert as_needed([dosage]) is expected
    assert as_needed([{}, dosage]) is expected


def test_as_needed_reaches_the_medication_fact(valuesets, all_triggers) -> None:
    aspirin = {"coding": [{"system": "http://www.whocc.no/atc", "code": "B01AC06"}]}
    request = medication_request(aspirin)
    request["dosageInstruction"] = [{**coded("QD"), "asNeededBoolean": True}]
    (fact,) = meds(valuesets, all_triggers, request).medications
    assert fact.as_needed is True and fact.daily_dose_mg == 500.0


def timed(repeat: dict[str, Any], dose_mg: float = 500) -> dict:
    return {
        "doseAndRate": [
            {"doseQuantity": {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}}
        ],
        "timing": {"repeat": repeat},
    }


# Without `frequency`, the instants of a day (`when`, `timeOfDay`) count the administrations, but
# only over one day: the same two instants every week is not 1 000 mg a day (mutation survivors:
# the count dropped, `periodUnit` and `period` ignored).
@pytest.mark.parametrize(
    ("repeat", "expected"),
    [
        ({"when": ["MORN", "EVE"]}, 1000.0),
        ({"timeOfDay": ["08:00:00", "14:00:00", "20:00:00"]}, 1500.0),
        ({"when": ["MORN", "EVE"], "periodUnit": "d", "period": 1}, 1000.0),
        ({"when": ["MORN"]}, 500.0),
    ],
)
def test_the_instants_of_a_day_count_the_administrations(repeat: dict, expected: float) -> None:
    assert daily_dose_mg([timed(repeat)]) == (expected, None)


@pytest.mark.parametrize(
    "repeat",
    [
        {"when": ["MORN", "EVE"], "periodUnit": "wk"},
        {"when": ["MORN", "EVE"], "periodUnit": "D"},
        {"when": ["MORN", "EVE"], "period": 2},
        {"when": []},
        {},
    ],
)
def test_instants_over_another_period_leave_the_dose_unknown(repeat: dict) -> None:
    value, problem = daily_dose_mg([timed(repeat)])
    assert value is None and problem
