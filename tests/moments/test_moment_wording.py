"""The moments' wording: the same keys in both languages, and summaries that fit (< 140)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service.cards.format import SUMMARY_MAX
from service.cards.messages import messages
from service.cards.moments import MomentCards
from service.rules.case import CaseSummary

MESSAGES = Path(__file__).resolve().parents[2] / "service" / "cards" / "messages"


def keys(value, prefix=""):
    if isinstance(value, dict):
        return {k for key, item in value.items() for k in keys(item, f"{prefix}{key}.")}
    return {prefix}


def test_both_languages_have_the_same_keys() -> None:
    en = json.loads((MESSAGES / "en" / "moments.json").read_text("utf-8"))
    fr = json.loads((MESSAGES / "fr" / "moments.json").read_text("utf-8"))
    assert keys(en) == keys(fr)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_summaries_fit_with_the_longest_values(language: str) -> None:
    text = messages(language)
    words = text["moments"]
    longest_drug = max(text["drugs"].values(), key=len)
    longest_kind = max(words["kinds"].values(), key=len)
    fields = {
        "drug": longest_drug,
        "procedure": longest_kind,
        "date": "30/12/2026",
        "hold_from": "28/12/2026 à 14:00",
        "delay": "5\u00a0jours",
        "in": words["in_days"].format(n=30),
    }
    for key in (
        "countdown",
        "countdown_late",
        "countdown_undated",
        "order_hold",
        "order_late",
        "order_other",
    ):
        summary = words[key].format_map(fields)
        assert len(summary) <= SUMMARY_MAX, (key, len(summary), summary)
    assert len(words["order_nodate"].format_map(fields)) <= SUMMARY_MAX


@pytest.mark.parametrize(
    "language, days, expected",
    [
        ("en", 0, "today"),
        ("en", 1, "tomorrow"),
        ("en", 5, "in 5 days"),
        ("en", -3, "3 days ago"),
        ("fr", 0, "aujourd'hui"),
        ("fr", 1, "demain"),
        ("fr", 5, "dans 5\u00a0jours"),
        ("fr", -3, "il y a 3\u00a0jours"),
    ],
)
def test_days_are_counted_from_the_sites_today(language: str, days: int, expected: str) -> None:
    # 23:30 in Paris is already the next day in UTC+14 and still the same day in UTC.
    now = datetime(2026, 12, 2, 23, 30, tzinfo=ZoneInfo("Europe/Paris"))
    cards = MomentCards.for_locale(language, CaseSummary(patient_id="p"), now)
    assert cards.in_days(date(2026, 12, 2) + timedelta(days=days)) == expected
