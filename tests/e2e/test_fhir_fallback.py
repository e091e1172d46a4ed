"""End to end: the running service fetches everything from a real FHIR R4 server (no prefetch)."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from typing import Any

import pytest
import requests
from support.e2e_servers import LoadedPatient, RunningServer

pytestmark = pytest.mark.e2e

SERVICE_ID = "cementoplasty-order-select"
RULES_KEY = "cementoplasty-cds/rules"
WARFARIN_RXNORM = "855332"  # Warfarin Sodium 5 MG Oral Tablet, as Synthea codes it
FHIR_JSON = {"Accept": "application/fhir+json"}


def fhir_search(base_url: str, path: str, params: dict[str, str]) -> dict[str, Any]:
    response = requests.get(
        f"{base_url}/{path}",
        params=params,
        headers={**FHIR_JSON, "Authorization": "Bearer e2e-dummy-token"},
        timeout=10,
    )
    assert response.status_code == 200, f"{path} {params}: HTTP {response.status_code}"
    body: dict[str, Any] = response.json()
    return body


def entry_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    assert bundle["resourceType"] == "Bundle", bundle
    return [
        entry["resource"]
        for entry in bundle.get("entry", [])
        if entry.get("search", {}).get("mode", "match") == "match"
    ]


def has_active_warfarin(bundle: dict[str, Any]) -> bool:
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] != "MedicationRequest" or resource["status"] != "active":
            continue
        codings = resource.get("medicationCodeableConcept", {}).get("coding", [])
        if any(coding.get("code") == WARFARIN_RXNORM for coding in codings):
            return True
    return False


def order_select_request(patient_id: str, fhir_server_url: str) -> dict[str, Any]:
    """An order-select call for a lumbosacral vertebroplasty, with no prefetch at all."""
    procedure_date = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    service_request = {
        "resourceType": "ServiceRequest",
        "id": "vp-1",
        "status": "draft",
        "intent": "order",
        "code": {
            "coding": [
                {
                    "system": "http://www.ama-assn.org/go/cpt",
                    "code": "22511",
                    "display": "Percutaneous vertebroplasty, 1 vertebral body; lumbosacral",
                }
            ]
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "occurrenceDateTime": procedure_date,
    }
    return {
        "hook": "order-select",
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": fhir_server_url,
        "fhirAuthorization": {
            "access_token": "e2e-dummy-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "cementoplasty-cds",
        },
        "context": {
            "userId": "Practitioner/example",
            "patientId": patient_id,
            "selections": ["ServiceRequest/vp-1"],
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": service_request}],
            },
        },
    }


def call_order_select(service: RunningServer, request: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{service.base_url}/cds-services/{SERVICE_ID}",
        json=request,
        headers={"Accept": "application/json"},
        timeout=30,
    )


def fired_rules(cards: list[dict[str, Any]]) -> set[str]:
    return {rule for card in cards for rule in card.get("extension", {}).get(RULES_KEY, [])}


def assert_no_check_could_run(response: requests.Response) -> dict[str, Any]:
    """200, a critical DATA-UNAVAILABLE card saying no safety check could run, the checklist."""
    assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:500]}"
    cards = response.json()["cards"]
    rules = fired_rules(cards)
    assert {"DATA-UNAVAILABLE", "CHECKLIST"} <= rules, f"rules fired: {sorted(rules)}"
    [card] = [c for c in cards if "DATA-UNAVAILABLE" in c["extension"][RULES_KEY]]
    assert card["indicator"] == "critical"
    assert "none of the safety checks could run" in card["summary"]
    return card


def fhir_requests_logged(fhir_server: RunningServer) -> int:
    """FHIR REST requests (other than /metadata) in the server's access log."""
    text = fhir_server.log_path.read_text(errors="replace")
    return len(re.findall(r'"(?:GET|POST) /fhir/(?!metadata)', text))


