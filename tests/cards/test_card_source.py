"""Every card names the guideline and links to the service's page of its rules (RULES.md)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from support.rule_facts import NOW, facts, lab, med
from support.scenarios import everything_wrong

from service.cards.evidence import EVIDENCE_EXTENSION
from service.cards.render import RULES_EXTENSION, render_cards
from service.rules.case import case_summary
from service.rules.catalog import CATALOG
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DrugClass, LabKind

BASE = "https://cds.example.org"


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_every_card_links_to_the_page_of_its_own_rules_in_its_language(locale: str) -> None:
    patient = everything_wrong()
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, Policy(), NOW), case_summary(patient), locale, NOW, BASE
        )
    ]
    assert cards
    for card in cards:
        url = urlsplit(card.source.url or "")
        assert f"{url.scheme}://{url.netloc}" == BASE
        assert url.path.removeprefix("/rules/").split(",") == card.extension[RULES_EXTENSION]
        assert parse_qs(url.query) == {"lang": [locale]}
        from_guideline = any(CATALOG[rule].section for rule in card.extension[RULES_EXTENSION])
        # A card of the service's own rules (no guideline section) says so instead.
        assert ("Traitement local de la métastase osseuse" in card.source.label) is from_guideline


def test_without_a_base_url_cards_carry_no_link() -> None:
    patient = facts()
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, Policy(), NOW), case_summary(patient), "en", NOW
        )
    ]
    assert all(card.source.url is None for card in cards)


def test_evidence_names_the_platelet_result_with_its_value_and_date() -> None:
    low = lab(LabKind.PLATELETS, 32_000)
    patient = facts(labs=(low,), medications=(med("clopidogrel", DrugClass.CLOPIDOGREL),))
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, Policy(), NOW), case_summary(patient), "en", NOW, BASE
        )
    ]
    [card] = [c for c in cards if "BLEED-PLATELETS-LOW" in c.extension[RULES_EXTENSION]]
    [item] = card.extension[EVIDENCE_EXTENSION]
    assert item["reference"] == low.source.reference
    assert item["value"] == 32_000 and item["date"]
