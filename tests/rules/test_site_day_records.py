"""The site's calendar day of a recorded moment, and what a card shows of a Condition it names.
A mutation run of service/rules/common.py left both unpinned: a mutant could put a midnight
record of a zone east of the site on the wrong day, or show a Condition without its date."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from support.rule_facts import NOW, condition, lab

from service.facts.dates import EARLIEST_ZONE
from service.rules.common import condition_record, lab_params, site_day
from service.vocabulary import LabKind

TOKYO = timezone(timedelta(hours=9))


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        # A date written without a time is held at 00:00 UTC+14 (dates.py): its date is kept.
        (datetime(2026, 11, 20, tzinfo=EARLIEST_ZONE), date(2026, 11, 20)),
        # A time is moved to the site's zone (UTC+1 in NOW) first: these fall the day before.
        (datetime(2026, 11, 20, 0, 0, tzinfo=TOKYO), date(2026, 11, 19)),
        (datetime(2026, 11, 20, 10, 0, tzinfo=EARLIEST_ZONE), date(2026, 11, 19)),
        (datetime(2026, 11, 20, 23, 30, tzinfo=UTC), date(2026, 11, 21)),
    ],
    ids=["date-only", "midnight-tokyo", "utc+14-with-a-time", "late-utc"],
)
def test_a_moment_is_dated_on_the_site_calendar(moment: datetime, day: date) -> None:
    assert site_day(moment, NOW) == day


def test_a_condition_record_shows_its_name_resource_and_site_day() -> None:
    recorded = replace(
        condition("immunocompromised", display="HIV infection"),
        recorded=datetime(2026, 11, 20, 0, 0, tzinfo=TOKYO),
    )
    shown = condition_record(recorded, NOW)
    assert (shown.display, shown.reference) == ("HIV infection", recorded.source.reference)
    assert (shown.date, shown.dated) == ("2026-11-19", True)
    undated = condition_record(condition("immunocompromised"), NOW)
    assert (undated.date, undated.dated) == (None, True)  # "date not recorded" on the card


def test_a_result_without_a_date_is_shown_without_one() -> None:
    undated = replace(lab(LabKind.PLATELETS, None, problem="no value"), effective=None)
    shown = lab_params(undated, NOW)
    assert (shown.date, shown.reference) == (None, undated.source.reference)
    dated = lab_params(
        lab(LabKind.PLATELETS, 30_000, datetime(2026, 11, 24, 23, 30, tzinfo=UTC)), NOW
    )
    assert dated.date == "2026-11-25"  # 00:30 on the site's calendar (UTC+1)
