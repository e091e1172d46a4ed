"""render_cards: findings -> localised CDS Hooks cards, following RULES.md's card contract.

* Every fired rule ID is listed in exactly one card, in `extension["cementoplasty-cds/rules"]`.
* A card's indicator is the most severe of its findings.
* Which card a finding goes on is the rule catalog's `placement` (service/rules/catalog.py): a
  card of its own (contraindication, bleeding, procedure, data), ONE antithrombotic plan card
  (a line and at most one suggestion per medication record), ONE summary card.
* The cards read the findings and the case summary (service/rules/case.py), never the facts.
* Every critical or warning card carries coded, localised override reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from service.cards.base import RULES_EXTENSION, RenderedCard
from service.cards.messages import messages, normalise_locale
from service.cards.plan import PlanCard
from service.cards.summary import SummaryCard
from service.rules.case import CaseSummary
from service.rules.catalog import CATALOG, Placement
from service.rules.finding import Finding

__all__ = ["RULES_EXTENSION", "render_cards"]

_PLAN, _SUMMARY = "plan", "summary"


class _Renderer(SummaryCard, PlanCard):
    """Every card kind of one response (each kind in its own module)."""


def render_cards(
    findings: Sequence[Finding],
    case: CaseSummary,
    locale: str,
    now: datetime,
    rules_base_url: str | None = None,
) -> tuple[RenderedCard, ...]:
    """The cards for `findings`, in `locale` ('en' or 'fr'; 'fr-FR' accepted), most severe first.

    `case`: the patient and the procedures in scope (service/rules/case.py). `rules_base_url`:
    the service's public base URL, where each card's source links to the page of its rules
    (service/rule_pages); None gives cards without a link (offline tools)."""
    language = normalise_locale(locale)
    renderer = _Renderer(messages(language), language, case, now)
    renderer.rules_base_url = rules_base_url
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(card_key(finding.rule_id), []).append(finding)
    cards: list[tuple[int, int, RenderedCard]] = []
    for index, (key, group) in enumerate(groups.items()):
        if key == _PLAN:
            rendered = renderer.plan_card(group)
        elif key == _SUMMARY:
            rendered = renderer.summary_card(group)
        else:
            rendered = renderer.single_card(group)
        cards.append((-rendered.card.indicator.rank, index, rendered))
    return tuple(rendered for _, _, rendered in sorted(cards, key=lambda item: item[:2]))


def card_key(rule_id: str) -> str:
    """The card a rule's finding goes on: the plan, the summary, or a card of its own."""
    placement = CATALOG[rule_id].placement
    if placement.on_plan:
        return _PLAN
    if placement is Placement.SUMMARY:
        return _SUMMARY
    return rule_id
