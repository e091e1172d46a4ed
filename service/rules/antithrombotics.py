"""MED-*: the antithrombotic hold plan (§4), one finding per medication record.

One procedure (service/rules/schedule.py) and, for each medication record (one
MedicationRequest or MedicationStatement), one line of the plan: the record's finding carries the
record and the procedure in its params, and every suggestion acts on that record only.

Dates, with a procedure day D (the site's calendar day):
* "stop N days before" = no dose on or after D-N; last dose D-N-1 (clopidogrel and high-dose
  aspirin N=5; LMWH "la veille" N=1, so no injection on D-1 and the last on D-2: the safer of
  the two readings of "arrêt la veille du geste"; a configured delay for unlisted drugs).
* DOAC 48 h: no dose after the procedure instant minus 48 h. A date-only procedure is counted
  from 00:00 site time (the earliest hold); the hold start is then "certainly past" only when
  every time on day D would make it past (today >= D-1), and past "only under the 00:00
  assumption" on D-2 (MED-HOLD-TIME-UNKNOWN, never a certain-sounding MED-HOLD-TOO-LATE).
* VKA: the stop day is the prescriber's; the usual interruption is `policy.vka_stop_days`
  (local protocol). MED-VKA-TOO-LATE when today is later than D - vka_stop_days.
* Aspirin is judged on the daily total of every active aspirin record (a clopidogrel + aspirin
  combination tablet is planned as a whole: stopped and replaced by low-dose aspirin).
Without a procedure date the plan is given as D-N and no "too late" rule can fire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from service.facts.model import (
    ConditionFact,
    MedicationFact,
    MedicationSourceKind,
    PatientFacts,
    ResourceRef,
)
from service.rules.common import condition_record, conditions_with, fire, site_day, today
from service.rules.finding import Finding, HoldStep
from service.rules.params import ConditionalHold
from service.rules.policy import Policy
from service.rules.schedule import ScheduledProcedure, scheduled_procedure
from service.vocabulary import DrugClass

CLOPIDOGREL_DAYS = 5  # "Arrêt du Clopidogrel cinq jours avant le geste"
ASPIRIN_DAYS = 5  # "sinon arrêt de l'aspirine 5 jours avant le geste"
LMWH_DAYS = 1  # "arrêt la veille du geste"
DOAC_HOURS = 48  # "48h avant le geste"
ASPIRIN_HIGH_DOSE_MG = 160  # "dose inférieure à 160 mg par jour peut être poursuivie"
CARDIAC_LOOKBACK_DAYS = 365  # "an acute coronary syndrome in the last 12 months"

# The order in which a record's class is chosen when it carries several.
_CLASS_ORDER: tuple[DrugClass, ...] = (
    DrugClass.VKA,
    DrugClass.CLOPIDOGREL,
    DrugClass.DOAC,
    DrugClass.LMWH,
    DrugClass.ASPIRIN,
    DrugClass.OTHER_ANTITHROMBOTIC,
)
# Antiplatelet agents outside the guideline's two (clopidogrel, aspirin), by ingredient key; any
# other ATC B01AC code matched by class prefix is one too.
_OTHER_ANTIPLATELETS = frozenset(
    {"prasugrel", "ticagrelor", "ticlopidine", "antiplatelet-combination"}
)
_ATTACHED = ("MED-HOLD-TOO-LATE", "MED-HOLD-TIME-UNKNOWN", "MED-VKA-TOO-LATE")


@dataclass(frozen=True)
class _Record:
    """One MedicationRequest or MedicationStatement and the antithrombotics it names."""

    source: ResourceRef
    kind: MedicationSourceKind
    display: str
    meds: tuple[MedicationFact, ...]

    @property
    def ingredients(self) -> list[str]:
        return [m.ingredient for m in self.meds]

    @property
    def drug_class(self) -> DrugClass:
        classes = {c for m in self.meds for c in m.classes}
        return next(c for c in _CLASS_ORDER if c in classes)

    @property
    def is_clopidogrel_aspirin(self) -> bool:
        return {"clopidogrel", "aspirin"} <= set(self.ingredients)

    def main(self, drug_class: DrugClass) -> MedicationFact:
        return next(m for m in self.meds if drug_class in m.classes)


def evaluate(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    procedure = scheduled_procedure(facts, now)
    records = _records(facts.medications)
    findings: list[Finding] = []
    aspirin_records = [
        r for r in records if r.drug_class is DrugClass.ASPIRIN and not r.is_clopidogrel_aspirin
    ]
    aspirin_verdict = _aspirin_verdict(aspirin_records)
    for record in records:
        drug_class = record.drug_class
        params = _record_params(record, drug_class, procedure)
        evidence = (record.source,)
        if drug_class is DrugClass.VKA:
            findings.extend(_vka(record, params, procedure, policy, now))
            continue
        hold: HoldStep | None = None
        late = False
        time_unknown: str | None = None
        if record.is_clopidogrel_aspirin:
            rule_id = "MED-CLOPIDOGREL"
            params["combination"] = True
            # An aspirin record already active: the combination is replaced by it, never by a
            # second aspirin on top (which could pass 160 mg/day).
            params["aspirin_already"] = sorted({r.display for r in aspirin_records})
            hold, late = day_hold(record, CLOPIDOGREL_DAYS, procedure, now)
        elif drug_class is DrugClass.CLOPIDOGREL:
            rule_id = "MED-CLOPIDOGREL"
            hold, late = day_hold(record, CLOPIDOGREL_DAYS, procedure, now)
        elif drug_class is DrugClass.DOAC:
            rule_id = "MED-DOAC"
            ingredient = record.main(drug_class).ingredient
            params["not_in_guideline"] = ingredient == "edoxaban"
            params["renal_caveat"] = ingredient == "dabigatran"
            hold, late, time_unknown = hour_hold(record, DOAC_HOURS, procedure, now)
            params["time_assumed"] = procedure is not None and not procedure.time_given
        elif drug_class is DrugClass.LMWH:
            rule_id = "MED-LMWH"
            hold, late = day_hold(record, LMWH_DAYS, procedure, now)
        elif drug_class is DrugClass.ASPIRIN:
            rule_id, hold, late = _aspirin(record, aspirin_verdict, procedure, now, params)
        else:
            rule_id = "MED-ANTITHROMBOTIC-UNLISTED"
            ingredient = record.main(drug_class).ingredient
            configured = policy.unlisted_hold_days.get(ingredient)
            params["configured_days"] = configured
            if configured is not None:
                hold, late = day_hold(record, configured, procedure, now)
        params["antiplatelet_hold"] = hold is not None and _antiplatelet(record)
        findings.append(fire(rule_id, params, evidence, hold))
        # A note attached to the line (too late, time unknown) carries no step of its own: the
        # line's finding has the one step of this record.
        if late and hold is not None:
            findings.append(fire("MED-HOLD-TOO-LATE", {**params, "for_rule": rule_id}, evidence))
        elif time_unknown is not None and hold is not None:
            findings.append(
                fire(
                    "MED-HOLD-TIME-UNKNOWN",
                    {**params, "for_rule": rule_id, "late_if_before": time_unknown},
                    evidence,
                )
            )
    findings.extend(_cardiac_risk(facts, findings, now))
    return findings


# ---------------------------------------------------------------------------------- the holds


def day_hold(
    record: _Record, days: int, procedure: ScheduledProcedure | None, now: datetime
) -> tuple[HoldStep, bool]:
    """A "stop N days before" step: no dose on or after D-N. Returns (step, too late)."""
    drug = record.main(record.drug_class).ingredient
    if procedure is None:
        return HoldStep(drug, record.display, days_before=days), False
    hold_from = procedure.day - timedelta(days=days)
    current = today(now)
    step = HoldStep(
        drug,
        record.display,
        days_before=days,
        last_dose_on=hold_from - timedelta(days=1),
        hold_from=hold_from,
        starts_today=current == hold_from,
    )
    return step, current > hold_from


def hour_hold(
    record: _Record, hours: int, procedure: ScheduledProcedure | None, now: datetime
) -> tuple[HoldStep, bool, str | None]:
    """A "stop H hours before" step: no dose after the procedure instant minus H hours.

    Returns (step, certainly too late, "HH:MM" when too late only under the 00:00 assumption:
    too late if the procedure is before that time on its day).
    """
    drug = record.main(record.drug_class).ingredient
    if procedure is None:
        return HoldStep(drug, record.display, hours_before=hours), False, None
    zone = procedure.start.tzinfo
    # Elapsed hours, counted in UTC: across a daylight-saving change, wall-clock arithmetic in
    # the site's zone would give 47 h (spring) where the guideline says 48 h.
    hold_at = (procedure.start.astimezone(UTC) - timedelta(hours=hours)).astimezone(zone)
    hold_day = hold_at.date()
    # No dose after `hold_at`: on a 00:00 boundary the last dose day is the day before.
    last_dose_on = hold_day - timedelta(days=1) if hold_at.time() == time(0, 0) else hold_day
    step = HoldStep(
        drug,
        record.display,
        hours_before=hours,
        last_dose_on=last_dose_on,
        hold_from=hold_day,
        hold_from_at=hold_at,
        # Both: today is the hold day AND the hold instant is still ahead (after it: too late).
        starts_today=today(now) == hold_day and now <= hold_at,
    )
    if procedure.time_given or now <= hold_at:
        return step, now > hold_at, None
    # Date-only procedure, now past the 00:00-based hold start: certainly late only when even a
    # procedure at the very end of its day would have its hold start at or before now.
    day_end = datetime.combine(procedure.day + timedelta(days=1), time(0, 0), tzinfo=zone)
    if now >= day_end.astimezone(UTC) - timedelta(hours=hours):
        return step, True, None
    late_if_before = (now.astimezone(UTC) + timedelta(hours=hours)).astimezone(zone)
    return step, False, late_if_before.strftime("%H:%M")


# ---------------------------------------------------------------------------------- VKA


def _vka(
    record: _Record,
    params: dict[str, Any],
    procedure: ScheduledProcedure | None,
    policy: Policy,
    now: datetime,
) -> list[Finding]:
    """MED-VKA: no hold start of our own (the prescriber's), the usual interruption shown."""
    stop_days = policy.vka_stop_days
    params["vka_stop_days"] = stop_days
    params["lmwh_days_before"] = LMWH_DAYS
    too_late = False
    if procedure is not None:
        usual_from = procedure.day - timedelta(days=stop_days)
        lmwh_from = procedure.day - timedelta(days=LMWH_DAYS)
        params.update(
            {
                "vka_hold_from": usual_from.isoformat(),
                "vka_last_dose_on": (usual_from - timedelta(days=1)).isoformat(),
                "lmwh_hold_from": lmwh_from.isoformat(),
                "lmwh_last_dose_on": (lmwh_from - timedelta(days=1)).isoformat(),
                "inr_day": (procedure.day - timedelta(days=1)).isoformat(),
            }
        )
        too_late = today(now) > usual_from
    evidence = (record.source,)
    step = HoldStep(record.main(DrugClass.VKA).ingredient, record.display)
    findings = [fire("MED-VKA", params, evidence, step)]
    if too_late:
        findings.append(fire("MED-VKA-TOO-LATE", params, evidence))  # a note on MED-VKA's line
    return findings


# ---------------------------------------------------------------------------------- aspirin


@dataclass(frozen=True)
class _AspirinVerdict:
    total_mg: float  # known doses only
    unknown: bool  # some record's dose is unknown
    high: bool  # the known total alone is >= 160 mg/day
    held: frozenset[str]  # references of the records held from D-5
    remaining_mg: float  # what the records not held add up to


def _aspirin_verdict(records: Sequence[_Record]) -> _AspirinVerdict:
    """The daily total over every aspirin record, and which records a high total holds."""
    doses = {r.source.reference: r.main(DrugClass.ASPIRIN).daily_dose_mg for r in records}
    known = [d for d in doses.values() if d is not None]
    total = round(sum(known), 3)
    unknown = len(known) < len(doses)
    high = total >= ASPIRIN_HIGH_DOSE_MG
    held: set[str] = set()
    if high:
        for record in records:
            fact = record.main(DrugClass.ASPIRIN)
            dose = fact.daily_dose_mg
            if dose is not None and (dose >= ASPIRIN_HIGH_DOSE_MG or fact.as_needed):
                held.add(record.source.reference)
        if sum(d for ref, d in doses.items() if d is not None and ref not in held) >= (
            ASPIRIN_HIGH_DOSE_MG
        ):
            # Low-dose records that still add up to >= 160: none can be kept as is (safer);
            # the card asks the prescriber which one to keep below 160 mg/day.
            held = {ref for ref, d in doses.items() if d is not None}
    remaining = sum(d for ref, d in doses.items() if d is not None and ref not in held)
    return _AspirinVerdict(total, unknown, high, frozenset(held), round(remaining, 3))


def _aspirin(
    record: _Record,
    verdict: _AspirinVerdict,
    procedure: ScheduledProcedure | None,
    now: datetime,
    params: dict[str, Any],
) -> tuple[str, HoldStep | None, bool]:
    """One aspirin record's line, from the verdict on the daily total."""
    fact = record.main(DrugClass.ASPIRIN)
    params.update(
        {
            "daily_dose_mg": fact.daily_dose_mg,
            "as_needed": fact.as_needed,
            "total_mg": verdict.total_mg,
            "remaining_mg": verdict.remaining_mg,
            "threshold_mg": ASPIRIN_HIGH_DOSE_MG,
            "at_limit": verdict.total_mg == ASPIRIN_HIGH_DOSE_MG,
            "dose_problems": [fact.dose_problem] if fact.dose_problem else [],
            "total_unknown": verdict.unknown,
        }
    )
    if fact.daily_dose_mg is None:
        # Never assumed low: the card shows the plan that applies if the dose is >= 160 mg/day.
        conditional, _ = day_hold(record, ASPIRIN_DAYS, procedure, now)
        params["if_high_dose"] = ConditionalHold(
            days_before=ASPIRIN_DAYS,
            last_dose_on=_iso(conditional.last_dose_on),
            hold_from=_iso(conditional.hold_from),
        )
        return "MED-ASPIRIN-DOSE-UNKNOWN", None, False
    if verdict.high:
        if record.source.reference in verdict.held:
            hold, late = day_hold(record, ASPIRIN_DAYS, procedure, now)
            return "MED-ASPIRIN-HIGH-DOSE", hold, late
        if verdict.unknown:
            # What remains includes a record of unknown dose: not shown as continued.
            return "MED-ASPIRIN-DOSE-UNKNOWN", None, False
        params["continued"] = True
        return "MED-ASPIRIN-HIGH-DOSE", None, False
    if verdict.unknown:
        # Low on its own, but the total with the unknown record(s) cannot be judged.
        return "MED-ASPIRIN-DOSE-UNKNOWN", None, False
    return "MED-ASPIRIN-LOW-DOSE", None, False


# ---------------------------------------------------------------------------------- cardiac


def _antiplatelet(record: _Record) -> bool:
    return any(
        m.classes & {DrugClass.CLOPIDOGREL, DrugClass.ASPIRIN}
        or m.ingredient in _OTHER_ANTIPLATELETS
        or m.ingredient.upper().startswith("ATC:B01AC")
        for m in record.meds
    )


def _cardiac_risk(facts: PatientFacts, findings: Sequence[Finding], now: datetime) -> list[Finding]:
    """MED-CARDIAC-RISK: an antiplatelet hold planned, and a coronary stent or a recent ACS."""
    held = [f for f in findings if f.params.get("antiplatelet_hold") and f.rule_id not in _ATTACHED]
    if not held:
        return []
    stents = conditions_with(facts, "coronary-stent")
    recent = [c for c in conditions_with(facts, "acute-coronary-syndrome") if _recent(c, now)]
    documented = [*stents, *recent]
    if not documented:
        return []
    records = []
    for condition in documented:
        shown = condition_record(condition, now)
        when = condition.onset or condition.recorded
        if when is not None:
            shown = replace(shown, date=_site_date(when, now).isoformat())
        records.append(shown)
    params = {"conditions": records, "drugs": sorted({str(f.params.get("drug")) for f in held})}
    return [fire("MED-CARDIAC-RISK", params, [c.source for c in documented])]


def _recent(condition: ConditionFact, now: datetime) -> bool:
    """An ACS in the last 12 months; an undated one counts (the safer reading, said on the card)."""
    when = condition.onset or condition.recorded
    if when is None:
        return True
    return _site_date(when, now) >= today(now) - timedelta(days=CARDIAC_LOOKBACK_DAYS)


def _site_date(moment: datetime, now: datetime) -> date:
    return site_day(moment, now)


# ---------------------------------------------------------------------------------- records


def _records(medications: Sequence[MedicationFact]) -> list[_Record]:
    """Antithrombotic records (one per MedicationRequest/Statement), in a stable order."""
    grouped: dict[tuple[str, str], list[MedicationFact]] = {}
    for med in medications:
        if not any(c in med.classes for c in _CLASS_ORDER):
            continue
        key = (med.source_kind.value, med.source.reference)
        grouped.setdefault(key, []).append(med)
    records = [
        _Record(meds[0].source, meds[0].source_kind, meds[0].display, tuple(meds))
        for meds in grouped.values()
    ]
    order = {c: i for i, c in enumerate(_CLASS_ORDER)}
    return sorted(
        records,
        key=lambda r: (order[r.drug_class], r.main(r.drug_class).ingredient, r.source.reference),
    )


def _record_params(
    record: _Record, drug_class: DrugClass, procedure: ScheduledProcedure | None
) -> dict[str, Any]:
    order = record.kind is MedicationSourceKind.ORDER
    return {
        "drug": record.main(drug_class).ingredient,
        "ingredients": record.ingredients,
        "display": record.display,
        "displays": [record.display],
        "record": record.source.reference,
        "record_kind": record.kind.value,
        "order_id": record.source.id if order else None,
        "combination": len(record.meds) > 1,
        "procedure": procedure.params() if procedure is not None else None,
        "procedure_date": procedure.day.isoformat() if procedure is not None else None,
    }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
