"""The rule catalog as data: every rule ID of RULES.md with its indicator, group and source.

`categories` names the data each rule reads, so that DATA-UNAVAILABLE can say which rules could
not be (fully) evaluated when a category is missing. `policy` marks rules whose threshold is a
local policy value (the card says so). `placement` says which card a rule's finding goes on
(service/cards/render.py reads it; no card code decides it by rule ID). It has no default: a rule
added without one is an error when the catalog is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from cds_hooks.cards import Indicator
from service.vocabulary import DataCategory as C


class RuleGroup(StrEnum):
    SCOPE = "scope"
    INDICATION = "indication"
    CONTRAINDICATION = "contraindication"
    BLEEDING = "bleeding"
    ANTITHROMBOTIC = "antithrombotic"
    PROCEDURE = "procedure"
    SUMMARY = "summary"
    DATA = "data"


class Placement(StrEnum):
    """Which card a rule's finding goes on (RULES.md "Cards: what a clinician expects")."""

    OWN_CARD = "own-card"  # a card of its own (contraindication, bleeding, procedure, data)
    SUMMARY = "summary"  # the one summary card (scope, indication, tumour control, checklist)
    PLAN_LINE = "plan-line"  # the plan card: one line (and suggestion) per medication record
    PLAN_RECORD_NOTE = "plan-record-note"  # the plan card: qualifies one record's line
    PLAN_NOTE = "plan-note"  # the plan card: a note about the whole plan

    @property
    def on_plan(self) -> bool:
        return self in (Placement.PLAN_LINE, Placement.PLAN_RECORD_NOTE, Placement.PLAN_NOTE)


@dataclass(frozen=True)
class RuleSpec:
    rule_id: str
    indicator: Indicator
    group: RuleGroup
    section: str  # where the guideline says it ("§4", "Tableau 8"...); "" = not guideline text
    categories: frozenset[C] = frozenset()
    policy: bool = False  # a threshold or delay from local policy, not from the guideline
    # A rule whose indicator depends on the case (RULES.md "critical / warning"): `indicator` is
    # the most severe, and a finding may carry one of these instead (it says which).
    lesser_indicators: frozenset[Indicator] = frozenset()
    placement: Placement = field(kw_only=True)  # no default: every rule says where it goes

    @property
    def indicators(self) -> frozenset[Indicator]:
        """Every indicator a finding of this rule may carry."""
        return self.lesser_indicators | {self.indicator}


INF, W, X = Indicator.INFO, Indicator.WARNING, Indicator.CRITICAL
G = RuleGroup
P = Placement

