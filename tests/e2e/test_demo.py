"""End to end: `make demo` (scripts/demo-run.py) starts a FHIR R4 server loaded with the demo
patients and the service; called as the CDS Hooks sandbox calls it (discovery, then every
prefetch key filled from the FHIR server by the client, no fhirAuthorization), Patient View
and Rx View show the expected cards."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from support.e2e_servers import REPO_ROOT, child_env, free_port, start_process, stop_process

pytestmark = pytest.mark.e2e

RULES = "cementoplasty-cds/rules"
STARTUP_TIMEOUT_S = 120.0  # installs nothing when .venv-fhir is there; loads, then warms up
PARIS = ZoneInfo("Europe/Paris")  # the demo profile's site time zone: the demo's "today"


@dataclass(frozen=True)
class Demo:
    service: str
    fhir: str
    log: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    workdir = tmp_path_factory.mktemp("demo")
    port, fhir_port = free_port(), free_port()
    command = [sys.executable, str(REPO_ROOT / "scripts" / "demo-run.py")]
    command += ["--port", str(port), "--fhir-port", str(fhir_port), "--workdir", str(workdir)]
    log = workdir / "demo.log"
    process = start_process(command, env=child_env(), cwd=REPO_ROOT, log_path=log)
    running = Demo(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{fhir_port}/fhir", log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the demo exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            try:
                if requests.get(f"{running.service}/cds-services", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        else:
            pytest.fail(f"the demo did not start:\n{log.read_text()[-3000:]}")
        yield running
    finally:
        stop_process(process)


def services(demo: Demo) -> dict[str, dict[str, Any]]:
    found = requests.get(f"{demo.service}/cds-services", timeout=10).json()["services"]
    return {service["id"]: service for service in found}


def call(demo: Demo, service_id: str, context: dict[str, Any]) -> list[dict[str, Any]]:
    """As the sandbox calls: each prefetch key fetched by the client, fhirServer, no token."""
    definition = services(demo)[service_id]
    prefetch = {}
    for key, template in definition["prefetch"].items():
        url = f"{demo.fhir}/{template.replace('{{context.patientId}}', context['patientId'])}"
        answer = requests.get(url, headers={"Accept": "application/fhir+json"}, timeout=10)
        assert answer.status_code == 200, (key, answer.status_code)
        prefetch[key] = answer.json()
    body = {
        "hook": definition["hook"],
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": demo.fhir,
        "context": {"userId": "Practitioner/COREPRACTITIONER1", **context},
        "prefetch": prefetch,
    }
    response = requests.post(f"{demo.service}/cds-services/{service_id}", json=body, timeout=30)
    assert response.status_code == 200, (response.status_code, response.text[:500])
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


def patient_view(demo: Demo, patient_id: str) -> list[dict[str, Any]]:
    return call(demo, "cementoplasty-patient-view", {"patientId": patient_id})


def rules(cards: list[dict[str, Any]]) -> set[str]:
    return {rule for card in cards for rule in card["extension"][RULES]}


def plan(cards: list[dict[str, Any]]) -> dict[str, Any]:
    [card] = [c for c in cards if any(r.startswith("MED-") for r in c["extension"][RULES])]
    return card


def day(days: int) -> str:
    return (datetime.now(PARIS).date() + timedelta(days=days)).isoformat()


def test_discovery_lists_the_four_services(demo: Demo) -> None:
    assert set(services(demo)) == {
        "cementoplasty-order-select",
        "cementoplasty-order-sign",
        "cementoplasty-patient-view",
        "cementoplasty-appointment-book",
    }


def test_vertebroplasty_on_clopidogrel_with_low_platelets(demo: Demo) -> None:
    cards = patient_view(demo, "cemento-demo-1")
    assert {"BLEED-PLATELETS-LOW", "MED-CLOPIDOGREL", "TUMOR-CONTROL", "CHECKLIST"} <= rules(cards)
    assert plan(cards)["summary"] == (
        f"Procedure on {day(7)}: clopidogrel is to be stopped from {day(2)} — in 2 days"
    )


def test_kyphoplasty_on_a_vka(demo: Demo) -> None:
    cards = patient_view(demo, "cemento-demo-2")
    assert {"MED-VKA", "BLEED-TP-LOW", "PROC-KYPHOPLASTY"} <= rules(cards)
    assert plan(cards)["summary"].startswith(f"Procedure on {day(10)} (in 10 days): warfarin")


def test_the_clean_case_has_only_the_checklist(demo: Demo) -> None:
    assert rules(patient_view(demo, "cemento-demo-3")) == {"TUMOR-CONTROL", "CHECKLIST"}


def test_femur_ablation_dated_by_its_appointment(demo: Demo) -> None:
    cards = patient_view(demo, "cemento-demo-4")
    assert {"MED-DOAC", "SITE-LONG-BONE", "PROC-THERMAL-ABLATION"} <= rules(cards)
    assert plan(cards)["summary"] == (
        f"Procedure on {day(8)}: apixaban is to be stopped from {day(6)} 09:00 — in 6 days"
    )


def test_nothing_planned_is_quiet(demo: Demo) -> None:
    assert patient_view(demo, "cemento-demo-5") == []


def rx_view(demo: Demo, patient_id: str, medication: dict[str, Any] | None) -> list[dict]:
    """The sandbox's Rx View: a draft MedicationRequest, selected."""
    draft: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": "request-123",
        "status": "draft",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": date.today().isoformat(),
    }
    if medication is not None:
        draft["medicationCodeableConcept"] = medication
    context = {
        "patientId": patient_id,
        "selections": ["MedicationRequest/request-123"],
        "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]},
    }
    return call(demo, "cementoplasty-order-select", context)


CLOPIDOGREL = {
    "coding": [
        {
            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
            "code": "309362",
            "display": "Clopidogrel 75 MG Oral Tablet",
        }
    ],
    "text": "Clopidogrel 75 MG Oral Tablet",
}


def test_rx_view_clopidogrel_with_a_planned_vertebroplasty(demo: Demo) -> None:
    [card] = rx_view(demo, "cemento-demo-3", CLOPIDOGREL)
    assert card["extension"][RULES] == ["MED-CLOPIDOGREL"]
    assert card["summary"] == (
        f"clopidogrel ordered: it must be stopped from {day(9)}, 5 days before the "
        f"vertebroplasty of {day(14)}"
    )


def test_rx_view_without_a_medication_or_a_plan_is_quiet(demo: Demo) -> None:
    assert rx_view(demo, "cemento-demo-3", None) == []
    assert rx_view(demo, "cemento-demo-5", CLOPIDOGREL) == []
