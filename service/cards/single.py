"""One card per contraindication, bleeding, procedure or data finding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cds_hooks.cards import (
    Action,
    ActionType,
    Card,
    Suggestion,
)
from service.cards import resources
from service.cards.base import CardBuilder
from service.cards.format import short
from service.rules.catalog import CATALOG
from service.rules.finding import Finding


class SingleCards(CardBuilder):
    def fields(self, finding: Finding) -> dict[str, Any]:
        """The template fields of one finding, formatted for the card language."""
        p = finding.params
        conditions = [str(c) for c in p.get("conditions", ())]
        fields: dict[str, Any] = {
            # With its comparator: "< 20 000", never a bound shown as an exact value.
            "value": self.shown_value(p),
            "date": self.day(p.get("date")),
            "threshold": self.number(p.get("threshold"), p.get("kind", "")),
            "conditions": self.join(conditions),
            "condition": short(conditions[0]) if conditions else "",
            "metastasis": p.get("metastasis", ""),
            "analgesics": self.join(list(p.get("analgesics", ()))),
            "opioids": self.join(list(p.get("opioids", ()))),
            "effects": self.join(list(p.get("effects", ()))),
            "sites": self.join(list(p.get("sites", ()))),
            "site": short(str(p.get("sites", ["?"])[0])) if p.get("sites") else "?",
            "procedures": self.join(list(p.get("procedures", ()))),
            "reasons": self.join(list(p.get("reasons", ()))),
            "cryo": self.text["cryo_margin"] if p.get("cryoablation") else "",
            "controlled_max": self.number(p.get("controlled_max")),
            "uncontrolled_min": self.number(p.get("uncontrolled_min")),
            "days": p.get("max_age_days", ""),
            "n_days": self.days(p.get("max_age_days", "")),
        }
        if finding.rule_id == "BLEED-LAB-MISSING":
            fields["tests"] = self.join([self.test_name(t) for t in p.get("missing", ())])
        if finding.rule_id == "BLEED-LAB-UNINTERPRETABLE":
            fields["tests"] = self.join([self.test_name(r["kind"]) for r in p.get("results", ())])
        if finding.rule_id == "CI-ABS-INFECTION-SUSPECTED":
            reasons = self.infection_reasons(p)
            fields["reasons"] = self.join(reasons)
            # The summary names one reason briefly: the record's words, else the finding.
            if p.get("antibiotics") and not p.get("conditions") and not p.get("temperatures"):
                fields["reason"] = self.text["infection"]["antibiotic_short"]
            else:
                fields["reason"] = short(reasons[0]) if reasons else "?"
        if finding.rule_id == "INF-PROPHYLAXIS" and p.get("neutrophils"):
            lab = p["neutrophils"]
            shown = self.text["rules"]["INF-PROPHYLAXIS"]["neutrophils"].format_map(
                {"value": self.value_with_unit(lab), "date": self.day(lab.get("date"))}
            )
            fields["reasons"] = self.join([*p.get("reasons", ()), shown])
        if finding.rule_id == "DATA-UNAVAILABLE":
            # The checks that could not run in words, and why each category is missing; the
            # rule IDs go to the audit and the log, never to clinician text.
            words = self.text["data_unavailable"]
            names = self.text["categories"]

            def why(category: str) -> str:
                reasons = [
                    words["failures"].get(code, code)
                    for code in p.get("reasons", {}).get(category, ())
                ]
                unreadable = p.get("unreadable", {}).get(category, 0)
                if unreadable:
                    key = "unreadable_one" if unreadable == 1 else "unreadable_many"
                    reasons.append(words[key].format_map({"n": unreadable}))
                if not reasons:  # unavailable for a reason no failure names: unreadable data
                    reasons.append(words["failures"]["invalid"])
                if category in p.get("partial", ()):
                    return str(words["in_part"].format_map({"why": self.join(reasons)}))
                return self.join(reasons)

            categories = list(p.get("categories", ()))
            fields["categories"] = self.join([names.get(c, c) for c in categories])
            # "; " between checks: a check's own words may hold "and".
            checks = [words["checks"][c] for c in categories if words["checks"].get(c)]
            fields["checks"] = "; ".join(checks) or self.text["none"]
            fields["gaps"] = "\n".join(
                words["gap_line"].format_map({"category": names.get(c, c), "why": why(c)})
                for c in categories
            )
            variant = words["none" if p.get("nothing_obtained") else "partial"]
            fields["headline"] = variant["summary"].format_map(fields)
            fields["body"] = variant["detail"].format_map(fields)
        return fields

    def rule_text(self, finding: Finding) -> tuple[str, str]:
        wording = self.text["rules"][finding.rule_id]
        fields = self.fields(finding)
        p = finding.params
        summary, detail = wording["summary"], wording["detail"]
        # Worded by the ordered procedure: an ablation alone puts in no cement.
        if p.get("ablation_only") and "detail_ablation" in wording:
            detail = wording["detail_ablation"]
        if p.get("antibiotic_only") and "summary_antibiotic" in wording:
            summary = wording["summary_antibiotic"]
        return summary.format_map(fields), detail.format_map(fields)

    def infection_reasons(self, params: Mapping[str, Any]) -> list[str]:
        """Why an infection is suspected, in words: suspected conditions, fever, antibiotics."""
        words = self.text["infection"]
        reasons = [str(c) for c in params.get("conditions", ())]
        for lab in params.get("temperatures", ()):
            reasons.append(
                words["temperature"].format_map(
                    {"value": self.number(lab.get("celsius")), "date": self.day(lab.get("date"))}
                )
            )
        if params.get("antibiotics"):
            antibiotics = self.join([str(a) for a in params["antibiotics"]])
            reasons.append(words["antibiotic"].format_map({"antibiotics": antibiotics}))
        return reasons

    def documented_line(self, record: Mapping[str, Any]) -> str:
        """A Condition or allergy behind a contraindication: quoted when read from its text,
        with its date, "if this is the target" when it names another site, and its status."""
        words = self.text["documented"]
        if record.get("kind") == "allergy":
            verification = record.get("verification")
            criticality = record.get("criticality")
            reactions = [str(r) for r in record.get("reactions", ())]
            date = record.get("date")
            return str(words["allergy_line"]).format_map(
                {
                    "display": record.get("display", "?"),
                    "recorded": words["allergy_recorded"].format_map({"date": self.day(date)})
                    if date
                    else words["allergy_undated"],
                    "verification": words["verification"].get(verification, verification)
                    if verification
                    else words["not_recorded"],
                    "criticality": words["criticality"].get(criticality, criticality)
                    if criticality
                    else words["not_recorded"],
                    "reactions": self.join(reactions) if reactions else words["not_recorded"],
                }
            )
        status = record.get("verification")
        unconfirmed = status in ("provisional", "differential", "unconfirmed")
        if not record.get("text"):  # coded: the record's own line, and its status if unsure
            suffix = words["provisional"].format_map(
                {"status": words["verification"].get(status, status)}
            )
            return self.record_line(record) + (suffix if unconfirmed else "")
        fields = {
            "text": record["text"],
            "date": self.day(record.get("date")),
            "site": words["other_site"] if record.get("other_site") else "",
            "status": words["provisional"].format_map(
                {"status": words["verification"].get(status, status)}
            )
            if unconfirmed
            else "",
        }
        key = "line_noted" if record.get("suspected") else "line"  # a suspicion is not documented
        key += "" if record.get("date") else "_undated"
        return str(words[key]).format_map(fields)

    def single_card(self, findings: Sequence[Finding]) -> Card:
        finding = findings[0]
        summary, detail = self.rule_text(finding)
        lines = [detail]
        p = finding.params
        # "Exactly at the threshold does not meet it" only when the value is the threshold:
        # said of a count of 40 000 it reads as boilerplate.
        at_threshold = self.text["rules"][finding.rule_id].get("at_threshold_note")
        if at_threshold and p.get("comparator") is None and p.get("value") == p.get("threshold"):
            lines.append(at_threshold)
        if "value" in p and "kind" in p:
            lines.append(self.lab_line(p))
        if finding.rule_id == "BLEED-LAB-UNINTERPRETABLE":
            lines.extend(self.lab_line(r) for r in p.get("results", ()))
        if finding.rule_id == "BLEED-LAB-MISSING":
            lines.extend(self.lab_line(r) for r in p.get("unusable", ()))
            for stale in p.get("stale", ()):
                lines.append(
                    self.text["stale_line"].format_map(
                        {
                            "test": self.test_name(stale.get("kind", "")),
                            "date": self.day(stale.get("date")),
                            "days": p.get("max_age_days", ""),
                            "n_days": self.days(p.get("max_age_days", "")),
                        }
                    )
                )
            lines.append(self.policy_note("lab_max_age_days", p.get("max_age_days")))
        if finding.rule_id == "BLEED-INR-HIGH":
            lines.append(self.policy_note("inr_max", p.get("threshold")))
        records = list(p.get("records", ()))
        lines.extend(
            self.documented_line(record) if "kind" in record else self.record_line(record)
            for record in records
        )
        lines.extend(self.clinical_notes(finding))
        # Which resources the card relies on is machine-readable (the evidence extension), never
        # a resource id in the text.
        suggestions: tuple[Suggestion, ...] = ()
        if finding.rule_id == "BLEED-LAB-MISSING":
            suggestions = self.lab_order_suggestions(list(p.get("missing", ())))
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
        if finding.rule_id == "CI-ABS-COAGULOPATHY":
            labs = list(p.get("labs", ()))
            notes.extend(self.lab_line(lab) for lab in labs)
            if not labs:
                notes.append(self.text["no_coagulation_labs"])
        if finding.rule_id == "CI-REL-EPIDURAL" and p.get("compression"):
            notes.append(wording["compression_note"])
        if finding.rule_id == "CI-ABS-INFECTION-SUSPECTED":
            notes.extend(
                self.text["infection"]["temperature_line"].format_map(
                    {"value": self.number(lab.get("celsius")), "date": self.day(lab.get("date"))}
                )
                for lab in p.get("temperatures", ())
            )
            if p.get("antibiotics"):
                notes.append(self.text["infection"]["prophylaxis_note"])
        if finding.rule_id == "CI-ABS-CEMENT-ALLERGY" and any(
            r.get("antibiotic") for r in p.get("records", ())
        ):
            notes.append(wording["antibiotic_note"])
        if finding.rule_id == "INF-PROPHYLAXIS" and p.get("corticosteroid"):
            notes.append(wording["steroid_note"])
        return notes

    def lab_order_suggestions(self, tests: list[str]) -> tuple[Suggestion, ...]:
        if not self.case.patient_id:
            return ()
        suggestions = []
        for test in tests:
            code, _ = resources.LAB_ORDER_CODES[test]
            label = self.text["order_label"].format_map(
                {"test": self.test_name(test), "code": code}
            )
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
