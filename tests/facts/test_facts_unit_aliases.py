"""The unit alias table of labs.json (RULES.md v2 group 14, TERMINOLOGY.md §6): each alias maps
to one exact UCUM unit; a UCUM-coded count whose display unit does not parse keeps its value;
any other spelling stays uninterpretable."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from support.fhir_builders import NOW, UCUM, observation

from service.facts.labs import extract_labs
from service.facts.units import convert

# TERMINOLOGY.md §6, "Unit aliases for counts written outside UCUM" ("µ" and "u" both).
TERMINOLOGY_TABLE = {
    "10*9/L": [
        "G/L",
        "G/l",
        "giga/L",
        "Giga/L",
        "10^9/L",
        "10E9/L",
        "x10E9/L",
        "x10^9/L",
        "×10⁹/L",
    ],
    "10*3/uL": [
        "K/uL",
        "K/µL",
        "10^3/uL",
        "10E3/uL",
        "x10E3/uL",
        "x10³/µL",
        "×10³/µL",
        "thou/uL",
    ],
    "/mm3": ["/mm3", "/mm³", "par mm3"],
}


def aliases() -> dict[str, str]:
    text = resources.files("service.valuesets").joinpath("labs.json").read_text("utf-8")
    return {entry["written"]: entry["ucum"] for entry in json.loads(text)["unit_aliases"]}


def test_the_table_holds_every_alias_of_terminology_each_to_one_ucum_unit():
    table = aliases()
    for ucum, written in TERMINOLOGY_TABLE.items():
        for alias in written:
            assert table[alias] == ucum, alias
    # each target is a real UCUM unit of count per volume (or the INR annotation)
    for ucum in set(table.values()) - {"{INR}"}:
        assert convert(1, ucum, "/mm3") is not None, ucum


@pytest.mark.parametrize(
    ("value", "unit"),
    [(50, alias) for alias in TERMINOLOGY_TABLE["10*9/L"]]
    + [(50, alias) for alias in TERMINOLOGY_TABLE["10*3/uL"]]
    + [(50_000, alias) for alias in TERMINOLOGY_TABLE["/mm3"]]
    + [(50, "K/\u03bcL"), (50, "x10\u00b3/\u03bcL")],  # Greek mu for micro
)
def test_each_alias_written_as_unit_text_reads_exactly_50000_per_mm3(valuesets, value, unit):
    (lab,) = extract_labs([observation("777-3", value, unit, ucum=False)], valuesets, NOW)
    assert (lab.value, lab.problem) == (50_000.0, None)


@pytest.mark.parametrize(
    "unit", ["g/L", "G/dL", "giga/l", "k/uL", "K/L", "10e9/L", "x10-9/L", "G / L", "plaquettes"]
)
def test_any_other_spelling_stays_uninterpretable(valuesets, unit):
    (lab,) = extract_labs([observation("777-3", 50, unit, ucum=False)], valuesets, NOW)
    assert lab.value is None and not lab.interpretable


def test_a_ucum_coded_count_keeps_its_value_when_its_display_unit_does_not_parse(valuesets):
    """The coded unit decides: 30 ×10⁹/L stays 30 000/mm³ (a critical count) whatever the text."""
    resource = observation("777-3", 30, None)
    resource["valueQuantity"] = {
        "value": 30,
        "unit": "giga par litre (automate)",
        "system": UCUM,
        "code": "10*9/L",
    }
    (lab,) = extract_labs([resource], valuesets, NOW)
    assert (lab.value, lab.problem) == (30_000.0, None)
    assert lab.original_unit == "giga par litre (automate)"


def test_a_code_of_another_system_is_not_read_as_ucum(valuesets):
    resource = observation("777-3", 30, None)
    resource["valueQuantity"] = {
        "value": 30,
        "unit": "unités",
        "system": "http://example.org/lab-units",
        "code": "10*9/L",
    }
    (lab,) = extract_labs([resource], valuesets, NOW)
    assert lab.value is None


def test_the_ucum_system_with_a_trailing_slash_is_ucum(valuesets):
    resource = observation("777-3", 30, None)
    resource["valueQuantity"] = {
        "value": 30,
        "unit": "giga par litre",
        "system": UCUM + "/",
        "code": "10*9/L",
    }
    (lab,) = extract_labs([resource], valuesets, NOW)
    assert lab.value == 30_000.0
