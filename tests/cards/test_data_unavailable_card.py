"""The DATA-UNAVAILABLE card: the checks that could not run and why, in words, in both languages.

No rule ID, failure code or key name in clinician text; a critical card when no safety check
could run at all (RULES.md: "When an order is in scope, the clinician always gets cards").
"""

from __future__ import annotations

import re

import pytest
from support.rule_facts import NOW, facts

from cds_hooks.cards import Card, Indicator
from service.cards.messages import messages
from service.cards.render import RULES_EXTENSION, render_cards
from service.rules import availability
from service.rules.case import case_summary
from service.rules.catalog import RULE_IDS
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DataCategory

ALL = frozenset(DataCategory)
CODE_WORDS = re.compile(r"\b(no-authorization|http-status|not-https|too-large|no-server)\b")


def data_card(patient, gaps, locale: str) -> Card:  # type: ignore[no-untyped-def]
    findings = availability.with_fetch_gaps(evaluate_rules(patient, Policy(), NOW), gaps)
    cards = [r.card for r in render_cards(findings, case_summary(patient), locale, NOW)]
    [card] = [c for c in cards if "DATA-UNAVAILABLE" in c.extension[RULES_EXTENSION]]
    return card


def assert_no_codes(card: Card) -> None:
    text = f"{card.summary}\n{card.detail}"
    assert not [rule for rule in RULE_IDS if rule in text]
    assert not CODE_WORDS.search(text), text


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_partial_card_says_why_each_category_is_missing(locale: str) -> None:
    patient = facts(unavailable=frozenset({DataCategory.PLATELETS, DataCategory.MEDICATIONS}))
    gaps = {
        DataCategory.PLATELETS: [("deadline", True)],
        DataCategory.MEDICATIONS: [("no-authorization", False), ("no-authorization", False)],
    }
    card = data_card(patient, gaps, locale)
    words = messages(locale)["data_unavailable"]
    detail = card.detail or ""
    assert card.indicator is Indicator.WARNING
    assert card.extension[RULES_EXTENSION] == ["DATA-UNAVAILABLE"]
    assert messages(locale)["categories"]["medications"] in card.summary
    # Why, in words: the token missing from the request is said so (sandbox calls).
    assert words["failures"]["no-authorization"] in detail
    assert words["in_part"].format(why=words["failures"]["deadline"]) in detail
    # Which checks, in words.
    assert words["checks"]["platelets"] in detail
    assert words["checks"]["medications"] in detail
    assert words["checks"]["allergies"] not in detail
    assert_no_codes(card)


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_no_data_at_all_is_a_critical_card_beside_the_checklist(locale: str) -> None:
    patient = facts(labs=(), conditions=(), unavailable=ALL)
    gaps = {category: [("connect", False)] for category in ALL}
    findings = availability.with_fetch_gaps(evaluate_rules(patient, Policy(), NOW), gaps)
    cards = [r.card for r in render_cards(findings, case_summary(patient), locale, NOW)]
    card = data_card(patient, gaps, locale)
    words = messages(locale)["data_unavailable"]
    assert card.indicator is Indicator.CRITICAL
    assert card.summary == words["none"]["summary"]
    assert words["failures"]["connect"] in (card.detail or "")
    assert card.override_reasons  # a critical card can be overridden with a reason
    fired = {rule for c in cards for rule in c.extension[RULES_EXTENSION]}
    assert "CHECKLIST" in fired
    # Rules that fire on absent data do not claim the record is empty.
    assert not fired & {"SCOPE-NO-BONE-METASTASIS", "BLEED-LAB-MISSING"}
    assert_no_codes(card)


def test_some_data_obtained_is_not_critical() -> None:
    patient = facts(conditions=(), unavailable=ALL - {DataCategory.PATIENT})  # labs were read
    assert data_card(patient, {}, "en").indicator is Indicator.WARNING
    only_patient = facts(labs=(), conditions=(), unavailable=ALL - {DataCategory.PATIENT})
    # The Patient resource alone feeds no check: none of them could run.
    assert data_card(only_patient, {}, "en").indicator is Indicator.CRITICAL


def test_unreadable_records_are_counted_not_named() -> None:
    finding = availability.evaluate(
        facts(unavailable=frozenset({DataCategory.CONDITIONS})), Policy(), NOW
    )[0]
    assert finding.params["unreadable"] == {}
    assert finding.params["rules"]  # the rules left unevaluated: for the audit and the log


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("en", "not permitted by the access token's scope"),
        ("fr", "non autorisé par la portée du jeton d'accès"),
    ],
)
def test_a_key_outside_the_tokens_scope_is_said_so(locale: str, said: str) -> None:
    # CDS Hooks 3.0 (SMART v2 scopes): the service never asks for what the token does not cover.
    patient = facts(unavailable=frozenset({DataCategory.PLATELETS}))
    card = data_card(patient, {DataCategory.PLATELETS: [("token-scope", False)]}, locale)
    detail = card.detail or ""
    assert messages(locale)["data_unavailable"]["failures"]["token-scope"] in detail
    assert said in detail
    assert "token-scope" not in detail
    assert_no_codes(card)
