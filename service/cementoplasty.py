"""The two CDS services (order-select, order-sign): facts -> rules -> cards, plus the audit record.

This is the only place where the clinical packages meet the protocol layer's `CdsService`
contract; it holds no clinical logic of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cds_hooks.cards import Card, CdsResponse
from cds_hooks.service import (
    Evaluation,
    HookRequest,
    PrefetchSource,
    ResolvedPrefetch,
    ServiceDefinition,
)
from service.cards.render import RULES_EXTENSION, render_cards
from service.config import Config
from service.facts.extract import extract_facts, procedures_in_scope
from service.facts.model import DataCategory
from service.prefetch_coverage import lab_window_coverage
from service.prefetch_templates import KEY_CATEGORIES
from service.rules import availability
from service.rules.engine import RULESET_VERSION, evaluate_rules
from service.rules.finding import Finding
from service.valuesets import ValueSets

log = logging.getLogger("service.cementoplasty")

SERVICE_IDS = {
    "order-select": "cementoplasty-order-select",
    "order-sign": "cementoplasty-order-sign",
}

USAGE_REQUIREMENTS = (
    "Intended for interventional radiology teams ordering a percutaneous cementoplasty "
    "(vertebroplasty, kyphoplasty, sacroplasty, osteoplasty) or a percutaneous thermal ablation "
    "of a bone metastasis. Its cards support, and never replace, clinical judgement and the "
    "multidisciplinary decision. Needs read access to Patient, Observation, MedicationStatement, "
    "MedicationRequest, Condition and AllergyIntolerance."
)

_DESCRIPTIONS = {
    "order-select": (
        "Cementoplasty and bone ablation safety checks when the order is selected: "
        "contraindications, bleeding risk (platelets, TP, INR) and an antithrombotic hold plan, "
        "from a French guideline on bone metastases of lung cancer."
    ),
    "order-sign": (
        "Cementoplasty and bone ablation safety checks before the order is signed: "
        "contraindications, bleeding risk (platelets, TP, INR) and an antithrombotic hold plan, "
        "from a French guideline on bone metastases of lung cancer."
    ),
}


def service_definition(hook: str, prefetch: Mapping[str, str]) -> ServiceDefinition:
    return ServiceDefinition(
        id=SERVICE_IDS[hook],
        hook=hook,
        title=f"Cementoplasty / bone ablation safety check ({hook})",
        description=_DESCRIPTIONS[hook],
        prefetch=prefetch,
        usage_requirements=USAGE_REQUIREMENTS,
    )


Clock = Callable[[], datetime]


def site_clock(time_zone: str) -> Clock:
    """Now, in the site's time zone: "today" in the hold plan is the site's day, not UTC's."""
    zone = ZoneInfo(time_zone)
    return lambda: datetime.now(zone)


@dataclass
class CementoplastyService:
    definition: ServiceDefinition
    config: Config
    valuesets: ValueSets
    clock: Clock

    def evaluate(self, request: HookRequest, prefetch: PrefetchSource, locale: str) -> Evaluation:
        # TRIGGER needs only the draft orders: an order out of scope costs no FHIR call.
        if not procedures_in_scope(request, self.valuesets, self.config.trigger_procedures):
            return Evaluation(CdsResponse(), {"ruleset": RULESET_VERSION, "in_scope": False})
        now = self.clock()
        # A lab search sorted newest first that already reaches before the lab window is
        # complete: its `next` link is not needed (see prefetch_coverage).
        coverage = lab_window_coverage(
            self.definition.prefetch, now, self.config.policy.lab_max_age_days
        )
        data = prefetch.resolve(coverage)
        # No patient data at all is not an error: the cards say that no check could run
        # (RULES.md: when an order is in scope, the clinician always gets cards).
        facts = extract_facts(request, data, self.valuesets, self.config.trigger_procedures, now)
        findings = evaluate_rules(facts, self.config.policy, now)
        findings = availability.with_fetch_gaps(findings, _gaps_by_category(data))
        _log_unavailable(request, findings)
        cards = render_cards(findings, facts, locale, now, self.config.public_base_urls[0])
        audit = _audit_record(request, findings, cards, data.unavailable)
        return Evaluation(CdsResponse(cards=cards), audit)


def _gaps_by_category(data: ResolvedPrefetch) -> dict[DataCategory, list[tuple[str, bool]]]:
    """(failure code, partial) of each prefetch key not (fully) obtained, by data category."""
    gaps: dict[DataCategory, list[tuple[str, bool]]] = {}
    for key, gap in data.unavailable.items():
        category = KEY_CATEGORIES.get(key)
        if category is not None:
            gaps.setdefault(category, []).append((str(gap.code), gap.partial))
    return gaps


def _log_unavailable(request: HookRequest, findings: Sequence[Finding]) -> None:
    """The rules a DATA-UNAVAILABLE left (partly) unevaluated go to the log, not to the card."""
    for finding in findings:
        if finding.rule_id != availability.RULE_ID:
            continue
        reasons = finding.params.get("reasons", {})
        unreadable = finding.params.get("unreadable", {})
        described = []
        for category in finding.params["categories"]:
            why = list(reasons.get(category, []))
            if unreadable.get(category):
                why.append(f"{unreadable[category]} unreadable")
            described.append(f"{category} ({', '.join(why) or 'unreadable'})")
        log.info(
            "data unavailable for %s%s: %s; rules not fully evaluated: %s",
            request.hook_instance[:64],
            " (no check could run)" if finding.params.get("nothing_obtained") else "",
            "; ".join(described),
            ", ".join(finding.params["rules"]) or "none",
        )


def _audit_record(
    request: HookRequest,
    findings: Sequence[Finding],
    cards: Sequence[Card],
    unavailable: Mapping[str, str],
) -> dict[str, Any]:
    return {
        "ruleset": RULESET_VERSION,
        "in_scope": True,
        "patient_id": request.patient_id,
        "rules": sorted({f.rule_id for f in findings}),
        "cards": [
            {
                "uuid": card.uuid,
                "indicator": card.indicator.value,
                "rules": list((card.extension or {}).get(RULES_EXTENSION, [])),
            }
            for card in cards
        ],
        "resources": {
            f.rule_id: sorted(
                {
                    ref.reference + (f"/_history/{ref.version}" if ref.version else "")
                    for ref in f.evidence
                }
            )
            for f in findings
            if f.evidence
        },
        "unavailable": sorted(unavailable),
    }
