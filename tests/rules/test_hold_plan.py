"""MED-*: drug classes, aspirin dose, and the dated hold plan (procedure on 2026-12-07)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from rule_facts import NOW, PARIS, facts, med, procedure

from service.config import Policy
from service.facts.model import DrugClass, MedicationSourceKind
from service.rules.engine import evaluate_rules

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
    assert "MED-HOLD-TOO-LATE" in ids(patient, at("2026-12-05", 0, 1))


def test_vka_relay_without_stop_day_and_never_too_late() -> None:
    patient = facts(medications=(med("warfarin", DrugClass.VKA),))
    (finding,) = med_findings(patient, at("2026-12-06"))
    assert finding.rule_id == "MED-VKA"
    assert finding.hold is not None
    assert finding.hold.hold_from is None and finding.hold.days_before is None
    assert finding.params["lmwh_hold_from"] == "2026-12-06"
    assert finding.params["lmwh_last_dose_on"] == "2026-12-05"


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
    (finding,) = med_findings(facts(medications=(known_low, unknown)))
    assert finding.rule_id == "MED-ASPIRIN-DOSE-UNKNOWN"
    assert finding.params["if_high_dose"]["hold_from"] == "2026-12-02"
    high = med("aspirin", DrugClass.ASPIRIN, dose=300)
    assert ids(facts(medications=(high, unknown))) == ["MED-ASPIRIN-HIGH-DOSE"]
    # The conditional plan never fires MED-HOLD-TOO-LATE: the dose is not known to be high.
    assert ids(facts(medications=(unknown,)), at("2026-12-05")) == ["MED-ASPIRIN-DOSE-UNKNOWN"]


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


def test_one_finding_per_drug_with_every_source() -> None:
    statement = med("clopidogrel", DrugClass.CLOPIDOGREL, kind=MedicationSourceKind.STATEMENT)
    (finding,) = med_findings(facts(medications=(CLOPIDOGREL, statement)))
    assert len(finding.evidence) == 2
    assert finding.params["orders"] == [CLOPIDOGREL.source.reference]
    assert finding.params["statements"] == [statement.source.reference]


def test_non_antithrombotics_fire_no_med_rule() -> None:
    assert ids(facts(medications=(med("morphine", DrugClass.OPIOID),))) == []
