"""Helpers shared by the rule modules: building findings, reading facts, dates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from cds_hooks.cards import Indicator
from service.facts.dates import EARLIEST_ZONE
from service.facts.labs import FUTURE_TOLERANCE
from service.facts.model import (
    ConditionFact,
    LabResult,
    MedicationFact,
    PatientFacts,
    ResourceRef,
)
from service.rules.catalog import spec
from service.rules.finding import Finding, HoldStep
from service.rules.params import LabShown, RecordShown, typed_params
from service.vocabulary import DataCategory, DrugClass, LabKind

# Values compared against thresholds are rounded first, so that a unit conversion landing on
# 49999.999999 or 50000.000001 still counts as exactly 50 000.
THRESHOLD_DIGITS = 6

FUTURE_DATED = "future-date"  # `problem_code` in lab_params: the card words it


def fire(
    rule_id: str,
    params: Mapping[str, Any] | None = None,
    evidence: Iterable[ResourceRef] = (),
    hold: HoldStep | None = None,
    indicator: Indicator | None = None,
) -> Finding:
    """A finding for `rule_id`, with the indicator the catalog gives it; `indicator` for a rule
    whose indicator depends on the case (one the catalog lists for it, else ValueError)."""
    rule = spec(rule_id)
    if indicator is not None and indicator not in rule.indicators:
        raise ValueError(f"{rule_id} cannot be {indicator.value}")
    return Finding(
        rule_id=rule_id,
        indicator=indicator or rule.indicator,
        params=typed_params(rule_id, params),
        evidence=tuple(evidence),
        hold=hold,
    )


def rounded(value: float) -> float:
    return round(value, THRESHOLD_DIGITS)


def aware(moment: datetime, now: datetime) -> datetime:
    """`moment`, read in the time zone of `now` when it carries none (defensive: facts should)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=now.tzinfo)


def today(now: datetime) -> date:
    """Today's date in the time zone of `now` (tests inject `now`)."""
    return now.date()


def available(facts: PatientFacts, category: DataCategory) -> bool:
    return category not in facts.unavailable


def conditions_with(facts: PatientFacts, *concepts: str) -> tuple[ConditionFact, ...]:
    wanted = set(concepts)
    return tuple(c for c in facts.conditions if c.concepts & wanted)


def medications_in(facts: PatientFacts, *classes: DrugClass) -> tuple[MedicationFact, ...]:
    wanted = set(classes)
    return tuple(m for m in facts.medications if m.classes & wanted)


def lab_window_start(now: datetime, max_age_days: int) -> datetime:
    return now - timedelta(days=max_age_days)


def latest_lab(
    facts: PatientFacts, kind: LabKind, now: datetime, max_age_days: int
) -> tuple[LabResult | None, LabResult | None]:
    """(latest result within the window, latest result of any date).

    Undated results cannot be placed in the window and are ignored (they never count as recent).
    Results dated in the future (see `future_dated`) are ignored too. Ties on the date prefer an
    uninterpretable result: the safer reading.
    """
    dated = [
        replace(lab, effective=aware(lab.effective, now))
        for lab in facts.labs
        if lab.kind is kind and lab.effective is not None and not is_future(lab, now)
    ]
    if not dated:
        return None, None
    dated.sort(key=lambda lab: (lab.effective, not lab.interpretable))
    newest = dated[-1]
    start = lab_window_start(now, max_age_days)
    recent = [lab for lab in dated if lab.effective >= start]  # type: ignore[operator]
    return (recent[-1] if recent else None), newest


# compare(lab): True when the result does not meet the requirement (the rule fires), False when
# it does, None when it cannot tell (a bound that does not settle the threshold).
Compare = Callable[[LabResult], "bool | None"]


@dataclass(frozen=True)
class LabChoice:
    """The result of one kind that decides, as RULES.md v2 "Latest" reads it.

    `deciding`: the most recent usable result in the window (a final one; a newer preliminary one
    instead when it is less favourable; of several at the same instant, the less favourable).
    `beside`: the results the card shows with it (the others of its instant, or the final result
    a preliminary one overrides). `unusable`: results in the window, newer than the deciding one
    (or of its instant), that cannot be compared: reported, never hiding it. `stale`: when
    nothing usable lies in the window, the newest result before it (a usable one first), shown
    with its value and date, never as "no result".
    """

    deciding: LabResult | None
    verdict: bool | None
    beside: tuple[LabResult, ...] = ()
    unusable: tuple[LabResult, ...] = ()
    stale: LabResult | None = None


