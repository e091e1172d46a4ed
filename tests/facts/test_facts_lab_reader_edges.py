"""The lab reader at its edges: which Observations are labs (a broken coding beside a good one),
which temperatures are read (the 48-hour window's ends, one measured minutes ago), and a result
whose reading raises. A mutation run of service/facts/labs.py left each unpinned: a mutant could
drop a temperature taken half an hour ago, miss a platelet count behind a malformed coding, or
give an unreadable result no problem for the card to word."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.fhir_builders import LOINC, NOW, observation

from service.facts import labs
from service.facts.labs import FUTURE_TOLERANCE, extract_labs
from service.facts.model import InvalidResource
from service.vocabulary import LabKind

TEMPERATURE = "8310-5"


def temperature_at(when) -> dict:
    return observation(TEMPERATURE, 38.6, "Cel", effective=when.isoformat())


@pytest.mark.parametrize(
    ("offset", "read"),
    [
        (timedelta(minutes=-30), True),  # measured half an hour ago
        (-timedelta(hours=48), True),  # the window's first instant
        (-timedelta(hours=48, seconds=1), False),
        (FUTURE_TOLERANCE, True),  # clock skew between the ward and us
        (FUTURE_TOLERANCE + timedelta(seconds=1), False),
    ],
    ids=["30-min-ago", "48-h-ago", "just-before-window", "1-h-ahead", "beyond-tolerance"],
)
def test_the_temperatures_read_are_those_of_the_last_48_hours(valuesets, offset, read) -> None:
    found = extract_labs([temperature_at(NOW + offset)], valuesets, NOW)
    assert [lab.kind for lab in found] == ([LabKind.TEMPERATURE] if read else [])


def test_a_malformed_coding_does_not_hide_the_good_one_beside_it(valuesets) -> None:
    code = {"coding": ["777-3", {"system": LOINC, "code": 777}, {"system": LOINC, "code": "777-3"}]}
    invalid: list[InvalidResource] = []
    (lab,) = extract_labs([observation(code, 30, "10*3/uL")], valuesets, NOW, invalid)
    assert lab.kind is LabKind.PLATELETS
    assert invalid == []


def test_an_observation_whose_code_is_no_object_is_not_a_lab(valuesets) -> None:
    invalid: list[InvalidResource] = []
    resource = observation("777-3", 30, "10*3/uL")
    resource["code"] = "777-3"  # a string where a CodeableConcept is required
    found = extract_labs([resource], valuesets, NOW, invalid)
    assert (found, invalid) == ([], [])


def test_a_result_whose_reading_raises_is_reported_unreadable_of_its_kind(
    valuesets, monkeypatch
) -> None:
    def raising(*args, **kwargs):
        raise RecursionError  # an input no reader foresaw

    monkeypatch.setattr(labs, "interpret", raising)
    resource = observation("777-3", 30, "10*3/uL", id="obs-raising")
    (lab,) = extract_labs([resource], valuesets, NOW)
    assert (lab.kind, lab.value, lab.original_value) == (LabKind.PLATELETS, None, "")
    assert lab.problem == "could not be read (RecursionError)"
    assert lab.problem_code == "unreadable"
    assert lab.source.id == "obs-raising"
