"""Start-up work that must not land on the first request: value sets, UCUM registry, models."""

from __future__ import annotations

from service.facts import units, validation
from service.valuesets import load_valuesets


def warm_up() -> None:
    load_valuesets()
    units.warm_up()
    for unit in ("10*3/uL", "10*9/L", "/uL", "/mm3", "10*3/mm3"):
        units.conversion_factor(unit, "/mm3")
    for unit in ("mg", "g"):
        units.conversion_factor(unit, "mg")
    validation.warm_up()
