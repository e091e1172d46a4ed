"""What the card is told about a result it cannot judge: the problem, the value and unit as
written, and nothing of a comparator the value does not stand for.

The card words `problem_code` in each language (service/cards/format.py), and that code is
derived from `problem`; `problem` itself goes to the log and the audit. `original_value` and
`original_unit` are what the clinician compares with the lab report. A mutation run of
service/facts/labs.py found all of these unpinned: a mutant could blank the value shown, swap
two problems or drop a unit, and no test noticed.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.fhir_builders import NOW, observation

from service.facts.labs import extract_labs, problem_code
from service.facts.model import LabResult
from service.vocabulary import LabKind

PLATELETS, TP, INR, PAIN = "777-3", "5894-1", "6301-6", "72514-3"


def one_lab(valuesets, resource: dict[str, Any]) -> LabResult:
    (lab,) = extract_labs([resource], valuesets, NOW)
    return lab


@pytest.mark.parametrize(
    ("resource", "problem", "shown_value", "shown_unit"),
    [
        (
            observation(PLATELETS, valueQuantity="30 G/L"),
            "valueQuantity is not an object",
            "",
            None,
        ),
        (
            observation(PLATELETS, "trente", "10*3/uL"),
            "non-numeric value",
            "trente",
            "10*3/uL",
        ),
        (
            observation(PLATELETS, valueQuantity={"value": 30, "comparator": "ad", "unit": "G/L"}),
            "value has a comparator (ad)",
            "30",
            "G/L",
        ),
        (observation(INR, valueInteger="2"), "non-numeric value", "2", None),
        (observation(INR, valueString="1,2"), "non-numeric value (valueString)", "1,2", None),
        (
            observation(INR, valueCodeableConcept={"text": "high"}),
            "non-numeric value (valueCodeableConcept)",
            "valueCodeableConcept",
            None,
        ),
        (
            observation(INR, dataAbsentReason={"text": "haemolysed"}),
            "no value (dataAbsentReason)",
            "",
            None,
        ),
        (observation(INR), "no value", "", None),
        (
            observation(TP, 70, "s"),
            "unit 's' is not accepted for tp ('%')",
            "70",
            "s",
        ),
        (
            observation(INR, 1.2, "%"),
            "unit '%' is not accepted for inr (no unit, '1', '{INR}')",
            "1.2",
            "%",
        ),
        (
            observation(PLATELETS, 210),
            "no unit: cannot be converted to /mm3",
            "210",
            None,
        ),
        (
            observation(PLATELETS, 30, "mg"),
            "unit 'mg' cannot be converted to /mm3",
            "30",
            "mg",
        ),
        (observation(PLATELETS, -30, "10*3/uL"), "negative value", "-30", "10*3/uL"),
        (observation(PAIN, 12, "{score}"), "value outside the 0-10 scale", "12", "{score}"),
        (
            observation(PAIN, 2, "{score}", valueQuantity={"value": 2, "comparator": "<"}),
            "value has a comparator (<): not exact",
            "2",
            None,
        ),
        (
            observation(
                PLATELETS, 189.64223091570517, "10*3/uL", effective="0001-01-01T00:30:00+01:00"
            ),
            "date: date out of range",  # valid R4, but no instant (before year 1 in UTC)
            "189.64223091570517",
            "10*3/uL",
        ),
    ],
    ids=[
        "quantity-not-object",
        "quantity-text",
        "unknown-comparator",
        "integer-a-string",
        "value-string",
        "value-concept",
        "data-absent",
        "no-value",
        "unit-not-accepted",
        "unit-not-accepted-no-unit-listed",
        "no-unit",
        "unit-not-convertible",
        "negative",
        "outside-scale",
        "comparator-not-a-bound",
        "bad-date",
    ],
)
def test_an_unusable_result_says_why_and_shows_what_was_written(
    valuesets, resource, problem, shown_value, shown_unit
) -> None:
    lab = one_lab(valuesets, resource)
    assert lab.value is None
    assert lab.problem == problem
    assert (lab.original_value, lab.original_unit) == (shown_value, shown_unit)
    assert lab.comparator is None  # a comparator is kept for a usable bound only


def test_a_bound_keeps_its_comparator_and_the_unit_comes_from_the_code_when_unwritten(
    valuesets,
) -> None:
    resource = observation(
        PLATELETS,
        valueQuantity={
            "value": 20,
            "comparator": "<",
            "system": "http://unitsofmeasure.org",
            "code": "10*3/uL",
        },
    )
    lab = one_lab(valuesets, resource)
    assert (lab.value, lab.comparator, lab.problem) == (20_000.0, "<", None)
    assert (lab.original_value, lab.original_unit) == ("20", "10*3/uL")


def test_an_exact_value_has_no_comparator(valuesets) -> None:
    lab = one_lab(valuesets, observation(PLATELETS, 150, "10*3/uL"))
    assert (lab.value, lab.comparator) == (150_000.0, None)


def test_a_count_dated_by_a_zone_less_period_is_read_in_the_site_zone(valuesets) -> None:
    """effectivePeriod written without a zone: the one accepted defect, so the 30 000/mm³ is
    read (a mutant dropping the period from the copy that is validated lost it)."""
    resource = observation(
        PLATELETS,
        30,
        "10*3/uL",
        effective=None,
        effectivePeriod={"start": "2026-11-24T08:00:00", "end": "2026-11-24T08:30:00"},
    )
    lab = one_lab(valuesets, resource)
    assert (lab.kind, lab.value, lab.problem) == (LabKind.PLATELETS, 30_000.0, None)
    assert lab.zone_assumed is True


@pytest.mark.parametrize(
    ("resource", "problem"),
    [
        (observation(TP, 70), "unit '(none)' is not accepted for tp ('%')"),
        # 1e308 thousand per µL overflows to infinity once in /mm³.
        (observation(PLATELETS, 1e308, "10*3/uL"), "value is not a finite number"),
        (observation(INR, float("nan")), "value is not a finite number"),
    ],
    ids=["tp-without-unit", "overflow", "nan"],
)
def test_more_unusable_values_and_their_problems(valuesets, resource, problem) -> None:
    lab = one_lab(valuesets, resource)
    assert (lab.value, lab.problem) == (None, problem)


@pytest.mark.parametrize("score", [0, 10])
def test_both_ends_of_the_pain_scale_are_usable(valuesets, score: int) -> None:
    lab = one_lab(valuesets, observation(PAIN, score, "{score}"))
    assert (lab.value, lab.problem) == (float(score), None)


@pytest.mark.parametrize(
    "element",
    [
        {"valueBoolean": True},
        {"valueRatio": {"numerator": {"value": 1}, "denominator": {"value": 2}}},
        {"valueRange": {"low": {"value": 1}, "high": {"value": 2}}},
    ],
    ids=["boolean", "ratio", "range"],
)
def test_a_value_that_is_no_number_is_called_so_not_missing(valuesets, element) -> None:
    # "not a number" and "no value" are worded differently on the card: a result that holds a
    # value of another type was measured, one without a value was not.
    (key,) = element
    lab = one_lab(valuesets, observation(INR, **element))
    assert (lab.problem, lab.problem_code) == (f"non-numeric value ({key})", "non-numeric")
    assert lab.original_value == key


def test_a_unit_code_that_is_no_string_is_never_shown_as_the_unit(valuesets) -> None:
    lab = one_lab(valuesets, observation(PLATELETS, valueQuantity={"value": 30, "code": 103}))
    assert lab.value is None and lab.original_unit is None


def test_an_effective_instant_dates_the_result(valuesets) -> None:
    resource = observation(
        PLATELETS, 150, "10*3/uL", effective=None, effectiveInstant="2026-11-24T08:00:00.000+01:00"
    )
    lab = one_lab(valuesets, resource)
    assert lab.effective is not None
    assert lab.effective.isoformat() == "2026-11-24T08:00:00+01:00"


def test_a_pain_score_on_a_scale_it_does_not_show_says_so(valuesets) -> None:
    # 38208-5 is a pain severity on any scale: without a 0-10 unit or reference range it cannot
    # be read against 4/10 and 7/10, and the card says why (it said "cannot be interpreted").
    lab = one_lab(valuesets, observation("38208-5", 5))
    assert lab.value is None
    assert lab.problem is not None and lab.problem.startswith("scale not shown as 0-10")
    assert lab.problem_code == "scale"


def test_a_problem_no_reader_foresaw_is_worded_as_uninterpretable() -> None:
    assert problem_code("a reason added later without its code") == "other"
    assert problem_code(None) is None
