"""Lab value set: the codes of each lab kind, its unit and its plausible range."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from service.valuesets.codeable import codings
from service.valuesets.common import ValueSetError, check_verified
from service.vocabulary import LabKind


@dataclass(frozen=True)
class LabSpec:
    kind: LabKind
    codes: tuple[tuple[str, str], ...]  # (system, code), in data-file order
    target_unit: str | None  # convert with UCUM to this unit
    accepted_units: frozenset[str] | None  # or accept exactly these unit strings ('' = none)
    value_range: tuple[float, float] | None
    # Codes whose scale is not fixed by the code (LOINC 38208-5 "Pain severity - Reported"):
    # read only when the referenceRange or the unit shows the `value_range` scale.
    scale_required: frozenset[tuple[str, str]] = frozenset()
    scale_units: frozenset[str] = frozenset()
    # Read every result of this long ago, not only the latest (fever: any >= 38 °C in 48 h).
    keep_within: timedelta | None = None

    def scale_problem(self, resource: Mapping[str, Any]) -> str | None:
        """Why a result cannot be read on this kind's scale (None: it can)."""
        if not self.scale_required or self.value_range is None:
            return None
        coded = {(system, code) for system, code, _ in codings(resource.get("code"))}
        if coded & set(self.codes) - self.scale_required:
            return None  # also carries a code whose scale is fixed (72514-3)
        if not coded & self.scale_required:
            return None
        quantity = resource.get("valueQuantity")
        if isinstance(quantity, dict):
            units = {quantity.get("unit"), quantity.get("code")}
            if units & self.scale_units:
                return None
        low, high = self.value_range
        for reference in resource.get("referenceRange") or ():
            if not isinstance(reference, dict):
                continue
            bounds = [reference.get(key) for key in ("low", "high")]
            values = [b.get("value") if isinstance(b, dict) else None for b in bounds]
            if values == [low, high]:
                return None
        return f"scale not shown as {low:g}-{high:g} (no such referenceRange or unit)"


def load_labs(data: Mapping[str, Any]) -> tuple[dict[LabKind, LabSpec], dict[str, str]]:
    specs: dict[LabKind, LabSpec] = {}
    for key, raw in data["kinds"].items():
        kind = LabKind(key)
        codes = []
        for entry in raw["codes"]:
            check_verified(entry, f"labs.json {key}")
            codes.append((entry["system"], entry["code"]))
        accepted = raw.get("accepted_units")
        value_range = raw.get("range")
        specs[kind] = LabSpec(
            kind=kind,
            codes=tuple(codes),
            target_unit=raw.get("target_unit"),
            accepted_units=frozenset(accepted) if accepted is not None else None,
            value_range=(float(value_range[0]), float(value_range[1])) if value_range else None,
            scale_required=frozenset(
                (e["system"], e["code"]) for e in raw["codes"] if e.get("scale_required")
            ),
            scale_units=frozenset(raw.get("scale_units", ())),
            keep_within=timedelta(hours=raw["keep_all_within_hours"])
            if "keep_all_within_hours" in raw
            else None,
        )
    missing = set(LabKind) - set(specs)
    if missing:
        raise ValueSetError(f"labs.json: no entry for {sorted(missing)}")
    aliases = {a["written"]: a["ucum"] for a in data.get("unit_aliases", ())}
    return specs, aliases
