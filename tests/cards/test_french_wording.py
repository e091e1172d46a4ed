"""French as a French interventional radiologist writes it (RULES.md "Cards: what a clinician
expects"): French typography in every message, and the threshold sentence only at the threshold."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from support.rule_facts import NOW, facts, lab, med

from cds_hooks.cards import Card
from service.cards.messages import messages
from service.cards.render import RULES_EXTENSION, render_cards
from service.rules.case import case_summary
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DrugClass, LabKind

# A space that may break before ; : ? ! % or after «, or inside a number ("50 000"): the French
# rule wants a no-break space.
BREAKING = re.compile(r" [;:?!%»]|« |\d \d{3}\b")


def strings(tree: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from strings(value, f"{path}.{key}" if path else key)
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from strings(value, f"{path}[{index}]")
    elif isinstance(tree, str):
        yield path, tree


def test_french_messages_keep_a_no_break_space_before_double_punctuation() -> None:
    # strftime formats ("%H:%M") are not prose.
    bad = [
        (path, text)
        for path, text in strings(messages("fr"))
        if not path.endswith("_format") and BREAKING.search(text)
    ]
    assert not bad


@pytest.mark.parametrize("banned", ["nouvel anticoagulant oral", "politique locale", "du J-"])
def test_french_messages_avoid_the_terms_rules_md_replaces(banned: str) -> None:
    """AOD (the guideline's "nouveaux anticoagulants oraux" only quoted), protocole local,
    "à partir de J-5"."""
    assert not [path for path, text in strings(messages("fr")) if banned in text.lower()]


def test_french_injections_are_not_doses_taken() -> None:
    """An LMWH is injected: "dernière injection", never "dernière prise"."""
    plan = messages("fr")["plan"]
    lmwh = [text for key, text in plan.items() if key.startswith(("lmwh", "patient_lmwh"))]
    assert lmwh and not [text for text in lmwh if "prise" in text]


def card_of(patient: Any, rule_id: str, locale: str) -> Card:
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, Policy(), NOW), case_summary(patient), locale, NOW
        )
    ]
    (found,) = [c for c in cards if rule_id in c.extension[RULES_EXTENSION]]  # type: ignore[index]
    return found


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_the_threshold_sentence_only_for_a_value_at_the_threshold(locale: str) -> None:
    note = messages(locale)["rules"]["BLEED-PLATELETS-LOW"]["at_threshold_note"]
    coagulation = (lab(LabKind.TP_PERCENT, 90), lab(LabKind.INR, 1.0))
    at = card_of(
        facts(labs=(lab(LabKind.PLATELETS, 50_000), *coagulation)), "BLEED-PLATELETS-LOW", locale
    )
    below = card_of(
        facts(labs=(lab(LabKind.PLATELETS, 40_000), *coagulation)), "BLEED-PLATELETS-LOW", locale
    )
    assert note in (at.detail or "")
    assert note not in (below.detail or "")


def test_french_drug_hold_wording_elides_nothing_wrongly() -> None:
    """'arrêt de apixaban' is not French: the summaries name the drugs without a preposition."""
    patient = facts(medications=(med("apixaban", DrugClass.DOAC),))
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, Policy(), NOW), case_summary(patient), "fr", NOW
        )
    ]
    text = " ".join(f"{c.summary} {c.detail}" for c in cards)
    assert not re.search(r"\bde [aeiouéèh]", text, re.IGNORECASE), text


def test_a_french_platelet_count_never_breaks() -> None:
    patient = facts(labs=(lab(LabKind.PLATELETS, 32_000), lab(LabKind.TP_PERCENT, 90)))
    card = card_of(patient, "BLEED-PLATELETS-LOW", "fr")
    assert "32\u00a0000/mm³" in card.summary and "32 000" not in card.summary
