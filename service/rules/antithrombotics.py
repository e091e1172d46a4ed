"""MED-*: the antithrombotic hold plan (§4), one finding per drug (ingredient).

Dates, with a procedure date D (the earliest of the orders in scope):
* "stop N days before" = no dose on or after D-N; last dose D-N-1 (clopidogrel and high-dose
  aspirin N=5; LMWH "la veille" N=1, so no injection on D-1 and the last on D-2: the safer of
  the two readings of "arrêt la veille du geste"; a configured delay for unlisted drugs).
* DOAC 48 h: no dose from the procedure time minus 48 h; when the order gives only a date, the
  procedure is assumed at 00:00 that day in the time zone of `now` (safer: the earliest hold).
* VKA: relay by LMWH, the LMWH stopped the day before; the guideline gives no VKA stop day.
Without a procedure date the plan is given as D-N and MED-HOLD-TOO-LATE cannot fire.
MED-HOLD-TOO-LATE: day-based holds when today (in `now`'s time zone) is after the hold day;
hour-based when now is after the hold instant. On the hold day itself, `starts_today` is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from service.config import Policy
from service.facts.model import DrugClass, MedicationFact, MedicationSourceKind, PatientFacts
from service.rules.common import aware, fire, procedure_date, procedure_datetime, today
from service.rules.finding import Finding, HoldStep

CLOPIDOGREL_DAYS = 5  # "Arrêt du Clopidogrel cinq jours avant le geste"
ASPIRIN_DAYS = 5  # "sinon arrêt de l'aspirine 5 jours avant le geste"
LMWH_DAYS = 1  # "arrêt la veille du geste"
DOAC_HOURS = 48  # "48h avant le geste"
ASPIRIN_HIGH_DOSE_MG = 160  # "dose inférieure à 160 mg par jour peut être poursuivie"

# The order in which a drug's class is chosen when it carries several.
_CLASS_ORDER: tuple[DrugClass, ...] = (
    DrugClass.VKA,
    DrugClass.CLOPIDOGREL,
    DrugClass.DOAC,
    DrugClass.LMWH,
    DrugClass.ASPIRIN,
    DrugClass.OTHER_ANTITHROMBOTIC,
)


def evaluate(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    day = procedure_date(facts)
    at = procedure_datetime(facts)
    findings: list[Finding] = []
    for drug_class, ingredient, meds in _group(facts.medications):
        params = _drug_params(ingredient, meds, day)
        evidence = [m.source for m in meds]
        display = meds[0].display
        hold: HoldStep | None = None
        late = False
        if drug_class is DrugClass.VKA:
            params.update(_vka_bridge(day))
            findings.append(fire("MED-VKA", params, evidence, HoldStep(ingredient, display)))
            continue
        if drug_class is DrugClass.CLOPIDOGREL:
            rule_id = "MED-CLOPIDOGREL"
            hold, late = day_hold(ingredient, display, CLOPIDOGREL_DAYS, day, now)
        elif drug_class is DrugClass.DOAC:
            rule_id = "MED-DOAC"
            hold, late = hour_hold(ingredient, display, DOAC_HOURS, day, at, now)
            params["time_assumed"] = day is not None and at is None
        elif drug_class is DrugClass.LMWH:
            rule_id = "MED-LMWH"
            hold, late = day_hold(ingredient, display, LMWH_DAYS, day, now)
        elif drug_class is DrugClass.ASPIRIN:
            rule_id, hold, late = _aspirin(ingredient, display, meds, day, now, params)
        else:
            rule_id = "MED-ANTITHROMBOTIC-UNLISTED"
            configured = policy.unlisted_hold_days.get(ingredient)
            params["configured_days"] = configured
            if configured is not None:
                hold, late = day_hold(ingredient, display, configured, day, now)
        findings.append(fire(rule_id, params, evidence, hold))
        if late and hold is not None:
            findings.append(
                fire("MED-HOLD-TOO-LATE", {**params, "for_rule": rule_id}, evidence, hold)
            )
    return findings


def day_hold(
    drug: str, display: str, days: int, day: date | None, now: datetime
) -> tuple[HoldStep, bool]:
    """A "stop N days before" step: no dose on or after D-N. Returns (step, too late)."""
    if day is None:
        return HoldStep(drug, display, days_before=days), False
    hold_from = day - timedelta(days=days)
    current = today(now)
    step = HoldStep(
        drug,
        display,
        days_before=days,
        last_dose_on=hold_from - timedelta(days=1),
        hold_from=hold_from,
        starts_today=current == hold_from,
    )
    return step, current > hold_from


def hour_hold(
    drug: str,
    display: str,
    hours: int,
    day: date | None,
    at: datetime | None,
    now: datetime,
) -> tuple[HoldStep, bool]:
    """A "stop H hours before" step: no dose from the procedure instant minus H hours."""
    if day is None:
        return HoldStep(drug, display, hours_before=hours), False
    start = at if at is not None else datetime.combine(day, time(0, 0), tzinfo=now.tzinfo)
    start = aware(start, now).astimezone(now.tzinfo)
    hold_at = start - timedelta(hours=hours)
    hold_day = hold_at.date()
    last_dose_on = hold_day - timedelta(days=1) if hold_at.time() == time(0, 0) else hold_day
    step = HoldStep(
        drug,
        display,
        hours_before=hours,
        last_dose_on=last_dose_on,
        hold_from=hold_day,
        hold_from_at=hold_at,
        starts_today=today(now) == hold_day and now <= hold_at,
    )
    return step, now > hold_at


def _aspirin(
    ingredient: str,
    display: str,
    meds: Sequence[MedicationFact],
    day: date | None,
    now: datetime,
    params: dict[str, Any],
) -> tuple[str, HoldStep | None, bool]:
    """Aspirin: the highest known daily dose decides; an unknown dose is never assumed low."""
    known = [m.daily_dose_mg for m in meds if m.daily_dose_mg is not None]
    params["daily_dose_mg"] = max(known) if known else None
    params["dose_problems"] = [m.dose_problem for m in meds if m.dose_problem]
    params["threshold_mg"] = ASPIRIN_HIGH_DOSE_MG
    if known and max(known) >= ASPIRIN_HIGH_DOSE_MG:
        hold, late = day_hold(ingredient, display, ASPIRIN_DAYS, day, now)
        return "MED-ASPIRIN-HIGH-DOSE", hold, late
    if len(known) < len(meds):
        # What the plan would be if the dose is >= 160 mg/day: shown on the card, not a hold.
        conditional, _ = day_hold(ingredient, display, ASPIRIN_DAYS, day, now)
        params["if_high_dose"] = {
            "days_before": ASPIRIN_DAYS,
            "last_dose_on": _iso(conditional.last_dose_on),
            "hold_from": _iso(conditional.hold_from),
        }
        return "MED-ASPIRIN-DOSE-UNKNOWN", None, False
    return "MED-ASPIRIN-LOW-DOSE", None, False


def _vka_bridge(day: date | None) -> dict[str, Any]:
    """The LMWH bridge of a VKA: LMWH stopped the day before (same reading as MED-LMWH)."""
    if day is None:
        return {"lmwh_days_before": LMWH_DAYS}
    hold_from = day - timedelta(days=LMWH_DAYS)
    return {
        "lmwh_days_before": LMWH_DAYS,
        "lmwh_hold_from": hold_from.isoformat(),
        "lmwh_last_dose_on": (hold_from - timedelta(days=1)).isoformat(),
    }


def _drug_params(ingredient: str, meds: Sequence[MedicationFact], day: date | None) -> dict:
    return {
        "drug": ingredient,
        "displays": sorted({m.display for m in meds}),
        "orders": [m.source.reference for m in meds if m.source_kind is MedicationSourceKind.ORDER],
        "order_ids": [
            m.source.id for m in meds if m.source_kind is MedicationSourceKind.ORDER and m.source.id
        ],
        "statements": [
            m.source.reference for m in meds if m.source_kind is MedicationSourceKind.STATEMENT
        ],
        "procedure_date": _iso(day),
    }


def _group(
    medications: Sequence[MedicationFact],
) -> list[tuple[DrugClass, str, list[MedicationFact]]]:
    """Antithrombotics grouped by (class, ingredient), in a stable order."""
    groups: dict[tuple[DrugClass, str], list[MedicationFact]] = {}
    for med in medications:
        drug_class = next((c for c in _CLASS_ORDER if c in med.classes), None)
        if drug_class is not None:
            groups.setdefault((drug_class, med.ingredient), []).append(med)
    order = {c: i for i, c in enumerate(_CLASS_ORDER)}
    return [
        (drug_class, ingredient, meds)
        for (drug_class, ingredient), meds in sorted(
            groups.items(), key=lambda item: (order[item[0][0]], item[0][1])
        )
    ]


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
