"""The checks the record passes, shown with the value and date they passed on (RULES.md: "a
pass is shown as a pass"). A mutation run of service/rules/checklist.py found the INR and
temperature passes unpinned: a mutant could drop the result shown, the INR limit, the
temperature, or count 38.0 °C as no fever, and no test noticed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.rule_facts import IN_SCOPE, NOW, allergy, condition, facts, lab, procedure

from service.rules.checklist import checklist_items, passed_checks
from service.rules.params import PassedCheck
from service.rules.policy import Policy
from service.vocabulary import DataCategory, LabKind, ProcedureKind


def passed(*labs, policy: Policy | None = None) -> dict[str, PassedCheck]:
    return {p.check: p for p in passed_checks(facts(labs=labs), policy or Policy(), NOW)}


def test_an_inr_within_the_limit_passes_with_its_result_and_the_limit() -> None:
    policy = Policy(inr_max=1.5)
    check = passed(lab(LabKind.INR, 1.2), policy=policy)["inr"]
    assert check.threshold == 1.5
    assert check.lab is not None and check.lab.value == 1.2
    assert "inr" not in passed(lab(LabKind.INR, 1.6), policy=policy)


@pytest.mark.parametrize(("value", "passes"), [(1.5, True), (1.51, False)])
def test_an_inr_at_the_limit_passes_just_above_it_does_not(value: float, passes: bool) -> None:
    # BLEED-INR-HIGH fires above inr_max (RULES.md: "> inr_max"): the limit itself is a pass.
    assert ("inr" in passed(lab(LabKind.INR, value), policy=Policy(inr_max=1.5))) is passes


def test_a_temperature_below_fever_in_the_last_48_hours_passes_with_its_value() -> None:
    check = passed(lab(LabKind.TEMPERATURE, 37.2, NOW - timedelta(hours=3), unit="Cel"))[
        "temperature"
    ]
    assert check.celsius == 37.2
    assert check.lab is not None and check.lab.value == 37.2


@pytest.mark.parametrize(
    ("value", "hours_ago", "passes"),
    [
        (38.0, 3, False),  # 38.0 °C is a fever (>= 38.0), never a pass
        (37.9, 3, True),
        (37.2, 48, True),  # the window's first instant is in it
        (37.2, 49, False),
    ],
)
def test_the_temperature_pass_ends_at_fever_and_at_48_hours(
    value: float, hours_ago: int, passes: bool
) -> None:
    temperature = lab(LabKind.TEMPERATURE, value, NOW - timedelta(hours=hours_ago), unit="Cel")
    assert ("temperature" in passed(temperature)) is passes


@pytest.mark.parametrize(
    ("unavailable", "passes"),
    [
        (frozenset(), True),
        (frozenset({DataCategory.CONDITIONS}), False),
        (frozenset({DataCategory.ALLERGIES}), False),
    ],
    ids=["both-read", "conditions-unread", "allergies-unread"],
)
def test_no_contraindication_is_a_pass_only_when_conditions_and_allergies_were_read(
    unavailable: frozenset[DataCategory], passes: bool
) -> None:
    # "Nothing found" in a record that could not be read is no pass: it would hide a sepsis.
    checks = passed_checks(facts(unavailable=unavailable), Policy(), NOW)
    assert ("conditions" in {c.check for c in checks}) is passes


@pytest.mark.parametrize(
    ("allergy_concept", "passes"),
    [("cement-allergy", False), ("cement-antibiotic-allergy", False), ("penicillin", True)],
)
def test_a_cement_allergy_is_no_pass_another_allergy_is(allergy_concept: str, passes: bool) -> None:
    patient = facts(allergies=(allergy(allergy_concept),))
    checks = {c.check: c for c in passed_checks(patient, Policy(), NOW)}
    assert ("conditions" in checks) is passes
    if passes:  # the summary says how many records were read: an empty record shows
        assert (checks["conditions"].conditions, checks["conditions"].allergies) == (2, 1)


def test_a_documented_item_leaves_the_later_undocumented_ones_on_the_checklist() -> None:
    documented = condition("diffuse-pain")  # the first "when documented" item
    items = checklist_items(facts(conditions=(*IN_SCOPE, documented)), Policy(), NOW)
    assert "diffuse-pain" not in items
    assert {"asymptomatic-fracture", "posterior-wall", "joint-opening"} <= set(items)


@pytest.mark.parametrize(
    ("kind", "sites", "vertebral"),
    [
        (ProcedureKind.OSTEOPLASTY, frozenset({"spine"}), True),  # its site says vertebra
        (ProcedureKind.KYPHOPLASTY, frozenset({"pelvis"}), True),  # its kind does
        (ProcedureKind.OSTEOPLASTY, frozenset({"long-bone"}), False),
    ],
)
def test_the_vertebral_items_follow_the_site_or_the_kind(kind, sites, vertebral: bool) -> None:
    items = checklist_items(facts(procedures=(procedure(kind, sites),)), Policy(), NOW)
    assert ("posterior-wall" in items) is vertebral