def choose_lab(
    facts: PatientFacts,
    kind: LabKind,
    now: datetime,
    max_age_days: int,
    compare: Compare,
    higher_is_worse: bool,
) -> LabChoice:
    """Pick the result of `kind` that decides (see LabChoice). Independent of the order of
    `facts.labs`: ties are broken on the value, never on position."""
    dated = sorted(
        (
            replace(lab, effective=aware(lab.effective, now))
            for lab in facts.labs
            if lab.kind is kind and lab.effective is not None and not is_future(lab, now)
        ),
        key=lambda lab: lab.effective,  # type: ignore[arg-type,return-value]
        reverse=True,
    )
    start = lab_window_start(now, max_age_days)

    def usable(lab: LabResult) -> bool:
        return lab.interpretable and compare(lab) is not None

    def severity(lab: LabResult) -> tuple[bool, float, str]:
        """Greater = less favourable: failing first, then the value; the reference last, so
        that equal values still give one answer whatever the order of the record."""
        value = rounded(lab.value)  # type: ignore[arg-type]
        return (compare(lab) is True, value if higher_is_worse else -value, lab.source.reference)

    finals: list[LabResult] = []
    preliminary: list[LabResult] = []
    unusable: list[LabResult] = []
    for lab in dated:
        if lab.effective < start:  # type: ignore[operator]
            break
        if finals and lab.effective != finals[0].effective:
            break  # the deciding instant is read whole (ties), nothing older
        if not usable(lab):
            unusable.append(lab)
        elif lab.preliminary:
            preliminary.append(lab)
        else:
            finals.append(lab)
    worst_final = max(finals, key=severity, default=None)
    # A preliminary result counts only against the final one: less favourable than it, or, with
    # no final result, failing the requirement (it never meets a requirement on its own).
    counted = [
        p
        for p in preliminary
        if (severity(p)[:2] > severity(worst_final)[:2] if worst_final else compare(p) is True)
    ]
    candidates = [*finals, *counted]
    deciding = max(candidates, key=severity, default=None)
    stale = None
    if deciding is None:
        older = [lab for lab in dated if lab.effective < start]  # type: ignore[operator]
        usable_older = [lab for lab in older if usable(lab) and not lab.preliminary]
        stale = (usable_older or older or [None])[0]
    return LabChoice(
        deciding=deciding,
        verdict=compare(deciding) if deciding is not None else None,
        beside=tuple(lab for lab in candidates if lab is not deciding),
        unusable=tuple(unusable),
        stale=stale,
    )


def is_future(lab: LabResult, now: datetime) -> bool:
    """Dated after now + FUTURE_TOLERANCE (a date-only value: its earliest instant, so a result
    dated today anywhere on Earth is never called future)."""
    if lab.effective is None:
        return False
    return aware(lab.effective, now) > now + FUTURE_TOLERANCE


def future_dated(facts: PatientFacts, kind: LabKind, now: datetime) -> tuple[LabResult, ...]:
    """The results of `kind` dated in the future, oldest first: they cannot be judged."""
    future = [lab for lab in facts.labs if lab.kind is kind and is_future(lab, now)]
    return tuple(sorted(future, key=lambda lab: aware(lab.effective, now)))  # type: ignore[arg-type]


def at_or_below(lab: LabResult, threshold: float) -> bool | None:
    """Is the result at or below `threshold`? None when a reported bound cannot tell.

    "<20 000" is certainly at or below 50 000; ">100 000" certainly above; "<60 000" or
    ">30 000" could be either side, so the result cannot be compared (uninterpretable).
    """
    value = rounded(lab.value)  # type: ignore[arg-type]
    if lab.comparator is None:
        return value <= threshold
    if lab.comparator in ("<", "<=") and value <= threshold:
        return True
    if (lab.comparator == ">" and value >= threshold) or (
        lab.comparator == ">=" and value > threshold
    ):
        return False
    return None


def above(lab: LabResult, threshold: float) -> bool | None:
    """Is the result above `threshold`? None when a reported bound cannot tell."""
    below = at_or_below(lab, threshold)
    return None if below is None else not below


# Precisions of a date written without a time: its `.date()` is the date as written.
DATE_ONLY_PRECISIONS = frozenset({"day", "month", "year"})


def shown_date(lab: LabResult, now: datetime) -> date | None:
    """The date a card shows for `lab`: the site's day (the zone of `now`) for an instant, the
    written date for a date-only value (its instant is the start of the day at UTC+14:00, so
    converting it would show the day before)."""
    if lab.effective is None:
        return None
    if lab.effective_precision in DATE_ONLY_PRECISIONS:
        return lab.effective.date()
    return aware(lab.effective, now).astimezone(now.tzinfo).date()


def site_day(moment: datetime, now: datetime) -> date:
    """The date of `moment` on the site's calendar (the zone of `now`). A date written without a
    time is held at 00:00 UTC+14:00 (service/facts/dates.py): its written date is kept."""
    moment = aware(moment, now)
    if moment.utcoffset() == EARLIEST_ZONE.utcoffset(None) and moment.time() == time(0, 0):
        return moment.date()
    return moment.astimezone(now.tzinfo).date()


def condition_record(condition: ConditionFact, now: datetime) -> RecordShown:
    """What a card shows of a Condition: name, resource and recorded date (None: not recorded)."""
    recorded = site_day(condition.recorded, now) if condition.recorded is not None else None
    return RecordShown(
        display=condition.display,
        reference=condition.source.reference,
        date=recorded.isoformat() if recorded else None,
        dated=True,  # Conditions carry a recorded date in the facts, when the record has one
    )


def lab_params(lab: LabResult, now: datetime) -> LabShown:
    """What a card needs to show a result: value, unit, date (in `now`'s zone) and resource."""
    shown = shown_date(lab, now)
    return LabShown(
        value=lab.value,
        comparator=lab.comparator,
        original_value=lab.original_value,
        original_unit=lab.original_unit,
        date=shown.isoformat() if shown else None,
        reference=lab.source.reference,
        problem=lab.problem,
        problem_code=FUTURE_DATED if is_future(lab, now) else lab.problem_code,
        kind=lab.kind.value,
        preliminary=lab.preliminary,
        zone_assumed=lab.zone_assumed,
    )
