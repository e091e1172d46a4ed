"""render_cards: findings -> localised CDS Hooks cards, following RULES.md's card contract.

* Every fired rule ID is listed in exactly one card, in `extension["cementoplasty-cds/rules"]`.
* A card's indicator is the most severe of its findings.
* Cards: one per contraindication, bleeding or procedure finding; ONE antithrombotic plan card
  (all MED-* findings, a suggestion per drug with a hold); ONE summary card (TUMOR-CONTROL,
  CHECKLIST, and the info rules SCOPE-* and IND-*); DATA-UNAVAILABLE its own card.
* Every critical or warning card carries coded, localised override reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cds_hooks.cards import Card
from service.cards.base import RULES_EXTENSION
from service.cards.messages import messages, normalise_locale
from service.cards.plan import PlanCard
from service.cards.summary import SUMMARY_CARD_RULES, SummaryCard
from service.facts.model import PatientFacts
from service.rules.catalog import CATALOG, RuleGroup
from service.rules.finding import Finding

__all__ = ["RULES_EXTENSION", "render_cards"]


class _Renderer(SummaryCard, PlanCard):
    """Every card kind of one response (each kind in its own module)."""


def render_cards(
    findings: Sequence[Finding],
    facts: PatientFacts,
    locale: str,
    now: datetime,
    rules_base_url: str | None = None,
) -> tuple[Card, ...]:
    """The cards for `findings`, in `locale` ('en' or 'fr'; 'fr-FR' accepted), most severe first.

    `rules_base_url`: the service's public base URL, where each card's source links to the page
    of its rules (service/rule_pages); None gives cards without a link (offline tools)."""
    text = messages(normalise_locale(locale))
    language = normalise_locale(locale)
    renderer = _Renderer(text, language, facts, now)
    renderer.rules_base_url = rules_base_url
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(_card_key(finding.rule_id), []).append(finding)
    cards: list[tuple[int, int, Card]] = []
    for index, (key, group) in enumerate(groups.items()):
        if key == "plan":
            card = renderer.plan_card(group)
        elif key == "summary":
            card = renderer.summary_card(group)
        else:
            card = renderer.single_card(group)
        cards.append((-card.indicator.rank, index, card))
    return tuple(card for _, _, card in sorted(cards, key=lambda item: item[:2]))


def _card_key(rule_id: str) -> str:
    if CATALOG[rule_id].group is RuleGroup.ANTITHROMBOTIC:
        return "plan"
    if rule_id in SUMMARY_CARD_RULES:
        return "summary"
    return rule_id
