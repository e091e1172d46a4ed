"""The rules and cards run against the planned procedures of the record (patient-view and
appointment-book share this; only how they find the planned procedure differs)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cds_hooks.cards import CdsResponse
from cds_hooks.service import (
    Evaluation,
    HookRequest,
    PrefetchSource,
    ResolvedPrefetch,
    ServiceDefinition,
)
from service.cards.moments import MomentCards
from service.config import Config
from service.evaluation import audit_record, run_rules
from service.evaluation import resolve as resolve_prefetch
from service.facts.extract import extract_facts
from service.facts.model import TargetProcedure
from service.rules.case import case_summary
from service.valuesets import ValueSets

log = logging.getLogger("service.moments")

Clock = Callable[[], datetime]


def quiet(reason: str) -> Evaluation:
    """No card and no audit record: nothing planned (or nothing to say at this moment)."""
    log.debug("no card: %s", reason)
    return Evaluation(CdsResponse())


def resolve(
    definition: ServiceDefinition, prefetch: PrefetchSource, config: Config, now: datetime
) -> ResolvedPrefetch:
    """The request's data, as every service resolves it. Nothing obtained is no error here: with
    no data nothing is seen as planned, and a moment with nothing planned stays quiet (no order
    is in scope, unlike a procedure order, which always gets cards)."""
    return resolve_prefetch(definition, prefetch, config, now, planned=True)


@dataclass
class PlannedProcedureService:
    """What a moment service holds; `evaluate_planned` runs the rules for it."""

    definition: ServiceDefinition
    config: Config
    valuesets: ValueSets
    clock: Clock

    def evaluate_planned(
        self,
        request: HookRequest,
        data: ResolvedPrefetch,
        procedures: Sequence[TargetProcedure],
        now: datetime,
        locale: str,
    ) -> Evaluation:
        """Every rule against `procedures` (as if they had just been ordered); each card says
        which planned procedure it is about and how many days remain."""
        facts = extract_facts(request, data, self.valuesets, procedures, now)
        findings, cards, _ = run_rules(request, data, facts, self.config, now, locale)
        cards = MomentCards.for_locale(locale, case_summary(facts), now).dated_cards(
            cards, findings
        )
        audit = audit_record(request, findings, cards, data.unavailable)
        return Evaluation(CdsResponse(cards=tuple(c.card for c in cards)), audit)
