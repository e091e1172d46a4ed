"""MED-*: drug classes, aspirin dose, and the dated hold plan (procedure on 2026-12-07)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from support.rule_facts import IN_SCOPE, NOW, PARIS, condition, facts, med, procedure

from service.facts.model import MedicationSourceKind
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DrugClass

POLICY = Policy()
D = date(2026, 12, 7)


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=PARIS)


def med_findings(patient, now=NOW, policy=POLICY):
    return [f for f in evaluate_rules(patient, policy, now) if f.rule_id.startswith("MED-")]


def ids(patient, now=NOW, policy=POLICY) -> list[str]:
    return sorted(f.rule_id for f in med_findings(patient, now, policy))


CLOPIDOGREL = med("clopidogrel", DrugClass.CLOPIDOGREL)


def test_clopidogrel_dates() -> None:
    (finding,) = med_findings(facts(medications=(CLOPIDOGREL,)))
    assert finding.rule_id == "MED-CLOPIDOGREL"
    assert finding.hold is not None
    assert finding.hold.last_dose_on == date(2026, 12, 1)
    assert finding.hold.hold_from == date(2026, 12, 2)
    assert finding.hold.days_before == 5
    assert not finding.hold.starts_today


@pytest.mark.parametrize(
    ("today", "too_late", "starts_today"),
    [
        ("2026-12-01", False, False),
        ("2026-12-02", False, True),
        ("2026-12-03", True, False),
        ("2026-12-08", True, False),
    ],
)
def test_clopidogrel_hold_start_past_today_future(
    today: str, too_late: bool, starts_today: bool
) -> None:
    patient = facts(medications=(CLOPIDOGREL,))
    for hour in (0, 23):
        findings = med_findings(patient, at(today, hour, 30))
        assert ("MED-HOLD-TOO-LATE" in {f.rule_id for f in findings}) is too_late
        plan = next(f for f in findings if f.rule_id == "MED-CLOPIDOGREL")
        assert plan.hold is not None and plan.hold.starts_today is starts_today


def test_today_is_taken_in_the_time_zone_of_now() -> None:
    patient = facts(medications=(CLOPIDOGREL,))
    # 2026-12-02 23:30 UTC is already 2026-12-03 in Paris, but "now" is given in UTC here.
    utc_now = datetime.fromisoformat("2026-12-02T23:30:00+00:00")
    assert "MED-HOLD-TOO-LATE" not in ids(patient, utc_now)
    assert "MED-HOLD-TOO-LATE" in ids(patient, utc_now.astimezone(PARIS))


def test_lmwh_stopped_the_day_before_safer_reading() -> None:
    (finding,) = med_findings(facts(medications=(med("enoxaparin", DrugClass.LMWH),)))
    assert finding.rule_id == "MED-LMWH"
    assert finding.hold.hold_from == date(2026, 12, 6)  # no injection on D-1
    assert finding.hold.last_dose_on == date(2026, 12, 5)
    assert "MED-HOLD-TOO-LATE" in ids(
        facts(medications=(med("enoxaparin", DrugClass.LMWH),)), at("2026-12-07", 8)
    )
    assert "MED-HOLD-TOO-LATE" not in ids(
        facts(medications=(med("enoxaparin", DrugClass.LMWH),)), at("2026-12-06", 8)
    )


def test_doac_48_hours_before_a_timed_procedure() -> None:
    when = at("2026-12-07", 9)
    patient = facts(
        procedures=(procedure(day=D, at=when),), medications=(med("apixaban", DrugClass.DOAC),)
    )
    (finding,) = med_findings(patient)
    assert finding.hold.hold_from_at == at("2026-12-05", 9)
    assert finding.hold.hours_before == 48
    assert finding.hold.last_dose_on == date(2026, 12, 5)
    on_day = med_findings(patient, at("2026-12-05", 8, 59))
    assert [f.rule_id for f in on_day] == ["MED-DOAC"]
    assert on_day[0].hold.starts_today
    assert "MED-HOLD-TOO-LATE" in ids(patient, at("2026-12-05", 9, 1))
    assert "MED-HOLD-TOO-LATE" not in ids(patient, at("2026-12-05", 9, 0))


def test_doac_date_only_assumes_midnight_the_earliest_hold() -> None:
    patient = facts(medications=(med("rivaroxaban", DrugClass.DOAC),))
    (finding,) = med_findings(patient)
    assert finding.hold.hold_from_at == datetime(2026, 12, 5, 0, 0, tzinfo=PARIS)
    assert finding.hold.last_dose_on == date(2026, 12, 4)
    assert finding.params["time_assumed"] is True
    assert ids(patient, at("2026-12-04", 23, 59)) == ["MED-DOAC"]


@pytest.mark.parametrize(
    ("now", "expected", "late_if_before"),
    [
        # D-2 after 00:00: past only if the procedure is before now's time on D.
        (("2026-12-05", 0, 1), "MED-HOLD-TIME-UNKNOWN", "00:01"),
        (("2026-12-05", 9, 0), "MED-HOLD-TIME-UNKNOWN", "09:00"),
        (("2026-12-05", 23, 59), "MED-HOLD-TIME-UNKNOWN", "23:59"),
        # From D-1 every time on D makes the hold start past: certainly too late.
        (("2026-12-06", 0, 0), "MED-HOLD-TOO-LATE", None),
        (("2026-12-07", 8, 0), "MED-HOLD-TOO-LATE", None),
    ],
)
def test_doac_date_only_late_only_under_the_midnight_assumption(
    now: tuple[str, int, int], expected: str, late_if_before: str | None
) -> None:
    patient = facts(medications=(med("apixaban", DrugClass.DOAC),))
    findings = med_findings(patient, at(*now))
    assert sorted(f.rule_id for f in findings) == sorted(["MED-DOAC", expected])
    (extra,) = [f for f in findings if f.rule_id == expected]
    assert extra.params.get("late_if_before") == late_if_before


def test_doac_timed_procedure_is_never_time_unknown() -> None:
    when = at("2026-12-07", 9)
    patient = facts(
        procedures=(procedure(day=D, at=when),), medications=(med("apixaban", DrugClass.DOAC),)
    )
    assert ids(patient, at("2026-12-05", 8)) == ["MED-DOAC"]
    assert ids(patient, at("2026-12-05", 10)) == ["MED-DOAC", "MED-HOLD-TOO-LATE"]


@pytest.mark.parametrize(
    ("now", "starts_today"),
    [
        (("2026-12-05", 8, 59), True),  # the hold day, before the hold instant
        (("2026-12-04", 8, 59), False),  # before the instant but not the hold day ("or" fails)
        (("2026-12-04", 12, 0), False),
        (("2026-12-05", 9, 1), False),  # the hold day, after the instant: too late instead
    ],
)
def test_doac_hold_starts_today_needs_the_day_and_the_instant_ahead(
    now: tuple[str, int, int], starts_today: bool
) -> None:
    patient = facts(
        procedures=(procedure(day=D, at=at("2026-12-07", 9)),),
        medications=(med("apixaban", DrugClass.DOAC),),
    )
    plan = next(f for f in med_findings(patient, at(*now)) if f.rule_id == "MED-DOAC")
    assert plan.hold.starts_today is starts_today


def test_edoxaban_is_a_doac_not_named_in_the_guideline() -> None:
    (finding,) = med_findings(facts(medications=(med("edoxaban", DrugClass.DOAC),)))
    assert finding.rule_id == "MED-DOAC" and finding.hold.hours_before == 48
    assert finding.params["not_in_guideline"] is True
    assert finding.params["renal_caveat"] is False
    (dabigatran,) = med_findings(facts(medications=(med("dabigatran", DrugClass.DOAC),)))
    assert dabigatran.params["renal_caveat"] is True
    assert dabigatran.params["not_in_guideline"] is False


def test_vka_usual_interruption_and_inr_day_without_a_hold_of_our_own() -> None:
    patient = facts(medications=(med("warfarin", DrugClass.VKA),))
    (finding,) = med_findings(patient)
    assert finding.rule_id == "MED-VKA"
    assert finding.hold is not None
    assert finding.hold.hold_from is None and finding.hold.days_before is None
    assert finding.params["vka_stop_days"] == 5
    assert finding.params["vka_hold_from"] == "2026-12-02"
    assert finding.params["vka_last_dose_on"] == "2026-12-01"
    assert finding.params["inr_day"] == "2026-12-06"
    assert finding.params["lmwh_hold_from"] == "2026-12-06"
    assert finding.params["lmwh_last_dose_on"] == "2026-12-05"


@pytest.mark.parametrize(
    ("today", "stop_days", "too_late"),
    [
        ("2026-12-02", 5, False),  # D-5: the usual interruption starts today
        ("2026-12-03", 5, True),  # fewer than 5 days remain
        ("2026-12-05", 5, True),  # warfarin still active 2 days before
        ("2026-12-04", 3, False),
        ("2026-12-05", 3, True),
    ],
)
def test_vka_too_late(today: str, stop_days: int, too_late: bool) -> None:
    patient = facts(medications=(med("warfarin", DrugClass.VKA),))
    found = ids(patient, at(today), Policy(vka_stop_days=stop_days))
    assert found == (["MED-VKA", "MED-VKA-TOO-LATE"] if too_late else ["MED-VKA"])


def test_vka_never_too_late_without_a_procedure_date() -> None:
    patient = facts(
        procedures=(procedure(day=None),), medications=(med("warfarin", DrugClass.VKA),)
    )
    assert ids(patient, at("2026-12-06")) == ["MED-VKA"]


@pytest.mark.parametrize(
    ("dose", "rule_id"),
    [
        (75, "MED-ASPIRIN-LOW-DOSE"),
        (159.9, "MED-ASPIRIN-LOW-DOSE"),
        (160, "MED-ASPIRIN-HIGH-DOSE"),
        (200, "MED-ASPIRIN-HIGH-DOSE"),
        (500, "MED-ASPIRIN-HIGH-DOSE"),
        (None, "MED-ASPIRIN-DOSE-UNKNOWN"),
    ],
)
def test_aspirin_dose(dose: float | None, rule_id: str) -> None:
    aspirin = med("aspirin", DrugClass.ASPIRIN, dose=dose)
    (finding,) = med_findings(facts(medications=(aspirin,)))
    assert finding.rule_id == rule_id
    if rule_id == "MED-ASPIRIN-HIGH-DOSE":
        assert finding.hold.hold_from == date(2026, 12, 2)
        assert finding.hold.last_dose_on == date(2026, 12, 1)
    else:
        assert finding.hold is None


def test_aspirin_unknown_dose_is_never_assumed_low() -> None:
    known_low = med("aspirin", DrugClass.ASPIRIN, dose=75)
    unknown = med("aspirin", DrugClass.ASPIRIN, kind=MedicationSourceKind.STATEMENT)
    findings = med_findings(facts(medications=(known_low, unknown)))
    # The total cannot be judged: neither record is called low dose.
    assert [f.rule_id for f in findings] == ["MED-ASPIRIN-DOSE-UNKNOWN"] * 2
    by_record = {f.params["record"]: f for f in findings}
    assert by_record[unknown.source.reference].params["if_high_dose"]["hold_from"] == "2026-12-02"
    assert by_record[known_low.source.reference].params["total_unknown"] is True
    high = med("aspirin", DrugClass.ASPIRIN, dose=300)
    assert ids(facts(medications=(high, unknown))) == [
        "MED-ASPIRIN-DOSE-UNKNOWN",
        "MED-ASPIRIN-HIGH-DOSE",
    ]
    # The conditional plan never fires MED-HOLD-TOO-LATE: the dose is not known to be high.
    assert ids(facts(medications=(unknown,)), at("2026-12-05")) == ["MED-ASPIRIN-DOSE-UNKNOWN"]


def aspirin_record(dose: float | None, **kw) -> object:
    return med("aspirin", DrugClass.ASPIRIN, dose=dose, **kw)


def test_aspirin_daily_total_holds_the_high_record_and_keeps_the_low_one() -> None:
    kardegic = aspirin_record(75, display="Kardégic 75 mg")
    aspegic = aspirin_record(3000, display="Aspégic 1 g", kind=MedicationSourceKind.STATEMENT)
    findings = med_findings(facts(medications=(kardegic, aspegic)))
    assert [f.rule_id for f in findings] == ["MED-ASPIRIN-HIGH-DOSE"] * 2
    by_record = {f.params["record"]: f for f in findings}
    held = by_record[aspegic.source.reference]
    kept = by_record[kardegic.source.reference]
    assert held.hold is not None and held.hold.hold_from == date(2026, 12, 2)
    assert kept.hold is None and kept.params["continued"] is True
    assert kept.params["remaining_mg"] == 75 and kept.params["total_mg"] == 3075
    assert all(len(f.evidence) == 1 for f in findings)


@pytest.mark.parametrize(
    ("doses", "rules", "held"),
    [
        ((75, 75), ["MED-ASPIRIN-LOW-DOSE"] * 2, []),
        ((100, 59.9), ["MED-ASPIRIN-LOW-DOSE"] * 2, []),
        ((100, 100), ["MED-ASPIRIN-HIGH-DOSE"] * 2, [0, 1]),  # low records adding up to 200
        ((80, 80), ["MED-ASPIRIN-HIGH-DOSE"] * 2, [0, 1]),  # exactly 160 in total
        ((160, 75), ["MED-ASPIRIN-HIGH-DOSE"] * 2, [0]),
    ],
)
def test_aspirin_records_held_per_record(doses, rules, held) -> None:
    records = [aspirin_record(dose) for dose in doses]
    findings = med_findings(facts(medications=tuple(records)))
    assert [f.rule_id for f in findings] == rules
    by_record = {f.params["record"]: f for f in findings}
    held_refs = {records[i].source.reference for i in held}
    for record in records:
        finding = by_record[record.source.reference]
        assert (finding.hold is not None) is (record.source.reference in held_refs)


def test_a_low_record_is_not_shown_continued_beside_an_unknown_dose() -> None:
    low, high, unknown = aspirin_record(75), aspirin_record(500), aspirin_record(None)
    by_record = {
        f.params["record"]: f for f in med_findings(facts(medications=(low, high, unknown)))
    }
    assert by_record[high.source.reference].rule_id == "MED-ASPIRIN-HIGH-DOSE"
    assert by_record[high.source.reference].hold is not None
    for record in (low, unknown):
        finding = by_record[record.source.reference]
        assert finding.rule_id == "MED-ASPIRIN-DOSE-UNKNOWN" and finding.hold is None
        assert not finding.params["continued"]


def test_aspirin_at_exactly_160_is_flagged_as_the_limit() -> None:
    (single,) = med_findings(facts(medications=(aspirin_record(160),)))
    assert single.rule_id == "MED-ASPIRIN-HIGH-DOSE" and single.params["at_limit"] is True
    (above,) = med_findings(facts(medications=(aspirin_record(160.5),)))
    assert above.params["at_limit"] is False


def test_aspirin_taken_as_needed_is_held_even_when_another_is_low() -> None:
    daily = aspirin_record(75)
    prn = replace(aspirin_record(500), as_needed=True)
    by_record = {f.params["record"]: f for f in med_findings(facts(medications=(daily, prn)))}
    assert by_record[prn.source.reference].hold is not None
    assert by_record[daily.source.reference].hold is None


def test_clopidogrel_aspirin_combination_is_one_line_replaced_not_half_stopped() -> None:
    source = CLOPIDOGREL.source
    clopidogrel = replace(CLOPIDOGREL, display="DuoPlavin 75 mg/75 mg")
    aspirin = replace(
        aspirin_record(None, display="DuoPlavin 75 mg/75 mg"),
        source=source,
        dose_problem="combination product",
    )
    kardegic = aspirin_record(75)
    findings = med_findings(facts(medications=(clopidogrel, aspirin, kardegic)))
    assert sorted(f.rule_id for f in findings) == ["MED-ASPIRIN-LOW-DOSE", "MED-CLOPIDOGREL"]
    combination = next(f for f in findings if f.rule_id == "MED-CLOPIDOGREL")
    assert combination.params["combination"] is True
    assert combination.params["ingredients"] == ["clopidogrel", "aspirin"]
    assert combination.hold.hold_from == date(2026, 12, 2)
    assert combination.evidence == (source,)


def test_high_dose_aspirin_too_late() -> None:
    aspirin = med("aspirin", DrugClass.ASPIRIN, dose=500)
    assert ids(facts(medications=(aspirin,)), at("2026-12-03")) == [
        "MED-ASPIRIN-HIGH-DOSE",
        "MED-HOLD-TOO-LATE",
    ]


def test_unlisted_antithrombotic_delay_only_from_policy() -> None:
    prasugrel = med("prasugrel", DrugClass.OTHER_ANTITHROMBOTIC)
    patient = facts(medications=(prasugrel,))
    (finding,) = med_findings(patient, at("2026-12-06"))
    assert finding.rule_id == "MED-ANTITHROMBOTIC-UNLISTED"
    assert finding.hold is None and finding.params["configured_days"] is None
    policy = Policy(unlisted_hold_days={"prasugrel": 7})
    (configured,) = med_findings(patient, NOW, policy)
    assert configured.hold.hold_from == date(2026, 11, 30)
    assert configured.hold.last_dose_on == date(2026, 11, 29)
    assert ids(patient, at("2026-12-01"), policy) == [
        "MED-ANTITHROMBOTIC-UNLISTED",
        "MED-HOLD-TOO-LATE",
    ]


def test_without_a_procedure_date_the_plan_is_d_minus_n() -> None:
    patient = facts(
        procedures=(procedure(day=None),),
        medications=(
            CLOPIDOGREL,
            med("apixaban", DrugClass.DOAC),
            med("enoxaparin", DrugClass.LMWH),
        ),
    )
    findings = med_findings(patient, NOW + timedelta(days=365))
    assert sorted(f.rule_id for f in findings) == ["MED-CLOPIDOGREL", "MED-DOAC", "MED-LMWH"]
    by_rule = {f.rule_id: f.hold for f in findings}
    assert by_rule["MED-CLOPIDOGREL"].days_before == 5
    assert by_rule["MED-CLOPIDOGREL"].hold_from is None
    assert by_rule["MED-LMWH"].days_before == 1
    assert by_rule["MED-DOAC"].hours_before == 48
    assert by_rule["MED-DOAC"].hold_from_at is None


def test_earliest_procedure_date_is_used() -> None:
    patient = facts(
        procedures=(procedure(day=date(2026, 12, 20)), procedure(day=D)),
        medications=(CLOPIDOGREL,),
    )
    (finding,) = med_findings(patient)
    assert finding.hold.hold_from == date(2026, 12, 2)


def test_one_finding_per_record_never_per_ingredient() -> None:
    statement = med("clopidogrel", DrugClass.CLOPIDOGREL, kind=MedicationSourceKind.STATEMENT)
    findings = med_findings(facts(medications=(CLOPIDOGREL, statement)))
    assert [f.rule_id for f in findings] == ["MED-CLOPIDOGREL"] * 2
    assert sorted(f.params["record"] for f in findings) == sorted(
        [CLOPIDOGREL.source.reference, statement.source.reference]
    )
    for finding in findings:
        assert len(finding.evidence) == 1
        assert finding.evidence[0].reference == finding.params["record"]


def test_the_procedure_day_is_the_site_day_of_an_instant_with_another_offset() -> None:
    # 2026-12-06 23:30 at UTC-05:00 is 2026-12-07 05:30 in Paris: D is 12-07, not 12-06.
    new_york = timezone(timedelta(hours=-5))
    late_evening = datetime(2026, 12, 6, 23, 30, tzinfo=new_york)
    patient = facts(
        procedures=(procedure(day=date(2026, 12, 6), at=late_evening),),
        medications=(CLOPIDOGREL,),
    )
    (finding,) = med_findings(patient)
    assert finding.hold.hold_from == date(2026, 12, 2)
    assert finding.params["procedure"]["day"] == "2026-12-07"
    assert finding.params["procedure"]["start"] == "2026-12-07T05:30:00+01:00"


def test_the_earliest_order_sets_the_one_procedure() -> None:
    date_only = procedure(day=date(2026, 12, 5))
    timed = procedure(day=date(2026, 12, 7), at=at("2026-12-07", 10))
    patient = facts(procedures=(timed, date_only), medications=(CLOPIDOGREL,))
    (finding,) = med_findings(patient)
    assert finding.hold.hold_from == date(2026, 11, 30)
    assert finding.params["procedure"]["reference"] == date_only.source.reference
    assert finding.params["procedure"]["several"] is True
    assert finding.params["procedure"]["time_given"] is False
    # Same day: the date-only order is read at 00:00, before the timed one (earliest hold).
    same_day = procedure(day=date(2026, 12, 7))
    patient = facts(procedures=(timed, same_day), medications=(med("apixaban", DrugClass.DOAC),))
    (doac,) = med_findings(patient)
    assert doac.params["procedure"]["reference"] == same_day.source.reference
    assert doac.hold.hold_from_at == datetime(2026, 12, 5, 0, 0, tzinfo=PARIS)


def test_an_undated_order_beside_a_dated_one_is_counted() -> None:
    patient = facts(procedures=(procedure(day=None), procedure()), medications=(CLOPIDOGREL,))
    (finding,) = med_findings(patient)
    assert finding.params["procedure"]["undated_orders"] == 1
    assert finding.hold.hold_from == date(2026, 12, 2)
    # Each undated order counts once ("2 orders without a date"), by its reference.
    two = facts(
        procedures=(procedure(day=None), procedure(day=None), procedure()),
        medications=(CLOPIDOGREL,),
    )
    (finding,) = med_findings(two)
    assert finding.params["procedure"]["undated_orders"] == 2


def test_non_antithrombotics_fire_no_med_rule() -> None:
    assert ids(facts(medications=(med("morphine", DrugClass.OPIOID),))) == []


# ---- MED-CARDIAC-RISK ---------------------------------------------------------------------


def cardiac(concept: str, days_ago: int | None, field: str = "onset"):
    found = condition(concept, display=concept)
    if days_ago is None:
        return found
    return replace(found, **{field: NOW - timedelta(days=days_ago)})


@pytest.mark.parametrize(
    ("documented", "fires"),
    [
        (cardiac("coronary-stent", None), True),  # a stent: whatever its date
        (cardiac("coronary-stent", 3000, "recorded"), True),
        (cardiac("acute-coronary-syndrome", 100), True),
        (cardiac("acute-coronary-syndrome", 364, "recorded"), True),
        (cardiac("acute-coronary-syndrome", None), True),  # undated: the safer reading
        (cardiac("acute-coronary-syndrome", 400), False),  # older than 12 months
        (cardiac("acute-coronary-syndrome", 400, "recorded"), False),
    ],
)
def test_cardiac_risk_with_an_antiplatelet_hold(documented, fires: bool) -> None:
    patient = facts(conditions=(*IN_SCOPE, documented), medications=(CLOPIDOGREL,))
    assert ("MED-CARDIAC-RISK" in ids(patient)) is fires


def test_cardiac_risk_onset_wins_over_the_recorded_date() -> None:
    old_onset = replace(cardiac("acute-coronary-syndrome", 500), recorded=NOW - timedelta(days=10))
    patient = facts(conditions=(*IN_SCOPE, old_onset), medications=(CLOPIDOGREL,))
    assert "MED-CARDIAC-RISK" not in ids(patient)


@pytest.mark.parametrize(
    "medications",
    [
        (med("apixaban", DrugClass.DOAC),),  # no antiplatelet
        (med("aspirin", DrugClass.ASPIRIN, dose=75),),  # continued: no hold planned
        (med("prasugrel", DrugClass.OTHER_ANTITHROMBOTIC),),  # no delay configured: no hold
    ],
)
def test_no_cardiac_risk_without_an_antiplatelet_hold(medications) -> None:
    stent = cardiac("coronary-stent", 30)
    assert "MED-CARDIAC-RISK" not in ids(
        facts(conditions=(*IN_SCOPE, stent), medications=medications)
    )


@pytest.mark.parametrize(
    "medications",
    [
        (med("aspirin", DrugClass.ASPIRIN, dose=300),),
        (med("prasugrel", DrugClass.OTHER_ANTITHROMBOTIC),),  # with a configured delay
    ],
)
def test_cardiac_risk_for_every_antiplatelet_hold(medications) -> None:
    stent = cardiac("coronary-stent", 30)
    patient = facts(conditions=(*IN_SCOPE, stent), medications=medications)
    policy = Policy(unlisted_hold_days={"prasugrel": 7})
    (risk,) = [f for f in med_findings(patient, NOW, policy) if f.rule_id == "MED-CARDIAC-RISK"]
    assert risk.evidence == (stent.source,)


def test_doac_48_hours_are_elapsed_hours_across_a_daylight_saving_change() -> None:
    paris = ZoneInfo("Europe/Paris")
    # Clocks go forward on 2027-03-28 at 02:00: 48 h before 03-29 10:00 (+02:00) is 03-27 09:00
    # (+01:00), not 10:00 (47 h).
    start = datetime(2027, 3, 29, 10, 0, tzinfo=paris)
    patient = facts(
        procedures=(procedure(day=start.date(), at=start),),
        medications=(med("apixaban", DrugClass.DOAC),),
    )
    (finding,) = med_findings(patient, datetime(2027, 3, 20, 10, tzinfo=paris))
    assert finding.hold.hold_from_at == datetime(2027, 3, 27, 9, 0, tzinfo=paris)
    elapsed = start.astimezone(UTC) - finding.hold.hold_from_at.astimezone(UTC)
    assert elapsed == timedelta(hours=48)
