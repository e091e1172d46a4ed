"""What every card shares: its source, its override reasons, and its assembly from findings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cds_hooks.cards import (
    Card,
    Indicator,
    OverrideReason,
    SelectionBehavior,
    Source,
    Suggestion,
)
from service.cards.evidence import EVIDENCE_EXTENSION, evidence
from service.cards.format import CardText, fit
from service.rule_pages import page_url
from service.rules.catalog import RULE_IDS
from service.rules.finding import Finding

RULES_EXTENSION = "cementoplasty-cds/rules"
# Override reasons (CDS Hooks 3.0): the specification's example terminology where a reason fits
# (shared/cds-hooks/hl7-3.0, codes of its clinical selection value set), the service's own codes
# only for what it lacks: a decision taken with the anaesthesia team, or by the MDT.
HL7_OVERRIDE_SYSTEM = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
OVERRIDE_REASON_SYSTEM = "https://cementoplasty-cds.example/fhir/CodeSystem/override-reason"
OVERRIDE_REASONS: tuple[tuple[str, str], ...] = (
    (HL7_OVERRIDE_SYSTEM, "cds-not-applicable"),
    (HL7_OVERRIDE_SYSTEM, "action-completed"),
    (OVERRIDE_REASON_SYSTEM, "agreed-with-anaesthesia"),
    (OVERRIDE_REASON_SYSTEM, "mdt-decided"),
)


@dataclass(frozen=True)
class RenderedCard:
    """A card and the rules it reports, as the renderer made it: the audit and the moments read
    `rule_ids` here, never back out of the card's JSON (the wire copy is for the EHR)."""

    card: Card
    rule_ids: tuple[str, ...]


class CardBuilder(CardText):
    # Where the rule pages are served (the service's public base URL); None: no link.
    rules_base_url: str | None = None

    def source(self, section: str, rule_ids: list[str]) -> Source:
        """The guideline named precisely, and the page of the card's rules (RULES.md)."""
        url = (
            page_url(self.rules_base_url, rule_ids, self.language)
            if self.rules_base_url and rule_ids
            else None
        )
        if not section:
            return Source(label=self.text["service_label"], url=url)
        return Source(label=f"{self.text['guideline']} — {section}", url=url)

    def override_reasons(self) -> tuple[OverrideReason, ...]:
        return tuple(
            OverrideReason(code=code, system=system, display=self.text["override"][code])
            for system, code in OVERRIDE_REASONS
        )

    def card(
        self,
        findings: Sequence[Finding],
        summary: str,
        detail: str,
        section: str,
        suggestions: tuple[Suggestion, ...] = (),
    ) -> RenderedCard:
        indicator = Indicator.most_severe([f.indicator for f in findings])
        fired = {f.rule_id for f in findings}
        rule_ids = [rule_id for rule_id in RULE_IDS if rule_id in fired]
        card = Card(
            summary=fit(summary),
            indicator=indicator,
            source=self.source(section, rule_ids),
            detail=detail.strip() or None,
            suggestions=suggestions,
            selection_behavior=SelectionBehavior.ANY if suggestions else None,
            override_reasons=(self.override_reasons() if indicator is not Indicator.INFO else ()),
            extension=_extension(rule_ids, evidence(findings)),
        )
        return RenderedCard(card, tuple(rule_ids))


def _extension(rule_ids: list[str], relied_on: list[dict[str, object]]) -> dict[str, object]:
    extension: dict[str, object] = {RULES_EXTENSION: rule_ids}
    if relied_on:  # CDS Hooks: an empty array is omitted, never sent
        extension[EVIDENCE_EXTENSION] = relied_on
    return extension
