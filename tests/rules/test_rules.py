"""Each rule fires exactly when RULES.md says, and not otherwise."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from support.rule_facts import (
    IN_SCOPE,
    NOW,
    allergy,
    condition,
    facts,
    lab,
    med,
    normal_labs,
    procedure,
)
from support.shared_data import shared_path

from cds_hooks.cards import Indicator
from service.rules.catalog import CATALOG, RULE_IDS
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DataCategory, DrugClass, LabKind, ProcedureKind

POLICY = Policy()
ALWAYS = {"TUMOR-CONTROL", "CHECKLIST"}


def fired(patient, policy: Policy = POLICY, now=NOW) -> set[str]:
    return {f.rule_id for f in evaluate_rules(patient, policy, now)}


def finding(patient, rule_id: str, policy: Policy = POLICY, now=NOW):
    matches = [f for f in evaluate_rules(patient, policy, now) if f.rule_id == rule_id]
    assert len(matches) == 1, matches
    return matches[0]


def checklist(patient, now=NOW) -> list[str]:
    return list(finding(patient, "CHECKLIST", now=now).params["items"])


# ---- catalog and trigger ----------------------------------------------------------------------


def test_catalog_has_every_rule_id_of_rules_md_and_no_other() -> None:
    text = shared_path("clinical", "RULES.md").read_text()
    ids = set(re.findall(r"^\| ([A-Z][A-Z0-9-]+) \|", text, re.M)) - {"ID", "TRIGGER"}
    assert "DATA-UNAVAILABLE (warning) fires" in text  # described in prose, not in a table
    assert ids | {"DATA-UNAVAILABLE"} == set(RULE_IDS)


def _rules_md_indicators() -> dict[str, set[str]]:
    """Rule ID -> the indicators its row of RULES.md gives ("critical / warning": both)."""
    text = shared_path("clinical", "RULES.md").read_text()
    found: dict[str, set[str]] = {}
    column: int | None = None
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|"):
            column = None
        elif cells[0] == "ID":
            column = cells.index("indicator") if "indicator" in cells else None
        elif column is not None and re.fullmatch(r"[A-Z][A-Z0-9-]+", cells[0]):
            words = set(re.findall(r"critical|warning|info", cells[column]))
            if words:
                found[cells[0]] = words
    return found


def test_catalog_indicators_match_rules_md() -> None:
    """Each rule's indicators are the ones its RULES.md row names; a rule whose indicator depends
    on the case ("critical / warning") keeps the most severe in the catalog and lists the other
    as one its findings may carry."""
    rows = _rules_md_indicators()
    assert rows["BLEED-INR-HIGH"] == {"critical", "warning"}
    assert rows["MED-HOLD-TOO-LATE"] == {"critical"}
    assert "TRIGGER" not in rows  # "—": not a card
    assert set(rows) | {"DATA-UNAVAILABLE"} == set(RULE_IDS)
    for rule_id, indicators in rows.items():
        rule = CATALOG[rule_id]
        assert {i.value for i in rule.indicators} == indicators, rule_id
        assert rule.indicator is Indicator.most_severe(list(rule.indicators)), rule_id
    assert CATALOG["DATA-UNAVAILABLE"].indicator is Indicator.WARNING  # stated in prose


def test_nothing_fires_without_a_target_procedure() -> None:
    patient = facts(
        procedures=(),
        labs=(),
        conditions=(condition("systemic-infection"),),
        medications=(med("clopidogrel", DrugClass.CLOPIDOGREL),),
        unavailable=frozenset({DataCategory.PAIN}),
    )
    assert evaluate_rules(patient, POLICY, NOW) == []


def test_a_clean_patient_gets_only_the_summary_rules() -> None:
    assert fired(facts()) == ALWAYS


def test_findings_take_their_indicator_from_the_catalog() -> None:
    patient = facts(conditions=(condition("systemic-infection"),), labs=())
    for f in evaluate_rules(patient, POLICY, NOW):
        assert f.indicator is CATALOG[f.rule_id].indicator


# ---- scope ------------------------------------------------------------------------------------


def test_scope_rules() -> None:
    assert "SCOPE-NO-BONE-METASTASIS" in fired(facts(conditions=()))
    assert "SCOPE-NOT-LUNG-PRIMARY" not in fired(facts(conditions=()))
    assert fired(facts(conditions=(condition("bone-metastasis"),))) == ALWAYS | {
        "SCOPE-NOT-LUNG-PRIMARY"
    }
    assert fired(facts(conditions=IN_SCOPE)) == ALWAYS


def test_scope_is_not_claimed_when_conditions_could_not_be_obtained() -> None:
    patient = facts(conditions=(), unavailable=frozenset({DataCategory.CONDITIONS}))
    ids = fired(patient)
    assert "SCOPE-NO-BONE-METASTASIS" not in ids
    unavailable = finding(patient, "DATA-UNAVAILABLE")
    assert unavailable.params["categories"] == ["conditions"]
    assert "SCOPE-NO-BONE-METASTASIS" in unavailable.params["rules"]
    assert "CI-ABS-SYSTEMIC-INFECTION" in unavailable.params["rules"]


# ---- indication -------------------------------------------------------------------------------


def _pain(score: float, days_ago: float = 1) -> tuple:
    return (*normal_labs(), lab(LabKind.PAIN_SCORE, score, NOW - timedelta(days=days_ago)))


ANALGESIC = med("paracetamol", DrugClass.ANALGESIC)


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (10, {"IND-PAIN-UNCONTROLLED"}),
        (4, {"IND-PAIN-UNCONTROLLED"}),
        (3.5, set()),
        (3, {"NONIND-PAIN-CONTROLLED"}),
        (0, {"NONIND-PAIN-CONTROLLED"}),
    ],
)
def test_pain_thresholds(score: float, expected: set[str]) -> None:
    assert fired(facts(labs=_pain(score), medications=(ANALGESIC,))) == ALWAYS | expected


def test_pain_thresholds_follow_policy() -> None:
    policy = Policy(pain_controlled_max=2, pain_uncontrolled_min=6)
    patient = facts(labs=_pain(5), medications=(ANALGESIC,))
    assert fired(patient, policy) == ALWAYS
    assert "pain-assessment" not in checklist(patient)


def test_pain_without_analgesic_or_recent_score_goes_on_the_checklist() -> None:
    no_analgesic = facts(labs=_pain(8))
    assert fired(no_analgesic) == ALWAYS
    assert "pain-assessment" in checklist(no_analgesic)
    stale = facts(labs=_pain(8, days_ago=8), medications=(ANALGESIC,))
    assert fired(stale) == ALWAYS
    assert "pain-assessment" in checklist(stale)
    opioid_only = facts(labs=_pain(8), medications=(med("morphine", DrugClass.OPIOID),))
    assert "IND-PAIN-UNCONTROLLED" in fired(opioid_only)


@pytest.mark.parametrize("concept", ["constipation", "urinary-retention", "confusion"])
def test_opioid_intolerance_from_a_condition(concept: str) -> None:
    opioid = med("oxycodone", DrugClass.OPIOID, DrugClass.ANALGESIC)
    patient = facts(conditions=(*IN_SCOPE, condition(concept)), medications=(opioid,))
    assert "IND-OPIOID-INTOLERANCE" in fired(patient)
    assert "IND-OPIOID-INTOLERANCE" not in fired(facts(conditions=(*IN_SCOPE, condition(concept))))


def test_opioid_intolerance_from_an_allergy() -> None:
    opioid = med("morphine", DrugClass.OPIOID)
    assert "IND-OPIOID-INTOLERANCE" in fired(
        facts(medications=(opioid,), allergies=(allergy("opioid-allergy"),))
    )
    assert "IND-OPIOID-INTOLERANCE" not in fired(facts(medications=(opioid,)))


# ---- contraindications ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("concept", "rule_id"),
    [
        ("systemic-infection", "CI-ABS-SYSTEMIC-INFECTION"),
        ("skin-infection", "CI-ABS-SKIN-INFECTION"),
        ("coagulopathy", "CI-ABS-COAGULOPATHY"),
        ("cement-allergy", "CI-ABS-CEMENT-ALLERGY"),
        ("diffuse-pain", "CI-ABS-DIFFUSE-PAIN"),
        ("asymptomatic-fracture", "CI-ABS-ASYMPTOMATIC-FRACTURE"),
        ("radiculopathy", "CI-REL-RADICULOPATHY"),
        ("epidural-extension", "CI-REL-EPIDURAL"),
        ("posterior-wall", "CI-REL-POSTERIOR-WALL"),
        ("joint-opening", "CI-REL-JOINT-OPENING"),
    ],
)
def test_each_contraindication_fires_from_its_condition(concept: str, rule_id: str) -> None:
    patient = facts(conditions=(*IN_SCOPE, condition(concept)))
    assert fired(patient) == ALWAYS | {rule_id}
    assert finding(patient, rule_id).evidence[0].resource_type == "Condition"


def test_cement_allergy_from_an_allergy_intolerance() -> None:
    patient = facts(allergies=(allergy("cement-allergy"),))
    assert fired(patient) == ALWAYS | {"CI-ABS-CEMENT-ALLERGY"}


def test_undocumented_contraindications_go_on_the_checklist() -> None:
    items = checklist(facts())
    for item in ("diffuse-pain", "asymptomatic-fracture", "posterior-wall", "joint-opening"):
        assert item in items
    documented = facts(conditions=(*IN_SCOPE, condition("posterior-wall")))
    assert "posterior-wall" not in checklist(documented)
    assert {"mdt-decision", "lesion-responsible"} <= set(items)


# ---- bleeding ---------------------------------------------------------------------------------


def _labs(**values) -> tuple:
    base = {"platelets": 250_000.0, "tp": 90.0, "inr": 1.0}
    base.update(values)
    return (
        lab(LabKind.PLATELETS, base["platelets"]),
        lab(LabKind.TP_PERCENT, base["tp"]),
        lab(LabKind.INR, base["inr"]),
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"platelets": 32_000}, {"BLEED-PLATELETS-LOW"}),
        ({"platelets": 50_000}, {"BLEED-PLATELETS-LOW"}),
        ({"platelets": 49_999.9999999}, {"BLEED-PLATELETS-LOW"}),
        ({"platelets": 50_000.0000001}, {"BLEED-PLATELETS-LOW"}),
        ({"platelets": 50_001}, set()),
        ({"tp": 50}, {"BLEED-TP-LOW"}),
        ({"tp": 51}, set()),
        ({"inr": 1.5}, set()),
        ({"inr": 1.51}, {"BLEED-INR-HIGH"}),
        ({"inr": 2.5, "tp": 30}, {"BLEED-INR-HIGH", "BLEED-TP-LOW"}),
    ],
)
def test_lab_thresholds(values: dict, expected: set[str]) -> None:
    assert fired(facts(labs=_labs(**values))) == ALWAYS | expected


@pytest.mark.parametrize(
    ("kind", "comparator", "value", "expected"),
    [
        # A bound that settles the threshold decides; one that does not cannot be compared.
        (LabKind.PLATELETS, "<", 20_000, {"BLEED-PLATELETS-LOW"}),
        (LabKind.PLATELETS, "<=", 50_000, {"BLEED-PLATELETS-LOW"}),
        (LabKind.PLATELETS, ">", 50_000, set()),
        (LabKind.PLATELETS, ">=", 50_001, set()),
        (LabKind.PLATELETS, ">", 30_000, {"BLEED-LAB-UNINTERPRETABLE", "BLEED-LAB-MISSING"}),
        (LabKind.PLATELETS, ">=", 50_000, {"BLEED-LAB-UNINTERPRETABLE", "BLEED-LAB-MISSING"}),
        (LabKind.PLATELETS, "<", 60_000, {"BLEED-LAB-UNINTERPRETABLE", "BLEED-LAB-MISSING"}),
        (LabKind.TP_PERCENT, "<", 10, {"BLEED-TP-LOW"}),
        (LabKind.INR, ">", 5, {"BLEED-INR-HIGH"}),
        (LabKind.INR, ">=", 1.5, {"BLEED-LAB-UNINTERPRETABLE"}),
        (LabKind.INR, "<", 1.2, set()),
    ],
)
def test_a_reported_bound_decides_only_when_it_settles_the_threshold(
    kind: LabKind, comparator: str, value: float, expected: set[str]
) -> None:
    labs = tuple(
        replace(lab(kind, value), comparator=comparator) if item.kind is kind else item
        for item in _labs()
    )
    if kind is LabKind.INR:  # TP stays usable: the coagulation requirement is met by it
        expected = expected - {"BLEED-LAB-MISSING"}
    assert fired(facts(labs=labs)) == ALWAYS | expected


def test_inr_threshold_is_policy() -> None:
    patient = facts(labs=_labs(inr=1.8))
    assert "BLEED-INR-HIGH" in fired(patient)
    assert "BLEED-INR-HIGH" not in fired(patient, Policy(inr_max=1.8))
    assert "BLEED-INR-HIGH" in fired(facts(labs=_labs(inr=1.81)), Policy(inr_max=1.8))


def test_platelet_finding_carries_value_date_and_resource() -> None:
    patient = facts(labs=_labs(platelets=32_000))
    f = finding(patient, "BLEED-PLATELETS-LOW")
    assert f.params["value"] == 32_000
    assert f.params["date"] == (NOW - timedelta(days=1)).date().isoformat()
    assert f.params["reference"].startswith("Observation/")
    assert f.evidence[0].resource_type == "Observation"


def test_latest_result_wins() -> None:
    old_low = lab(LabKind.PLATELETS, 30_000, NOW - timedelta(days=3))
    new_ok = lab(LabKind.PLATELETS, 150_000, NOW - timedelta(days=1))
    labs = (old_low, new_ok, *_labs()[1:])
    assert fired(facts(labs=labs)) == ALWAYS
    old_ok = lab(LabKind.PLATELETS, 150_000, NOW - timedelta(days=3))
    new_low = lab(LabKind.PLATELETS, 30_000, NOW - timedelta(days=1))
    assert "BLEED-PLATELETS-LOW" in fired(facts(labs=(new_low, old_ok, *_labs()[1:])))


def test_stale_result_counts_as_missing() -> None:
    days = POLICY.lab_max_age_days
    stale = lab(LabKind.PLATELETS, 30_000, NOW - timedelta(days=days, seconds=1))
    labs = (stale, *_labs()[1:])
    assert fired(facts(labs=labs)) == ALWAYS | {"BLEED-LAB-MISSING"}
    missing = finding(facts(labs=labs), "BLEED-LAB-MISSING")
    assert missing.params["missing"] == ["platelets"]
    (shown,) = missing.params["unusable"]
    # Shown with its value and date, "older than 7 days", never as "no result".
    assert (shown["reference"], shown["value"], shown["stale"]) == (
        stale.source.reference,
        30_000,
        True,
    )
    edge = lab(LabKind.PLATELETS, 30_000, NOW - timedelta(days=days))
    assert "BLEED-PLATELETS-LOW" in fired(facts(labs=(edge, *_labs()[1:])))


def test_no_labs_at_all_names_every_missing_test() -> None:
    patient = facts(labs=())
    assert fired(patient) == ALWAYS | {"BLEED-LAB-MISSING"}
    assert finding(patient, "BLEED-LAB-MISSING").params["missing"] == ["platelets", "tp", "inr"]


def test_tp_or_inr_is_enough_for_coagulation() -> None:
    platelets, tp, inr = _labs()
    assert fired(facts(labs=(platelets, tp))) == ALWAYS
    assert fired(facts(labs=(platelets, inr))) == ALWAYS
    assert fired(facts(labs=(platelets,))) == ALWAYS | {"BLEED-LAB-MISSING"}


def test_uninterpretable_latest_fires_both_siblings() -> None:
    bad = lab(LabKind.PLATELETS, None, unit="furlongs", problem="unit furlongs not convertible")
    patient = facts(labs=(bad, *_labs()[1:]))
    assert fired(patient) == ALWAYS | {"BLEED-LAB-UNINTERPRETABLE", "BLEED-LAB-MISSING"}
    assert finding(patient, "BLEED-LAB-MISSING").params["missing"] == ["platelets"]
    unusable = finding(patient, "BLEED-LAB-UNINTERPRETABLE").params["results"]
    assert unusable[0]["problem"] == "unit furlongs not convertible"


def test_a_newer_unusable_result_never_hides_an_older_usable_one() -> None:
    """RULES.md v2 "Latest": the older usable result decides, the newer one is reported."""
    older = lab(LabKind.PLATELETS, 30_000, NOW - timedelta(days=3))
    newer = lab(LabKind.PLATELETS, None, NOW - timedelta(days=1), problem="no unit")
    found = {
        f.rule_id: f for f in evaluate_rules(facts(labs=(newer, older, *_labs()[1:])), POLICY, NOW)
    }
    assert set(found) == ALWAYS | {"BLEED-PLATELETS-LOW", "BLEED-LAB-UNINTERPRETABLE"}
    assert found["BLEED-PLATELETS-LOW"].params["reference"] == older.source.reference
    (reported,) = found["BLEED-LAB-UNINTERPRETABLE"].params["results"]
    assert reported["reference"] == newer.source.reference


def test_uninterpretable_tp_with_a_usable_inr() -> None:
    platelets, _, inr = _labs()
    bad_tp = lab(LabKind.TP_PERCENT, None, problem="unit s is not %")
    assert fired(facts(labs=(platelets, bad_tp, inr))) == ALWAYS | {"BLEED-LAB-UNINTERPRETABLE"}


def test_prothrombin_time_in_seconds_only_is_uninterpretable() -> None:
    platelets, _, inr = _labs()
    seconds = lab(LabKind.PT_SECONDS, 13.2, unit="s")
    patient = facts(labs=(platelets, seconds))
    assert fired(patient) == ALWAYS | {"BLEED-LAB-UNINTERPRETABLE", "BLEED-LAB-MISSING"}
    assert finding(patient, "BLEED-LAB-MISSING").params["missing"] == ["tp", "inr"]
    assert fired(facts(labs=(platelets, seconds, inr))) == ALWAYS


def test_unavailable_lab_category_is_not_reported_as_missing() -> None:
    _, tp, inr = _labs()
    patient = facts(labs=(tp, inr), unavailable=frozenset({DataCategory.PLATELETS}))
    assert fired(patient) == ALWAYS | {"DATA-UNAVAILABLE"}
    rules = finding(patient, "DATA-UNAVAILABLE").params["rules"]
    assert {"BLEED-PLATELETS-LOW", "BLEED-LAB-MISSING"} <= set(rules)
    both = facts(labs=(), unavailable=frozenset({DataCategory.COAGULATION}))
    assert finding(both, "BLEED-LAB-MISSING").params["missing"] == ["platelets"]


def test_results_obtained_still_fire_when_their_category_is_partly_unavailable() -> None:
    low = lab(LabKind.PLATELETS, 20_000)
    patient = facts(labs=(low, *_labs()[1:]), unavailable=frozenset({DataCategory.PLATELETS}))
    assert {"BLEED-PLATELETS-LOW", "DATA-UNAVAILABLE"} <= fired(patient)


# ---- procedure, site, infection ---------------------------------------------------------------


def test_site_and_procedure_rules() -> None:
    long_bone = facts(procedures=(procedure(ProcedureKind.OSTEOPLASTY, frozenset({"long-bone"})),))
    assert fired(long_bone) == ALWAYS | {"SITE-LONG-BONE"}
    kypho = facts(procedures=(procedure(ProcedureKind.KYPHOPLASTY),))
    assert fired(kypho) == ALWAYS | {"PROC-KYPHOPLASTY"}
    for kind in (ProcedureKind.RADIOFREQUENCY_ABLATION, ProcedureKind.CRYOABLATION):
        patient = facts(procedures=(procedure(kind),))
        assert fired(patient) == ALWAYS | {"PROC-THERMAL-ABLATION"}
        assert "ablation-neural" in checklist(patient)
    for kind in (ProcedureKind.VERTEBROPLASTY, ProcedureKind.SACROPLASTY):
        assert fired(facts(procedures=(procedure(kind),))) == ALWAYS


def test_site_checklist_items() -> None:
    pelvis = facts(procedures=(procedure(ProcedureKind.OSTEOPLASTY, frozenset({"pelvis"})),))
    assert "iliac-wing" in checklist(pelvis)
    assert "iliac-wing" not in checklist(facts())
    no_site = facts(procedures=(procedure(sites=frozenset()),))
    assert "target-site" in checklist(no_site)
    assert "target-site" not in checklist(facts())
    no_date = facts(procedures=(procedure(day=None),))
    assert "procedure-date" in checklist(no_date)


def test_infection_prophylaxis() -> None:
    assert "INF-PROPHYLAXIS" in fired(facts(conditions=(*IN_SCOPE, condition("immunocompromised"))))
    for drug_class in (DrugClass.IMMUNOSUPPRESSANT, DrugClass.CYTOTOXIC, DrugClass.CORTICOSTEROID):
        assert "INF-PROPHYLAXIS" in fired(facts(medications=(med("x", drug_class),)))
    assert "INF-PROPHYLAXIS" not in fired(facts())


def test_every_catalog_rule_can_fire() -> None:
    """Between them, the scenarios fire every rule of the catalog."""
    from support.scenarios import kitchen_sink

    ids = set()
    for patient, now in kitchen_sink():
        ids |= fired(patient, Policy(unlisted_hold_days={"prasugrel": 7}), now)
    assert ids == set(RULE_IDS)


def test_naive_now_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_rules(facts(), POLICY, NOW.replace(tzinfo=None))


def test_naive_result_dates_are_read_in_the_zone_of_now() -> None:
    naive = lab(LabKind.PLATELETS, 30_000, (NOW - timedelta(days=1)).replace(tzinfo=None))
    assert "BLEED-PLATELETS-LOW" in fired(facts(labs=(naive, *normal_labs()[1:])))
