"""Drug value set: ingredients and products by code and by name, each with its classes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.valuesets.codeable import codings, normalised_text, texts
from service.valuesets.common import ValueSetError, check_verified
from service.valuesets.text import TextIndex, TextRule
from service.vocabulary import DrugClass


@dataclass(frozen=True)
class DrugMatch:
    ingredient: str
    classes: frozenset[DrugClass]
    code: tuple[str, str] | None  # the (system, code) that matched; None for a text match


@dataclass(frozen=True)
class DrugValueSet:
    rxnorm_systems: frozenset[str]
    atc_systems: frozenset[str]
    ingredient_classes: Mapping[str, frozenset[DrugClass]]
    rxnorm: Mapping[str, tuple[str, ...]]  # code -> ingredient keys (ingredient or product code)
    atc: Mapping[str, tuple[str, frozenset[DrugClass]]]  # exact ATC code -> (ingredient, extra)
    atc_prefixes: tuple[tuple[str, frozenset[DrugClass]], ...]  # longest prefix first
    text_rules: tuple[tuple[str, TextRule], ...]  # ingredient -> names (and brands)
    combination_brands: tuple[tuple[tuple[str, ...], TextRule], ...]
    # Built once from the two above: a text is looked up by its words, not run through one
    # regex per ingredient (every medication without a known code is matched by text).
    _text_index: TextIndex[tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rules = [*self.combination_brands, *(((key,), rule) for key, rule in self.text_rules)]
        object.__setattr__(self, "_text_index", TextIndex(rules))

    def match_codings(self, concept: Any) -> list[DrugMatch]:
        found: dict[str, DrugMatch] = {}
        for system, code, _ in codings(concept):
            if not code:
                continue
            if system in self.rxnorm_systems:
                for ingredient in self.rxnorm.get(code, ()):
                    found.setdefault(ingredient, self._match(ingredient, (system, code)))
            elif system in self.atc_systems:
                atc = code.upper()
                if atc in self.atc:
                    ingredient, extra = self.atc[atc]
                    base = self._match(ingredient, (system, atc))
                    found[ingredient] = DrugMatch(ingredient, base.classes | extra, base.code)
                    continue
                for prefix, classes in self.atc_prefixes:
                    if atc.startswith(prefix):
                        key = f"atc:{atc}"
                        found.setdefault(key, DrugMatch(key, classes, (system, atc)))
                        break
        return list(found.values())

    def match_text(self, values: Iterable[str]) -> list[DrugMatch]:
        text = normalised_text(list(values))
        found: dict[str, DrugMatch] = {}
        for ingredients in self._text_index.matching(text):  # combinations first, then names
            for ingredient in ingredients:
                found.setdefault(ingredient, self._match(ingredient, None))
        return list(found.values())

    def match(self, concept: Any, extra_texts: Iterable[str] = ()) -> list[DrugMatch]:
        """Codes first; display/text (and `extra_texts`) only when no code matched."""
        by_code = self.match_codings(concept)
        if by_code:
            return by_code
        return self.match_text([*texts(concept), *extra_texts])

    def _match(self, ingredient: str, code: tuple[str, str] | None) -> DrugMatch:
        return DrugMatch(ingredient, self.ingredient_classes[ingredient], code)


def drug_classes(names: Iterable[str], where: str) -> frozenset[DrugClass]:
    try:
        return frozenset(DrugClass(name) for name in names)
    except ValueError as exc:
        raise ValueSetError(f"{where}: {exc}") from exc


def load_drugs(data: Mapping[str, Any]) -> DrugValueSet:
    systems = data["systems"]
    ingredient_classes: dict[str, frozenset[DrugClass]] = {}
    rxnorm: dict[str, tuple[str, ...]] = {}
    atc: dict[str, tuple[str, frozenset[DrugClass]]] = {}
    text_rules = []
    exclusions = data.get("text_exclusions", {})
    for key, raw in data["ingredients"].items():
        where = f"drugs.json {key}"
        ingredient_classes[key] = drug_classes(raw["classes"], where)
        for entry in raw.get("rxnorm", ()):
            check_verified(entry, where)
            rxnorm[entry["code"]] = (key,)
        for entry in raw.get("atc", ()):
            check_verified(entry, where)
            atc[entry["code"].upper()] = (key, drug_classes(entry.get("classes", ()), where))
        terms = [*raw.get("names", ()), *raw.get("brands", ())]
        if terms:
            text_rules.append((key, TextRule.build([[t] for t in terms], exclusions.get(key, ()))))
    for entry in data.get("rxnorm_products", ()):
        check_verified(entry, f"drugs.json product {entry.get('code')}")
        unknown = [i for i in entry["ingredients"] if i not in ingredient_classes]
        if unknown:
            raise ValueSetError(f"drugs.json product {entry['code']}: unknown {unknown}")
        rxnorm.setdefault(entry["code"], tuple(entry["ingredients"]))
    prefixes = []
    for entry in data.get("atc_class_prefixes", ()):
        check_verified({"code": entry["prefix"], **entry}, "drugs.json atc_class_prefixes")
        prefixes.append((entry["prefix"].upper(), drug_classes(entry["classes"], "atc prefix")))
    prefixes.sort(key=lambda item: -len(item[0]))
    combos = []
    for entry in data.get("combination_brands", ()):
        ingredients = tuple(entry["ingredients"])
        if any(i not in ingredient_classes for i in ingredients):
            raise ValueSetError(f"drugs.json combination {entry['name']}: unknown ingredient")
        combos.append((ingredients, TextRule.build([[entry["name"]]])))
    return DrugValueSet(
        rxnorm_systems=frozenset(systems["rxnorm"]),
        atc_systems=frozenset(systems["atc"]),
        ingredient_classes=ingredient_classes,
        rxnorm=rxnorm,
        atc=atc,
        atc_prefixes=tuple(prefixes),
        text_rules=tuple(text_rules),
        combination_brands=tuple(combos),
    )
