"""Why a daily dose is unknown, as the English plan card says it ("dose unknown: …"): each reason
pinned (a mutation run of the dose reader saw every one replaced unnoticed), and a dose, a
frequency or a period of zero is no dose: unknown, never 0 mg a day, which would read as a low
dose of aspirin, "may be continued"."""

from __future__ import annotations

from typing import Any

import pytest

from service.facts.dosage import daily_dose_mg

UCUM = "http://unitsofmeasure.org"


def mg(value: Any = 500, **quantity: Any) -> dict[str, Any]:
    return {
        "doseQuantity": {"value": value, "unit": "mg", "system": UCUM, "code": "mg", **quantity}
    }


def dosage(dose: Any = None, timing: Any = None, **more: Any) -> dict[str, Any]:
    result: dict[str, Any] = dict(more)
    result["doseAndRate"] = [mg() if dose is None else dose]
    result["timing"] = (
        {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}} if timing is None else timing
    )
    return result


def repeat(**fields: Any) -> dict[str, Any]:
    return {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d", **fields}}


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({"doseAndRate": [mg()]}, "no timing (frequency unknown)"),
        (dosage(dose={"doseRange": {"low": {"value": 1}}}), "dose given as a range"),
        ({"text": "one tablet a day", "timing": repeat()}, "dosage given as text only"),
        ({"timing": repeat()}, "no dose quantity"),
        (dosage(dose={"doseQuantity": "500 mg"}), "doseQuantity is not an object"),
        (dosage(dose=mg("500")), "dose is not a number"),
        (dosage(dose=mg(True)), "dose is not a number"),
        (dosage(dose=mg(-500)), "dose is not a positive number"),
        (dosage(dose=mg(0)), "dose is not a positive number"),
        (dosage(dose={"doseQuantity": {"value": 500}}), "dose has no unit"),
        (dosage(dose=mg(unit="tablet", code="{tbl}")), "dose unit '{tbl}' is not a mass (mg, g)"),
        (dosage(sequence=True), "dosage sequence is not an integer"),
        (dosage(sequence="1"), "dosage sequence is not an integer"),
        (dosage(dose=mg(1e300, unit="g", code="g")), "dose is not a plausible number"),
        (dosage(timing=repeat(frequency="once")), "frequency is not a number"),
        (dosage(timing=repeat(frequency=0)), "frequency is not a positive number"),
        (
            dosage(timing={"repeat": {"frequency": 1, "periodUnit": "d"}}),
            "frequency without a period",
        ),
        (dosage(timing=repeat(period="1")), "period is not a number"),
        (dosage(timing=repeat(period=0)), "period is not a positive number"),
        (dosage(timing=repeat(periodUnit="fortnight")), "unknown period unit"),
        (dosage(timing={"code": {"coding": [{"code": "XYZ"}]}}), "no frequency"),
    ],
)
def test_an_unknown_dose_says_why(given: dict[str, Any], reason: str) -> None:
    assert daily_dose_mg([given]) == (None, reason)


@pytest.mark.parametrize(
    ("given", "reason"),
    [([], "no dosage"), (None, "no dosage"), (["one tablet"], "dosage is not an object")],
)
def test_a_missing_dosage_says_why(given: Any, reason: str) -> None:
    assert daily_dose_mg(given) == (None, reason)


def test_the_doses_of_one_sequence_add_up() -> None:
    """Two Dosage elements of the same sequence are taken together: 100 + 100 mg of aspirin is
    200 mg a day, a high dose, not 100 (a mutation survivor read the second alone)."""
    both = [dosage(dose=mg(100), sequence=1), dosage(dose=mg(100), sequence=1)]
    assert daily_dose_mg(both) == (200.0, None)


@pytest.mark.parametrize(
    "quantity",
    [
        {"value": 500, "unit": "milligrammes", "system": UCUM, "code": "mg"},
        {"value": 500, "unit": "milligrammes", "code": "mg"},  # a code without a system: UCUM
        {"value": 500, "unit": "mg", "system": "http://example.org/units", "code": "x"},
    ],
)
def test_the_ucum_code_or_else_the_unit_gives_the_mass(quantity: dict[str, Any]) -> None:
    """The UCUM code is read first (a display unit in words is no unit); a code of another
    system is not UCUM, and the displayed unit then decides."""
    assert daily_dose_mg([dosage(dose={"doseQuantity": quantity})]) == (500.0, None)


def test_a_code_of_another_system_is_not_read_as_ucum() -> None:
    quantity = {"value": 1, "unit": "tablet", "system": "http://example.org/units", "code": "g"}
    assert daily_dose_mg([dosage(dose={"doseQuantity": quantity})])[0] is None


def test_an_entry_of_doseAndRate_that_is_not_an_object_is_skipped() -> None:
    assert daily_dose_mg([dosage(dose="junk") | {"doseAndRate": ["junk", mg()]}]) == (500.0, None)


def test_the_reference_dosage_is_read() -> None:
    assert daily_dose_mg([dosage()]) == (500.0, None)
