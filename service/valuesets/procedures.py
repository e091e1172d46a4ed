"""The procedures that trigger the service and the bone sites an order names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from service.valuesets.codeable import codings, normalised_text, texts
from service.valuesets.common import check_verified
from service.valuesets.text import TextRule
from service.vocabulary import ProcedureKind


@dataclass(frozen=True)
class ProcedureValueSet:
    codes: Mapping[tuple[str, str], ProcedureKind]  # bone-specific codes
    generic_codes: Mapping[tuple[str, str], ProcedureKind]  # need bone context
    text_rules: tuple[tuple[ProcedureKind, TextRule, bool], ...]  # kind, rule, needs context
    bone_context: TextRule

    def match(self, concept: Any, bone_site_known: bool) -> list[ProcedureKind]:
        """Kinds named by the order's code, in a stable order (several for a combined act)."""
        kinds: list[ProcedureKind] = []
        text = normalised_text(texts(concept))
        has_bone = bone_site_known or self.bone_context.matches(text)
        coded = False
        for system, code, _ in codings(concept):
            kind = self.codes.get((system, code))
            if kind is None and has_bone:
                kind = self.generic_codes.get((system, code))
            if kind is not None:
                coded = True
                if kind not in kinds:
                    kinds.append(kind)
        if coded:
            return kinds
        for kind, rule, needs_context in self.text_rules:
            if (has_bone or not needs_context) and rule.matches(text) and kind not in kinds:
                kinds.append(kind)
        return kinds


@dataclass(frozen=True)
class BodySiteValueSet:
    codes: Mapping[tuple[str, str], frozenset[str]]
    text_rules: tuple[tuple[str, TextRule], ...]

    def match(self, concepts: Iterable[Any]) -> frozenset[str]:
        found: set[str] = set()
        concept_list = [c for c in concepts if isinstance(c, dict)]
        for concept in concept_list:
            for system, code, _ in codings(concept):
                found |= self.codes.get((system, code), frozenset())
        text = normalised_text([t for concept in concept_list for t in texts(concept)])
        found.update(name for name, rule in self.text_rules if rule.matches(text))
        return frozenset(found)


def load_procedures(data: Mapping[str, Any]) -> ProcedureValueSet:
    codes: dict[tuple[str, str], ProcedureKind] = {}
    generic: dict[tuple[str, str], ProcedureKind] = {}
    rules = []
    for key, raw in data["kinds"].items():
        kind = ProcedureKind(key)
        for entry in raw.get("codes", ()):
            check_verified(entry, f"procedures.json {key}")
            codes[(entry["system"], entry["code"])] = kind
        for entry in raw.get("generic_codes", ()):
            check_verified(entry, f"procedures.json {key}")
            generic[(entry["system"], entry["code"])] = kind
        rule = TextRule.build(raw.get("text_any", ()))
        rules.append((kind, rule, bool(raw["needs_bone_context"])))
    return ProcedureValueSet(
        codes=codes,
        generic_codes=generic,
        text_rules=tuple(rules),
        bone_context=TextRule.build([[t] for t in data["bone_context_text"]]),
    )


def load_body_sites(data: Mapping[str, Any]) -> BodySiteValueSet:
    codes: dict[tuple[str, str], set[str]] = {}
    rules = []
    for key, raw in data["groups"].items():
        for entry in raw.get("codes", ()):
            check_verified(entry, f"body_sites.json {key}")
            codes.setdefault((entry["system"], entry["code"]), set()).add(key)
        rules.append((key, TextRule.build(raw.get("text_any", ()))))
    return BodySiteValueSet({k: frozenset(v) for k, v in codes.items()}, tuple(rules))
