"""TUMOR-CONTROL and CHECKLIST: once whenever TRIGGER passes (§1, §2, §3, Tableau 8).

The checklist names what the record cannot show (RULES.md CHECKLIST): the items every
procedure needs, then each "when documented" contraindication that was not documented, and the
site- and procedure-specific items. Items are keys; the card wording maps them to words.
"""

from __future__ import annotations

from datetime import datetime

from service.facts.model import PatientFacts, TargetProcedure
from service.rules.bleeding import PLATELETS_MIN_PER_MM3, TP_MIN_PERCENT
from service.rules.common import (
    above,
    at_or_below,
    available,
    conditions_with,
    fire,
    lab_params,
    latest_lab,
)
from service.rules.contraindications import (
    CONDITION_RULES,
    FEVER_CELSIUS,
    FEVER_WINDOW,
    celsius,
    fevers,
)
from service.rules.finding import Finding
from service.rules.indication import pain_inputs
from service.rules.params import PassedCheck
from service.rules.policy import Policy
from service.rules.procedure import ablation_only, ablation_site_unknown
from service.rules.schedule import scheduled_procedure
from service.vocabulary import DataCategory, LabKind, ProcedureKind

# Always on the checklist, in this order (§3, Tableau 8; RULES.md v2 CHECKLIST "Always").
ALWAYS = (
    "mdt-decision",
    "lesion-responsible",
    "indication-context",
    "global-care",
    "no-infection",
    "puncture-skin",
    "antithrombotics-confirmed",
    "cement-allergy-asked",
)

# "When documented" contraindications -> their checklist item when not documented, and whether
# the item is only for vertebral (or unknown) targets.
UNDOCUMENTED_ITEMS: tuple[tuple[str, str, bool], ...] = (
    ("CI-ABS-DIFFUSE-PAIN", "diffuse-pain", False),
    ("CI-ABS-ASYMPTOMATIC-FRACTURE", "asymptomatic-fracture", True),
    ("CI-REL-POSTERIOR-WALL", "posterior-wall", True),
    ("CI-REL-JOINT-OPENING", "joint-opening", False),
)

VERTEBRAL_KINDS = frozenset({ProcedureKind.VERTEBROPLASTY, ProcedureKind.KYPHOPLASTY})


def vertebral_or_unknown(procedure: TargetProcedure) -> bool:
    """A vertebral target, or one whose site neither the order's site nor its kind tells."""
    if "spine" in procedure.body_sites or procedure.kind in VERTEBRAL_KINDS:
        return True
    return not procedure.body_sites and procedure.kind is not ProcedureKind.SACROPLASTY


def checklist_items(facts: PatientFacts, policy: Policy, now: datetime) -> list[str]:
    items = list(ALWAYS)
    vertebral = any(vertebral_or_unknown(p) for p in facts.procedures)
    for rule_id, item, vertebral_only in UNDOCUMENTED_ITEMS:
        if conditions_with(facts, CONDITION_RULES[rule_id]):
            continue  # documented: the contraindication fires instead
        if vertebral_only and not vertebral:
            continue
        items.append(item)
    if pain_inputs(facts, policy, now) is None:
        items.append("pain-assessment")
    if any(not p.body_sites for p in facts.procedures):
        items.append("target-site")
    if any("pelvis" in p.body_sites for p in facts.procedures):
        items.append("iliac-wing")
    if any(p.kind.is_thermal_ablation for p in facts.procedures):
        items.append("ablation-neural")
    if ablation_site_unknown(facts):
        items.append("ablation-weight-bearing")
    if scheduled_procedure(facts, now) is None:
        items.append("procedure-date")
    return items


# Concepts whose presence is a contraindication or a reason to look (RULES.md v2): when none is
# documented, the summary says how many records were read, so that an empty record shows.
CONTRAINDICATION_CONCEPTS = (
    *CONDITION_RULES.values(),
    "fever",
    "suspected:systemic-infection",
    "cement-allergy",
)


def passed_checks(facts: PatientFacts, policy: Policy, now: datetime) -> list[PassedCheck]:
    """The checks the record passes, each with the value and date it passed on (RULES.md: "a
    pass is shown as a pass"), so that a silent pass and a real one can be told apart."""
    passed: list[PassedCheck] = []
    days = policy.lab_max_age_days
    platelets, _ = latest_lab(facts, LabKind.PLATELETS, now, days)
    if (
        platelets is not None
        and platelets.interpretable
        and above(platelets, PLATELETS_MIN_PER_MM3)
    ):
        passed.append(PassedCheck(check="platelets", lab=lab_params(platelets, now)))
    tp, _ = latest_lab(facts, LabKind.TP_PERCENT, now, days)
    if tp is not None and tp.interpretable and above(tp, TP_MIN_PERCENT):
        passed.append(PassedCheck(check="tp", lab=lab_params(tp, now)))
    inr, _ = latest_lab(facts, LabKind.INR, now, days)
    if inr is not None and inr.interpretable and at_or_below(inr, policy.inr_max):
        passed.append(PassedCheck(check="inr", lab=lab_params(inr, now), threshold=policy.inr_max))
    temperature, _ = latest_lab(facts, LabKind.TEMPERATURE, now, 2)
    value = celsius(temperature) if temperature is not None else None
    if (
        temperature is not None
        and temperature.effective is not None
        and value is not None
        and value < FEVER_CELSIUS
        and temperature.effective >= now - FEVER_WINDOW
        and not fevers(facts, now)  # a fever earlier in the 48 h is no pass
    ):
        passed.append(
            PassedCheck(check="temperature", lab=lab_params(temperature, now), celsius=value)
        )
    readable = available(facts, DataCategory.CONDITIONS) and available(
        facts, DataCategory.ALLERGIES
    )
    allergy_found = any(
        a.concepts & {"cement-allergy", "cement-antibiotic-allergy"} for a in facts.allergies
    )
    if readable and not conditions_with(facts, *CONTRAINDICATION_CONCEPTS) and not allergy_found:
        passed.append(
            PassedCheck(
                check="conditions",
                conditions=len(facts.conditions),
                allergies=len(facts.allergies),
            )
        )
    return passed


def evaluate(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    return [
        fire("TUMOR-CONTROL", {"ablation_only": ablation_only(facts)}),
        fire(
            "CHECKLIST",
            {
                "items": checklist_items(facts, policy, now),
                "passed": passed_checks(facts, policy, now),
            },
        ),
    ]
