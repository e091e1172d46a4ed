"""Hostile unit strings are refused before pint: "10*50000000/L" once took 132 s of CPU under the
lock every request needs. The time bounds are generous (a refusal takes microseconds)."""

from __future__ import annotations

import time

import pytest
from support.fhir_builders import NOW, dosage, observation

from service.facts import units
from service.facts.dosage import daily_dose_mg
from service.facts.labs import extract_labs

HOSTILE_UNITS = ("10*50000000/L", "10^50000000/L", "(10*-9999999)/mm3", "10*31/L", "u" * 31)


@pytest.mark.parametrize("unit", HOSTILE_UNITS)
def test_hostile_platelet_unit_is_refused_quickly(unit: str) -> None:
    started = time.perf_counter()
    assert units.conversion_factor(unit, "/mm3") is None
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("unit", "factor"),
    [("10*9/L", 1000), ("10*3/uL{cells}", 1000), ("10*30/L", 10**24), ("/mm3", 1)],
)
def test_real_units_still_convert(unit: str, factor: int) -> None:
    assert units.conversion_factor(unit, "/mm3") == factor


def test_lab_with_a_hostile_unit_is_uninterpretable(valuesets) -> None:
    started = time.perf_counter()
    (lab,) = extract_labs([observation("777-3", 150, "10*50000000/L")], valuesets, NOW)
    assert time.perf_counter() - started < 0.5
    assert not lab.interpretable and "cannot be converted" in (lab.problem or "")


def test_dose_with_a_hostile_unit_is_unknown() -> None:
    started = time.perf_counter()
    dose_mg, problem = daily_dose_mg([dosage(75, "10*50000000.mg", frequency=1)])
    assert time.perf_counter() - started < 0.5
    assert dose_mg is None and "not a mass" in (problem or "")


def test_factor_cache_is_bounded() -> None:
    for number in range(600):
        units.conversion_factor(f"{number}.mg", "mg")
    assert units._factor.cache_info().currsize <= 512
