"""CI-ABS-INFECTION-SUSPECTED on a temperature at the edges (RULES.md v2: >= 38.0 °C in the last
48 h; outside 25-45 °C a typo or a wrong unit, never a fever). A mutation run of
service/rules/contraindications.py left these edges unpinned."""

from __future__ import annotations

from datetime import UTC, timedelta

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


def test_the_fevers_are_shown_oldest_first_whatever_their_offsets() -> None:
    # The card tells the fever's course: first the older reading, then the newer one. The facts
    # give the labs newest first; an offset other than the site's must not change the order.
    newer = lab(LabKind.TEMPERATURE, 39.2, NOW - timedelta(hours=2), unit="Cel")
    older = lab(LabKind.TEMPERATURE, 38.4, NOW - timedelta(hours=30), unit="Cel")
    utc_middle = lab(
        LabKind.TEMPERATURE, 38.8, (NOW - timedelta(hours=10)).astimezone(UTC), unit="Cel"
    )
    patient = facts(labs=(*normal_labs(), newer, utc_middle, older))
    (finding,) = [
        f
        for f in evaluate_rules(patient, Policy(), NOW)
        if f.rule_id == "CI-ABS-INFECTION-SUSPECTED"
    ]
    assert [t.celsius for t in finding.params["temperatures"]] == [38.4, 38.8, 39.2]
    assert [e.id for e in finding.evidence] == [
        older.source.id,
        utc_middle.source.id,
        newer.source.id,
    ]
