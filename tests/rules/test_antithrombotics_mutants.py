"""MED-*: answers a mutation run of service/rules/antithrombotics.py showed unpinned (a survivor
each: the DOAC step's drug and record, the 12-month boundary of a coronary syndrome, the conditional
aspirin plan without a procedure date)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from support.rule_facts import IN_SCOPE, NOW, PARIS, condition, facts, med, procedure

from service.cards.render import render_cards
from service.facts.model import MedicationSourceKind
from service.rules.case import case_summary
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DrugClass

UNDATED = (procedure(day=None),)


def med_findings(patient):
    return [f for f in evaluate_rules(patient, Policy(), NOW) if f.rule_id.startswith("MED-")]


@pytest.mark.parametrize("dated", [True, False])
def test_a_doac_step_names_the_drug_and_its_record(dated: bool) -> None:
    xarelto = med("rivaroxaban", DrugClass.DOAC, display="Xarelto 20 mg")
    procedures = (procedure(),) if dated else UNDATED
    (finding,) = med_findings(facts(procedures=procedures, medications=(xarelto,)))
    assert finding.rule_id == "MED-DOAC"
    assert finding.hold is not None
    assert (finding.hold.drug, finding.hold.display) == ("rivaroxaban", "Xarelto 20 mg")
    assert finding.hold.hours_before == 48
    # Procedure on 2026-12-07, date only: read as 00:00, so no dose after 2026-12-05 00:00.
    expected = (date(2026, 12, 4), date(2026, 12, 5)) if dated else (None, None)
    assert (finding.hold.last_dose_on, finding.hold.hold_from) == expected


def test_a_coronary_syndrome_exactly_twelve_months_ago_still_counts() -> None:
    def acs(days_ago: int):
        return replace(condition("acute-coronary-syndrome"), onset=NOW - timedelta(days=days_ago))

    clopidogrel = med("clopidogrel", DrugClass.CLOPIDOGREL)
    for days_ago, fires in ((365, True), (366, False)):
        patient = facts(conditions=(*IN_SCOPE, acs(days_ago)), medications=(clopidogrel,))
        fired = {f.rule_id for f in med_findings(patient)}
        assert ("MED-CARDIAC-RISK" in fired) is fires, days_ago


def test_an_aspirin_of_unknown_dose_without_a_procedure_date_is_still_reported() -> None:
    unknown = med("aspirin", DrugClass.ASPIRIN, kind=MedicationSourceKind.STATEMENT)
    findings = med_findings(facts(procedures=UNDATED, medications=(unknown,)))
    assert [f.rule_id for f in findings] == ["MED-ASPIRIN-DOSE-UNKNOWN"]


def _doac_findings(procedures, now):
    apixaban = med("apixaban", DrugClass.DOAC)
    findings = evaluate_rules(facts(procedures=procedures, medications=(apixaban,)), Policy(), now)
    return {f.rule_id: f for f in findings if f.rule_id.startswith("MED-")}


def test_at_the_doac_hold_instant_itself_the_hold_starts_today_and_is_not_late() -> None:
    start = datetime(2026, 12, 7, 9, 0, tzinfo=PARIS)
    found = _doac_findings((procedure(at=start),), datetime(2026, 12, 5, 9, 0, tzinfo=PARIS))
    assert set(found) == {"MED-DOAC"}
    assert found["MED-DOAC"].hold.starts_today is True
    # Date-only: the hold instant is 2026-12-05 00:00; at that very instant nothing is late yet
    # and the time of the procedure does not matter yet.
    found = _doac_findings((procedure(),), datetime(2026, 12, 5, 0, 0, tzinfo=PARIS))
    assert set(found) == {"MED-DOAC"}
    assert found["MED-DOAC"].hold.starts_today is True


def test_time_unknown_hour_is_48_elapsed_hours_ahead_across_a_daylight_saving_change() -> None:
    paris = ZoneInfo("Europe/Paris")
    # Clocks go forward on 2027-03-28. Date-only procedure on 03-29; now 03-27 09:00 (+01:00):
    # the hold is late only if the procedure is before 03-29 10:00 (+02:00), 48 h from now.
    found = _doac_findings(
        (procedure(day=date(2027, 3, 29)),), datetime(2027, 3, 27, 9, tzinfo=paris)
    )
    assert set(found) == {"MED-DOAC", "MED-HOLD-TIME-UNKNOWN"}
    assert found["MED-HOLD-TIME-UNKNOWN"].params["late_if_before"] == "10:00"


def test_a_vka_step_names_the_drug_and_its_record() -> None:
    coumadine = med("warfarin", DrugClass.VKA, display="Coumadine 5 mg")
    vka = [f for f in med_findings(facts(medications=(coumadine,))) if f.rule_id == "MED-VKA"]
    assert [(f.hold.drug, f.hold.display) for f in vka] == [("warfarin", "Coumadine 5 mg")]


def test_an_aspirin_taken_as_needed_is_said_so_on_the_card() -> None:
    prn = replace(med("aspirin", DrugClass.ASPIRIN, dose=1000, display="Aspirine"), as_needed=True)
    patient = facts(medications=(prn,))
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, Policy(), NOW), case_summary(patient), "en", NOW
        )
    ]
    text = " ".join(f"{c.summary} {c.detail or ''}" for c in cards)
    assert "taken as needed (up to 1000 mg/day)" in text


def test_an_aspirin_dose_unknown_for_no_recorded_reason_says_so() -> None:
    unknown = med("aspirin", DrugClass.ASPIRIN, kind=MedicationSourceKind.STATEMENT)
    patient = facts(medications=(unknown,))
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, Policy(), NOW), case_summary(patient), "en", NOW
        )
    ]
    text = " ".join(f"{c.summary} {c.detail or ''}" for c in cards)
    assert "daily dose not computable from the record (reason not recorded)" in text


def test_an_aspirin_of_unknown_dose_shows_the_plan_if_high_with_both_dates() -> None:
    unknown = med("aspirin", DrugClass.ASPIRIN, kind=MedicationSourceKind.STATEMENT)
    patient = facts(medications=(unknown,))
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, Policy(), NOW), case_summary(patient), "en", NOW
        )
    ]
    text = " ".join(f"{c.summary} {c.detail or ''}" for c in cards)
    # Procedure on 2026-12-07, aspirin stopped 5 days before.
    assert "(last dose 2026-12-01, none from 2026-12-02)" in text


@pytest.mark.parametrize("dated", [True, False])
def test_a_clopidogrel_step_names_the_drug_and_its_record(dated: bool) -> None:
    plavix = med("clopidogrel", DrugClass.CLOPIDOGREL, display="Plavix 75 mg")
    procedures = (procedure(),) if dated else UNDATED
    (finding,) = med_findings(facts(procedures=procedures, medications=(plavix,)))
    assert finding.hold.days_before == 5
    assert (finding.hold.drug, finding.hold.display) == ("clopidogrel", "Plavix 75 mg")


def test_an_antiplatelet_known_by_its_atc_group_only_warns_of_the_cardiac_risk() -> None:
    # A platelet aggregation inhibitor read by its ATC code alone (B01AC24, ticagrelor), held by
    # the local policy: with a coronary stent, stopping it is a cardiac risk.
    ingredient = "atc:B01AC24"
    unnamed = med(ingredient, DrugClass.OTHER_ANTITHROMBOTIC)
    stent = condition("coronary-stent")
    patient = facts(conditions=(*IN_SCOPE, stent), medications=(unnamed,))
    policy = Policy(unlisted_hold_days={ingredient: 5})
    fired = {f.rule_id for f in evaluate_rules(patient, policy, NOW)}
    assert {"MED-ANTITHROMBOTIC-UNLISTED", "MED-CARDIAC-RISK"} <= fired


def test_a_two_ingredient_product_is_named_as_a_combination_on_the_card() -> None:
    # One record holding two antithrombotic ingredients: the card says it is one product, so
    # that the clinician does not look for two orders.
    doac = med("rivaroxaban", DrugClass.DOAC, display="Combination product")
    aspirin = med("aspirin", DrugClass.ASPIRIN, dose=100, display="Combination product")
    patient = facts(medications=(doac, replace(aspirin, source=doac.source)))
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, Policy(), NOW), case_summary(patient), "en", NOW
        )
    ]
    text = " ".join(f"{c.summary} {c.detail or ''}" for c in cards)
    assert "(a combination of rivaroxaban and aspirin in one product)" in text


def _cardiac_dates(*conditions) -> list[str | None]:
    clopidogrel = med("clopidogrel", DrugClass.CLOPIDOGREL)
    patient = facts(conditions=(*IN_SCOPE, *conditions), medications=(clopidogrel,))
    (risk,) = [f for f in med_findings(patient) if f.rule_id == "MED-CARDIAC-RISK"]
    return [record.date for record in risk.params["conditions"]]


def test_the_cardiac_risk_card_dates_a_stent_or_a_syndrome_by_its_onset_first() -> None:
    """The date that matters for the risk of stopping an antiplatelet is when the stent was put
    in or the syndrome happened (onset), not when the record was written; recorded otherwise,
    on the site's day (23:30 UTC is the next day in Paris)."""
    stent = replace(
        condition("coronary-stent"),
        onset=datetime(2026, 3, 2, 10, tzinfo=PARIS),
        recorded=datetime(2026, 9, 10, 10, tzinfo=PARIS),
    )
    assert _cardiac_dates(stent) == ["2026-03-02"]
    recorded_only = replace(
        condition("coronary-stent"), recorded=datetime(2026, 9, 10, 10, tzinfo=PARIS)
    )
    assert _cardiac_dates(recorded_only) == ["2026-09-10"]
    late_evening = replace(
        condition("acute-coronary-syndrome"),
        onset=datetime(2026, 6, 1, 23, 30, tzinfo=ZoneInfo("UTC")),
    )
    assert _cardiac_dates(late_evening) == ["2026-06-02"]
    assert _cardiac_dates(condition("coronary-stent")) == [None]


