"""The rules and cards run against the planned procedures of the record (patient-view and
appointment-book share this; only how they find the planned procedure differs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cds_hooks.cards import CdsResponse
from cds_hooks.service import (
    Evaluation,
    HookRequest,
    PatientDataUnavailable,
    PrefetchSource,
    ResolvedPrefetch,
    ServiceDefinition,
)
from service.cards.moments import MomentCards
from service.cards.render import render_cards
from service.config import Config
from service.facts.extract import extract_facts
from service.facts.model import TargetProcedure
from service.rules.engine import RULESET_VERSION, evaluate_rules
from service.valuesets import ValueSets

Clock = Callable[[], datetime]


def quiet(reason: str) -> Evaluation:
    """No card: nothing planned (or nothing to say at this moment)."""
    return Evaluation(
        CdsResponse(), {"ruleset": RULESET_VERSION, "in_scope": False, "quiet": reason}
    )


def resolve(prefetch: PrefetchSource) -> ResolvedPrefetch:
    data = prefetch.resolve()
    if data.nothing_obtained:
        raise PatientDataUnavailable(
            "no patient data could be obtained (no prefetch and no reachable FHIR server)"
        )
    return data


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
        from service.cementoplasty import _audit_record  # service/cementoplasty imports moments

        facts = extract_facts(request, data, self.valuesets, self.config.trigger_procedures, now)
        facts = dataclasses.replace(facts, procedures=tuple(procedures))
        findings = evaluate_rules(facts, self.config.policy, now)
        cards = render_cards(findings, facts, locale, now)
        cards = MomentCards.for_locale(locale, facts, now).dated_cards(cards, findings)
        audit = _audit_record(request, findings, cards, data.unavailable)
        return Evaluation(CdsResponse(cards=cards), audit)
