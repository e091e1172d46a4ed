"""Which card a rule goes on is data of the rule catalog (`placement`), read by the renderer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from support.rule_facts import NOW
from support.scenarios import everything_wrong

from cds_hooks.cards import Indicator
from service.cards.render import RULES_EXTENSION, card_key, render_cards
from service.rules.case import case_summary
from service.rules.catalog import CATALOG, Placement, RuleGroup, RuleSpec
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy

CARDS_DIR = Path(__file__).resolve().parents[2] / "service" / "cards"


def test_a_rule_without_a_placement_cannot_be_catalogued() -> None:
    with pytest.raises(TypeError, match="placement"):
        RuleSpec("NEW-RULE", Indicator.INFO, RuleGroup.PROCEDURE, "§7")  # type: ignore[call-arg]


@pytest.mark.parametrize("rule_id", sorted(CATALOG))
def test_every_rule_has_a_placement(rule_id: str) -> None:
    assert isinstance(CATALOG[rule_id].placement, Placement)


def test_placement_decides_the_card() -> None:
    keys = {rule_id: card_key(rule_id) for rule_id in CATALOG}
    on_plan = {r for r, spec in CATALOG.items() if spec.placement.on_plan}
    summary = {r for r, spec in CATALOG.items() if spec.placement is Placement.SUMMARY}
    assert {keys[r] for r in on_plan} == {"plan"}
    assert {keys[r] for r in summary} == {"summary"}
    own = set(CATALOG) - on_plan - summary
    assert all(keys[r] == r for r in own)


def test_cards_group_the_rules_as_the_catalog_places_them() -> None:
    patient = everything_wrong()
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, Policy(), NOW), case_summary(patient), "en", NOW
        )
    ]
    for card in cards:
        rules = card.extension[RULES_EXTENSION]
        placements = {CATALOG[r].placement for r in rules}
        if any(p.on_plan for p in placements):
            assert all(p.on_plan for p in placements), rules
        elif Placement.SUMMARY in placements:
            assert placements == {Placement.SUMMARY}, rules
        else:
            assert len(rules) == 1 and placements == {Placement.OWN_CARD}, rules


def test_no_card_module_compares_a_rule_id_to_choose_a_card() -> None:
    """render.py decides the card from the placement only: no rule ID literal in it."""
    tree = ast.parse((CARDS_DIR / "render.py").read_text(encoding="utf-8"))
    literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert not literals & set(CATALOG)


def test_the_renderer_says_which_rules_each_card_reports() -> None:
    """The audit stores `rule_ids` as the renderer gives them (nothing reads them back out of
    the card's JSON); the EHR's copy on the wire says the same, and every finding is on a card."""
    patient = everything_wrong()
    findings = evaluate_rules(patient, Policy(), NOW)
    rendered = render_cards(findings, case_summary(patient), "en", NOW)
    for each in rendered:
        assert each.rule_ids and list(each.rule_ids) == each.card.extension[RULES_EXTENSION]
    reported = [rule_id for each in rendered for rule_id in each.rule_ids]
    assert sorted(reported) == sorted({f.rule_id for f in findings})
