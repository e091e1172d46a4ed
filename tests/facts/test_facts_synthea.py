"""Every Synthea R4 bundle of ../shared/testdata, as the prefetch of an order-select request."""

from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.fhir_builders import NOW, VERTEBROPLASTY, service_request
from support.hook_calls import hook_call, prefetch
from support.shared_data import shared_path

from service.facts.extract import extract_facts, procedures_in_scope
from service.facts.model import MedicationSourceKind
from service.vocabulary import DrugClass, LabKind

TESTDATA = shared_path("testdata", "synthea-r4")
BUNDLES = sorted(TESTDATA.glob("*.json.gz"))


def load(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as file:
        bundle = json.load(file)
    return [entry["resource"] for entry in bundle["entry"]]


def active_order_displays(resources: list[dict[str, Any]], word: str) -> set[str]:
    """Ids of active MedicationRequests whose display names `word` (computed from the raw data)."""
    pattern = re.compile(rf"\b{word}\b", re.IGNORECASE)
    return {
        r["id"]
        for r in resources
        if r["resourceType"] == "MedicationRequest"
        and r["status"] == "active"
        and any(
            pattern.search(c.get("display", ""))
            for c in r.get("medicationCodeableConcept", {}).get("coding", [])
        )
    }


def test_index_lists_every_bundle():
    assert len(BUNDLES) == 20
    with open(TESTDATA / "index.tsv", encoding="utf-8") as file:
        listed = {row["file"] for row in csv.DictReader(file, delimiter="\t")}
    assert listed == {path.name for path in BUNDLES}


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name.split("_")[0])
def test_bundle_extracts_and_antithrombotics_are_recognised(valuesets, all_triggers, path):
    resources = load(path)
    by_key: dict[str, list[dict[str, Any]]] = {
        "patient": [r for r in resources if r["resourceType"] == "Patient"],
        "observations": [r for r in resources if r["resourceType"] == "Observation"],
        "medicationRequests": [r for r in resources if r["resourceType"] == "MedicationRequest"],
        "conditions": [r for r in resources if r["resourceType"] == "Condition"],
        "allergies": [r for r in resources if r["resourceType"] == "AllergyIntolerance"],
        "everythingElse": resources,  # unknown types and duplicates must be harmless
    }
    (patient,) = by_key["patient"]
    request = hook_call([service_request(VERTEBROPLASTY)], patient_id=patient["id"])
    procedures = procedures_in_scope(request, valuesets, all_triggers)
    facts = extract_facts(request, prefetch(**by_key), valuesets, procedures, NOW)

    assert facts.invalid_resources == ()
    assert facts.unavailable == frozenset()
    assert len(facts.procedures) == 1

    warfarin = {f.source.id for f in facts.medications if f.ingredient == "warfarin"}
    clopidogrel = {f.source.id for f in facts.medications if f.ingredient == "clopidogrel"}
    assert warfarin == active_order_displays(resources, "warfarin")
    assert clopidogrel == active_order_displays(resources, "clopidogrel")
    for fact in facts.medications:
        if fact.ingredient == "warfarin":
            assert fact.classes == {DrugClass.VKA}
            assert fact.code == ("http://www.nlm.nih.gov/research/umls/rxnorm", "855332")
        if fact.ingredient == "clopidogrel":
            assert fact.classes == {DrugClass.CLOPIDOGREL}
        assert fact.source_kind is MedicationSourceKind.ORDER

    platelets = [lab for lab in facts.labs if lab.kind is LabKind.PLATELETS]
    assert platelets, "every bundle has platelet counts (index.tsv)"
    assert all(lab.interpretable and lab.value > 1000 for lab in platelets)


def test_the_set_exercises_both_drugs(valuesets, all_triggers):
    seen: set[str] = set()
    for path in BUNDLES:
        resources = load(path)
        seen |= {"warfarin"} if active_order_displays(resources, "warfarin") else set()
        seen |= {"clopidogrel"} if active_order_displays(resources, "clopidogrel") else set()
    assert seen == {"warfarin", "clopidogrel"}


def test_lung_cancer_patients_are_recognised_and_suspicion_is_not(valuesets, all_triggers):
    with open(TESTDATA / "index.tsv", encoding="utf-8") as file:
        with_cancer = {
            row["file"] for row in csv.DictReader(file, delimiter="\t") if row["lung_cancer_dx"]
        }
    for path in BUNDLES:
        if path.name not in with_cancer:
            continue
        resources = load(path)
        request = hook_call([service_request(VERTEBROPLASTY)])
        procedures = procedures_in_scope(request, valuesets, all_triggers)
        facts = extract_facts(request, prefetch(all=resources), valuesets, procedures, NOW)
        matched = [c for c in facts.conditions if "lung-cancer" in c.concepts]
        assert matched, path.name
        assert all("suspected" not in c.display.lower() for c in matched)
