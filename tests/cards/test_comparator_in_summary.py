"""A bound reported by the lab ("<20 G/L") keeps its comparator in the summary, not only in the
detail (RULES.md: the comparator is kept wherever the value is shown)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from support.rule_facts import NOW, facts, lab

from service.cards.render import RULES_EXTENSION, render_cards
from service.rules.case import case_summary
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import LabKind


@pytest.mark.parametrize(("locale", "shown"), [("en", "< 20 000"), ("fr", "< 20\u00a0000")])
def test_summary_keeps_the_comparator_of_a_bound(locale: str, shown: str) -> None:
    bound = replace(lab(LabKind.PLATELETS, 20_000, unit="G/L"), comparator="<")
    patient = facts(labs=(bound, *facts().labs[1:]))
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, Policy(), NOW), case_summary(patient), locale, NOW
        )
    ]
    [card] = [c for c in cards if "BLEED-PLATELETS-LOW" in c.extension[RULES_EXTENSION]]
    assert shown in card.summary, card.summary
