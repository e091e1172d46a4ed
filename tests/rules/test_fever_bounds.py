"""CI-ABS-INFECTION-SUSPECTED on a temperature at the edges (RULES.md v2: >= 38.0 °C in the last
48 h; outside 25-45 °C a typo or a wrong unit, never a fever). A mutation run of
service/rules/contraindications.py left these edges unpinned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.rule_facts import NOW, facts, lab, normal_labs

from service.rules.contraindications import celsius
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import LabKind


def suspected(value: float, unit: str = "Cel", hours_ago: float = 3) -> bool:
    temperature = lab(LabKind.TEMPERATURE, value, NOW - timedelta(hours=hours_ago), unit=unit)
    patient = facts(labs=(*normal_labs(), temperature))
    fired = {f.rule_id for f in evaluate_rules(patient, Policy(), NOW)}
    return "CI-ABS-INFECTION-SUSPECTED" in fired


@pytest.mark.parametrize(
    ("value", "unit", "hours_ago", "fever"),
    [
        (38.0, "Cel", 3, True),
        (37.9, "Cel", 3, False),
        (45.0, "Cel", 3, True),  # the plausible range's upper end is still read
        (45.1, "Cel", 3, False),  # beyond it: a typo or a wrong unit
        (100.4, "[degF]", 3, True),  # 38.0 °C
        (38.5, "Cel", 48, True),  # the window's first instant is in it
        (38.5, "Cel", 48.5, False),
    ],
)
def test_fever_edges(value: float, unit: str, hours_ago: float, fever: bool) -> None:
    assert suspected(value, unit, hours_ago) is fever


@pytest.mark.parametrize(("value", "read"), [(25.0, True), (24.9, False)])
def test_the_plausible_range_starts_at_25_celsius(value: float, read: bool) -> None:
    reading = lab(LabKind.TEMPERATURE, value, NOW - timedelta(hours=2), unit="Cel")
    assert (celsius(reading) == value) is read
    assert (celsius(reading) is None) is not read
