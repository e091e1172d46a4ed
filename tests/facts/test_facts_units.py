"""Units: each platelet unit, G/L, unconvertible units, TP %, INR, pain, PT seconds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.fhir_builders import NOW, observation

from service.facts.labs import extract_labs
from service.facts.units import convert
from service.vocabulary import LabKind

PLATELETS_LOW_MAX = 50_000  # per mm3: the guideline's threshold (at the threshold = too low)


def one_lab(valuesets, resource):
    (lab,) = extract_labs([resource], valuesets, NOW)
    return lab


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (50_000, "/mm3"),
        (50_000, "/uL"),
        (50, "10*3/uL"),
        (50, "10*3/mm3"),
        (50, "10*9/L"),
        (50, "G/L"),  # French laboratories: giga per litre (alias, not gauss)
        (50_000_000_000, "/L"),
    ],
)
def test_every_platelet_unit_normalises_to_exactly_50000_per_mm3(valuesets, value, unit):
    lab = one_lab(valuesets, observation("777-3", value, unit))
    assert lab.kind is LabKind.PLATELETS
    assert lab.problem is None
    assert lab.value == 50_000.0
    assert lab.original_unit == unit


def test_g_per_l_written_only_in_unit_text_is_read_too(valuesets):
    resource = observation("26515-7", 32, "G/L", ucum=False)
    assert one_lab(valuesets, resource).value == 32_000.0


def test_synthea_platelet_value_keeps_its_precision(valuesets):
    lab = one_lab(valuesets, observation("777-3", 164.60192276832947, "10*3/uL"))
    assert lab.value == pytest.approx(164_601.92276832947, rel=1e-15)
    assert lab.original_value == "164.60192276832947"


@pytest.mark.parametrize("unit", ["k/uL", "g/L", "%", "10*3", "mmol/L", "cells", "giga/l"])
def test_unconvertible_platelet_unit_is_uninterpretable_never_guessed(valuesets, unit):
    lab = one_lab(valuesets, observation("777-3", 50, unit))
    assert lab.value is None
    assert lab.problem is not None and "unit" in lab.problem
    assert not lab.interpretable


def test_platelets_without_a_unit_are_uninterpretable(valuesets):
    lab = one_lab(valuesets, observation("777-3", 50))
    assert lab.value is None and "no unit" in lab.problem


def test_tp_percent_is_kept_and_other_units_refused(valuesets):
    assert one_lab(valuesets, observation("5894-1", 51, "%")).value == 51.0
    refused = one_lab(valuesets, observation("5894-1", 0.51, "1"))
    assert refused.value is None and refused.problem


@pytest.mark.parametrize("unit", [None, "1", "{INR}", "INR"])
def test_inr_is_unitless_or_annotated(valuesets, unit):
    lab = one_lab(valuesets, observation("6301-6", 1.6, unit))
    assert lab.kind is LabKind.INR
    assert lab.value == 1.6 and lab.problem is None


def test_inr_with_a_unit_is_uninterpretable(valuesets):
    lab = one_lab(valuesets, observation("34714-6", 1.6, "s"))
    assert lab.value is None and lab.problem


def test_pt_in_seconds_is_its_own_kind_in_seconds(valuesets):
    lab = one_lab(valuesets, observation("5902-2", 13.5, "s"))
    assert lab.kind is LabKind.PT_SECONDS
    assert lab.value == 13.5


@pytest.mark.parametrize(("value", "unit"), [(4, "{score}"), (4, None), (4, "1")])
def test_pain_score(valuesets, value, unit):
    lab = one_lab(valuesets, observation("72514-3", value, unit))
    assert lab.kind is LabKind.PAIN_SCORE and lab.value == 4.0


def test_pain_outside_the_scale_is_uninterpretable(valuesets):
    lab = one_lab(valuesets, observation("72514-3", 11, "{score}"))
    assert lab.value is None and "scale" in lab.problem


def test_pain_as_value_integer(valuesets):
    resource = observation("72514-3", effective="2026-11-20")
    resource["valueInteger"] = 7
    assert one_lab(valuesets, resource).value == 7.0


def test_pain_38208_5_needs_a_0_to_10_scale(valuesets):
    """v2: 38208-5 'Pain severity - Reported' is read as 0-10 only when the result shows it."""
    bare = observation("38208-5", effective="2026-11-20")
    bare["valueInteger"] = 7
    unscaled = one_lab(valuesets, bare)
    assert unscaled.value is None and "scale" in (unscaled.problem or "")
    ranged = {**bare, "referenceRange": [{"low": {"value": 0}, "high": {"value": 10}}]}
    assert one_lab(valuesets, ranged).value == 7.0
    other_scale = {**bare, "referenceRange": [{"low": {"value": 0}, "high": {"value": 100}}]}
    assert one_lab(valuesets, other_scale).value is None
    per_ten = observation("38208-5", 4, "/10", effective="2026-11-20")
    assert one_lab(valuesets, per_ten).value == 4.0


def test_non_numeric_value_is_uninterpretable(valuesets):
    resource = observation("777-3")
    resource["valueString"] = "agrégats plaquettaires"
    lab = one_lab(valuesets, resource)
    assert lab.value is None and "non-numeric" in lab.problem
    assert lab.original_value == "agrégats plaquettaires"


def test_a_bound_is_kept_with_its_comparator(valuesets):
    resource = observation("777-3", 20, "10*3/uL")
    resource["valueQuantity"]["comparator"] = "<"
    lab = one_lab(valuesets, resource)
    assert (lab.value, lab.comparator, lab.problem) == (20_000, "<", None)


def test_a_bound_on_a_pain_score_is_inexact(valuesets):
    resource = observation("72514-3", 3, "{score}")
    resource["valueQuantity"]["comparator"] = "<"
    lab = one_lab(valuesets, resource)
    assert lab.value is None and "comparator" in lab.problem


def test_an_unknown_comparator_is_inexact(valuesets):
    resource = observation("777-3", 20, "10*3/uL")
    resource["valueQuantity"]["comparator"] = "ad"
    lab = one_lab(valuesets, resource)
    assert lab.value is None and "comparator" in lab.problem


def test_missing_value_is_uninterpretable(valuesets):
    resource = observation("777-3")
    resource["dataAbsentReason"] = {"text": "clotted sample"}
    assert one_lab(valuesets, resource).problem == "no value (dataAbsentReason)"


# ------------------------------------------------------------------- property: threshold side

_SCALE_TO_MM3 = {
    "/mm3": Decimal(1),
    "/uL": Decimal(1),
    "10*3/uL": Decimal(1000),
    "10*3/mm3": Decimal(1000),
    "10*9/L": Decimal(1000),
    "G/L": Decimal(1000),
}

# Counts as laboratories write them: at most 3 decimals in thousands, up to 2 000 000 /mm3,
# dense around the threshold.
counts_per_mm3 = st.one_of(
    st.integers(min_value=0, max_value=2_000_000).map(Decimal),
    st.integers(min_value=49_000, max_value=51_000).map(Decimal),
    st.decimals(min_value=49_999, max_value=50_001, places=3),
)


@settings(max_examples=300, deadline=None)
@given(count=counts_per_mm3, unit=st.sampled_from(sorted(_SCALE_TO_MM3)))
def test_unit_never_changes_the_side_of_50000(valuesets, count, unit):
    written = count / _SCALE_TO_MM3[unit]  # what the lab writes in that unit (exact decimal)
    as_json_number = float(written)
    lab = one_lab(valuesets, observation("777-3", as_json_number, unit))
    assert lab.problem is None
    reference = float(count)
    assert (lab.value <= PLATELETS_LOW_MAX) == (reference <= PLATELETS_LOW_MAX)
    assert lab.value == pytest.approx(reference, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    count=counts_per_mm3,
    pair=st.tuples(st.sampled_from(sorted(_SCALE_TO_MM3)), st.sampled_from(sorted(_SCALE_TO_MM3))),
)
def test_converting_between_two_units_keeps_the_side(valuesets, count, pair):
    first, second = pair
    values = []
    for unit in (first, second):
        written = float(count / _SCALE_TO_MM3[unit])
        values.append(one_lab(valuesets, observation("777-3", written, unit)).value)
    assert (values[0] <= PLATELETS_LOW_MAX) == (values[1] <= PLATELETS_LOW_MAX)


def test_conversion_has_no_float_noise():
    assert convert(50, "10*3/uL", "/mm3") == 50_000.0
    assert convert(0.05, "10*3/uL", "/mm3") == 50.0
    assert convert(50_000, "/uL", "10*3/uL") == 50.0
