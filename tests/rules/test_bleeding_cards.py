"""What the bleeding cards say about the result that decided (RULES.md v2 groups 5, 13, 16), in
English and French: ties, preliminary, zone assumed, stale values, comparators, rounding, INR."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from support.rule_facts import NOW, facts, lab, med

from cds_hooks.cards import Card, Indicator
from service.cards.messages import messages
from service.cards.render import RULES_EXTENSION, render_cards
from service.rules.case import case_summary
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DrugClass, LabKind

POLICY = Policy()
LOCALES = ("en", "fr")
YESTERDAY = NOW - timedelta(days=1)


def card(patient, rule_id: str, locale: str) -> Card:
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, POLICY, NOW), case_summary(patient), locale, NOW
        )
    ]
    (found,) = [c for c in cards if rule_id in c.extension[RULES_EXTENSION]]  # type: ignore[index]
    return found


def coagulation() -> tuple:
    return (lab(LabKind.TP_PERCENT, 90), lab(LabKind.INR, 1.0))


def thousands(text: str, locale: str) -> str:
    """A platelet count as the card writes it: French keeps "30 000" together (no-break)."""
    return re.sub(r"(\d) (\d{3})", "\\1\u00a0\\2", text) if locale == "fr" else text


def words(locale: str, key: str) -> str:
    return str(messages(locale)["lab_notes"][key])


@pytest.mark.parametrize("locale", LOCALES)
def test_a_tie_shows_both_results(locale: str) -> None:
    low = lab(LabKind.PLATELETS, 30_000, YESTERDAY)
    high = lab(LabKind.PLATELETS, 250_000, YESTERDAY)
    detail = card(facts(labs=(high, low, *coagulation())), "BLEED-PLATELETS-LOW", locale).detail
    assert thousands("30 000/mm³", locale) in detail
    assert thousands("250 000/mm³", locale) in detail
    same_time = words(locale, "lab_also_same_time").split("{line}")[1]
    assert same_time in detail


@pytest.mark.parametrize("locale", LOCALES)
def test_a_preliminary_result_says_so(locale: str) -> None:
    final = lab(LabKind.PLATELETS, 250_000, NOW - timedelta(days=2))
    early = replace(lab(LabKind.PLATELETS, 30_000), preliminary=True)
    detail = card(facts(labs=(final, early, *coagulation())), "BLEED-PLATELETS-LOW", locale).detail
    assert words(locale, "preliminary") in detail
    assert {"en": "preliminary", "fr": "provisoire"}[locale] in detail
    assert thousands("250 000/mm³", locale) in detail  # the final result it overrides


@pytest.mark.parametrize("locale", LOCALES)
def test_an_assumed_time_zone_is_said(locale: str) -> None:
    low = replace(lab(LabKind.PLATELETS, 30_000), zone_assumed=True)
    detail = card(facts(labs=(low, *coagulation())), "BLEED-PLATELETS-LOW", locale).detail
    assert words(locale, "zone_assumed") in detail
    plain = card(
        facts(labs=(lab(LabKind.PLATELETS, 30_000), *coagulation())), "BLEED-PLATELETS-LOW", locale
    )
    assert words(locale, "zone_assumed") not in plain.detail


@pytest.mark.parametrize("locale", LOCALES)
def test_a_stale_result_is_shown_with_its_value_and_date(locale: str) -> None:
    """ "30 000/mm³ on 19/11, older than 7 days", never "no result"."""
    old = lab(LabKind.PLATELETS, 30_000, NOW - timedelta(days=7, hours=1))
    detail = card(facts(labs=(old, *coagulation())), "BLEED-LAB-MISSING", locale).detail
    day = (NOW - timedelta(days=7, hours=1)).date()
    shown_day = day.isoformat() if locale == "en" else day.strftime("%d/%m/%Y")
    assert thousands("30 000/mm³", locale) in detail and shown_day in detail
    assert {"en": "older than 7 days", "fr": "plus de 7\u00a0jours"}[locale] in detail


@pytest.mark.parametrize("locale", LOCALES)
def test_comparators_are_kept_and_floats_rounded(locale: str) -> None:
    bound = replace(
        lab(LabKind.PLATELETS, 20_000, unit="10*3/uL"), comparator="<", original_value="20"
    )
    detail = card(facts(labs=(bound, *coagulation())), "BLEED-PLATELETS-LOW", locale).detail
    assert thousands("< 20 000/mm³", locale) in detail
    assert "< 20 ×10³/µL" in detail  # as reported, with its comparator, as a clinician writes it
    raw = replace(
        lab(LabKind.PLATELETS, 45_642.23091570517, unit="10*3/uL"),
        original_value="45.64223091570517",
    )
    detail = card(facts(labs=(raw, *coagulation())), "BLEED-PLATELETS-LOW", locale).detail
    assert "45.64223091570517" not in detail and "45,64223091570517" not in detail
    assert {"en": "45.64 ×10³/µL", "fr": "45,64 ×10³/µL"}[locale] in detail
    assert thousands("45 642/mm³", locale) in detail


@pytest.mark.parametrize("locale", LOCALES)
def test_inr_warning_shows_the_tp_that_meets_the_guideline(locale: str) -> None:
    labs = (lab(LabKind.PLATELETS, 250_000), lab(LabKind.TP_PERCENT, 65), lab(LabKind.INR, 1.9))
    found = card(facts(labs=labs), "BLEED-INR-HIGH", locale)
    assert found.indicator is Indicator.WARNING
    assert ("TP 65 %" if locale == "en" else "TP 65\u00a0%") in found.detail
    assert {"en": "local protocol", "fr": "protocole local"}[locale] in found.detail
    assert "§" not in found.source.label  # the local protocol, never a guideline section


@pytest.mark.parametrize("locale", LOCALES)
def test_inr_alone_is_critical_and_says_so(locale: str) -> None:
    labs = (lab(LabKind.PLATELETS, 250_000), lab(LabKind.INR, 1.9))
    found = card(facts(labs=labs), "BLEED-INR-HIGH", locale)
    assert found.indicator is Indicator.CRITICAL
    assert words(locale, "inr_alone") in found.detail


@pytest.mark.parametrize("locale", LOCALES)
def test_inr_with_a_vka_is_critical_and_says_so(locale: str) -> None:
    labs = (lab(LabKind.PLATELETS, 250_000), lab(LabKind.TP_PERCENT, 65), lab(LabKind.INR, 1.9))
    patient = facts(labs=labs, medications=(med("warfarin", DrugClass.VKA),))
    found = card(patient, "BLEED-INR-HIGH", locale)
    assert found.indicator is Indicator.CRITICAL
    assert words(locale, "inr_vka") in found.detail


def test_french_cards_word_lab_problems_in_french() -> None:
    bad = replace(
        lab(LabKind.PLATELETS, None, problem="no unit: cannot be converted to /mm3"),
        problem_code="no-unit",
    )
    detail = card(facts(labs=(bad, *coagulation())), "BLEED-LAB-UNINTERPRETABLE", "fr").detail
    assert "sans unité" in detail
    assert "cannot be converted" not in detail


def test_an_undecided_bound_says_why_it_is_unusable() -> None:
    bound = replace(lab(LabKind.PLATELETS, 60_000), comparator="<")
    detail = card(facts(labs=(bound, *coagulation())), "BLEED-LAB-UNINTERPRETABLE", "en").detail
    assert str(messages("en")["lab_problems"]["bound-undecided"]) in detail
