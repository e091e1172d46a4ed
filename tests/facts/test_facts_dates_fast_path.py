"""The fast path of `parse_fhir_datetime` (datetime.fromisoformat for the full dateTime form)
reads every string exactly as the complete pattern parser does: same instant, same offset, same
date, precision and problem. Strings are generated around that form (out-of-range fields, one to
nine fraction digits, odd zones, spaces, missing parts) and at random."""

from __future__ import annotations

from datetime import datetime

from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.facts.dates import FhirDate, _parse_with_pattern, parse_fhir_datetime


def _two_digits(high: int) -> st.SearchStrategy[str]:
    return st.integers(0, high).map(lambda n: f"{n:02d}")


_ZONES = st.one_of(
    st.sampled_from(["Z", "z", "", "+00:00", "-00:00", "+14:00", "-12:00", "+24:00", "+0100"]),
    st.builds(
        lambda sign, hours, minutes: f"{sign}{hours}:{minutes}",
        st.sampled_from("+-"),
        _two_digits(30),
        _two_digits(99),
    ),
)

_NEAR_FULL_FORM = st.builds(
    lambda year, month, day, sep, hour, minute, second, fraction, zone, pad: (
        f"{pad}{year:04d}-{month}-{day}{sep}{hour}:{minute}:{second}{fraction}{zone}"
    ),
    st.integers(0, 9999),
    _two_digits(13),
    _two_digits(32),
    st.sampled_from(["T", "T", "T", " ", "t"]),
    _two_digits(25),
    _two_digits(61),
    _two_digits(61),
    st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=9).map(lambda f: "." + f)),
    _ZONES,
    st.sampled_from(["", "", "", " "]),
)

_ANY_TEXT = st.text(alphabet="0123456789-T:+Z. ", max_size=32)


def _same(fast: FhirDate | None, full: FhirDate | None) -> None:
    assert fast == full
    if fast is not None and full is not None and isinstance(fast.instant, datetime):
        assert full.instant is not None
        # Aware datetimes compare by instant only: the written offset must be kept as well.
        assert fast.instant.utcoffset() == full.instant.utcoffset()
        assert fast.instant.tzinfo == full.instant.tzinfo
        assert fast.instant.replace(tzinfo=None) == full.instant.replace(tzinfo=None)


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(st.one_of(_NEAR_FULL_FORM, _ANY_TEXT))
@example("2026-11-20T08:00:00Z")
@example("2026-11-20T08:00:00.1+01:00")
@example("2026-11-20T08:00:00.999999-03:30")
@example("2026-11-20T08:00:00.9999996Z")  # seven digits: the pattern parser rounds
@example("2026-02-30T08:00:00Z")  # no such day
@example("2026-11-20T24:00:00Z")
@example("2026-11-20T08:00:60Z")
@example("2026-11-20T08:00:00+01:99")
@example("2026-11-20T08:00:00")  # no zone: invalid FHIR
@example(" 2026-11-20T08:00:00Z")
@example("２０２６-11-20T08:00:00Z")  # Unicode digits
def test_fast_path_reads_like_the_pattern_parser(text: str) -> None:
    _same(parse_fhir_datetime(text), _parse_with_pattern(text))


def test_the_common_form_still_keeps_its_written_offset() -> None:
    parsed = parse_fhir_datetime("2026-11-20T23:30:00-05:00")
    assert parsed is not None and parsed.instant is not None and parsed.day is not None
    assert parsed.instant.utcoffset() is not None
    assert parsed.instant.utcoffset().total_seconds() == -5 * 3600
    assert parsed.day.isoformat() == "2026-11-20"
    assert parsed.precision == "time" and parsed.problem is None
