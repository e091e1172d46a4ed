"""SITE-LONG-BONE, PROC-*, INF-PROPHYLAXIS: the target procedure and site (§2, §5, §6, §7)."""

from __future__ import annotations

from datetime import datetime

from service.facts.model import LabResult, PatientFacts
from service.rules.common import (
    condition_record,
    conditions_with,
    fire,
    lab_params,
    latest_lab,
    medications_in,
)
from service.rules.finding import Finding
from service.rules.policy import Policy
from service.vocabulary import DrugClass, LabKind, ProcedureKind

WEIGHT_BEARING = "weight-bearing"  # body_sites.json group: vertebra, sacrum, pelvis, femur, tibia
NEUTROPENIA_BELOW = 1000.0  # RULES.md INF-PROPHYLAXIS: neutrophils < 1 000/mm³
IMMUNOSUPPRESSIVE_DRUGS = (
    DrugClass.IMMUNOSUPPRESSANT,
    DrugClass.CYTOTOXIC,
    DrugClass.CORTICOSTEROID,
)


def ablation_only(facts: PatientFacts) -> bool:
    """A thermal ablation is in scope and no cementoplasty-family order is (no cement put in)."""
    kinds = [p.kind for p in facts.procedures]
    return bool(kinds) and all(kind.is_thermal_ablation for kind in kinds)


def ablation_site_unknown(facts: PatientFacts) -> bool:
    """An ablation alone whose target site is not coded: the checklist asks if it bears weight."""
    return ablation_only(facts) and any(not p.body_sites for p in facts.procedures)


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
                    # The safety-margin sentence is for cryoablation only (never radiofrequency).
                    "cryoablation": any(p.kind is ProcedureKind.CRYOABLATION for p in ablation),
                },
                [p.source for p in ablation],
            )
        )
    bearing = [p for p in ablation if WEIGHT_BEARING in p.body_sites]
    if ablation_only(facts) and bearing:
        findings.append(
            fire(
                "PROC-ABLATION-WEIGHT-BEARING",
                {
                    "procedures": [p.display for p in bearing],
                    "sites": [p.body_site_display or p.display for p in bearing],
                },
                [p.source for p in bearing],
            )
        )
    findings.extend(_prophylaxis(facts, policy, now))
    return findings


def low_neutrophils(facts: PatientFacts, policy: Policy, now: datetime) -> LabResult | None:
    """The latest usable neutrophil count in the window, when < 1 000/mm³."""
    recent, _ = latest_lab(facts, LabKind.NEUTROPHILS, now, policy.lab_max_age_days)
    if recent is None or not recent.interpretable:
        return None
    value = recent.value
    if value is None:
        return None
    if recent.comparator is None:
        low = value < NEUTROPENIA_BELOW
    else:  # a bound: low only when it settles it ("<500"; "<=1000" is read as low, the safer)
        low = recent.comparator in ("<", "<=") and value <= NEUTROPENIA_BELOW
    return recent if low else None


def _prophylaxis(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    immuno = conditions_with(facts, "immunocompromised")
    drugs = medications_in(facts, *IMMUNOSUPPRESSIVE_DRUGS)
    neutrophils = low_neutrophils(facts, policy, now)
    if not (immuno or drugs or neutrophils):
        return []
    return [
        fire(
            "INF-PROPHYLAXIS",
            {
                "reasons": [c.display for c in immuno] + [m.display for m in drugs],
                "records": [condition_record(c, now) for c in immuno],
                "corticosteroid": any(DrugClass.CORTICOSTEROID in m.classes for m in drugs),
                "ablation_only": ablation_only(facts),
                "neutrophils": lab_params(neutrophils, now) if neutrophils else None,
            },
            [c.source for c in immuno]
            + [m.source for m in drugs]
            + ([neutrophils.source] if neutrophils else []),
        )
    ]
