"""The two CDS services (order-select, order-sign): facts -> rules -> cards, plus the audit record.

This is the only place where the clinical packages meet the protocol layer's `CdsService`
contract; it holds no clinical logic of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from cds_hooks.cards import CdsResponse
from cds_hooks.service import (
    Evaluation,
    HookRequest,
    PrefetchSource,
    ServiceDefinition,
)
from service.config import Config
from service.evaluation import resolve, run_rules
from service.facts.extract import extract_facts, procedures_in_scope
from service.moments.medication_order import evaluate_medication_order
from service.valuesets import ValueSets

log = logging.getLogger("service.cementoplasty")

SERVICE_IDS = {
    "order-select": "cementoplasty-order-select",
    "order-sign": "cementoplasty-order-sign",
    "patient-view": "cementoplasty-patient-view",
    "appointment-book": "cementoplasty-appointment-book",
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
    "patient-view": (
        "When a chart is opened and a cementoplasty or bone ablation is planned: the same safety "
        "checks against the planned procedure, with the days left before each antithrombotic "
        "hold. No card when nothing is planned."
    ),
    "appointment-book": (
        "When the appointment of a cementoplasty or bone ablation is booked or moved: the safety "
        "checks and the antithrombotic hold plan recomputed from the appointment's date."
    ),
}


def service_definition(
    hook: str, prefetch: Mapping[str, str], fallback: Mapping[str, str] | None = None
) -> ServiceDefinition:
    return ServiceDefinition(
        fallback_prefetch=fallback,
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
        procedures = procedures_in_scope(request, self.valuesets, self.config.triggers.procedures)
        if not procedures:
            # An antithrombotic ordered while a procedure is planned (service/moments/).
            return evaluate_medication_order(
                request, prefetch, locale, self.config, self.valuesets, self.clock, self.definition
            )
        now = self.clock()
        data = resolve(self.definition, prefetch, self.config, now)
        facts = extract_facts(request, data, self.valuesets, procedures, now)
        _, cards, audit = run_rules(request, data, facts, self.config, now, locale)
        return Evaluation(CdsResponse(cards=tuple(c.card for c in cards)), audit)