@pytest.mark.parametrize(
    ("locale", "configured"),
    [
        ("en", "this delay (7 days before) is the local protocol"),
        ("fr", "ce délai (7\u00a0jours avant) relève du protocole local"),
    ],
)
def test_a_configured_delay_for_an_unlisted_antithrombotic_names_its_days(
    locale: str, configured: str
) -> None:
    patient = facts(medications=(med("prasugrel", DrugClass.OTHER_ANTITHROMBOTIC),))
    findings = evaluate_rules(patient, Policy(unlisted_hold_days={"prasugrel": 7}), NOW)
    (unlisted,) = [f for f in findings if f.rule_id == "MED-ANTITHROMBOTIC-UNLISTED"]
    assert unlisted.params["configured_days"] == 7
    text = " ".join(
        f"{r.card.summary} {r.card.detail or ''}"
        for r in render_cards(findings, case_summary(patient), locale, NOW)
    )
    assert configured in text


def test_what_a_high_total_leaves_of_aspirin_keeps_its_half_milligram() -> None:
    """500 mg/day held, a half tablet of 75 mg left: 37.5 mg/day, not rounded to 38."""
    high = med("aspirin", DrugClass.ASPIRIN, dose=500, display="Aspégic 500")
    half = med("aspirin", DrugClass.ASPIRIN, dose=37.5, display="Kardégic 75 (½)")
    findings = med_findings(facts(medications=(high, half)))
    remaining = {f.params["display"]: f.params["remaining_mg"] for f in findings}
    assert remaining == {"Aspégic 500": 37.5, "Kardégic 75 (½)": 37.5}


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        ("en", "Ask the cardiologist before stopping clopidogrel and prasugrel.**"),
        (
            "fr",
            "avant d'interrompre le traitement antiagrégant plaquettaire"
            " (clopidogrel et prasugrel).**",
        ),
    ],
)
def test_the_cardiac_risk_card_names_each_antiplatelet_held_once(
    locale: str, sentence: str
) -> None:
    plavix = med("clopidogrel", DrugClass.CLOPIDOGREL, display="Plavix 75 mg")
    generic = med("clopidogrel", DrugClass.CLOPIDOGREL, kind=MedicationSourceKind.STATEMENT)
    prasugrel = med("prasugrel", DrugClass.OTHER_ANTITHROMBOTIC)
    stent = condition("coronary-stent", display="Coronary stent")
    patient = facts(conditions=(*IN_SCOPE, stent), medications=(plavix, generic, prasugrel))
    findings = evaluate_rules(patient, Policy(unlisted_hold_days={"prasugrel": 7}), NOW)
    (risk,) = [f for f in findings if f.rule_id == "MED-CARDIAC-RISK"]
    assert list(risk.params["drugs"]) == ["clopidogrel", "prasugrel"]
    text = " ".join(
        f"{r.card.summary} {r.card.detail or ''}"
        for r in render_cards(findings, case_summary(patient), locale, NOW)
    )
    assert sentence in text