def test_fhir_server_answers_the_searches_the_service_makes(
    fhir_server: RunningServer, loaded_patient: LoadedPatient
) -> None:
    base, patient_id = fhir_server.base_url, loaded_patient.patient_id

    patient = requests.get(f"{base}/Patient/{patient_id}", headers=FHIR_JSON, timeout=10).json()
    assert patient["resourceType"] == "Patient"
    assert patient["id"] == patient_id

    platelets = entry_resources(
        fhir_search(
            base,
            "Observation",
            {
                "patient": patient_id,
                "code": "http://loinc.org|777-3",
                "_sort": "-date",
                "_count": "50",
            },
        )
    )
    assert len(platelets) == 4
    dates = [observation["effectiveDateTime"] for observation in platelets]
    assert dates == sorted(dates, reverse=True), "_sort=-date is not honoured"
    # The reference may also be given as Type/id.
    same = fhir_search(base, "Observation", {"patient": f"Patient/{patient_id}", "code": "777-3"})
    assert len(entry_resources(same)) == 4

    medication_requests = entry_resources(
        fhir_search(base, "MedicationRequest", {"patient": patient_id, "status": "active"})
    )
    assert medication_requests
    assert all(request["status"] == "active" for request in medication_requests)
    assert any(
        coding.get("code") == WARFARIN_RXNORM
        for request in medication_requests
        for coding in request.get("medicationCodeableConcept", {}).get("coding", [])
    )

    conditions = entry_resources(
        fhir_search(base, "Condition", {"patient": patient_id, "clinical-status": "active"})
    )
    assert conditions
    for condition in conditions:
        codes = {coding["code"] for coding in condition["clinicalStatus"]["coding"]}
        assert codes == {"active"}

    allergies = fhir_search(base, "AllergyIntolerance", {"patient": patient_id})
    assert entry_resources(allergies) == []  # this patient has none: an empty searchset

    statements = fhir_search(
        base, "MedicationStatement", {"patient": patient_id, "status": "active"}
    )
    assert entry_resources(statements) == []


def test_order_select_without_prefetch_fetches_everything_from_the_fhir_server(
    fhir_server: RunningServer, cds_service: RunningServer, loaded_patient: LoadedPatient
) -> None:
    assert has_active_warfarin(loaded_patient.bundle), "the chosen bundle must have warfarin active"
    request = order_select_request(loaded_patient.patient_id, fhir_server.base_url)

    response = call_order_select(cds_service, request)

    assert response.status_code == 200, (
        f"HTTP {response.status_code}: {response.text[:500]}\n"
        f"service log:\n{cds_service.log_tail()}"
    )
    body = response.json()
    assert isinstance(body["cards"], list)
    rules = fired_rules(body["cards"])
    assert "MED-VKA" in rules, f"rules fired: {sorted(rules)}"
    assert "DATA-UNAVAILABLE" not in rules, f"rules fired: {sorted(rules)}"


def test_fhir_server_not_on_the_allow_list_is_never_called(
    fhir_server: RunningServer, cds_service: RunningServer, loaded_patient: LoadedPatient
) -> None:
    # The same live server under another name: were the allow-list ignored, the data would come.
    unlisted_url = f"http://localhost:{fhir_server.port}/fhir"
    requests_before = fhir_requests_logged(fhir_server)

    response = call_order_select(
        cds_service, order_select_request(loaded_patient.patient_id, unlisted_url)
    )

    # No prefetch and no usable server: no patient data at all. With an order in scope the
    # clinician still gets cards (RULES.md v2): a critical DATA-UNAVAILABLE and the checklist.
    card = assert_no_check_could_run(response)
    assert "not one the service is allowed to call" in card["detail"]
    assert "MED-VKA" not in fired_rules(response.json()["cards"])
    time.sleep(0.2)  # let the FHIR server flush its access log, had it been called
    assert fhir_requests_logged(fhir_server) == requests_before


def test_unreachable_fhir_server_is_reported_not_a_failure(
    cds_service: RunningServer, loaded_patient: LoadedPatient, unreachable_fhir_url: str
) -> None:
    # Allow-listed, but nothing listens there: every fetch fails with a refused connection.
    response = call_order_select(
        cds_service, order_select_request(loaded_patient.patient_id, unreachable_fhir_url)
    )

    card = assert_no_check_could_run(response)
    assert "could not be reached" in card["detail"]
