"""What every value set shares: the code systems, the verification every coded entry must carry
(TERMINOLOGY.md), and reading a data file of this package."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ACCEPTED_VERIFICATION = ("yes", "display")


class ValueSetError(ValueError):
    """A data file is malformed or holds an unverified code: start-up must stop."""


def check_verified(entry: Mapping[str, Any], where: str) -> None:
    verified = str(entry.get("verified", ""))
    if not verified.startswith(ACCEPTED_VERIFICATION) or "UNVERIFIED" in verified.upper():
        raise ValueSetError(f"{where}: code {entry.get('code')!r} is not verified ({verified!r})")
    if not entry.get("source"):
        raise ValueSetError(f"{where}: code {entry.get('code')!r} has no source")


def icd_key(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


def read_data_file(name: str) -> dict[str, Any]:
    try:
        text = resources.files("service.valuesets").joinpath(name).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueSetError(f"{name}: cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueSetError(f"{name}: must hold a JSON object")
    return data
