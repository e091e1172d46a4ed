"""Which results the lab reader interprets given "now" (RULES.md v2 "Latest"): reading back past
unusable results, ties, preliminary results, zone-less date-times, the 1-hour future tolerance
and failure isolation."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from support.fhir_builders import observation

import service.facts.labs as labs_module
from service.facts.labs import FUTURE_TOLERANCE, MAX_READ_BACK, extract_labs
from service.facts.model import InvalidResource
from service.vocabulary import DataCategory, LabKind

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=PARIS)


def at(day: int, hour: int = 8) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:00:00+01:00"


def test_a_newer_result_without_unit_does_not_hide_the_older_usable_one(valuesets):
    """The issue's case: today's "210" without a unit, 30 000/mm³ two days ago."""
    older = observation("777-3", 30, "10*3/uL", effective=at(24))
    newer = observation("777-3", 210, None, effective=at(26, 7))
    labs = extract_labs([newer, older], valuesets, now=NOW)
    assert [(lab.source.id, lab.value) for lab in labs] == [
        (newer["id"], None),
        (older["id"], 30_000.0),
    ]
    assert "no unit" in (labs[0].problem or "")


def test_reading_back_stops_at_the_first_usable_result(valuesets):
    usable = observation("777-3", 30, "10*3/uL", effective=at(20))
    older = observation("777-3", 300, "10*3/uL", effective=at(19))
    unusable = [observation("777-3", "x", None, effective=at(21 + i)) for i in range(3)]
    labs = extract_labs([older, usable, *unusable], valuesets, now=NOW)
    assert older["id"] not in {lab.source.id for lab in labs}
    assert usable["id"] in {lab.source.id for lab in labs}


def test_reading_back_is_bounded(valuesets):
    unusable = [observation("777-3", "x", None, effective=at(25, hour)) for hour in range(0, 20)]
    usable = observation("777-3", 30, "10*3/uL", effective=at(1))
    labs = extract_labs([usable, *unusable], valuesets, now=NOW)
    assert len(labs) == MAX_READ_BACK
    assert all(not lab.interpretable for lab in labs)


def test_a_bound_does_not_stop_reading_back(valuesets):
    """A bound may not settle the threshold: the exact result before it is read too."""
    bound = observation("777-3", 60, "10*3/uL", effective=at(25))
    bound["valueQuantity"]["comparator"] = "<"
    exact = observation("777-3", 40, "10*3/uL", effective=at(24))
    labs = extract_labs([bound, exact], valuesets, now=NOW)
    assert [lab.source.id for lab in labs] == [bound["id"], exact["id"]]


def test_an_older_usable_result_outside_any_window_is_still_read(valuesets):
    """The rules show it with its value and date ("older than 7 days"), never "no result"."""
    stale = observation("777-3", 30, "10*3/uL", effective="2026-10-19T08:00:00+02:00")
    (lab,) = extract_labs([stale], valuesets, now=NOW)
    assert lab.value == 30_000.0


def test_every_result_of_the_deciding_instant_is_read_whatever_the_bundle_order(valuesets):
    low = observation("777-3", 30, "10*3/uL", effective=at(25))
    high = observation("777-3", 250, "10*3/uL", effective=at(25))
    older = observation("777-3", 100, "10*3/uL", effective=at(24))
    for order in ([low, high, older], [high, low, older], [older, high, low]):
        labs = extract_labs(order, valuesets, now=NOW)
        assert sorted(lab.value for lab in labs) == [30_000.0, 250_000.0]


def test_a_preliminary_result_is_read_and_flagged(valuesets):
    preliminary = observation("777-3", 30, "10*3/uL", status="preliminary", effective=at(25))
    final = observation("777-3", 250, "10*3/uL", effective=at(24))
    labs = extract_labs([preliminary, final], valuesets, now=NOW)
    assert [(lab.value, lab.preliminary) for lab in labs] == [(30_000.0, True), (250_000.0, False)]


def test_a_preliminary_result_does_not_stop_reading_back(valuesets):
    preliminary = observation("777-3", 300, "10*3/uL", status="preliminary", effective=at(25))
    (labs) = extract_labs([preliminary], valuesets, now=NOW)
    assert [lab.preliminary for lab in labs] == [True]
    final = observation("777-3", 30, "10*3/uL", effective=at(10))
    labs = extract_labs([preliminary, final], valuesets, now=NOW)
    assert [lab.value for lab in labs] == [300_000.0, 30_000.0]


def test_a_date_time_without_a_zone_is_read_in_the_site_zone_never_dropped(valuesets):
    (lab,) = extract_labs(
        [observation("777-3", 30, "10*3/uL", effective="2026-11-25T08:00:00")], valuesets, now=NOW
    )
    assert lab.value == 30_000.0 and lab.problem is None
    assert lab.effective == datetime(2026, 11, 25, 8, tzinfo=PARIS)
    assert lab.zone_assumed is True
    (zoned,) = extract_labs([observation("777-3", 30, "10*3/uL")], valuesets, now=NOW)
    assert zoned.zone_assumed is False


def test_a_zone_less_result_competes_with_zoned_ones_by_its_site_instant(valuesets):
    zone_less = observation("777-3", 30, "10*3/uL", effective="2026-11-25T10:00:00")  # 09:00Z
    zoned = observation("777-3", 250, "10*3/uL", effective="2026-11-25T08:30:00Z")
    labs = extract_labs([zoned, zone_less], valuesets, now=NOW)
    assert [lab.value for lab in labs] == [30_000.0]


# ------------------------------------------------------------------ the 1-hour future tolerance


@pytest.mark.parametrize(
    ("offset", "future"),
    [
        (FUTURE_TOLERANCE, False),  # exactly now + 1 h: still a past result
        (FUTURE_TOLERANCE + timedelta(seconds=1), True),
    ],
)
def test_the_future_tolerance_is_one_hour_exactly(valuesets, offset, future):
    assert timedelta(hours=1) == FUTURE_TOLERANCE
    when = (NOW + offset).isoformat()
    ahead = observation("777-3", 250, "10*3/uL", effective=when)
    usable = observation("777-3", 30, "10*3/uL", effective=at(20))
    labs = extract_labs([ahead, usable], valuesets, now=NOW)
    ids = [lab.source.id for lab in labs]
    # A future result does not stop reading back: the real latest one is read beside it.
    assert ids == ([ahead["id"], usable["id"]] if future else [ahead["id"]])


# --------------------------------------------------------------------------- failure isolation


def test_a_result_whose_reading_raises_is_uninterpretable_and_the_others_are_read(
    valuesets, monkeypatch
):
    broken = observation("777-3", 250, "10*3/uL", effective=at(25))
    good = observation("777-3", 30, "10*3/uL", effective=at(24))
    real = labs_module.interpret

    def interpret(kind, resource, date, valuesets):
        if resource is broken:
            raise RuntimeError("unforeseen input")
        return real(kind, resource, date, valuesets)

    monkeypatch.setattr(labs_module, "interpret", interpret)
    labs = extract_labs([broken, good], valuesets, now=NOW)
    assert [(lab.source.id, lab.value) for lab in labs] == [
        (good["id"], 30_000.0),  # dated: first
        (broken["id"], None),
    ]
    assert labs[1].kind is LabKind.PLATELETS
    assert labs[1].problem == "could not be read (RuntimeError)"


def test_a_result_whose_kind_cannot_be_read_is_reported_in_every_lab_category(
    valuesets, monkeypatch
):
    broken = observation("777-3", 250, "10*3/uL", effective=at(25))
    good = observation("6301-6", 1.1, None, effective=at(25))
    real = labs_module.lab_kind

    def lab_kind(resource, valuesets):
        if resource is broken:
            raise RuntimeError("unforeseen input")
        return real(resource, valuesets)

    monkeypatch.setattr(labs_module, "lab_kind", lab_kind)
    invalid: list[InvalidResource] = []
    labs = extract_labs([broken, good], valuesets, NOW, invalid)
    assert [lab.source.id for lab in labs] == [good["id"]]
    # Every lab category: the unreadable result may have been any lab the rules read.
    assert {item.category for item in invalid} == set(labs_module.LAB_CATEGORIES.values())
    assert DataCategory.PLATELETS in {item.category for item in invalid}
    assert {item.source.id for item in invalid} == {broken["id"]}


def test_a_zone_less_result_is_forgiven_its_zone_and_nothing_else(valuesets):
    """Only the missing zone is accepted (RULES.md): an impossible `issued` beside a zone-less
    effectiveDateTime still makes the result uninterpretable (a mutant that dropped the dates
    from the copy it validates survived every test)."""
    broken = observation("777-3", 150, "10*3/uL", effective="2026-11-25T08:00:00")
    broken["issued"] = "2026-11-25T25:99:00+01:00"
    (lab,) = extract_labs([broken], valuesets, now=NOW)
    assert lab.value is None and lab.problem_code == "invalid"
    assert lab.effective == datetime(2026, 11, 25, 8, tzinfo=PARIS)
