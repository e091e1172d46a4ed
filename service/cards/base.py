"""What every card shares: its source, its override reasons, and its assembly from findings."""

from __future__ import annotations

from collections.abc import Sequence

from cds_hooks.cards import (
    Card,
    Indicator,
    OverrideReason,
    SelectionBehavior,
    Source,
    Suggestion,
)
from service.cards.format import CardText, fit
from service.rules.catalog import RULE_IDS
from service.rules.finding import Finding

RULES_EXTENSION = "cementoplasty-cds/rules"
OVERRIDE_REASON_SYSTEM = "https://cementoplasty-cds.example/fhir/CodeSystem/override-reason"
OVERRIDE_REASON_CODES: tuple[str, ...] = (
    "already-resolved",
    "not-applicable",
    "mdt-benefit",
    "agreed-with-team",
)


class CardBuilder(CardText):
    def source(self, section: str) -> Source:
        if not section:
            return Source(label=self.text["service_label"])
        return Source(label=f"{self.text['guideline']} — {section}")

    def override_reasons(self) -> tuple[OverrideReason, ...]:
        return tuple(
            OverrideReason(
                code=code, system=OVERRIDE_REASON_SYSTEM, display=self.text["override"][code]
            )
            for code in OVERRIDE_REASON_CODES
        )

    def card(
        self,
        findings: Sequence[Finding],
        summary: str,
        detail: str,
        section: str,
        suggestions: tuple[Suggestion, ...] = (),
    ) -> Card:
        indicator = Indicator.most_severe([f.indicator for f in findings])
        fired = {f.rule_id for f in findings}
        rule_ids = [rule_id for rule_id in RULE_IDS if rule_id in fired]
        return Card(
            summary=fit(summary),
            indicator=indicator,
            source=self.source(section),
            detail=detail.strip() or None,
            suggestions=suggestions,
            selection_behavior=SelectionBehavior.ANY if suggestions else None,
            override_reasons=(self.override_reasons() if indicator is not Indicator.INFO else ()),
            extension={RULES_EXTENSION: rule_ids},
        )
