"""A lab search sorted newest first whose first page already reaches before the lab window is
complete: its `next` link alone must not make the labs "unavailable".

Reproduces the Synthea finding (26 % of patients got DATA-UNAVAILABLE with no FHIR server, from
a paged prefetch), then pins the boundary of the reading (service/prefetch_coverage.py).
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import flask
from support.fhir_builders import searchset
from support.shared_data import shared_path

from service.app import create_app
from service.config import parse_config
from service.prefetch_coverage import lab_window_coverage
from service.prefetch_templates import prefetch_templates
from service.storage import Store
from service.valuesets import load_valuesets

NOW = datetime.fromisoformat("2026-11-26T09:00:00+01:00")
TEMPLATES = prefetch_templates(load_valuesets())
RULES = "cementoplasty-cds/rules"
# Every lab search of the templates (catalog v2 added temperature and neutrophils).
LAB_KEYS = ("platelets", "coagulation", "pain", "neutrophils", "temperature")


def observation(when: str, oid: str = "o") -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "effectiveDateTime": when}


def covered(resources: list[dict[str, Any]], key: str = "platelets", days: int = 7) -> bool:
    return lab_window_coverage(TEMPLATES, NOW, days)[key](resources)


# --- The reading, at its boundary -------------------------------------------------------------


def test_a_page_reaching_before_the_window_is_covered() -> None:
    page = [observation("2026-11-25T08:00:00+01:00"), observation("2026-11-18T08:00:00+01:00")]
    assert covered(page)  # 18/11 08:00 is before 19/11 09:00, the window's start


def test_a_page_inside_the_window_is_not_covered() -> None:
    page = [observation("2026-11-25T08:00:00+01:00"), observation("2026-11-19T10:00:00+01:00")]
    assert not covered(page)
    assert covered(page, days=0)  # the window is the policy's, not a constant


def test_a_date_without_time_counts_as_its_whole_day() -> None:
    # 18/11 could end after the window's start somewhere on Earth: not certain, not covered.
    assert not covered([observation("2026-11-18")])
    assert covered([observation("2026-11-16")])
    # A time without a zone: the whole day too.
    assert not covered([observation("2026-11-18T23:00:00")])


def test_undated_or_vague_entries_never_cover() -> None:
    assert not covered([])
    assert not covered([{"resourceType": "Observation", "id": "x"}])
    assert not covered([observation("2019-05")])  # a month: too vague to bound the search


def test_only_lab_keys_sorted_newest_first_have_a_coverage() -> None:
    coverage = lab_window_coverage(TEMPLATES, NOW, 7)
    assert set(coverage) == set(LAB_KEYS)
    unsorted = {**TEMPLATES, "pain": TEMPLATES["pain"].replace("&_sort=-date", "")}
    assert set(lab_window_coverage(unsorted, NOW, 7)) == set(LAB_KEYS) - {"pain"}


# --- Synthea: paged prefetch, no FHIR server ----------------------------------------------------


@cache
def app() -> flask.Flask:
    config = parse_config({"auth": {"required": False}, "logging": {"level": "WARNING"}})
    return create_app(config, store=Store("sqlite://"), clock=lambda: NOW)


def lab_codes() -> dict[tuple[str, str], str]:
    """(system, code) -> the lab key whose template asks for it (read from the templates)."""
    codes = {}
    for key in LAB_KEYS:
        query = TEMPLATES[key].split("code=", 1)[1].split("&", 1)[0]
        for system_code in query.split(","):
            system, code = system_code.split("|")
            codes[(system, code)] = key
    return codes


def page_size(key: str) -> int:
    return int(TEMPLATES[key].split("_count=", 1)[1].split("&", 1)[0])


def paged_request(resources: list[dict[str, Any]]) -> tuple[dict[str, Any], int]:
    """An order-select whose lab keys hold what a server sends for `_sort=-date&_count=N`: the
    newest N entries and a `next` link when there are more; and how many keys were paged."""
    codes = lab_codes()
    labs: dict[str, list[dict[str, Any]]] = {key: [] for key in LAB_KEYS}
    for resource in resources:
        if resource["resourceType"] != "Observation":
            continue
        for coding in resource.get("code", {}).get("coding", []):
            key = codes.get((coding.get("system"), coding.get("code")))
            if key is not None:
                labs[key].append(resource)
                break
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    prefetch: dict[str, Any] = {"patient": patient}
    paged = 0
    for key, found in labs.items():
        found.sort(key=lambda r: r.get("effectiveDateTime", ""), reverse=True)
        next_url = None
        if len(found) > page_size(key):
            paged += 1
            next_url = "https://ehr.example/fhir/p?page=2"
        prefetch[key] = searchset(*found[: page_size(key)], next_url=next_url)
    for key in ("medicationStatements", "medicationRequests", "conditions", "allergies"):
        prefetch[key] = None  # not what this test is about
    order = {
        "resourceType": "ServiceRequest",
        "id": "sr-vp",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "22511"}]},
        "subject": {"reference": f"Patient/{patient['id']}"},
    }
    request = {
        "hook": "order-select",
        "hookInstance": "5f1c2a6e-9f1e-4c7b-8d7e-2b0c5a9d1e02",
        "context": {
            "userId": "Practitioner/p",
            "patientId": patient["id"],
            "selections": ["ServiceRequest/sr-vp"],
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": order}]},
        },
        "prefetch": prefetch,
    }
    return request, paged


def bundles() -> list[Path]:
    return sorted(shared_path("testdata", "synthea-r4").glob("*.json.gz"))


def load(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as file:
        return [entry["resource"] for entry in json.load(file)["entry"]]


def fired(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    response = (
        app()
        .test_client()
        .post(
            "/cds-services/cementoplasty-order-select",
            data=json.dumps(request),
            headers={"Content-Type": "application/json"},
        )
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return {
        rule: card for card in response.get_json()["cards"] for rule in card["extension"][RULES]
    }


def test_paged_synthea_labs_are_complete_without_a_fhir_server() -> None:
    paged_patients = 0
    for path in bundles():
        request, paged = paged_request(load(path))
        paged_patients += paged > 0
        rules = fired(request)
        # Their labs are years old: the first page reaches before the window, so the `next`
        # link is not needed, and the stale results are shown, not "unavailable".
        assert "DATA-UNAVAILABLE" not in rules, (path.name, rules["DATA-UNAVAILABLE"]["detail"])
        assert "BLEED-LAB-MISSING" in rules, path.name
    assert paged_patients >= 3, "the corpus must exercise paged lab searches"


def test_a_paged_first_page_inside_the_window_is_still_partial() -> None:
    """Near miss: recent results fill the first page, so older pages may hold results inside
    the window; with no server to ask, the labs are reported as partly unavailable."""
    recent = [
        {
            **observation((NOW - timedelta(hours=6 * i)).isoformat(), f"plt-{i}"),
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "777-3"}]},
            "valueQuantity": {
                "value": 210,
                "unit": "10*3/uL",
                "system": "http://unitsofmeasure.org",
                "code": "10*3/uL",
            },
            "subject": {"reference": "Patient/p-recent"},
        }
        for i in range(12)
    ]
    patient = {"resourceType": "Patient", "id": "p-recent"}
    request, paged = paged_request([patient, *recent])
    assert paged == 1
    rules = fired(request)
    assert "DATA-UNAVAILABLE" in rules
    assert "platelet" in rules["DATA-UNAVAILABLE"]["summary"].lower()


def test_a_first_page_oldest_first_never_covers() -> None:
    # A server that ignored `_sort=-date` answers oldest first: the old entry on the first page
    # says nothing of the newer results on the next pages, which must be read.
    oldest_first = [
        observation("2016-11-25T08:00:00+01:00"),
        observation("2026-11-25T08:00:00+01:00"),
    ]
    assert not covered(oldest_first)
    assert covered(list(reversed(oldest_first)))
