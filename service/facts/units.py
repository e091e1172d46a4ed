"""UCUM unit conversion with ucumvert (one PintUcumRegistry per process; factors cached).

Values are converted with exact decimal arithmetic: the factor (a power of ten for every unit we
meet) is read from pint once and rounded to 12 significant digits, which removes pint's float
noise (1000.0000000000001), then `Decimal(repr(value)) * factor` is exact. So 50 x 10*3/uL is
exactly 50 000 /mm3 and a count never changes side of a threshold because of its unit.

Annotations (`{INR}`, `{cells}`) are UCUM's way of writing 1: they are stripped before
conversion. Exact unit strings that French laboratories write but UCUM reads otherwise (`G/L`:
"G" is gauss in UCUM) are translated by the alias table of labs.json, deliberately.

Unit strings are client input: pint computes "10*50000000/L" as an exact integer power (minutes
of CPU, under the lock every request needs). A unit longer than MAX_UNIT_CHARS or with a power
of ten beyond 10*MAX_TEN_POWER is refused before pint sees it (not convertible); the factor
cache is bounded.
"""

from __future__ import annotations

import logging
import re
import threading
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

logger = logging.getLogger(__name__)

_ANNOTATION = re.compile(r"\{[^{}]*\}")
_lock = threading.Lock()

MAX_UNIT_CHARS = 30  # "10*3/uL{cells}", "mg/dL", "[iU]/mL": real units are short
MAX_TEN_POWER = 30  # 10*9/L, 10*12/L are the largest a laboratory writes
_TEN_POWER = re.compile(r"10\s*[*^]\s*[+-]?(\d+)")


@cache
def _registry() -> Any:
    from ucumvert import PintUcumRegistry  # imported lazily: building the registry takes ~0.4 s

    return PintUcumRegistry()


def warm_up() -> None:
    """Build the registry now (call at start-up, not in the first request)."""
    _registry()


def strip_annotations(unit: str) -> str:
    stripped = _ANNOTATION.sub("", unit).strip()
    if not stripped:
        return "1"
    # "10*3/uL{cells}" -> "10*3/uL"; "{INR}" -> "1"; a leading "/" is valid UCUM ("/uL")
    return stripped


def plausible_unit(unit: str) -> bool:
    """False for a unit string too long, or with too large a power of ten, to hand to pint."""
    if len(unit) > MAX_UNIT_CHARS:
        return False
    return all(int(power) <= MAX_TEN_POWER for power in _TEN_POWER.findall(unit))


def conversion_factor(from_unit: str, to_unit: str) -> Decimal | None:
    """Factor f with value_in_to = value_in_from * f, or None when not convertible."""
    if not (plausible_unit(from_unit) and plausible_unit(to_unit)):
        logger.debug("unit refused before conversion (too long or too large a power)")
        return None
    return _factor(from_unit, to_unit)


@lru_cache(maxsize=512)  # keys are short (checked above); bounded: client strings vary
def _factor(from_unit: str, to_unit: str) -> Decimal | None:
    with _lock:
        registry = _registry()
        try:
            source = registry.from_ucum(strip_annotations(from_unit))
            target = registry.from_ucum(strip_annotations(to_unit))
            raw = (source / target).to("dimensionless").magnitude
            factor = Decimal(f"{float(raw):.12g}")
        except Exception as exc:  # ucumvert/pint raise many types; any failure = not convertible
            logger.debug(
                "unit %r -> %r not convertible: %s", from_unit, to_unit, type(exc).__name__
            )
            return None
    if not factor.is_finite() or factor <= 0:
        return None
    return factor


def convert(value: float | int | Decimal, from_unit: str, to_unit: str) -> float | None:
    """`value` in `from_unit` expressed in `to_unit`, or None when not convertible."""
    factor = conversion_factor(from_unit, to_unit)
    if factor is None:
        return None
    try:
        exact = (value if isinstance(value, Decimal) else Decimal(repr(value))) * factor
    except InvalidOperation:
        return None
    return float(exact)
