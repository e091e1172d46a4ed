"""The value-set data files and the prefetch templates built from them."""

from __future__ import annotations

import json
import re
from importlib import resources
from urllib.parse import parse_qsl, urlsplit

import pytest

from service.prefetch_templates import prefetch_templates
from service.valuesets import load_valuesets
from service.vocabulary import (
    KEY_CATEGORIES,
    PLANNED_KEYS,
    DataCategory,
    DrugClass,
    LabKind,
    ProcedureKind,
)

FILES = [
    "labs.json",
    "drugs.json",
    "conditions.json",
    "allergies.json",
    "procedures.json",
    "body_sites.json",
]

# Codes TERMINOLOGY.md marks UNVERIFIED (or wrong): they must never be shipped.
UNVERIFIED = ["613391", "1116632", "LHMH00", "1037045", "21821", "443165006"]


def raw(name: str) -> str:
    return resources.files("service.valuesets").joinpath(name).read_text(encoding="utf-8")


def coded_entries(node):
    if isinstance(node, dict):
        if "code" in node or "prefix" in node:
            yield node
        for value in node.values():
            yield from coded_entries(value)
    elif isinstance(node, list):
        for value in node:
            yield from coded_entries(value)


@pytest.mark.parametrize("name", FILES)
def test_every_code_has_a_source_and_is_verified(name):
    for entry in coded_entries(json.loads(raw(name))):
        if "why" in entry:  # an exclusion narrowing a verified category, not a code to match
            continue
        assert entry.get("source"), entry
        assert str(entry.get("verified", "")).startswith(("yes", "display")), entry


@pytest.mark.parametrize("name", FILES)
def test_no_unverified_code_is_shipped(name):
    text = raw(name)
    for code in UNVERIFIED:
        assert code not in text, f"{code} in {name}"


def test_loaded_once():
    assert load_valuesets() is load_valuesets()


def test_value_sets_cover_every_kind(valuesets):
    assert set(valuesets.labs) == set(LabKind)
    kinds = {kind for kind in valuesets.procedures.codes.values()}
    kinds |= {kind for kind, _, _ in valuesets.procedures.text_rules}
    assert kinds == set(ProcedureKind)
    classes = set().union(*valuesets.drugs.ingredient_classes.values())
    assert classes == set(DrugClass)


def test_condition_concepts(valuesets):
    names = {name for name, _ in valuesets.conditions.text_rules}
    names |= set().union(*valuesets.conditions.codes.values())
    assert names >= {
        "bone-metastasis",
        "lung-cancer",
        "systemic-infection",
        "skin-infection",
        "coagulopathy",
        "cement-allergy",
        "diffuse-pain",
        "radiculopathy",
        "epidural-extension",
        "immunocompromised",
        "constipation",
        "urinary-retention",
        "confusion",
    }


def test_product_codes_are_confirmed_by_their_display():
    data = json.loads(raw("drugs.json"))
    for product in data["rxnorm_products"]:
        display = product["display"].lower()
        for ingredient in product["ingredients"]:
            names = [n.rstrip("*") for n in data["ingredients"][ingredient]["names"]]
            assert any(name in display for name in names), product


# ---------------------------------------------------------------------------- prefetch

EXPECTED_KEYS = {
    "patient",
    "platelets",
    "coagulation",
    "pain",
    "medicationStatements",
    "medicationRequests",
    "conditions",
    "allergies",
    "temperature",
    "neutrophils",
}


def test_prefetch_keys_and_categories(valuesets):
    templates = prefetch_templates(valuesets)
    assert set(templates) == EXPECTED_KEYS | set(PLANNED_KEYS)
    assert set(KEY_CATEGORIES) == EXPECTED_KEYS
    assert set(KEY_CATEGORIES.values()) == set(DataCategory)
    assert templates["patient"] == "Patient/{{context.patientId}}"


def test_prefetch_templates_keep_the_spec_restrictions(valuesets):
    for key, template in prefetch_templates(valuesets).items():
        tokens = re.findall(r"\{\{(.*?)\}\}", template)
        assert tokens == ["context.patientId"], key
        query = urlsplit(template).query
        for name, value in parse_qsl(query):
            assert ":" not in name, f"{key}: no modifiers"
            assert name in {"patient", "code", "status", "clinical-status", "_sort", "_count"}
            if name == "_sort":
                assert value == "-date"


def test_observation_templates_take_their_codes_from_the_value_sets(valuesets):
    templates = prefetch_templates(valuesets)
    codes = dict(parse_qsl(urlsplit(templates["coagulation"]).query))["code"].split(",")
    expected = [f"{s}|{c}" for s, c in valuesets.lab_codes(LabKind.TP_PERCENT)]
    assert set(expected) <= set(codes)
    assert "http://loinc.org|6301-6" in codes and "http://loinc.org|5902-2" in codes
    platelets = dict(parse_qsl(urlsplit(templates["platelets"]).query))
    assert platelets["code"].split(",") == [
        f"{s}|{c}" for s, c in valuesets.lab_codes(LabKind.PLATELETS)
    ]
    assert platelets["_sort"] == "-date" and int(platelets["_count"]) > 0
    assert "status=active" in templates["medicationRequests"]
    assert "status=active" in templates["medicationStatements"]
    # Every Condition: recurrence, relapse, an absent clinicalStatus count too (read in code).
    assert templates["conditions"] == "Condition?patient={{context.patientId}}"
