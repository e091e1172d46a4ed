"""FHIR date/dateTime/instant strings -> timezone-aware datetimes, without guessing.

Choices (the rules author must know them):
* A full dateTime keeps its own offset ("2026-11-20T08:00:00+01:00" stays +01:00), so `.date()`
  is the date as written.
* A date without a time ("2026-11-20"), or a partial date ("2026-11", "2026"), becomes the
  EARLIEST instant it can denote: the start of that day/month/year at UTC+14:00 (the earliest
  time zone on Earth). `.date()` is still the written date (or the first day of the period), and
  a lab is never made to look fresher than it can be. `precision` says what was written.
* A time without a time zone ("2026-11-20T08:00:00") is invalid FHIR, yet common. Given the
  site's zone (`assumed_zone`: the zone of "now"), it is read in that zone and `zone_assumed` says
  so, for the card (RULES.md: never dropped). Without one there is no instant, only a date:
  `instant` is None and `problem` says why; `day` still holds the written date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

EARLIEST_ZONE = timezone(timedelta(hours=14))

_PATTERN = re.compile(
    r"^(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?P<fraction>\.\d+)?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
# The form nearly every date in a prefetch takes: a full dateTime with seconds, at most six
# fraction digits and a zone. `datetime.fromisoformat` (C) reads it to the same instant as
# `_PATTERN`; anything else, or anything it refuses, goes through `_PATTERN`.
_FULL_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)


@dataclass(frozen=True)
class FhirDate:
    instant: datetime | None  # timezone-aware, or None (no usable instant)
    day: date | None  # the calendar date as written (None for year/month precision)
    precision: str  # "year", "month", "day", "time"
    problem: str | None = None
    zone_assumed: bool = False  # a time written without a zone, read in the site's zone


def parse_fhir_datetime(value: object, assumed_zone: tzinfo | None = None) -> FhirDate | None:
    """Parse a FHIR date, dateTime or instant; None when absent, a problem when malformed.

    `assumed_zone`: the zone a time written without one is read in (see the module docstring).
    """
    date_ = _parse(value)
    if date_ is None or assumed_zone is None or date_.problem != NO_ZONE:
        return date_
    naive = _naive_time(value)  # type: ignore[arg-type]
    if naive is None:
        return date_
    instant = naive.replace(tzinfo=assumed_zone)
    return _within_calendar(FhirDate(instant, date_.day, "time", zone_assumed=True))


# Python's datetime spans years 1 to 9999: an instant on the first or last day of that span (a
# "9999-12-31T23:59:59Z" sentinel, "0001-01-01") cannot be moved to another time zone. Such a date
# is no date a rule can use: it is reported as out of range, never an error of the whole call.
_FIRST_USABLE_YEAR, _LAST_USABLE_YEAR = 2, 9998


def _within_calendar(date_: FhirDate | None) -> FhirDate | None:
    if date_ is None or date_.instant is None:
        return date_
    if _FIRST_USABLE_YEAR <= date_.instant.year <= _LAST_USABLE_YEAR:
        return date_
    return FhirDate(None, None, "unknown", "date out of range")


NO_ZONE = "time without a time zone (invalid FHIR)"


def _naive_time(value: str) -> datetime | None:
    match = _PATTERN.match(value.strip())
    if match is None or match["hour"] is None:
        return None
    parts = match.groupdict()
    micro = round(float(parts["fraction"]) * 1_000_000) if parts["fraction"] else 0
    try:
        return datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"]),
            int(parts["minute"]),
            int(parts["second"] or 0),
            min(micro, 999_999),
        )
    except ValueError:
        return None


def _parse(value: object) -> FhirDate | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return FhirDate(None, None, "unknown", "date is not a string")
    if _FULL_DATETIME.fullmatch(value):
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            pass  # out of range: `_PATTERN` says so in its own words
        else:
            return _within_calendar(FhirDate(instant, instant.date(), "time"))
    return _parse_with_pattern(value)


def _parse_with_pattern(value: str) -> FhirDate:
    """Every form FHIR allows (and the problems of those it does not)."""
    parsed = _read_pattern(value)
    return _within_calendar(parsed) or parsed


def _read_pattern(value: str) -> FhirDate:
    match = _PATTERN.match(value.strip())
    if match is None:
        return FhirDate(None, None, "unknown", "date is not a FHIR date")
    parts = match.groupdict()
    try:
        year = int(parts["year"])
        month = int(parts["month"] or 1)
        day = int(parts["day"] or 1)
        written_day = date(year, month, day)
        if parts["hour"] is None:
            precision = "day" if parts["day"] else ("month" if parts["month"] else "year")
            start = datetime(year, month, day, tzinfo=EARLIEST_ZONE)
            return FhirDate(start, written_day if precision == "day" else None, precision)
        hour, minute = int(parts["hour"]), int(parts["minute"])
        second = int(parts["second"] or 0)
        micro = round(float(parts["fraction"]) * 1_000_000) if parts["fraction"] else 0
        micro = min(micro, 999_999)
        zone_text = parts["zone"]
        if zone_text is None:
            return FhirDate(None, written_day, "time", NO_ZONE)
        if zone_text == "Z":
            zone = UTC
        else:
            sign = 1 if zone_text[0] == "+" else -1
            hours, minutes = int(zone_text[1:3]), int(zone_text[4:6])
            zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        instant = datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
        return FhirDate(instant, written_day, "time")
    except ValueError:
        return FhirDate(None, None, "unknown", "date out of range")
