"""One evaluation of the rules, shared by every service: prefetch resolution with the lab
coverage, facts -> rules -> data gaps -> cards, the log of what could not be evaluated, and the
audit record. The services (`service/cementoplasty.py`, `service/moments/`) only decide which
procedure the rules run for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from cds_hooks.service import HookRequest, PrefetchSource, ResolvedPrefetch, ServiceDefinition
from service.audit_record import AuditCard, AuditRecord
from service.cards.base import RenderedCard
from service.cards.render import render_cards
from service.config import Config
from service.facts.model import PatientFacts
from service.prefetch_coverage import lab_window_coverage
from service.rules import availability
from service.rules.case import case_summary
from service.rules.engine import RULESET_VERSION, evaluate_rules
from service.rules.finding import Finding
from service.vocabulary import KEY_CATEGORIES, PLANNED_KEYS, DataCategory

log = logging.getLogger("service.evaluation")


def resolve(
    definition: ServiceDefinition,
    prefetch: PrefetchSource,
    config: Config,
    now: datetime,
    planned: bool = False,
) -> ResolvedPrefetch:
    """The request's data. A lab search sorted newest first that already reaches before the lab
    window is complete: its `next` link is not needed (see prefetch_coverage). The keys of the
    planned procedure are read only when the call looks for one (`planned`): a procedure order
    neither fetches them nor reports them missing."""
    coverage = lab_window_coverage(definition.prefetch, now, config.policy.lab_max_age_days)
    keys = None if planned else [k for k in definition.prefetch if k not in PLANNED_KEYS]
    return prefetch.resolve(coverage, keys, today=now.date())


def run_rules(
    request: HookRequest,
    data: ResolvedPrefetch,
    facts: PatientFacts,
    config: Config,
    now: datetime,
    locale: str,
) -> tuple[list[Finding], tuple[RenderedCard, ...], AuditRecord]:
    """(findings, cards, audit record) for `facts`. No patient data at all is not an error: the
    cards say that no check could run (RULES.md: when an order is in scope, the clinician always
    gets cards)."""
    findings = evaluate_rules(facts, config.policy, now)
    findings = availability.with_fetch_gaps(findings, gaps_by_category(data))
    log_unavailable(request, findings)
    cards = render_cards(findings, case_summary(facts), locale, now, config.public_base_urls[0])
    return findings, cards, audit_record(request, findings, cards, data.unavailable)


def gaps_by_category(data: ResolvedPrefetch) -> dict[DataCategory, list[tuple[str, bool]]]:
    """(failure code, partial) of each prefetch key not (fully) obtained, by data category."""
    gaps: dict[DataCategory, list[tuple[str, bool]]] = {}
    for key, gap in data.unavailable.items():
        category = KEY_CATEGORIES.get(key)
        if category is not None:
            gaps.setdefault(category, []).append((str(gap.code), gap.partial))
    return gaps


def log_unavailable(request: HookRequest, findings: Sequence[Finding]) -> None:
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


def audit_record(
    request: HookRequest,
    findings: Sequence[Finding],
    cards: Sequence[RenderedCard],
    unavailable: Mapping[str, object],
) -> AuditRecord:
    """The evaluation's audit record (the HTTP layer adds the status and the latency)."""
    return AuditRecord(
        service=request.service_id,
        hook_instance=request.hook_instance,
        patient_id=request.patient_id,
        ruleset_version=RULESET_VERSION,
        rules_fired=tuple(sorted({f.rule_id for f in findings})),
        cards=tuple(
            AuditCard(rendered.card.uuid, rendered.card.indicator.value, rendered.rule_ids)
            for rendered in cards
        ),
        resources_used={
            f.rule_id: tuple(
                sorted(
                    {
                        ref.reference + (f"/_history/{ref.version}" if ref.version else "")
                        for ref in f.evidence
                    }
                )
            )
            for f in findings
            if f.evidence
        },
        data_unavailable=tuple(sorted(unavailable)),
    )
