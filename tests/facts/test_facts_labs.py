"""Observation statuses, dates (partial, time zones, period end, issued), latest first."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from support.fhir_builders import NOW, observation

from service.facts.dates import EARLIEST_ZONE, parse_fhir_datetime
from service.facts.labs import extract_labs
from service.vocabulary import LabKind


@pytest.mark.parametrize("status", ["final", "amended", "corrected"])
def test_usable_statuses_count(valuesets, status):
    labs = extract_labs([observation("777-3", 150, "10*3/uL", status=status)], valuesets, NOW)
    assert [lab.value for lab in labs] == [150_000.0]


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "registered", "unknown", None])
def test_other_statuses_never_count(valuesets, status):
    assert extract_labs([observation("777-3", 20, "10*3/uL", status=status)], valuesets, NOW) == []


def test_entered_in_error_latest_does_not_hide_the_previous_result(valuesets):
    wrong = observation("777-3", 20, "10*3/uL", status="entered-in-error", effective="2026-11-21")
    right = observation("777-3", 180, "10*3/uL", effective="2026-11-19")
    labs = extract_labs([wrong, right], valuesets, NOW)
    assert [lab.value for lab in labs] == [180_000.0]


def test_time_zone_is_kept_as_written(valuesets):
    (lab,) = extract_labs(
        [observation("6301-6", 1.2, None, effective="2026-11-20T23:30:00-05:00")], valuesets, NOW
    )
    assert lab.effective == datetime(2026, 11, 21, 4, 30, tzinfo=UTC)
    assert lab.effective.utcoffset() == timedelta(hours=-5)
    assert lab.effective.date() == date(2026, 11, 20)  # the date as written
    assert lab.effective_precision == "time"


@pytest.mark.parametrize(
    ("written", "expected", "precision"),
    [
        ("2026", datetime(2026, 1, 1, tzinfo=EARLIEST_ZONE), "year"),
        ("2026-11", datetime(2026, 11, 1, tzinfo=EARLIEST_ZONE), "month"),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=EARLIEST_ZONE), "day"),
    ],
)
def test_partial_dates_are_the_earliest_instant_they_denote(
    valuesets, written, expected, precision
):
    (lab,) = extract_labs([observation("777-3", 150, "10*3/uL", effective=written)], valuesets, NOW)
    assert lab.effective == expected
    assert lab.effective_precision == precision
    assert lab.problem is None


def test_date_only_never_looks_fresher_than_any_time_zone_allows():
    parsed = parse_fhir_datetime("2026-11-20")
    # the earliest instant of 20 November anywhere on Earth
    assert parsed.instant == datetime(2026, 11, 19, 10, 0, tzinfo=UTC)
    assert parsed.instant.date() == date(2026, 11, 20)


def test_time_without_time_zone_is_never_silently_utc():
    """Without a zone to read it in, the date is a problem (labs read it in the site's zone:
    test_facts_latest_usable)."""
    parsed = parse_fhir_datetime("2026-11-20T08:00:00")
    assert parsed is not None and parsed.instant is None and parsed.problem


def test_effective_period_end_then_issued(valuesets):
    by_period = observation("777-3", 150, "10*3/uL", effective=None)
    by_period["effectivePeriod"] = {
        "start": "2026-11-18T08:00:00Z",
        "end": "2026-11-19T08:00:00Z",
    }
    by_period["issued"] = "2026-11-25T08:00:00Z"
    by_issued = observation("26515-7", 160, "10*3/uL", effective=None)
    by_issued["issued"] = "2026-11-21T09:15:00.123+01:00"
    ((period_lab,), (issued_lab,)) = (
        extract_labs([by_period], valuesets, NOW),
        extract_labs([by_issued], valuesets, NOW),
    )
    assert period_lab.effective == datetime(2026, 11, 19, 8, tzinfo=UTC)
    assert issued_lab.effective == datetime(2026, 11, 21, 8, 15, 0, 123000, tzinfo=UTC)


def test_a_zone_less_period_end_does_not_excuse_a_broken_period_start(valuesets):
    # The end without a zone is read in the site's zone and accepted (RULES.md); the rest of the
    # period is still validated as written: a start that is no date makes the result unusable.
    resource = observation("777-3", 30, "10*3/uL", effective=None)
    resource["effectivePeriod"] = {"start": "the day before", "end": "2026-11-19T08:00:00"}
    (lab,) = extract_labs([resource], valuesets, NOW)
    assert lab.value is None and lab.problem_code == "invalid"
    assert "effectivePeriod.start" in lab.problem
    resource["effectivePeriod"]["start"] = "2026-11-18T08:00:00"  # zone-less too: accepted
    (lab,) = extract_labs([resource], valuesets, NOW)
    assert lab.value == 30_000 and lab.zone_assumed


def test_no_date_at_all_is_kept_with_no_effective(valuesets):
    (lab,) = extract_labs([observation("777-3", 150, "10*3/uL", effective=None)], valuesets, NOW)
    assert lab.effective is None and lab.value == 150_000.0


def test_latest_first_across_offsets(valuesets):
    older = observation("777-3", 100, "10*3/uL", effective="2026-11-20T10:00:00+02:00")  # 08:00Z
    newer = observation("777-3", 40, "10*3/uL", effective="2026-11-20T09:00:00+00:00")  # 09:00Z
    labs = extract_labs([older, newer], valuesets, NOW)
    assert [lab.value for lab in labs] == [40_000.0]  # the later instant, not the later text


def test_only_the_latest_usable_result_of_each_kind_is_interpreted(valuesets):
    many = [
        observation("72514-3", i % 10, "{score}", effective=f"2026-10-{day:02d}T08:00:00Z")
        for i, day in enumerate(range(1, 31))
    ]
    labs = extract_labs([*many, observation("777-3", 150, "10*3/uL")], valuesets, NOW)
    pain = [lab for lab in labs if lab.kind is LabKind.PAIN_SCORE]
    assert [lab.effective for lab in pain] == [datetime(2026, 10, 30, 8, tzinfo=UTC)]
    assert any(lab.kind is LabKind.PLATELETS for lab in labs)


def test_unrelated_observations_are_ignored(valuesets):
    other = observation("718-7", 13, "g/dL")  # haemoglobin
    assert extract_labs([other], valuesets, NOW) == []


def test_invalid_observation_becomes_uninterpretable(valuesets):
    resource = observation("777-3", 150, "10*3/uL")
    resource["subject"] = "Patient/p1"  # a string where a Reference is required
    (lab,) = extract_labs([resource], valuesets, NOW)
    assert lab.value is None
    assert "invalid FHIR R4 Observation" in lab.problem
    assert "Patient" not in lab.problem  # element paths only, never values


def test_source_reference_and_version(valuesets):
    resource = observation("777-3", 150, "10*3/uL", meta={"versionId": "3"})
    (lab,) = extract_labs([resource], valuesets, NOW)
    assert lab.source.reference == f"Observation/{resource['id']}"
    assert lab.source.version == "3"


def test_given_now_only_what_the_rules_read_is_interpreted(valuesets, monkeypatch):
    from datetime import datetime

    import service.facts.labs as labs_module

    validated: list[str] = []
    real_validation = labs_module.validation_error

    def counting(resource):
        validated.append(resource["id"])
        return real_validation(resource)

    monkeypatch.setattr(labs_module, "validation_error", counting)
    now = datetime.fromisoformat("2026-11-26T09:00:00+01:00")
    history = [
        observation("777-3", 100 + day, "10*3/uL", effective=f"2026-11-{day:02d}T08:00:00+01:00")
        for day in range(1, 26)
    ]
    typo = observation("777-3", 250, "10*3/uL", effective="2062-11-20T08:00:00+01:00")
    same_instant = observation("777-3", 30, "10*3/uL", effective="2026-11-25T08:00:00+01:00")
    labs = extract_labs([*history, typo, same_instant], valuesets, now=now)

    assert sorted(lab.source.id for lab in labs) == sorted(
        [history[-1]["id"], same_instant["id"], typo["id"]]
    )
    assert len(validated) == 3  # not one per Observation of the prefetch


def test_a_result_dated_by_a_zone_less_issued_is_read_in_the_site_zone(valuesets):
    # `issued` is an instant (a zone is required) but, like the other dates, one written without
    # a zone is read in the site's zone and flagged, never dropped (RULES.md "Latest").
    resource = observation("777-3", 30, "10*3/uL", effective=None, issued="2026-11-24T09:30:00")
    (lab,) = extract_labs([resource], valuesets, NOW)
    assert (lab.value, lab.problem, lab.zone_assumed) == (30_000.0, None, True)
    assert lab.effective == datetime(2026, 11, 24, 9, 30, tzinfo=NOW.tzinfo)
