"""SITE-LONG-BONE, PROC-*, INF-PROPHYLAXIS: the target procedure and site (§2, §5, §6, §7)."""

from __future__ import annotations

from datetime import datetime

from service.config import Policy
from service.facts.model import DrugClass, PatientFacts, ProcedureKind
from service.rules.common import condition_record, conditions_with, fire, medications_in
from service.rules.finding import Finding


def evaluate(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    findings: list[Finding] = []
    long_bone = [p for p in facts.procedures if "long-bone" in p.body_sites]
    if long_bone:
        findings.append(
            fire(
                "SITE-LONG-BONE",
                {"sites": [p.body_site_display or p.display for p in long_bone]},
                [p.source for p in long_bone],
            )
        )
    kypho = [p for p in facts.procedures if p.kind is ProcedureKind.KYPHOPLASTY]
    if kypho:
        findings.append(
            fire(
                "PROC-KYPHOPLASTY",
                {"procedures": [p.display for p in kypho]},
                [p.source for p in kypho],
            )
        )
    ablation = [p for p in facts.procedures if p.kind.is_thermal_ablation]
    if ablation:
        findings.append(
            fire(
                "PROC-THERMAL-ABLATION",
                {
                    "procedures": [p.display for p in ablation],
                    "cryoablation": any(p.kind is ProcedureKind.CRYOABLATION for p in ablation),
                },
                [p.source for p in ablation],
            )
        )
    immuno = conditions_with(facts, "immunocompromised")
    drugs = medications_in(facts, DrugClass.IMMUNOSUPPRESSANT, DrugClass.CYTOTOXIC)
    if immuno or drugs:
        findings.append(
            fire(
                "INF-PROPHYLAXIS",
                {
                    "reasons": [c.display for c in immuno] + [m.display for m in drugs],
                    "records": [condition_record(c, now) for c in immuno],
                },
                [c.source for c in immuno] + [m.source for m in drugs],
            )
        )
    return findings
