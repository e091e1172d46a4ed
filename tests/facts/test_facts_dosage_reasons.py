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
        (dosage(dose=mg(unit="tablet", code="{tbl}")), "is not a mass (mg, g)"),
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
    value, problem = daily_dose_mg([given])
    assert value is None
    assert problem is not None and reason in problem


def test_the_reference_dosage_is_read() -> None:
    assert daily_dose_mg([dosage()]) == (500.0, None)
