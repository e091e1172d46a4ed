"""When the first pages of a prefetch search already hold everything the rules read from it.

The lab searches (`platelets`, `coagulation`, `pain`, `neutrophils`, `temperature`) are sorted
newest first (`_sort=-date`) and the rules read only the results inside the lab window
(`lab_max_age_days`), plus the newest result before it (shown as "older than N days"). So once
the pages at hand hold an entry dated before the window, every entry on a later page is older
still: the `next` link is not needed, and the key is complete, not partial (26 % of Synthea
patients got a DATA-UNAVAILABLE card for their labs from that `next` link alone when no FHIR
server could be called).

An entry's date is taken as the latest instant it can denote (a date without a time: the end of
that day in the westernmost time zone), so a page is never called covered too early. Results
dated only by `issued`, or by a period, are placed by the server's own sort of `date`: the limit
of this reading (lab results carry an `effectiveDateTime` in practice). Pages whose dates are
not newest first (a server that ignored `_sort`) never cover the key: its pages are followed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from cds_hooks.service import Coverage
from service.facts.dates import EARLIEST_ZONE, parse_fhir_datetime

# The keys whose templates sort by `-date` and whose rules read only the lab window.
LAB_WINDOW_KEYS = ("platelets", "coagulation", "pain", "neutrophils", "temperature")
SORTED_NEWEST_FIRST = "_sort=-date"
# From the start of a day at UTC+14 (the earliest instant `parse_fhir_datetime` gives a date)
# to its end at UTC-12: 24 h + 26 h.
_DAY_SPAN = timedelta(hours=50)


def lab_window_coverage(
    templates: Mapping[str, str], now: datetime, max_age_days: int
) -> dict[str, Coverage]:
    """A `Coverage` for each lab key whose template is sorted newest first."""
    window_start = now - timedelta(days=max_age_days)

    def covered(resources: Sequence[Mapping[str, Any]]) -> bool:
        dates = [d for d in (_latest_instant(r) for r in resources) if d is not None]
        return bool(dates) and _newest_first(dates) and min(dates) < window_start

    return {
        key: covered for key in LAB_WINDOW_KEYS if SORTED_NEWEST_FIRST in templates.get(key, "")
    }


def _newest_first(dates: Sequence[datetime]) -> bool:
    """Whether the server honoured `_sort=-date` (a server may ignore `_sort`, FHIR search
    allows it, and answer oldest first): an old entry on the first page then says nothing of
    the newer ones on the next pages. Dates are compared to within the span a date without a
    time may cover."""
    return all(later <= earlier + _DAY_SPAN for earlier, later in pairwise(dates))


def _latest_instant(resource: Mapping[str, Any]) -> datetime | None:
    """The latest instant the entry's effective date can denote; None when it has none."""
    period = resource.get("effectivePeriod")
    value = resource.get("effectiveDateTime") or resource.get("effectiveInstant")
    if value is None and isinstance(period, dict):
        value = period.get("end") or period.get("start")
    parsed = parse_fhir_datetime(value)
    if parsed is None:
        return None
    if parsed.precision == "time" and parsed.instant is not None:
        return parsed.instant
    if parsed.day is not None:  # a date, or a time without a zone: the whole day
        start = parsed.instant or datetime.combine(parsed.day, datetime.min.time(), EARLIEST_ZONE)
        return start + _DAY_SPAN
    return None  # a month or a year: too vague to bound the search
