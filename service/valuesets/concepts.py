"""Coded concepts (conditions, allergies): codes first, then words, negation-aware."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.valuesets.codeable import codings, texts
from service.valuesets.common import check_verified, icd_key
from service.valuesets.drugs import DrugValueSet, drug_classes
from service.valuesets.text import TextIndex, TextRule, clause_text, compile_terms
from service.vocabulary import DrugClass


@dataclass(frozen=True)
class ConceptValueSet:
    """Conditions or allergies: concept key -> SNOMED codes, ICD prefixes, text rules."""

    codes: Mapping[tuple[str, str], frozenset[str]]
    icd_systems: frozenset[str]
    # (normalised prefix, concept, the ICD systems it holds in: None = all; R65.2 is severe
    # sepsis in ICD-10-CM but a non-infectious SIRS in WHO ICD-10)
    icd_prefixes: tuple[tuple[str, str, frozenset[str] | None], ...]
    icd_excluded: tuple[str, ...]
    text_rules: tuple[tuple[str, TextRule], ...]
    drug_class_concepts: tuple[tuple[str, frozenset[DrugClass]], ...] = ()
    # Words that make a text a suspicion ("suspected sepsis", "suspicion de..."), per concept: the
    # concept then matches as SUSPECTED_PREFIX + key, read as suspected, never as documented.
    hedges: Mapping[str, Any] = field(default_factory=dict)  # concept -> re.Pattern[str]
    _text_index: TextIndex[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_text_index", TextIndex(self.text_rules))

    def match(self, concepts: Iterable[Any], drugs: DrugValueSet | None = None) -> frozenset[str]:
        """Concepts matched by any of the CodeableConcepts; text only if no code matched."""
        return self.match_detail(concepts, drugs)[0]

    def match_detail(
        self, concepts: Iterable[Any], drugs: DrugValueSet | None = None
    ) -> tuple[frozenset[str], str | None]:
        """(concepts, the text they were read from: None when a code or drug matched).

        Text is read clause by clause, never where negated (RULES.md "Documented")."""
        concept_list = [c for c in concepts if isinstance(c, dict)]
        found: set[str] = set()
        any_code_matched = False
        for concept in concept_list:
            for system, code, _ in codings(concept):
                hits = self.codes.get((system, code))
                if hits:
                    found |= hits
                if system in self.icd_systems and code:
                    key = icd_key(code)
                    if not key.startswith(self.icd_excluded):
                        found.update(
                            c
                            for prefix, c, only in self.icd_prefixes
                            if key.startswith(prefix) and (only is None or system in only)
                        )
        any_code_matched = bool(found)
        if drugs is not None and self.drug_class_concepts:
            for concept in concept_list:
                for match in drugs.match(concept):
                    for name, classes in self.drug_class_concepts:
                        if match.classes & classes:
                            found.add(name)
        if any_code_matched:
            return frozenset(found), None
        raw = [t for concept in concept_list for t in texts(concept)]
        text = " | ".join(clause_text(t) for t in raw if t)
        by_text = self._text_index.matching(text)
        by_text = [
            SUSPECTED_PREFIX + key if key in self.hedges and self.hedges[key].search(text) else key
            for key in by_text
        ]
        quoted = raw[0].strip() if by_text and raw else None
        return frozenset(found | set(by_text)), quoted


SUSPECTED_PREFIX = "suspected:"


def load_concepts(name: str, data: Mapping[str, Any]) -> ConceptValueSet:
    codes: dict[tuple[str, str], set[str]] = {}
    prefixes: list[tuple[str, str, frozenset[str] | None]] = []
    excluded: list[str] = []
    rules = []
    drug_class_concepts = []
    hedges: dict[str, Any] = {}
    exclusions = data.get("text_exclusions", ())
    for key, raw in data["concepts"].items():
        where = f"{name} {key}"
        for entry in raw.get("codes", ()):
            check_verified(entry, where)
            codes.setdefault((entry["system"], entry["code"]), set()).add(key)
        for entry in raw.get("icd_prefixes", ()):
            check_verified({"code": entry["prefix"], **entry}, where)
            only = frozenset(entry["systems"]) if "systems" in entry else None
            prefixes.append((icd_key(entry["prefix"]), key, only))
        excluded.extend(icd_key(e["prefix"]) for e in raw.get("icd_exclude_prefixes", ()))
        if raw.get("text_any"):
            rules.append(
                (
                    key,
                    TextRule.build(
                        raw["text_any"],
                        exclusions,
                        negation=True,
                        namesakes=raw.get("text_exclude", ()),
                    ),
                )
            )
        if raw.get("drug_classes"):
            drug_class_concepts.append((key, drug_classes(raw["drug_classes"], where)))
        hedge_terms = [*data.get("text_hedges", ()), *raw.get("text_hedge", ())]
        if hedge_terms:
            hedges[key] = compile_terms(hedge_terms)
    return ConceptValueSet(
        codes={k: frozenset(v) for k, v in codes.items()},
        icd_systems=frozenset(data.get("icd_systems", ())),
        icd_prefixes=tuple(prefixes),
        icd_excluded=tuple(excluded),
        text_rules=tuple(rules),
        drug_class_concepts=tuple(drug_class_concepts),
        hedges=hedges,
    )
