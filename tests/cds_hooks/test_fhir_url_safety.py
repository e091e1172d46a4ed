"""The bearer token only goes under the FHIR base: dot segments (plain or percent-encoded) are
resolved before the check, and `.`/`..` ids never become a URL."""

from __future__ import annotations

import time
from typing import Any

import pytest
import responses
from support.fhir_builders import searchset

from cds_hooks.fhir_client import (
    FetchError,
    FhirClient,
    FhirFetchSettings,
    is_under_base,
    normalize_base_url,
)
from cds_hooks.prefetch import PrefetchResolver
from cds_hooks.service import FailureCode, FhirAuthorization, HookRequest, Unavailable
from cds_hooks.templates import TemplateError, render_template

BASE = "https://ehr.example/fhir"
SETTINGS = FhirFetchSettings(allowed_servers=(BASE,), deadline_s=2.0)


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/../admin/secret",
        f"{BASE}/%2e%2e/admin",
        f"{BASE}/%2E%2E/admin",
        f"{BASE}/.%2e/admin",
        f"{BASE}/Patient/../../admin",
        f"{BASE}/./../admin",
        f"{BASE}/..;/admin",  # servlet containers read "..;" as ".."
        f"{BASE}/..%2fadmin",  # a server may decode the slash after our check
        f"{BASE}/..%5Cadmin",
        f"{BASE}/../../../../etc",
        f"{BASE}/../fhir-other/Patient",
    ],
)
def test_paths_that_leave_the_base_are_not_under_it(url: str) -> None:
    assert not is_under_base(url, BASE)


@pytest.mark.parametrize(
    "url",
    [
        BASE,
        f"{BASE}/Patient/1",
        f"{BASE}/a/../Patient/1",
        f"{BASE}/./Patient/1",
        f"{BASE}/Patient/a.b",
        f"{BASE}/Observation?page=../../x",  # the query is not a path
    ],
)
def test_paths_under_the_base_stay_allowed(url: str) -> None:
    assert is_under_base(url, BASE)


def test_normalized_base_resolves_dot_segments() -> None:
    assert normalize_base_url("https://EHR.example/fhir/x/%2E%2E/") == BASE
    assert normalize_base_url("https://ehr.example/../fhir") is None


@responses.activate(assert_all_requests_are_fired=False)
def test_client_never_sends_the_token_outside_the_base() -> None:
    responses.get("https://ehr.example/admin/secret", json={"resourceType": "Patient"})
    client = FhirClient(BASE, "tok", SETTINGS)
    with pytest.raises(FetchError, match="outside the FHIR server"):
        client.get_json(f"{BASE}/%2e%2e/admin/secret", time.monotonic() + 1)
    assert len(responses.calls) == 0


def request_with(prefetch: dict[str, Any], context: dict[str, Any] | None = None) -> HookRequest:
    return HookRequest(
        service_id="svc",
        hook="order-sign",
        hook_instance="i",
        context=context or {"patientId": "p1"},
        prefetch=prefetch,
        fhir_server=BASE,
        fhir_authorization=FhirAuthorization("tok", "Bearer", 300, "patient/*.read", "cds"),
    )


@responses.activate
def test_next_link_with_dot_segments_is_never_followed() -> None:
    responses.get(f"{BASE}/Observation", json=searchset(next_url=f"{BASE}/%2e%2e/admin?page=2"))
    templates = {"labs": "Observation?patient={{context.patientId}}"}
    result = PrefetchResolver(request_with({}), templates, SETTINGS).resolve()
    assert result.unavailable["labs"].reason == (
        "only the first page: next link outside the FHIR server"
    )
    assert result.unavailable["labs"].code is FailureCode.SCOPE
    assert [c.request.url.split("?")[0] for c in responses.calls] == [f"{BASE}/Observation"]


@pytest.mark.parametrize("reference", ["Medication/..", "Medication/.", f"{BASE}/Medication/.."])
@responses.activate
def test_dot_segment_ids_in_references_are_never_fetched(reference: str) -> None:
    meds = searchset(
        {
            "resourceType": "MedicationRequest",
            "id": "m1",
            "medicationReference": {"reference": reference},
        }
    )
    templates = {"meds": "MedicationRequest?patient={{context.patientId}}"}
    result = PrefetchResolver(request_with({"meds": meds}), templates, SETTINGS).resolve()
    assert result.unresolved == {
        reference: Unavailable(FailureCode.SCOPE, "reference not on the FHIR server")
    }
    assert result.referenced == {}
    assert len(responses.calls) == 0


@pytest.mark.parametrize("value", [".", ".."])
def test_dot_segment_context_values_do_not_fill_a_template(value: str) -> None:
    with pytest.raises(TemplateError, match="dot segment"):
        render_template("Patient/{{context.patientId}}", {"patientId": value})
    assert render_template("Patient/{{context.patientId}}", {"patientId": "..."}) == "Patient/..."
