"""The codes a rule recognises, read from the value-set files, for the rule pages.

The rule pages list, for each concept a rule reads (`rules.json` "codes"), the coded entries of
the value set that decides it: what an integrator needs to check that the EHR's codes are
recognised. Text terms are counted, not listed: they are a fallback, not a contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

VALUESETS_DIR = Path(__file__).resolve().parents[1] / "valuesets"


@dataclass(frozen=True)
class CodeLine:
    system: str
    code: str  # a code, or an ICD-10 / ATC prefix ending in "…"
    display: str


@cache
def _valueset(name: str) -> dict[str, Any]:
    with (VALUESETS_DIR / f"{name}.json").open(encoding="utf-8") as file:
        data: dict[str, Any] = json.load(file)
    return data


def _coded(entries: Any, default_system: str = "") -> list[CodeLine]:
    lines = []
    for entry in entries or ():
        if isinstance(entry, dict) and entry.get("code"):
            lines.append(
                CodeLine(
                    str(entry.get("system") or default_system),
                    str(entry["code"]),
                    str(entry.get("display") or ""),
                )
            )
    return lines


def _concept_codes(valueset: str, concept: str) -> list[CodeLine]:
    data = _valueset(valueset)
    entry = data.get("concepts", {}).get(concept)
    if not isinstance(entry, dict):
        return []
    lines = _coded(entry.get("codes"))
    for prefix in entry.get("icd_prefixes") or ():
        lines.append(CodeLine("ICD-10 / CIM-10", f"{prefix['prefix']}…", prefix.get("display", "")))
    return lines


ATC = "http://www.whocc.no/atc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _drug_class_codes(drug_class: str) -> list[CodeLine]:
    data = _valueset("drugs")
    lines: list[CodeLine] = []
    for name, ingredient in data.get("ingredients", {}).items():
        if drug_class not in ingredient.get("classes", ()):
            continue
        lines.extend(CodeLine(RXNORM, e["code"], name) for e in ingredient.get("rxnorm", ()))
        lines.extend(CodeLine(ATC, e["code"], name) for e in ingredient.get("atc", ()))
    for prefix in data.get("atc_class_prefixes", ()):
        if drug_class in prefix.get("classes", ()):
            lines.append(CodeLine(ATC, f"{prefix['prefix']}…", prefix.get("source", "")))
    return lines


def _group_codes(valueset: str, section: str, names: list[str] | None) -> list[CodeLine]:
    groups = _valueset(valueset).get(section, {})
    lines: list[CodeLine] = []
    for name, entry in groups.items():
        if names is None or name in names:
            lines.extend(_coded(entry.get("codes")))
    return lines


def codes_for(spec: dict[str, Any]) -> list[CodeLine]:
    """Every coded entry of the concepts named by a rule's "codes" spec, each once."""
    lines: list[CodeLine] = []
    for concept in spec.get("conditions", ()):
        lines.extend(_concept_codes("conditions", concept))
    for concept in spec.get("allergies", ()):
        lines.extend(_concept_codes("allergies", concept))
    for kind in spec.get("labs", ()):
        entry = _valueset("labs").get("kinds", {}).get(kind)
        lines.extend(_coded(entry.get("codes")) if isinstance(entry, dict) else [])
    for drug_class in spec.get("drug_classes", ()):
        lines.extend(_drug_class_codes(drug_class))
    if spec.get("procedures"):
        lines.extend(_group_codes("procedures", "kinds", None))
    if spec.get("body_sites"):
        lines.extend(_group_codes("body_sites", "groups", list(spec["body_sites"])))
    return list(dict.fromkeys(lines))
