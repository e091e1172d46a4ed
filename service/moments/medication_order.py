"""An antithrombotic ordered (order-select / order-sign) while a cementoplasty or bone ablation
is planned: one card with the planned procedure, its date and the hold of the drug ordered.

Whether a draft order is an antithrombotic is decided from the draft orders alone, before any
patient data is resolved: any other medication order (or the sandbox's Rx View draft, which has
no medication yet) costs no FHIR call and gives no card. The drug is matched as a medication of
the record is (service/facts/medications.py), and its hold computed by the MED-* rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from cds_hooks.cards import CdsResponse
from cds_hooks.service import Evaluation, HookRequest, PrefetchSource, ServiceDefinition
from service.cards.moments import MomentCards, is_antithrombotic
from service.config import Config
from service.evaluation import audit_record
from service.facts.extract import extract_facts
from service.facts.medications import MedicationIndex, extract_medications
from service.facts.model import MedicationFact
from service.facts.planned import planned_procedures, planned_resources
from service.facts.refs import as_list
from service.moments.planned import quiet, resolve
from service.rules.case import case_summary
from service.rules.engine import evaluate_rules
from service.valuesets import ValueSets
from service.vocabulary import DrugClass

# The classes of the MED-* rules (service/rules/antithrombotics.py).
ANTITHROMBOTIC_CLASSES = frozenset(
    {
        DrugClass.VKA,
        DrugClass.CLOPIDOGREL,
        DrugClass.DOAC,
        DrugClass.ASPIRIN,
        DrugClass.LMWH,
        DrugClass.OTHER_ANTITHROMBOTIC,
    }
)


def antithrombotic_drafts(request: HookRequest, valuesets: ValueSets) -> list[MedicationFact]:
    """The antithrombotics among the draft medication orders in scope (no FHIR call)."""
    drafts = request.orders_in_scope("MedicationRequest")
    if not drafts:
        return []
    bundle = request.context.get("draftOrders") or {}
    medications = [
        entry["resource"]
        for entry in as_list(bundle.get("entry"))
        if isinstance(entry, dict)
        and isinstance(entry.get("resource"), dict)
        and entry["resource"].get("resourceType") == "Medication"
    ]
    # A draft is read as the active order it is about to become (the record reader keeps only
    # `active` orders); a medicationReference resolves from the draft's contained resources or
    # a Medication of the same draft Bundle.
    as_active = [{**draft, "status": "active"} for draft in drafts]
    facts, _ = extract_medications(as_active, [], MedicationIndex(medications, {}), valuesets)
    return [fact for fact in facts if fact.classes & ANTITHROMBOTIC_CLASSES]


def evaluate_medication_order(
    request: HookRequest,
    prefetch: PrefetchSource,
    locale: str,
    config: Config,
    valuesets: ValueSets,
    clock: Callable[[], datetime],
    definition: ServiceDefinition,
) -> Evaluation:
    ordered = antithrombotic_drafts(request, valuesets)
    if not ordered:
        return quiet("no cementoplasty and no antithrombotic ordered")
    now = clock()
    data = resolve(definition, prefetch, config, now)
    service_requests, appointments = planned_resources(data.resources)
    procedures = planned_procedures(
        service_requests, appointments, valuesets, config.triggers.procedures, now.date()
    )
    if not procedures:
        return quiet("antithrombotic ordered, nothing planned")
    # The record's facts (conditions, labs: for the rules that read them) with the planned
    # procedure as the target and, as medications, only the drugs being ordered.
    facts = extract_facts(request, data, valuesets, procedures, now)
    facts = dataclasses.replace(facts, medications=tuple(ordered))
    findings = [
        f for f in evaluate_rules(facts, config.policy, now) if is_antithrombotic(f.rule_id)
    ]
    if not findings:
        return quiet("no hold plan for the drug ordered")
    card = MomentCards.for_locale(locale, case_summary(facts), now).medication_order_card(findings)
    audit = audit_record(request, findings, (card,), data.unavailable)
    return Evaluation(CdsResponse(cards=(card.card,)), audit)
