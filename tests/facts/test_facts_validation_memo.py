"""Validation outcomes are remembered by exact content: the same JSON is validated once, and any
difference (a value, a type, a nested element) is validated anew."""

from __future__ import annotations

from typing import Any

import pytest
from support.fhir_builders import observation

from service.facts import validation
from service.facts.validation import ValidationMemo


@pytest.fixture
def validations(monkeypatch) -> list[str]:
    """A fresh memo; the ids of the Observations fhir.resources actually validates. The fast
    check of plain Observations (plainly_valid.py) is off: the memo serves fhir.resources."""
    seen: list[str] = []
    real_model = validation._model

    class Counting:
        @staticmethod
        def model_validate(resource: dict[str, Any]) -> Any:
            seen.append(resource["id"])
            return real_model("Observation").model_validate(resource)

    monkeypatch.setattr(validation, "_memo", ValidationMemo(entries=8))
    monkeypatch.setattr(validation, "_model", lambda resource_type: Counting)
    monkeypatch.setattr(validation, "plainly_valid_observation", lambda resource: False)
    return seen


def test_the_same_content_is_validated_once(validations) -> None:
    resource = observation("777-3", 150, "10*3/uL")
    copy = observation("777-3", 150, "10*3/uL", id=resource["id"])
    assert validation.validation_error(resource) is None
    assert validation.validation_error(copy) is None
    assert validations == [resource["id"]]


def test_an_invalid_twin_of_a_remembered_valid_resource_is_still_refused(validations) -> None:
    valid = observation("777-3", 150, "10*3/uL")
    assert validation.validation_error(valid) is None
    for change in (
        {"status": 5},  # a number, not a code
        {"valueQuantity": {"value": "abc", "unit": "10*3/uL"}},
        {"subject": {"reference": 12}},
        {"effectiveDateTime": "2026-13-40"},
        {"code": {"coding": {"system": 1}}},  # nested
    ):
        twin = {**valid, **change}
        reason = validation.validation_error(twin)
        assert reason is not None and "invalid FHIR R4 Observation" in reason, change
    assert len(validations) == 6


def test_a_remembered_refusal_is_refused_again(validations) -> None:
    invalid = observation("777-3", 150, "10*3/uL", status=5)
    first = validation.validation_error(invalid)
    assert first is not None
    assert validation.validation_error(dict(invalid)) == first
    assert validations == [invalid["id"]]


def test_json_types_are_part_of_the_content(validations) -> None:
    as_int = observation("777-3", 150, "10*3/uL")
    as_float = observation("777-3", 150.0, "10*3/uL", id=as_int["id"])
    validation.validation_error(as_int)
    validation.validation_error(as_float)
    assert len(validations) == 2


def test_content_beyond_64_bit_integers_is_validated_every_time(validations) -> None:
    huge = observation("777-3", 10**30, "10*3/uL")
    validation.validation_error(huge)
    validation.validation_error(huge)
    assert len(validations) == 2


def test_the_memo_is_bounded_and_forgets_the_least_recently_used() -> None:
    memo = ValidationMemo(entries=3)
    calls: list[int] = []

    def check(n: int) -> str | None:
        return memo.outcome("X", {"n": n}, lambda: calls.append(n) or None)

    for n in (1, 2, 3):
        check(n)
    check(1)  # used again: 2 is now the oldest
    check(4)
    assert len(memo) == 3
    check(1)
    check(2)
    assert calls == [1, 2, 3, 4, 2]


def test_dosages_are_remembered_by_content(monkeypatch) -> None:
    monkeypatch.setattr(validation, "_memo", ValidationMemo(entries=8))
    good = [{"text": "75 mg daily", "doseAndRate": [{"doseQuantity": {"value": 75}}]}]
    bad = [{"text": "75 mg daily", "doseAndRate": [{"doseQuantity": {"value": "x"}}]}]
    assert validation.dosage_error(good) is None
    assert validation.dosage_error(good) is None
    assert validation.dosage_error(bad) is not None
    assert len(validation._memo) == 2


def test_non_finite_numbers_never_borrow_the_outcome_of_a_null(validations) -> None:
    """orjson writes NaN and infinities as null: such contents are validated every time."""
    with_null = observation("777-3", None, None, valueQuantity={"value": None, "unit": "G/L"})
    assert validation.validation_error(with_null) is None
    for number in (float("inf"), float("-inf"), float("nan")):
        twin = {**with_null, "valueQuantity": {"value": number, "unit": "G/L"}}
        assert validation.validation_error(twin) is not None, number
    assert validation.validation_error(with_null) is None
    assert len(validations) == 5


def test_a_reason_stays_short_whatever_the_keys(validations) -> None:
    """The reason is logged and remembered: a client's 100 000-character key is cut."""
    resource = observation("777-3", 150, "10*3/uL")
    resource["code"]["coding"][0]["x" * 100_000] = 1
    reason = validation.validation_error(resource)
    assert reason is not None and "invalid FHIR R4 Observation" in reason
    assert len(reason) < 400
