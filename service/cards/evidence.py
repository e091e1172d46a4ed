"""The `cementoplasty-cds/evidence` card extension: the resources a card relies on.

Clinician text names no resource id (RULES.md, "Cards: what a clinician expects"); an EHR, an
auditor or a test still needs to know which resource each card read and what value and date it
took from it. For every resource a finding names as evidence: its reference (with version when
known), and, when the finding shows a value of that resource (a lab result, a dated record),
that value, its comparator, the unit as the lab wrote it, and its date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from service.rules.finding import Finding

EVIDENCE_EXTENSION = "cementoplasty-cds/evidence"

# Keys of a finding's params that describe one resource's value, and the evidence field each fills.
_VALUE_FIELDS = {
    "value": "value",
    "comparator": "comparator",
    "original_unit": "unit",
    "date": "date",
}


def _described(value: Any, found: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Every mapping inside a finding's params that names a resource ("reference"), appended to
    `found` in the order they appear. Only mappings and sequences are entered: a call per scalar
    value was most of the renderer's time."""
    if isinstance(value, Mapping):
        if isinstance(value.get("reference"), str):
            found.append(value)
        items: Iterable[Any] = value.values()
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return found
    for item in items:
        if isinstance(item, (Mapping, list, tuple)):
            _described(item, found)
    return found


def evidence(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """One entry per resource the findings rely on, in the order they name them."""
    entries: dict[str, dict[str, Any]] = {}
    for finding in findings:
        for ref in finding.evidence:
            if not ref.id:
                continue
            reference = ref.reference + (f"/_history/{ref.version}" if ref.version else "")
            entries.setdefault(ref.reference, {"reference": reference})
        for described in _described(finding.params, []):
            entry = entries.get(str(described["reference"]))
            if entry is None:
                continue
            for key, field in _VALUE_FIELDS.items():
                value = described.get(key)
                if value is not None and value != "" and field not in entry:
                    entry[field] = value
    return list(entries.values())
