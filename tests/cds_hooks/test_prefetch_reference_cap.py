"""The fan-out of referenced-resource fetches (medicationReference) is bounded per call."""

from __future__ import annotations

import re
from typing import Any

import responses
from support.fhir_builders import searchset

from cds_hooks.fhir_client import FhirFetchSettings
from cds_hooks.prefetch import PrefetchResolver
from cds_hooks.service import FailureCode, FhirAuthorization, HookRequest, Unavailable

BASE = "https://ehr.example/fhir"
TEMPLATES = {"meds": "MedicationRequest?patient={{context.patientId}}"}


def request_with_references(count: int) -> HookRequest:
    entries = [
        {
            "resource": {
                "resourceType": "MedicationRequest",
                "id": f"mr{i}",
                "medicationReference": {"reference": f"Medication/med{i}"},
            }
        }
        for i in range(count)
    ]
    # The same Medication referenced twice counts once.
    entries.append(
        {
            "resource": {
                "resourceType": "MedicationRequest",
                "id": "again",
                "medicationReference": {"reference": "Medication/med0"},
            }
        }
    )
    return HookRequest(
        service_id="svc",
        hook="order-sign",
        hook_instance="i",
        context={"patientId": "p1"},
        prefetch={"meds": searchset(*(entry["resource"] for entry in entries))},
        fhir_server=BASE,
        fhir_authorization=FhirAuthorization("tok", "Bearer", 300, "patient/*.read", "cds"),
    )


def serve_medications() -> None:
    def medication(request: Any) -> tuple[int, dict[str, str], str]:
        medication_id = request.url.rsplit("/", 1)[1]
        body = f'{{"resourceType": "Medication", "id": "{medication_id}"}}'
        return 200, {"Content-Type": "application/fhir+json"}, body

    responses.add_callback(responses.GET, re.compile(rf"{BASE}/Medication/.*"), medication)


def test_default_bound_is_fifty() -> None:
    assert FhirFetchSettings().max_referenced_fetches == 50


@responses.activate
def test_references_beyond_the_bound_are_unresolved_not_fetched() -> None:
    serve_medications()
    settings = FhirFetchSettings(allowed_servers=(BASE,), deadline_s=5.0)
    resolver = PrefetchResolver(request_with_references(53), TEMPLATES, settings)
    result = resolver.resolve()

    assert len(responses.calls) == 50 and resolver.fetch_count == 50
    assert set(result.referenced) == {f"Medication/med{i}" for i in range(50)}
    assert result.unresolved == {
        f"Medication/med{i}": Unavailable(
            FailureCode.TOO_LARGE, "more than 50 referenced resources to fetch in one call"
        )
        for i in (50, 51, 52)
    }


@responses.activate
def test_bound_is_a_setting_and_references_at_hand_are_not_counted() -> None:
    serve_medications()
    settings = FhirFetchSettings(allowed_servers=(BASE,), max_referenced_fetches=2)
    request = request_with_references(3)
    at_hand = {"resource": {"resourceType": "Medication", "id": "med0"}}
    request.prefetch["meds"]["entry"].append(at_hand)
    result = PrefetchResolver(request, TEMPLATES, settings).resolve()

    assert set(result.referenced) == {"Medication/med0", "Medication/med1", "Medication/med2"}
    assert result.unresolved == {} and len(responses.calls) == 2
