"""The summary card: scope, indication, tumour control, the checks that passed and the checklist.

No rule ID in its text (RULES.md: clinician text carries none); the IDs stay in the card's
rules extension. Checklist items are listed in words.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.cards.base import RenderedCard
from service.cards.single import SingleCards
from service.rules.catalog import RULE_IDS
from service.rules.finding import Finding
from service.rules.params import ChecklistParams, PassedCheck

CHECKLIST = "CHECKLIST"

SUMMARY_SECTION = "§1, §3, §6, Tableau 8"


class SummaryCard(SingleCards):
    def summary_card(self, findings: Sequence[Finding]) -> RenderedCard:
        # The rules of the summary (catalog placement) in catalog order: scope, indication,
        # tumour control; the checklist's passes and items last.
        order = {rule_id: i for i, rule_id in enumerate(RULE_IDS)}
        by_id = {f.rule_id: f for f in findings}
        parts: list[str] = []
        for finding in sorted(findings, key=lambda f: order[f.rule_id]):
            if finding.rule_id == CHECKLIST:
                continue
            summary, detail = self.rule_text(finding)
            parts.append(f"**{summary}** — {detail}" if summary else detail)
            note = self.text["rules"][finding.rule_id].get("threshold_note")
            if note:
                parts.append(note.format_map(self.fields(finding)))
        checklist = by_id.get(CHECKLIST)
        params = checklist.params if checklist else None
        assert params is None or isinstance(params, ChecklistParams)
        passed = list(params.passed) if params else []
        if passed:
            lines = "\n".join(f"- {self.passed_line(check)}" for check in passed)
            parts.append(f"{self.text['rules']['CHECKLIST']['passed_header']}\n\n{lines}")
        items = list(params.items) if params else []
        if items:
            bullets = "\n".join(f"- [ ] {self.text['checklist'][item]}" for item in items)
            parts.append(f"{self.text['rules']['CHECKLIST']['detail']}\n\n{bullets}")
        if checklist is not None:
            # Worded by the ordered procedure: a pure thermal ablation puts in no cement.
            key = "summary_ablation" if self.case.ablation_only else "summary"
            key += "_one" if len(items) == 1 else ""
            summary = self.text["rules"]["CHECKLIST"][key].format_map({"n": len(items)})
        else:
            summary = (
                self.rule_text(findings[0])[0] or self.text["rules"]["TUMOR-CONTROL"]["detail"]
            )
        return self.card(findings, summary, "\n\n".join(parts), SUMMARY_SECTION)

    def passed_line(self, check: PassedCheck) -> str:
        """'Platelets 210 000/mm³ on 03/12: meets > 50 000/mm³' in the card's language."""
        template = str(self.text["passed"][check.check])
        lab = check.lab
        value = self.value_with_unit(lab) if lab else ""
        if check.celsius is not None:  # a temperature: shown converted to °C
            value = self.number(check.celsius)
        return template.format_map(
            {
                "value": value,
                "date": self.day(lab.date) if lab else "",
                "threshold": self.number(check.threshold),
                "conditions": check.conditions if check.conditions is not None else "",
                "allergies": check.allergies if check.allergies is not None else "",
            }
        )
