"""What the contraindication cards show of the records they fire from: the allergy's and the
condition's name, resource, recorded day and quoted text; whether a text names another site
than the orders' targets; the fever as rounded on the card. A mutation run of
service/rules/contraindications.py and availability.py left these unpinned."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from support.rule_facts import NOW, allergy, condition, facts, lab, normal_labs, procedure

from service.rules.availability import RULE_ID, with_fetch_gaps
from service.rules.common import fire
from service.rules.contraindications import (
    allergy_details,
    coagulation_labs,
    documented_record,
    names_other_site,
)
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DataCategory, LabKind, ProcedureKind

RECORDED = datetime(2026, 11, 2, 9, 0, tzinfo=NOW.tzinfo)


def test_a_text_naming_any_of_the_targets_is_not_another_site() -> None:
    t12 = replace(procedure(ProcedureKind.VERTEBROPLASTY), body_site_display="T12")
    l1 = replace(procedure(ProcedureKind.VERTEBROPLASTY), body_site_display="L1")
    assert names_other_site("Tassement T12", frozenset({"spine"}), (t12, l1)) is False
    assert names_other_site("Tassement L1", frozenset({"spine"}), (t12, l1)) is False
    assert names_other_site("Tassement L4", frozenset({"spine"}), (t12, l1)) is True


def test_a_documented_condition_shows_its_name_resource_day_and_text() -> None:
    spondylitis = replace(
        condition("systemic-infection", display="Spondylodiscite"),
        recorded=RECORDED,
        matched_text="Spondylodiscite L4",
    )
    target = replace(procedure(ProcedureKind.VERTEBROPLASTY), body_site_display="T12")
    shown = documented_record(spondylitis, facts(procedures=(target,)), NOW)
    assert (shown.display, shown.reference, shown.date) == (
        "Spondylodiscite",
        spondylitis.source.reference,
        "2026-11-02",
    )
    assert (shown.text, shown.other_site) == ("Spondylodiscite L4", True)


def test_a_cement_allergy_shows_each_record_with_its_day_and_text() -> None:
    pmma = replace(allergy("cement-allergy"), recorded=RECORDED, matched_text="Allergie PMMA")
    gentamicin = replace(allergy("cement-antibiotic-allergy"), recorded=RECORDED)
    shown = allergy_details(pmma, NOW)
    assert (shown.reference, shown.date, shown.text) == (
        pmma.source.reference,
        "2026-11-02",
        "Allergie PMMA",
    )
    written = replace(
        condition("cement-allergy", display="Allergie aux acrylates"),
        recorded=RECORDED,
        matched_text="Allergie aux acrylates",  # fired from its text: quoted on the card
    )
    patient = facts(conditions=(*facts().conditions, written), allergies=(pmma, gentamicin))
    (finding,) = [
        f for f in evaluate_rules(patient, Policy(), NOW) if f.rule_id == "CI-ABS-CEMENT-ALLERGY"
    ]
    records = finding.params["records"]
    assert [r.reference for r in records] == [
        pmma.source.reference,
        gentamicin.source.reference,
        written.source.reference,
    ]
    assert [r.date for r in records] == ["2026-11-02"] * 3
    assert records[1].antibiotic is True
    assert (records[2].text, records[2].other_site) == ("Allergie aux acrylates", False)


def test_a_fever_is_shown_to_a_tenth_of_a_degree() -> None:
    fever = lab(LabKind.TEMPERATURE, 38.66, NOW - timedelta(hours=3), unit="Cel")
    (finding,) = [
        f
        for f in evaluate_rules(facts(labs=(*normal_labs(), fever)), Policy(), NOW)
        if f.rule_id == "CI-ABS-INFECTION-SUSPECTED"
    ]
    assert [t.celsius for t in finding.params["temperatures"]] == [38.7]


def test_a_suspected_infection_record_shows_its_day() -> None:
    suspected = replace(
        condition("suspected:systemic-infection", display="Sepsis?"), recorded=RECORDED
    )
    patient = facts(conditions=(*facts().conditions, suspected))
    (finding,) = [
        f
        for f in evaluate_rules(patient, Policy(), NOW)
        if f.rule_id == "CI-ABS-INFECTION-SUSPECTED"
    ]
    (record,) = finding.params["records"]
    assert (record.display, record.date, record.suspected) == ("Sepsis?", "2026-11-02", True)


def test_a_category_is_partial_only_when_each_of_its_keys_is() -> None:
    unavailable = fire(
        RULE_ID,
        {
            "categories": ["platelets", "coagulation"],
            "rules": [],
            "unreadable": {},
            "nothing_obtained": False,
        },
        [],
    )
    gaps = {
        DataCategory.PLATELETS: [("deadline", True)],
        DataCategory.COAGULATION: [("deadline", True), ("http-error", False)],
        DataCategory.PAIN: [],
    }
    (told,) = with_fetch_gaps([unavailable], gaps)
    assert told.params["partial"] == ["platelets"]


def test_a_coagulation_disorder_shows_a_result_older_than_the_window_too() -> None:
    # RULES.md CI-ABS-COAGULOPATHY: the latest platelet count, TP and INR are shown beside it;
    # one older than the window is still the latest the record holds.
    old_count = lab(LabKind.PLATELETS, 90_000, NOW - timedelta(days=20), unit="10*3/uL")
    tp = lab(LabKind.TP_PERCENT, 80, unit="%")
    assert coagulation_labs(facts(labs=(old_count, tp)), Policy(), NOW) == [old_count, tp]
