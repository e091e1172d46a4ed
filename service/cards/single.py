"""One card per contraindication, bleeding, procedure or data finding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cds_hooks.cards import (
    Action,
    ActionType,
    Suggestion,
)
from service.cards import resources
from service.cards.base import CardBuilder, RenderedCard
from service.cards.format import short
from service.rules.catalog import CATALOG
from service.rules.finding import Finding
from service.rules.params import (
    AllergyShown,
    CementAllergyParams,
    CoagulopathyParams,
    ContraindicationParams,
    DataUnavailableParams,
    DocumentedCondition,
    EpiduralParams,
    InfectionSuspectedParams,
    InrHighParams,
    LabFindingParams,
    LabMissingParams,
    LabShown,
    LabUninterpretableParams,
    NotLungPrimaryParams,
    OpioidIntoleranceParams,
    PainParams,
    ProceduresParams,
    ProphylaxisParams,
    SitesParams,
    ThermalAblationParams,
    TumorControlParams,
    WeightBearingParams,
)


class SingleCards(CardBuilder):
    def fields(self, finding: Finding) -> dict[str, Any]:
        """The template fields of one finding, formatted for the card language: each from the
        rule's typed parameters (service/rules/params.py); "?" or "none" where a rule has none."""
        p = finding.params
        none = self.text["none"]
        fields: dict[str, Any] = {
            "value": "?",
            "date": "?",
            "threshold": "?",
            "conditions": none,
            "condition": "",
            "metastasis": "",
            "analgesics": none,
            "opioids": none,
            "effects": none,
            "sites": none,
            "site": "?",
            "procedures": none,
            "reasons": none,
            "cryo": "",
            "controlled_max": "?",
            "uncontrolled_min": "?",
            "days": "",
            "n_days": self.days(""),
        }
        if isinstance(p, LabShown):
            # With its comparator: "< 20 000", never a bound shown as an exact value.
            fields["value"] = self.shown_value(p)
            fields["date"] = self.day(p.date)
        if isinstance(p, LabFindingParams):
            fields["threshold"] = self.number(p.threshold, p.kind)
        if isinstance(p, PainParams):
            fields["analgesics"] = self.join(list(p.analgesics))
            fields["controlled_max"] = self.number(p.controlled_max)
            fields["uncontrolled_min"] = self.number(p.uncontrolled_min)
        if isinstance(p, (ContraindicationParams, InfectionSuspectedParams, CementAllergyParams)):
            conditions = [str(c) for c in p.conditions]
            fields["conditions"] = self.join(conditions)
            fields["condition"] = short(conditions[0]) if conditions else ""
        if isinstance(p, NotLungPrimaryParams):
            fields["metastasis"] = p.metastasis
        if isinstance(p, OpioidIntoleranceParams):
            fields["opioids"] = self.join(list(p.opioids))
            fields["effects"] = self.join(list(p.effects))
        if isinstance(p, (SitesParams, WeightBearingParams)):
            fields["sites"] = self.join(list(p.sites))
            fields["site"] = short(str(p.sites[0])) if p.sites else "?"
        if isinstance(p, ProceduresParams):
            fields["procedures"] = self.join(list(p.procedures))
        if isinstance(p, ThermalAblationParams) and p.cryoablation:
            fields["cryo"] = self.text["cryo_margin"]
        if isinstance(p, LabMissingParams):
            fields["days"] = p.max_age_days
            fields["n_days"] = self.days(p.max_age_days)
            fields["tests"] = self.join([self.test_name(t) for t in p.missing])
        if isinstance(p, LabUninterpretableParams):
            fields["tests"] = self.join([self.test_name(r.kind) for r in p.results])
        if isinstance(p, InfectionSuspectedParams):
            reasons = self.infection_reasons(p)
            fields["reasons"] = self.join(reasons)
            # The summary names one reason briefly: the record's words, else the finding.
            if p.antibiotics and not p.conditions and not p.temperatures:
                fields["reason"] = self.text["infection"]["antibiotic_short"]
            else:
                fields["reason"] = short(reasons[0]) if reasons else "?"
        if isinstance(p, ProphylaxisParams):
            reasons = [str(r) for r in p.reasons]
            if p.neutrophils is not None:
                lab = p.neutrophils
                reasons.append(
                    self.text["rules"][finding.rule_id]["neutrophils"].format_map(
                        {"value": self.value_with_unit(lab), "date": self.day(lab.date)}
                    )
                )
            fields["reasons"] = self.join(reasons)
        if isinstance(p, DataUnavailableParams):
            fields.update(self.unavailable_fields(p))
        return fields

    def unavailable_fields(self, p: DataUnavailableParams) -> dict[str, Any]:
        """The checks that could not run in words, and why each category is missing; the rule
        IDs go to the audit and the log, never to clinician text."""
        words = self.text["data_unavailable"]
        names = self.text["categories"]

        def why(category: str) -> str:
            reasons = [words["failures"].get(code, code) for code in p.reasons.get(category, ())]
            unreadable = p.unreadable.get(category, 0)
            if unreadable:
                key = "unreadable_one" if unreadable == 1 else "unreadable_many"
                reasons.append(words[key].format_map({"n": unreadable}))
            if not reasons:  # unavailable for a reason no failure names: unreadable data
                reasons.append(words["failures"]["invalid"])
            if category in p.partial:
                return str(words["in_part"].format_map({"why": self.join(reasons)}))
            return self.join(reasons)

        categories = list(p.categories)
        fields: dict[str, Any] = {
            "categories": self.join([names.get(c, c) for c in categories]),
            # "; " between checks: a check's own words may hold "and".
            "checks": "; ".join(words["checks"][c] for c in categories if words["checks"].get(c))
            or self.text["none"],
            "gaps": "\n".join(
                words["gap_line"].format_map({"category": names.get(c, c), "why": why(c)})
                for c in categories
            ),
        }
        variant = words["none" if p.nothing_obtained else "partial"]
        fields["headline"] = variant["summary"].format_map(fields)
        fields["body"] = variant["detail"].format_map(fields)
        return fields

    def rule_text(self, finding: Finding) -> tuple[str, str]:
        wording = self.text["rules"][finding.rule_id]
        fields = self.fields(finding)
        p = finding.params
        summary, detail = wording["summary"], wording["detail"]
        # Worded by the ordered procedure: an ablation alone puts in no cement.
        ablation_only = isinstance(p, (ProphylaxisParams, TumorControlParams)) and p.ablation_only
        if ablation_only and "detail_ablation" in wording:
            detail = wording["detail_ablation"]
        if isinstance(p, CementAllergyParams) and p.antibiotic_only:
            summary = wording.get("summary_antibiotic", summary)
        return summary.format_map(fields), detail.format_map(fields)

    def infection_reasons(self, params: InfectionSuspectedParams) -> list[str]:
        """Why an infection is suspected, in words: suspected conditions, fever, antibiotics."""
        words = self.text["infection"]
        reasons = [str(c) for c in params.conditions]
        for lab in params.temperatures:
            reasons.append(
                words["temperature"].format_map(
                    {"value": self.number(lab.celsius), "date": self.day(lab.date)}
                )
            )
        if params.antibiotics:
            antibiotics = self.join([str(a) for a in params.antibiotics])
            reasons.append(words["antibiotic"].format_map({"antibiotics": antibiotics}))
        return reasons

    def documented_line(self, record: DocumentedCondition | AllergyShown) -> str:
        """A Condition or allergy behind a contraindication: quoted when read from its text,
        with its date, "if this is the target" when it names another site, and its status."""
        words = self.text["documented"]
        if isinstance(record, AllergyShown):
            reactions = [str(r) for r in record.reactions]
            return str(words["allergy_line"]).format_map(
                {
                    "display": record.display,
                    "recorded": words["allergy_recorded"].format_map(
                        {"date": self.day(record.date)}
                    )
                    if record.date
                    else words["allergy_undated"],
                    "verification": words["verification"].get(
                        record.verification, record.verification
                    )
                    if record.verification
                    else words["not_recorded"],
                    "criticality": words["criticality"].get(record.criticality, record.criticality)
                    if record.criticality
                    else words["not_recorded"],
                    "reactions": self.join(reactions) if reactions else words["not_recorded"],
                }
            )
        status = record.verification
        unconfirmed = status in ("provisional", "differential", "unconfirmed")
        provisional = words["provisional"].format_map(
            {"status": words["verification"].get(status, status)}
        )
        if not record.text:  # coded: the record's own line, and its status if unsure
            return self.record_line(record) + (provisional if unconfirmed else "")
        fields = {
            "text": record.text,
            "date": self.day(record.date),
            "site": words["other_site"] if record.other_site else "",
            "status": provisional if unconfirmed else "",
        }
        key = "line_noted" if record.suspected else "line"  # a suspicion is not documented
        key += "" if record.date else "_undated"
        return str(words[key]).format_map(fields)

    def single_card(self, findings: Sequence[Finding]) -> RenderedCard:
        finding = findings[0]
        summary, detail = self.rule_text(finding)
        lines = [detail]
        p = finding.params
        # "Exactly at the threshold does not meet it" only when the value is the threshold:
        # said of a count of 40 000 it reads as boilerplate.
        at_threshold = self.text["rules"][finding.rule_id].get("at_threshold_note")
        if (
            at_threshold
            and isinstance(p, LabFindingParams)
            and p.comparator is None
            and p.value == p.threshold
        ):
            lines.append(at_threshold)
        if isinstance(p, LabShown):
            lines.append(self.lab_line(p))
        if isinstance(p, LabUninterpretableParams):
            lines.extend(self.lab_line(r) for r in p.results)
        if isinstance(p, LabMissingParams):
            lines.extend(self.lab_line(r) for r in p.unusable)
            lines.append(self.policy_note("lab_max_age_days", p.max_age_days))
        if isinstance(p, InrHighParams):
            lines.append(self.policy_note("inr_max", p.threshold))
        records: Sequence[Any] = (
            p.records
            if isinstance(
                p,
                (
                    ContraindicationParams,
                    InfectionSuspectedParams,
                    CementAllergyParams,
                    ProphylaxisParams,
                ),
            )
            else ()
        )
        lines.extend(
            self.documented_line(record)
            if isinstance(record, (DocumentedCondition, AllergyShown))
            else self.record_line(record)
            for record in records
        )
        lines.extend(self.clinical_notes(finding))
        # Which resources the card relies on is machine-readable (the evidence extension), never
        # a resource id in the text.
        suggestions: tuple[Suggestion, ...] = ()
        if isinstance(p, LabMissingParams):
            suggestions = self.lab_order_suggestions(list(p.missing))
        return self.card(
            findings,
            summary,
            "\n\n".join(lines),
            CATALOG[finding.rule_id].section,
            suggestions,
        )

    def clinical_notes(self, finding: Finding) -> list[str]:
        """The lines a contraindication or procedure card adds after its records."""
        p = finding.params
        wording = self.text["rules"][finding.rule_id]
        notes: list[str] = []
        if isinstance(p, CoagulopathyParams):
            notes.extend(self.lab_line(lab) for lab in p.labs)
            if not p.labs:
                notes.append(self.text["no_coagulation_labs"])
        if isinstance(p, EpiduralParams) and p.compression:
            notes.append(wording["compression_note"])
        if isinstance(p, InfectionSuspectedParams):
            notes.extend(
                self.text["infection"]["temperature_line"].format_map(
                    {"value": self.number(lab.celsius), "date": self.day(lab.date)}
                )
                for lab in p.temperatures
            )
            if p.antibiotics:
                notes.append(self.text["infection"]["prophylaxis_note"])
        if isinstance(p, CementAllergyParams) and any(
            isinstance(r, AllergyShown) and r.antibiotic for r in p.records
        ):
            notes.append(wording["antibiotic_note"])
        if isinstance(p, ProphylaxisParams) and p.corticosteroid:
            notes.append(wording["steroid_note"])
        return notes

    def lab_order_suggestions(self, tests: list[str]) -> tuple[Suggestion, ...]:
        if not self.case.patient_id:
            return ()
        suggestions = []
        for test in tests:
            # The LOINC code is in the ServiceRequest the action creates, not in the words.
            label = self.text["order_label"].format_map({"test": self.test_name(test)})
            resource = resources.lab_service_request(
                test, self.case.patient_id, self.text["order_note"], self.now
            )
            suggestions.append(
                Suggestion(
                    label=label,
                    actions=(Action(ActionType.CREATE, label, resource),),
                    is_recommended=True,
                )
            )
        return tuple(suggestions)
