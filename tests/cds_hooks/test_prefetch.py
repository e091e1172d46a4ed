"""Prefetch resolution per key, as CDS Hooks 2.0 defines it (FHIR server mocked by `responses`)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests
import responses
from responses import matchers
from support.fhir_builders import searchset

from cds_hooks.fhir_client import FhirFetchSettings
from cds_hooks.prefetch import PrefetchResolver
from cds_hooks.service import FailureCode, FhirAuthorization, HookRequest, Unavailable
from cds_hooks.templates import TemplateError, render_template

BASE = "https://ehr.example/fhir"
TOKEN = "secret-access-token-42"
TEMPLATES = {
    "patient": "Patient/{{context.patientId}}",
    "meds": "MedicationRequest?patient={{context.patientId}}&status=active",
}
SETTINGS = FhirFetchSettings(allowed_servers=(BASE,), deadline_s=2.0)
PATIENT = {"resourceType": "Patient", "id": "p1"}


def med_request(id_: str, reference: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": id_,
        "medicationReference": {"reference": reference},
    }


def hook_request(
    prefetch: dict[str, Any],
    fhir_server: str | None = BASE,
    token: str | None = TOKEN,
    context: dict[str, Any] | None = None,
) -> HookRequest:
    authorization = (
        FhirAuthorization(token, "Bearer", 300, "patient/*.read", "cds") if token else None
    )
    return HookRequest(
        service_id="svc",
        hook="order-sign",
        hook_instance="i",
        context=context or {"patientId": "p1", "userId": "Practitioner/u1"},
        prefetch=prefetch,
        fhir_server=fhir_server,
        fhir_authorization=authorization,
    )


def resolve(request: HookRequest, settings: FhirFetchSettings = SETTINGS) -> Any:
    resolver = PrefetchResolver(request, TEMPLATES, settings)
    return resolver, resolver.resolve()


AUTH_HEADER = matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})
MEDS_URL = f"{BASE}/MedicationRequest"
MEDS_QUERY = matchers.query_param_matcher({"patient": "p1", "status": "active"})


def test_render_template_fills_context_and_user_tokens() -> None:
    context = {"patientId": "p 1", "userId": "Practitioner/u1", "count": 3}
    assert render_template("Obs?patient={{context.patientId}}", context) == "Obs?patient=p%201"
    assert render_template("X?u={{userPractitionerId}}&n={{ context.count }}", context) == (
        "X?u=u1&n=3"
    )
    for bad in ("{{context.missing}}", "{{userPatientId}}", "{{context.userId.x}}", "{{x}}"):
        with pytest.raises(TemplateError):
            render_template(bad, context)


@responses.activate
def test_full_prefetch_needs_no_network() -> None:
    resolver, result = resolve(
        hook_request({"patient": PATIENT, "meds": searchset(med_request("m1", "#med"))})
    )
    assert result.resources["patient"] == [PATIENT]
    assert [r["id"] for r in result.resources["meds"]] == ["m1"]
    assert result.unavailable == {} and result.unresolved == {}
    assert resolver.fetch_count == 0 and len(responses.calls) == 0
    assert resolver.resolve() is result  # memoised


@responses.activate
def test_null_is_known_empty_and_never_refetched() -> None:
    _, result = resolve(hook_request({"patient": PATIENT, "meds": None}))
    assert result.resources["meds"] == []
    assert len(responses.calls) == 0


@responses.activate
def test_absent_key_is_fetched_with_the_bearer_token() -> None:
    responses.get(MEDS_URL, json=searchset(), match=[MEDS_QUERY, AUTH_HEADER])
    _, result = resolve(hook_request({"patient": PATIENT}))
    assert result.resources["meds"] == []
    assert len(responses.calls) == 1


@responses.activate
def test_read_template_is_fetched_and_its_type_checked() -> None:
    responses.get(f"{BASE}/Patient/p1", json=PATIENT, match=[AUTH_HEADER])
    _, result = resolve(hook_request({"meds": None}))
    assert result.resources["patient"] == [PATIENT]
    responses.replace(responses.GET, f"{BASE}/Patient/p1", json={"resourceType": "Observation"})
    _, result = resolve(hook_request({"meds": None}))
    assert "expected Patient" in result.unavailable["patient"].reason
    assert result.unavailable["patient"].code is FailureCode.INVALID


@responses.activate
def test_operation_outcome_in_prefetch_triggers_a_fetch() -> None:
    responses.get(MEDS_URL, json=searchset(med_request("m1", "#c")), match=[MEDS_QUERY])
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
    _, result = resolve(hook_request({"patient": PATIENT, "meds": outcome}))
    assert [r["id"] for r in result.resources["meds"]] == ["m1"]


@responses.activate
def test_bundle_carrying_an_error_outcome_triggers_a_fetch() -> None:
    responses.get(MEDS_URL, json=searchset(), match=[MEDS_QUERY])
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "fatal"}]}
    _, result = resolve(hook_request({"patient": PATIENT, "meds": searchset(outcome)}))
    assert result.resources["meds"] == [] and len(responses.calls) == 1


@responses.activate
def test_next_link_pages_are_followed_and_joined() -> None:
    page2, page3 = f"{BASE}?_getpages=a&page=2", f"{BASE}?_getpages=a&page=3"
    responses.get(page2, json=searchset(med_request("m2", "#c"), next_url=page3))
    responses.get(page3, json=searchset(med_request("m3", "#c")))
    first = searchset(med_request("m1", "#c"), next_url=page2)
    _, result = resolve(hook_request({"patient": PATIENT, "meds": first}))
    assert [r["id"] for r in result.resources["meds"]] == ["m1", "m2", "m3"]
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in responses.calls)


@responses.activate
def test_next_link_loop_and_page_bound_keep_the_pages_and_report_the_gap() -> None:
    loop = f"{BASE}?page=loop"
    responses.get(loop, json=searchset(med_request("m2", "#c"), next_url=loop))
    first = searchset(med_request("m1", "#c"), next_url=loop)
    _, result = resolve(hook_request({"patient": PATIENT, "meds": first}))
    assert result.unavailable["meds"] == Unavailable(
        FailureCode.INVALID, "only the first 2 pages: next link loop", partial=True
    )
    assert [r["id"] for r in result.resources["meds"]] == ["m1", "m2"]

    settings = FhirFetchSettings(allowed_servers=(BASE,), max_pages=2)
    responses.get(f"{BASE}?page=2", json=searchset(next_url=f"{BASE}?page=3"))
    first = searchset(med_request("m1", "#c"), next_url=f"{BASE}?page=2")
    _, result = resolve(hook_request({"patient": PATIENT, "meds": first}), settings)
    assert result.unavailable["meds"] == Unavailable(
        FailureCode.TOO_LARGE, "only the first 2 pages: more than 2 pages", partial=True
    )
    assert [r["id"] for r in result.resources["meds"]] == ["m1"]


@responses.activate
def test_next_link_to_another_host_is_never_called() -> None:
    responses.get(MEDS_URL, json=searchset(next_url="https://evil.example/fhir?page=2"))
    _, result = resolve(hook_request({"patient": PATIENT}))
    assert result.unavailable["meds"] == Unavailable(
        FailureCode.SCOPE, "only the first page: next link outside the FHIR server", partial=True
    )
    assert result.resources["meds"] == []  # the page obtained (empty) is kept
    assert [c.request.url.split("?")[0] for c in responses.calls] == [MEDS_URL]


@pytest.mark.parametrize(
    ("mock", "reason", "code"),
    [
        ({"status": 500, "json": {}}, "HTTP 500", FailureCode.HTTP_STATUS),
        ({"status": 403, "json": {}}, "HTTP 403", FailureCode.HTTP_STATUS),
        (
            {"status": 302, "headers": {"Location": "https://ehr.example/x"}},
            "redirect",
            FailureCode.REDIRECT,
        ),
        ({"body": "<html>"}, "not JSON", FailureCode.INVALID),
        # Decoded as a request body is: no NaN, no infinity, nothing beyond a double.
        (
            {"body": '{"resourceType": "Bundle", "type": "searchset", "total": NaN}'},
            "not JSON",
            FailureCode.INVALID,
        ),
        (
            {"body": '{"resourceType": "Bundle", "type": "searchset", "total": 1e999}'},
            "not JSON",
            FailureCode.INVALID,
        ),
        ({"json": [1, 2]}, "not a FHIR resource", FailureCode.INVALID),
        ({"json": PATIENT}, "expected Bundle", FailureCode.INVALID),
        ({"json": {"resourceType": "OperationOutcome"}}, "expected Bundle", FailureCode.INVALID),
        (
            {
                "json": searchset(
                    {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
                )
            },
            "error OperationOutcome",
            FailureCode.HTTP_STATUS,
        ),
        ({"body": ConnectionError("refused")}, "connection failed", FailureCode.CONNECT),
        ({"body": requests.ConnectTimeout("slow")}, "timed out", FailureCode.TIMEOUT),
        ({"body": requests.ReadTimeout("slow")}, "timed out", FailureCode.TIMEOUT),
    ],
)
@responses.activate
def test_bad_answers_make_only_that_key_unavailable(
    mock: dict[str, Any], reason: str, code: FailureCode
) -> None:
    responses.get(MEDS_URL, **mock)
    _, result = resolve(hook_request({"patient": PATIENT}))
    assert reason in result.unavailable["meds"].reason
    assert result.unavailable["meds"].code is code
    assert not result.unavailable["meds"].partial
    assert result.resources == {"patient": [PATIENT]}


@responses.activate
def test_oversized_answer_is_refused() -> None:
    settings = FhirFetchSettings(allowed_servers=(BASE,), max_response_bytes=1024)
    responses.get(MEDS_URL, json=searchset(*[PATIENT] * 200))
    _, result = resolve(hook_request({"patient": PATIENT}), settings)
    assert "larger than 1024 bytes" in result.unavailable["meds"].reason
    assert result.unavailable["meds"].code is FailureCode.TOO_LARGE


@pytest.mark.parametrize(
    ("server", "settings", "reason", "code"),
    [
        ("https://other.example/fhir", SETTINGS, "allow-list", FailureCode.SCOPE),
        (
            "http://ehr.example/fhir",
            FhirFetchSettings(allowed_servers=("*",)),
            "not https",
            FailureCode.NOT_HTTPS,
        ),
        (
            "ftp://ehr.example/fhir",
            FhirFetchSettings(allowed_servers=("*",)),
            "http(s)",
            FailureCode.SCOPE,
        ),
        ("https://user:pw@ehr.example/fhir", SETTINGS, "http(s)", FailureCode.SCOPE),
        (None, SETTINGS, "no fhirServer", FailureCode.NO_SERVER),
    ],
)
@responses.activate
def test_fhir_server_refused(
    server: str | None, settings: FhirFetchSettings, reason: str, code: FailureCode
) -> None:
    _, result = resolve(hook_request({"patient": PATIENT}, fhir_server=server), settings)
    assert reason in result.unavailable["meds"].reason
    assert result.unavailable["meds"].code is code
    assert len(responses.calls) == 0


@responses.activate
def test_allow_list_matches_normalised_urls_and_http_when_allowed() -> None:
    responses.get("http://ehr.example/fhir/MedicationRequest", json=searchset())
    settings = FhirFetchSettings(allowed_servers=("HTTP://EHR.example:80/fhir/",), allow_http=True)
    _, result = resolve(
        hook_request({"patient": PATIENT}, fhir_server="http://ehr.example/fhir"), settings
    )
    assert result.resources["meds"] == []


NO_AUTHORIZATION = Unavailable(
    FailureCode.NO_AUTHORIZATION,
    "no fhirAuthorization: the service does not call the FHIR server anonymously",
)


@pytest.mark.parametrize("token", [None, "", "  "])
@responses.activate(assert_all_requests_are_fired=False)
def test_without_an_access_token_the_fhir_server_is_never_called(
    token: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    responses.get(MEDS_URL, json=searchset())
    responses.get(f"{BASE}/Medication/x", json={"resourceType": "Medication", "id": "x"})
    request = HookRequest(
        service_id="svc",
        hook="order-sign",
        hook_instance="i",
        context={"patientId": "p1"},
        prefetch={"patient": searchset(med_request("m1", "Medication/x"))},
        fhir_server=BASE,
        fhir_authorization=(
            FhirAuthorization(token, "Bearer", 300, "patient/*.read", "cds")
            if token is not None
            else None
        ),
    )
    with caplog.at_level(logging.INFO, logger="cds_hooks.prefetch"):
        resolver, result = resolve(request)
    assert len(responses.calls) == 0 and resolver.fetch_count == 0
    # The log says why the key is missing (the sandbox sends no fhirAuthorization).
    assert "prefetch key meds unavailable (no-authorization)" in caplog.text
    assert result.unavailable == {"meds": NO_AUTHORIZATION}
    assert result.unresolved == {"Medication/x": NO_AUTHORIZATION}
    assert [r["id"] for r in result.resources["patient"]] == ["m1"]  # prefetch still used


@responses.activate
def test_unrenderable_template_is_unavailable() -> None:
    request = hook_request({}, context={"userId": "Practitioner/u1"})
    _, result = resolve(request)
    assert "context.patientId" in result.unavailable["patient"].reason
    assert not result.resources and len(responses.calls) == 0


@responses.activate
def test_medication_references_resolved_from_contained_prefetch_or_fetch() -> None:
    medication = {"resourceType": "Medication", "id": "fetched"}
    responses.get(f"{BASE}/Medication/fetched", json=medication, match=[AUTH_HEADER])
    in_prefetch = {"resourceType": "Medication", "id": "included"}
    meds = searchset(
        med_request("m1", "#contained"),
        med_request("m2", "Medication/included"),
        med_request("m3", "Medication/fetched"),
        med_request("m4", f"{BASE}/Medication/fetched/_history/2"),
        med_request("m5", "https://elsewhere.example/fhir/Medication/x"),
        in_prefetch,
    )
    _, result = resolve(hook_request({"patient": PATIENT, "meds": meds}))
    assert result.referenced == {
        "Medication/included": in_prefetch,
        "Medication/fetched": medication,
    }
    assert list(result.unresolved) == ["https://elsewhere.example/fhir/Medication/x"]
    assert len(responses.calls) == 1  # one fetch for two references to the same resource


@responses.activate
def test_references_in_draft_orders_are_resolved_too() -> None:
    responses.get(f"{BASE}/Medication/d", status=404, json={"resourceType": "OperationOutcome"})
    context = {
        "patientId": "p1",
        "draftOrders": {
            "resourceType": "Bundle",
            "entry": [{"resource": med_request("x", "Medication/d")}],
        },
    }
    _, result = resolve(hook_request({"patient": PATIENT, "meds": None}, context=context))
    assert result.unresolved == {"Medication/d": Unavailable(FailureCode.HTTP_STATUS, "HTTP 404")}


@responses.activate
def test_reference_fields_are_a_parameter() -> None:
    request = hook_request(
        {"patient": PATIENT, "meds": searchset(med_request("m1", "Medication/zz"))}
    )
    result = PrefetchResolver(request, TEMPLATES, SETTINGS, reference_fields=()).resolve()
    assert result.referenced == {} and result.unresolved == {} and len(responses.calls) == 0


@responses.activate
def test_token_never_logged_nor_in_reasons(caplog: pytest.LogCaptureFixture) -> None:
    responses.get(MEDS_URL, status=401, json={})
    responses.get(f"{BASE}/Patient/p1", body=requests.ConnectionError(f"boom {TOKEN}"))
    with caplog.at_level(logging.DEBUG):
        resolver, result = resolve(hook_request({}))
    assert result.unavailable  # both failed
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(result) and TOKEN not in repr(resolver.__dict__)
    assert TOKEN not in " ".join(gap.reason for gap in result.unavailable.values())