_SPECS: tuple[RuleSpec, ...] = (
    RuleSpec(
        "SCOPE-NO-BONE-METASTASIS",
        INF,
        G.SCOPE,
        "§1",
        frozenset({C.CONDITIONS}),
        placement=P.SUMMARY,
    ),
    RuleSpec(
        "SCOPE-NOT-LUNG-PRIMARY", INF, G.SCOPE, "§1", frozenset({C.CONDITIONS}), placement=P.SUMMARY
    ),
    RuleSpec(
        "IND-PAIN-UNCONTROLLED",
        INF,
        G.INDICATION,
        "§3",
        frozenset({C.PAIN, C.MEDICATIONS}),
        True,
        placement=P.SUMMARY,
    ),
    RuleSpec(
        "IND-OPIOID-INTOLERANCE",
        INF,
        G.INDICATION,
        "§3",
        frozenset({C.MEDICATIONS, C.CONDITIONS, C.ALLERGIES}),
        placement=P.SUMMARY,
    ),
    RuleSpec(
        "NONIND-PAIN-CONTROLLED",
        W,
        G.INDICATION,
        "§4",
        frozenset({C.PAIN, C.MEDICATIONS}),
        True,
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "CI-ABS-SYSTEMIC-INFECTION",
        X,
        G.CONTRAINDICATION,
        "§4",
        frozenset({C.CONDITIONS}),
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "CI-ABS-INFECTION-SUSPECTED",
        W,
        G.CONTRAINDICATION,
        "§4",
        frozenset({C.CONDITIONS, C.MEDICATIONS, C.TEMPERATURE}),
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "CI-ABS-SKIN-INFECTION",
        X,
        G.CONTRAINDICATION,
        "§4",
        frozenset({C.CONDITIONS}),
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "CI-ABS-COAGULOPATHY",
        X,
        G.CONTRAINDICATION,
        "§4",
        frozenset({C.CONDITIONS}),
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "CI-ABS-CEMENT-ALLERGY",
        X,
        G.CONTRAINDICATION,
        "§4",
        frozenset({C.ALLERGIES, C.CONDITIONS}),
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "CI-ABS-DIFFUSE-PAIN",
        X,
        G.CONTRAINDICATION,
        "§4",
        frozenset({C.CONDITIONS}),
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "CI-ABS-ASYMPTOMATIC-FRACTURE",
        X,
        G.CONTRAINDICATION,
        "§4",
        frozenset({C.CONDITIONS}),
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "CI-REL-RADICULOPATHY",
        W,
        G.CONTRAINDICATION,
        "§4",
        frozenset({C.CONDITIONS}),
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "CI-REL-EPIDURAL",
        W,
        G.CONTRAINDICATION,
        "§4, §1",
        frozenset({C.CONDITIONS}),
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "CI-REL-POSTERIOR-WALL",
        W,
        G.CONTRAINDICATION,
        "§4",
        frozenset({C.CONDITIONS}),
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "CI-REL-JOINT-OPENING",
        W,
        G.CONTRAINDICATION,
        "§4",
        frozenset({C.CONDITIONS}),
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "BLEED-PLATELETS-LOW", X, G.BLEEDING, "§4", frozenset({C.PLATELETS}), placement=P.OWN_CARD
    ),
    RuleSpec("BLEED-TP-LOW", X, G.BLEEDING, "§4", frozenset({C.COAGULATION}), placement=P.OWN_CARD),
    # Critical, or a warning when a usable TP > 50 % exists and no VKA is active (RULES.md v2).
    # Its source is the institution's local protocol (SIR 2019), not a guideline section.
    RuleSpec(
        "BLEED-INR-HIGH",
        X,
        G.BLEEDING,
        "",
        frozenset({C.COAGULATION, C.MEDICATIONS}),
        True,
        frozenset({W}),
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "BLEED-LAB-MISSING",
        W,
        G.BLEEDING,
        "§4",
        frozenset({C.PLATELETS, C.COAGULATION}),
        True,
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "BLEED-LAB-UNINTERPRETABLE",
        W,
        G.BLEEDING,
        "§4",
        frozenset({C.PLATELETS, C.COAGULATION}),
        placement=P.OWN_CARD,
    ),
    RuleSpec(
        "MED-VKA", W, G.ANTITHROMBOTIC, "§4", frozenset({C.MEDICATIONS}), placement=P.PLAN_LINE
    ),
    RuleSpec(
        "MED-VKA-TOO-LATE",
        X,
        G.ANTITHROMBOTIC,
        "",
        frozenset({C.MEDICATIONS}),
        True,
        placement=P.PLAN_RECORD_NOTE,
    ),
    RuleSpec(
        "MED-CLOPIDOGREL",
        W,
        G.ANTITHROMBOTIC,
        "§4",
        frozenset({C.MEDICATIONS}),
        placement=P.PLAN_LINE,
    ),
    RuleSpec(
        "MED-DOAC", W, G.ANTITHROMBOTIC, "§4", frozenset({C.MEDICATIONS}), placement=P.PLAN_LINE
    ),
    RuleSpec(
        "MED-ASPIRIN-LOW-DOSE",
        INF,
        G.ANTITHROMBOTIC,
        "§4",
        frozenset({C.MEDICATIONS}),
        placement=P.PLAN_LINE,
    ),
    RuleSpec(
        "MED-ASPIRIN-HIGH-DOSE",
        W,
        G.ANTITHROMBOTIC,
        "§4",
        frozenset({C.MEDICATIONS}),
        placement=P.PLAN_LINE,
    ),
    RuleSpec(
        "MED-ASPIRIN-DOSE-UNKNOWN",
        W,
        G.ANTITHROMBOTIC,
        "§4",
        frozenset({C.MEDICATIONS}),
        placement=P.PLAN_LINE,
    ),
    RuleSpec(
        "MED-LMWH", W, G.ANTITHROMBOTIC, "§4", frozenset({C.MEDICATIONS}), placement=P.PLAN_LINE
    ),
    RuleSpec(
        "MED-ANTITHROMBOTIC-UNLISTED",
        W,
        G.ANTITHROMBOTIC,
        "",
        frozenset({C.MEDICATIONS}),
        True,
        placement=P.PLAN_LINE,
    ),
    RuleSpec(
        "MED-CARDIAC-RISK",
        W,
        G.ANTITHROMBOTIC,
        "",
        frozenset({C.MEDICATIONS, C.CONDITIONS}),
        placement=P.PLAN_NOTE,
    ),
    RuleSpec(
        "MED-HOLD-TOO-LATE",
        X,
        G.ANTITHROMBOTIC,
        "§4",
        frozenset({C.MEDICATIONS}),
        placement=P.PLAN_RECORD_NOTE,
    ),
    RuleSpec(
        "MED-HOLD-TIME-UNKNOWN",
        W,
        G.ANTITHROMBOTIC,
        "§4",
        frozenset({C.MEDICATIONS}),
        placement=P.PLAN_RECORD_NOTE,
    ),
    RuleSpec("SITE-LONG-BONE", W, G.PROCEDURE, "§2, §6", placement=P.OWN_CARD),
    RuleSpec("PROC-KYPHOPLASTY", INF, G.PROCEDURE, "§7", placement=P.OWN_CARD),
    RuleSpec("PROC-THERMAL-ABLATION", W, G.PROCEDURE, "§7", placement=P.OWN_CARD),
    RuleSpec("PROC-ABLATION-WEIGHT-BEARING", W, G.PROCEDURE, "§7", placement=P.OWN_CARD),
    RuleSpec(
        "INF-PROPHYLAXIS",
        INF,
        G.PROCEDURE,
        "§5",
        frozenset({C.CONDITIONS, C.MEDICATIONS, C.NEUTROPHILS}),
        placement=P.OWN_CARD,
    ),
    RuleSpec("TUMOR-CONTROL", INF, G.SUMMARY, "§1, §6", placement=P.SUMMARY),
    RuleSpec("CHECKLIST", INF, G.SUMMARY, "§3, §2, §4", placement=P.SUMMARY),
    RuleSpec("DATA-UNAVAILABLE", W, G.DATA, "", placement=P.OWN_CARD),
)

CATALOG: dict[str, RuleSpec] = {spec.rule_id: spec for spec in _SPECS}
RULE_IDS: tuple[str, ...] = tuple(spec.rule_id for spec in _SPECS)


def spec(rule_id: str) -> RuleSpec:
    return CATALOG[rule_id]


def rules_reading(categories: frozenset[C]) -> tuple[str, ...]:
    """The rules (catalog order) that read any of `categories`."""
    return tuple(s.rule_id for s in _SPECS if s.categories & categories)
