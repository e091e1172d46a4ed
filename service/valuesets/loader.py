"""Value sets: data files in this package, loaded once (cached) at start-up.

Every coded entry carries its source and verification from TERMINOLOGY.md; the loader refuses an
entry that is not verified ("yes", "yes (2nd)", or "display" for a product code whose display was
checked to name the ingredient). Matching is by code first; display/text is the last resort.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Any

from service.facts.model import DrugClass, LabKind, ProcedureKind
from service.valuesets.codeable import codings, normalised_text, texts
from service.valuesets.text import TextIndex, TextRule, clause_text, compile_terms

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ACCEPTED_VERIFICATION = ("yes", "display")


class ValueSetError(ValueError):
    """A data file is malformed or holds an unverified code: start-up must stop."""


def _check_verified(entry: Mapping[str, Any], where: str) -> None:
    verified = str(entry.get("verified", ""))
    if not verified.startswith(ACCEPTED_VERIFICATION) or "UNVERIFIED" in verified.upper():
        raise ValueSetError(f"{where}: code {entry.get('code')!r} is not verified ({verified!r})")
    if not entry.get("source"):
        raise ValueSetError(f"{where}: code {entry.get('code')!r} has no source")


def _icd_key(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


# ---------------------------------------------------------------------------------------- labs


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


# ---------------------------------------------------------------------------------------- drugs


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


# ------------------------------------------------------------------------- coded concepts


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
                    key = _icd_key(code)
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


# ---------------------------------------------------------------------------------- procedures


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


# ---------------------------------------------------------------------------------- the whole


@dataclass(frozen=True)
class ValueSets:
    labs: Mapping[LabKind, LabSpec]
    lab_kind_by_code: Mapping[tuple[str, str], LabKind]
    unit_aliases: Mapping[str, str]
    drugs: DrugValueSet
    conditions: ConceptValueSet
    allergies: ConceptValueSet
    procedures: ProcedureValueSet
    body_sites: BodySiteValueSet

    def lab_codes(self, *kinds: LabKind) -> list[tuple[str, str]]:
        return [code for kind in kinds for code in self.labs[kind].codes]


def _read(name: str) -> dict[str, Any]:
    try:
        text = resources.files("service.valuesets").joinpath(name).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueSetError(f"{name}: cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueSetError(f"{name}: must hold a JSON object")
    return data


def _load_labs(data: Mapping[str, Any]) -> tuple[dict[LabKind, LabSpec], dict[str, str]]:
    specs: dict[LabKind, LabSpec] = {}
    for key, raw in data["kinds"].items():
        kind = LabKind(key)
        codes = []
        for entry in raw["codes"]:
            _check_verified(entry, f"labs.json {key}")
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


def _classes(names: Iterable[str], where: str) -> frozenset[DrugClass]:
    try:
        return frozenset(DrugClass(name) for name in names)
    except ValueError as exc:
        raise ValueSetError(f"{where}: {exc}") from exc


def _load_drugs(data: Mapping[str, Any]) -> DrugValueSet:
    systems = data["systems"]
    ingredient_classes: dict[str, frozenset[DrugClass]] = {}
    rxnorm: dict[str, tuple[str, ...]] = {}
    atc: dict[str, tuple[str, frozenset[DrugClass]]] = {}
    text_rules = []
    exclusions = data.get("text_exclusions", {})
    for key, raw in data["ingredients"].items():
        where = f"drugs.json {key}"
        ingredient_classes[key] = _classes(raw["classes"], where)
        for entry in raw.get("rxnorm", ()):
            _check_verified(entry, where)
            rxnorm[entry["code"]] = (key,)
        for entry in raw.get("atc", ()):
            _check_verified(entry, where)
            atc[entry["code"].upper()] = (key, _classes(entry.get("classes", ()), where))
        terms = [*raw.get("names", ()), *raw.get("brands", ())]
        if terms:
            text_rules.append((key, TextRule.build([[t] for t in terms], exclusions.get(key, ()))))
    for entry in data.get("rxnorm_products", ()):
        _check_verified(entry, f"drugs.json product {entry.get('code')}")
        unknown = [i for i in entry["ingredients"] if i not in ingredient_classes]
        if unknown:
            raise ValueSetError(f"drugs.json product {entry['code']}: unknown {unknown}")
        rxnorm.setdefault(entry["code"], tuple(entry["ingredients"]))
    prefixes = []
    for entry in data.get("atc_class_prefixes", ()):
        _check_verified({"code": entry["prefix"], **entry}, "drugs.json atc_class_prefixes")
        prefixes.append((entry["prefix"].upper(), _classes(entry["classes"], "atc prefix")))
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


def _load_concepts(name: str, data: Mapping[str, Any]) -> ConceptValueSet:
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
            _check_verified(entry, where)
            codes.setdefault((entry["system"], entry["code"]), set()).add(key)
        for entry in raw.get("icd_prefixes", ()):
            _check_verified({"code": entry["prefix"], **entry}, where)
            only = frozenset(entry["systems"]) if "systems" in entry else None
            prefixes.append((_icd_key(entry["prefix"]), key, only))
        excluded.extend(_icd_key(e["prefix"]) for e in raw.get("icd_exclude_prefixes", ()))
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
            drug_class_concepts.append((key, _classes(raw["drug_classes"], where)))
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


def _load_procedures(data: Mapping[str, Any]) -> ProcedureValueSet:
    codes: dict[tuple[str, str], ProcedureKind] = {}
    generic: dict[tuple[str, str], ProcedureKind] = {}
    rules = []
    for key, raw in data["kinds"].items():
        kind = ProcedureKind(key)
        for entry in raw.get("codes", ()):
            _check_verified(entry, f"procedures.json {key}")
            codes[(entry["system"], entry["code"])] = kind
        for entry in raw.get("generic_codes", ()):
            _check_verified(entry, f"procedures.json {key}")
            generic[(entry["system"], entry["code"])] = kind
        rule = TextRule.build(raw.get("text_any", ()))
        rules.append((kind, rule, bool(raw["needs_bone_context"])))
    return ProcedureValueSet(
        codes=codes,
        generic_codes=generic,
        text_rules=tuple(rules),
        bone_context=TextRule.build([[t] for t in data["bone_context_text"]]),
    )


def _load_body_sites(data: Mapping[str, Any]) -> BodySiteValueSet:
    codes: dict[tuple[str, str], set[str]] = {}
    rules = []
    for key, raw in data["groups"].items():
        for entry in raw.get("codes", ()):
            _check_verified(entry, f"body_sites.json {key}")
            codes.setdefault((entry["system"], entry["code"]), set()).add(key)
        rules.append((key, TextRule.build(raw.get("text_any", ()))))
    return BodySiteValueSet({k: frozenset(v) for k, v in codes.items()}, tuple(rules))


@cache
def load_valuesets() -> ValueSets:
    """Load and check every data file (once per process). Raises ValueSetError."""
    try:
        labs, aliases = _load_labs(_read("labs.json"))
        lab_kind_by_code = {code: spec.kind for spec in labs.values() for code in spec.codes}
        return ValueSets(
            labs=labs,
            lab_kind_by_code=lab_kind_by_code,
            unit_aliases=aliases,
            drugs=_load_drugs(_read("drugs.json")),
            conditions=_load_concepts("conditions.json", _read("conditions.json")),
            allergies=_load_concepts("allergies.json", _read("allergies.json")),
            procedures=_load_procedures(_read("procedures.json")),
            body_sites=_load_body_sites(_read("body_sites.json")),
        )
    except (KeyError, TypeError, ValueError, re.error) as exc:
        if isinstance(exc, ValueSetError):
            raise
        raise ValueSetError(f"value sets: malformed data file: {exc!r}") from exc
