"""CI-ABS-* and CI-REL-*: the contraindications of Tableau 8 (§4), from documented conditions.

"Documented" (RULES.md contract): an active Condition or AllergyIntolerance coded in the rule's
value set, or whose text names the concept (never where negated: see service/valuesets/text.py).
Four of them (diffuse pain, asymptomatic fracture, posterior wall, joint opening) go on the
checklist when not documented (see checklist.py). CI-ABS-INFECTION-SUSPECTED reads fever (a
Condition, or a temperature >= 38.0 °C in the last 48 h), an active systemic antibiotic, or a
suspected/provisional infection written as such, when no infection is documented.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from service.facts.model import AllergyFact, ConditionFact, LabResult, PatientFacts, TargetProcedure
from service.rules.common import (
    aware,
    conditions_with,
    fire,
    is_future,
    lab_params,
    latest_lab,
    medications_in,
    site_day,
)
from service.rules.finding import Finding
from service.rules.params import AllergyShown, DocumentedCondition
from service.rules.policy import Policy
from service.valuesets.concepts import SUSPECTED_PREFIX
from service.valuesets.text import clause_text, vertebral_levels
from service.vocabulary import DrugClass, LabKind

# rule ID -> condition concept the facts helper matches
CONDITION_RULES: dict[str, str] = {
    "CI-ABS-SYSTEMIC-INFECTION": "systemic-infection",
    "CI-ABS-SKIN-INFECTION": "skin-infection",
    "CI-ABS-COAGULOPATHY": "coagulopathy",
    "CI-ABS-DIFFUSE-PAIN": "diffuse-pain",
    "CI-ABS-ASYMPTOMATIC-FRACTURE": "asymptomatic-fracture",
    "CI-REL-RADICULOPATHY": "radiculopathy",
    "CI-REL-EPIDURAL": "epidural-extension",
    "CI-REL-POSTERIOR-WALL": "posterior-wall",
    "CI-REL-JOINT-OPENING": "joint-opening",
}

FEVER_CELSIUS = 38.0  # RULES.md CI-ABS-INFECTION-SUSPECTED: body temperature >= 38.0 °C
FEVER_WINDOW = timedelta(hours=48)
# Units a temperature is written in (labs.json accepts these, unconverted: UCUM's factor
# conversion cannot do the affine Fahrenheit one, so it is done here).
CELSIUS_UNITS = frozenset({"cel", "°c", "c", "degc", "deg c"})
FAHRENHEIT_UNITS = frozenset({"[degf]", "°f", "f", "degf", "deg f"})
PLAUSIBLE_CELSIUS = (25.0, 45.0)  # outside: a typo or the wrong unit, never read as a fever


def evaluate(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    findings: list[Finding] = []
    for rule_id, concept in CONDITION_RULES.items():
        matches = conditions_with(facts, concept)
        if matches:
            params: dict[str, Any] = {
                "conditions": [c.display for c in matches],
                "records": [documented_record(c, facts, now) for c in matches],
            }
            evidence = [c.source for c in matches]
            if rule_id == "CI-REL-EPIDURAL":
                params["compression"] = bool(conditions_with(facts, "cord-compression"))
            if rule_id == "CI-ABS-COAGULOPATHY":
                labs = coagulation_labs(facts, policy, now)
                params["labs"] = [lab_params(lab, now) for lab in labs]
                evidence += [lab.source for lab in labs]
            findings.append(fire(rule_id, params, evidence))
        if rule_id == "CI-ABS-SYSTEMIC-INFECTION":
            findings.extend(_infection_suspected(facts, now, documented=bool(matches)))
        if rule_id == "CI-ABS-COAGULOPATHY":
            findings.extend(_cement_allergy(facts, now))
    return findings


def coagulation_labs(facts: PatientFacts, policy: Policy, now: datetime) -> list[LabResult]:
    """The latest platelet count, TP and INR (shown next to a coagulation disorder; their
    thresholds are the BLEED-* rules' business). A result older than the window is still shown."""
    shown = []
    for kind in (LabKind.PLATELETS, LabKind.TP_PERCENT, LabKind.INR):
        recent, newest = latest_lab(facts, kind, now, policy.lab_max_age_days)
        lab = recent or newest
        if lab is not None:
            shown.append(lab)
    return shown


# ------------------------------------------------------------------------------ infection


def celsius(lab: LabResult) -> float | None:
    """A temperature in °C, or None when its unit is not known to be Celsius or Fahrenheit."""
    if not lab.interpretable or lab.value is None:
        return None
    unit = (lab.original_unit or "").strip().casefold()
    if unit in CELSIUS_UNITS:
        value = lab.value
    elif unit in FAHRENHEIT_UNITS:
        value = (lab.value - 32.0) * 5.0 / 9.0
    else:
        return None
    low, high = PLAUSIBLE_CELSIUS
    return value if low <= value <= high else None


def fevers(facts: PatientFacts, now: datetime) -> list[tuple[LabResult, float]]:
    """Temperatures >= 38.0 °C measured in the last 48 h (never one dated in the future)."""
    found = []
    start = now - FEVER_WINDOW
    for lab in facts.labs:
        if lab.kind is not LabKind.TEMPERATURE or lab.effective is None or is_future(lab, now):
            continue
        value = celsius(lab)
        if value is not None and value >= FEVER_CELSIUS and aware(lab.effective, now) >= start:
            found.append((lab, value))
    return sorted(found, key=lambda item: aware(item[0].effective, now))  # type: ignore[arg-type]


def _infection_suspected(facts: PatientFacts, now: datetime, documented: bool) -> list[Finding]:
    """CI-ABS-INFECTION-SUSPECTED: only when no infection is documented (the critical card
    then says it all)."""
    if documented:
        return []
    suspected = conditions_with(facts, SUSPECTED_PREFIX + "systemic-infection")
    fever_conditions = conditions_with(facts, "fever")
    temperatures = fevers(facts, now)
    antibiotics = medications_in(facts, DrugClass.ANTIBACTERIAL)
    if not (suspected or fever_conditions or temperatures or antibiotics):
        return []
    conditions = [*suspected, *(c for c in fever_conditions if c not in suspected)]
    return [
        fire(
            "CI-ABS-INFECTION-SUSPECTED",
            {
                "conditions": [c.display for c in conditions],
                "records": [
                    replace(documented_record(c, facts, now), suspected=c in suspected)
                    for c in conditions
                ],
                "temperatures": [
                    replace(lab_params(lab, now), celsius=round(value, 1))
                    for lab, value in temperatures
                ],
                "antibiotics": [m.display for m in antibiotics],
            },
            [c.source for c in conditions]
            + [lab.source for lab, _ in temperatures]
            + [m.source for m in antibiotics],
        )
    ]


# ------------------------------------------------------------------------------ allergy


def _cement_allergy(facts: PatientFacts, now: datetime) -> list[Finding]:
    allergies = [a for a in facts.allergies if "cement-allergy" in a.concepts]
    antibiotic = [
        a
        for a in facts.allergies
        if "cement-antibiotic-allergy" in a.concepts and a not in allergies
    ]
    conditions = conditions_with(facts, "cement-allergy")
    if not allergies and not antibiotic and not conditions:
        return []
    return [
        fire(
            "CI-ABS-CEMENT-ALLERGY",
            {
                "conditions": [a.display for a in (*allergies, *antibiotic)]
                + [c.display for c in conditions],
                "records": [allergy_details(a, now) for a in allergies]
                + [replace(allergy_details(a, now), antibiotic=True) for a in antibiotic]
                + [documented_record(c, facts, now) for c in conditions],
                "antibiotic_only": not allergies and not conditions,
            },
            [a.source for a in (*allergies, *antibiotic)] + [c.source for c in conditions],
        )
    ]


def allergy_details(allergy: AllergyFact, now: datetime) -> AllergyShown:
    """What the allergy card shows: recorded date, verification, criticality, reaction."""
    recorded = site_day(allergy.recorded, now) if allergy.recorded is not None else None
    return AllergyShown(
        display=allergy.display,
        reference=allergy.source.reference,
        date=recorded.isoformat() if recorded else None,
        verification=allergy.verification,
        criticality=allergy.criticality,
        reactions=list(allergy.reactions),
        text=allergy.matched_text,
    )


# ------------------------------------------------------------------------------ records


def documented_record(
    condition: ConditionFact, facts: PatientFacts, now: datetime
) -> DocumentedCondition:
    """A Condition behind a card: name, recorded date, and, when fired from its text, the text
    quoted and whether it names another site than the order's target ("if this is the target")."""
    recorded = site_day(condition.recorded, now) if condition.recorded is not None else None
    return DocumentedCondition(
        display=condition.display,
        reference=condition.source.reference,
        date=recorded.isoformat() if recorded else None,
        dated=True,
        text=condition.matched_text,
        verification=condition.verification,
        other_site=bool(condition.matched_text)
        and names_other_site(condition.matched_text or "", condition.text_sites, facts.procedures),
    )


# Body-site groups that name a region (weight-bearing spans several: not a place).
REGIONS = frozenset({"spine", "pelvis", "long-bone", "flat-bone"})


def names_other_site(
    text: str, text_sites: frozenset[str], procedures: tuple[TargetProcedure, ...]
) -> bool:
    """True when `text` names a place and none is an order's target: vertebral levels first
    ("L2" while the target is T12), else body regions ("fémur" while the target is a vertebra).
    A target whose place is unknown cannot tell: False, the card then reads as written."""
    named = vertebral_levels(clause_text(text))
    if named:
        targets: set[str] = set()
        for procedure in procedures:
            targets |= vertebral_levels(clause_text(procedure.body_site_display or ""))
        if targets:
            return not (named & targets)
    regions = text_sites & REGIONS
    target_regions = {site for p in procedures for site in p.body_sites} & REGIONS
    return bool(regions) and bool(target_regions) and not (regions & target_regions)
