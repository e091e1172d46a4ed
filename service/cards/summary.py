"""The summary card: scope, indication, tumour control and the checklist."""

from __future__ import annotations

from collections.abc import Sequence

from cds_hooks.cards import (
    Card,
)
from service.cards.single import SingleCards
from service.rules.finding import Finding

SUMMARY_CARD_RULES = frozenset(
    {
        "TUMOR-CONTROL",
        "CHECKLIST",
        "SCOPE-NO-BONE-METASTASIS",
        "SCOPE-NOT-LUNG-PRIMARY",
        "IND-PAIN-UNCONTROLLED",
        "IND-OPIOID-INTOLERANCE",
    }
)
SUMMARY_SECTION = "§1, §3, §6, Tableau 8"


class SummaryCard(SingleCards):
    def summary_card(self, findings: Sequence[Finding]) -> Card:
        by_id = {f.rule_id: f for f in findings}
        parts: list[str] = []
        for rule_id in ("SCOPE-NO-BONE-METASTASIS", "SCOPE-NOT-LUNG-PRIMARY"):
            if rule_id in by_id:
                parts.append(f"**{rule_id}** — {self.rule_text(by_id[rule_id])[1]}")
        for rule_id in ("IND-PAIN-UNCONTROLLED", "IND-OPIOID-INTOLERANCE"):
            if rule_id in by_id:
                parts.append(f"**{rule_id}** — {self.rule_text(by_id[rule_id])[1]}")
                if rule_id == "IND-PAIN-UNCONTROLLED":
                    minimum = by_id[rule_id].params.get("uncontrolled_min")
                    parts.append(self.policy_note("pain_uncontrolled_min", minimum))
        if "TUMOR-CONTROL" in by_id:
            parts.append(self.text["rules"]["TUMOR-CONTROL"]["detail"])
        items = list(by_id["CHECKLIST"].params.get("items", ())) if "CHECKLIST" in by_id else []
        if items:
            bullets = "\n".join(f"- [ ] {self.text['checklist'][item]}" for item in items)
            parts.append(f"{self.text['rules']['CHECKLIST']['detail']}\n\n{bullets}")
        if "CHECKLIST" in by_id:
            # Worded by the ordered procedure: a pure thermal ablation puts in no cement.
            ablation_only = bool(self.facts.procedures) and all(
                p.kind.is_thermal_ablation for p in self.facts.procedures
            )
            key = "summary_ablation" if ablation_only else "summary"
            key += "_one" if len(items) == 1 else ""
            summary = self.text["rules"]["CHECKLIST"][key].format_map({"n": len(items)})
        else:
            summary = (
                self.rule_text(findings[0])[0] or self.text["rules"]["TUMOR-CONTROL"]["detail"]
            )
        return self.card(findings, summary, "\n\n".join(parts), SUMMARY_SECTION)
