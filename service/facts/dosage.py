"""Daily dose in mg from FHIR Dosage elements: dose x frequency / period, or a stated problem.

Never a guess: no dose quantity, a dose in tablets or a range, no frequency, or an unknown period
unit gives (None, problem), which the rules report as DOSE-UNKNOWN. Choices:
* frequencyMax, when given, is used instead of frequency (the upper bound: the safe side for a
  "< 160 mg/day" threshold); a PRN ("as needed") instruction is computed the same way.
* Without repeat.frequency, `when` / `timeOfDay` (n times in a day) or a Timing.code
  abbreviation (QD, BID, TID, QID, ...) gives the frequency.
* Several Dosage elements with the same `sequence` (or none) are taken together (summed); with
  different sequences (consecutive regimens) the largest daily total is kept.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from service.facts.refs import as_list
from service.facts.units import conversion_factor
from service.valuesets.common import UCUM

# UCUM calendar units in days (UCUM: mo = a/12, a = 365.25 d)
_PERIOD_DAYS = {
    "s": Decimal(1) / Decimal(86400),
    "min": Decimal(1) / Decimal(1440),
    "h": Decimal(1) / Decimal(24),
    "d": Decimal(1),
    "wk": Decimal(7),
    "mo": Decimal("30.4375"),
    "a": Decimal("365.25"),
}

# HL7 timing abbreviations (FHIR R4 value set timing-abbreviation, GTSAbbreviation): administrations
# per day. A code not listed here leaves the frequency unknown (DoseUnknown), never 0.
ABBREVIATIONS = {
    "QD": Decimal(1),
    "AM": Decimal(1),
    "PM": Decimal(1),
    "BED": Decimal(1),
    "BID": Decimal(2),
    "TID": Decimal(3),
    "QID": Decimal(4),
    "QOD": Decimal("0.5"),
    "Q1H": Decimal(24),
    "Q2H": Decimal(12),
    "Q3H": Decimal(8),
    "Q4H": Decimal(6),
    "Q6H": Decimal(4),
    "Q8H": Decimal(3),
    "WK": Decimal(1) / Decimal(7),
    "MO": Decimal(1) / _PERIOD_DAYS["mo"],
}


def as_needed(dosages: Any) -> bool:
    """Does any Dosage say "as needed" (asNeededBoolean true, or an asNeededCodeableConcept)?"""
    return any(
        isinstance(dosage, dict)
        and (
            dosage.get("asNeededBoolean") is True
            or isinstance(dosage.get("asNeededCodeableConcept"), dict)
        )
        for dosage in as_list(dosages)
    )


class DoseUnknown(Exception):
    """Why a daily dose cannot be computed (the message goes to MedicationFact.dose_problem)."""


def daily_dose_mg(dosages: Any) -> tuple[float | None, str | None]:
    """(mg per day, None) or (None, why not)."""
    items = as_list(dosages)
    if not items:
        return None, "no dosage"
    groups: dict[Any, Decimal] = {}
    try:
        for dosage in items:
            if not isinstance(dosage, dict):
                raise DoseUnknown("dosage is not an object")
            sequence = dosage.get("sequence")
            if sequence is not None and (
                isinstance(sequence, bool) or not isinstance(sequence, int)
            ):
                raise DoseUnknown("dosage sequence is not an integer")
            groups[sequence] = groups.get(sequence, Decimal(0)) + _one_dosage(dosage)
        total = max(groups.values())
        # A dose past Decimal's precision or a double's range cannot be quantized or shown.
        return float(total.quantize(Decimal("0.001"))), None
    except DoseUnknown as exc:
        return None, str(exc)
    except (InvalidOperation, OverflowError):
        return None, "dose is not a plausible number"


def _number(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise DoseUnknown(f"{what} is not a number")
    try:
        number = value if isinstance(value, Decimal) else Decimal(repr(value))
    except InvalidOperation as exc:
        raise DoseUnknown(f"{what} is not a number") from exc
    # Zero too: a dose, a frequency or a period of 0 is no dosage (0 mg a day would read as a
    # low dose of aspirin, "may be continued").
    if not number.is_finite() or number <= 0:
        raise DoseUnknown(f"{what} is not a positive number")
    return number


def _one_dosage(dosage: dict[str, Any]) -> Decimal:
    return _dose_mg(dosage) * _per_day(dosage.get("timing"))


def _dose_mg(dosage: dict[str, Any]) -> Decimal:
    quantity = None
    for dose_and_rate in as_list(dosage.get("doseAndRate")):
        if not isinstance(dose_and_rate, dict):
            continue
        if "doseQuantity" in dose_and_rate:
            quantity = dose_and_rate["doseQuantity"]
            break
        if "doseRange" in dose_and_rate:
            raise DoseUnknown("dose given as a range")
    if quantity is None:
        if dosage.get("text"):
            raise DoseUnknown("dosage given as text only")
        raise DoseUnknown("no dose quantity")
    if not isinstance(quantity, dict):
        raise DoseUnknown("doseQuantity is not an object")
    value = _number(quantity.get("value"), "dose")
    units = []
    code, system, unit = quantity.get("code"), quantity.get("system"), quantity.get("unit")
    if isinstance(code, str) and (system is None or system == UCUM):
        units.append(code.strip())
    if isinstance(unit, str):
        units.append(unit.strip())
    if not units:
        raise DoseUnknown("dose has no unit")
    for candidate in units:
        factor = conversion_factor(candidate, "mg")
        if factor is not None:
            return value * factor
    raise DoseUnknown(f"dose unit {units[0][:20]!r} is not a mass (mg, g)")


def _per_day(timing: Any) -> Decimal:
    if not isinstance(timing, dict):
        raise DoseUnknown("no timing (frequency unknown)")
    repeat = timing.get("repeat") if isinstance(timing.get("repeat"), dict) else {}
    frequency = repeat.get("frequencyMax", repeat.get("frequency"))
    if frequency is None:
        times = len(as_list(repeat.get("when"))) or len(as_list(repeat.get("timeOfDay")))
        if times and repeat.get("periodUnit", "d") == "d" and repeat.get("period", 1) == 1:
            return Decimal(times)
        code = timing.get("code")
        for coding in as_list(code.get("coding")) if isinstance(code, dict) else []:
            abbreviation = coding.get("code") if isinstance(coding, dict) else None
            if not isinstance(abbreviation, str):
                continue
            per_day = ABBREVIATIONS.get(abbreviation.strip().upper())
            if per_day is not None and per_day > 0:
                return per_day
        raise DoseUnknown("no frequency")
    count = _number(frequency, "frequency")
    if "period" not in repeat:
        raise DoseUnknown("frequency without a period")
    period = _number(repeat.get("period"), "period")
    unit_days = _PERIOD_DAYS.get(str(repeat.get("periodUnit")))
    if unit_days is None:
        raise DoseUnknown("unknown period unit")
    return count / (period * unit_days)
