"""CDS Hooks 3.0 in the FHIR fallback: relative-date tokens rendered on the site's day, and the
access token's SMART scopes obeyed (FHIR server mocked by `responses`: an unexpected call fails)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import responses
from responses import matchers
from support.fhir_builders import searchset

from cds_hooks.fhir_client import FhirFetchSettings
from cds_hooks.prefetch import PrefetchResolver
from cds_hooks.service import FailureCode, FhirAuthorization, HookRequest
from cds_hooks.templates import TemplateError, relative_date, render_template

BASE = "https://ehr.example/fhir"
SETTINGS = FhirFetchSettings(allowed_servers=(BASE,), deadline_s=2.0)
TEMPLATES = {
    "platelets": "Observation?patient={{context.patientId}}&code=http://loinc.org|777-3"
    "&date=ge{{today() - 28 days}}",
    "conditions": "Condition?patient={{context.patientId}}",
}
TODAY = date(2026, 11, 26)
NOT_PERMITTED = "not permitted by the access token's scope"


def hook_request(
    scope: str, prefetch: dict[str, Any] | None = None, token_patient: str | None = None
) -> HookRequest:
    return HookRequest(
        service_id="svc",
        hook="order-sign",
        hook_instance="i",
        context={"patientId": "p1", "userId": "Practitioner/u1"},
        prefetch=prefetch or {},
        fhir_server=BASE,
        fhir_authorization=FhirAuthorization("tok", "Bearer", 300, scope, "cds", token_patient),
    )


# --- Relative dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("today()", date(2026, 11, 26)),
        ("today() - 30 days", date(2026, 10, 27)),
        ("today() - 1 day", date(2026, 11, 25)),
        ("today() + 2 days", date(2026, 11, 28)),
        ("today() - 2 weeks", date(2026, 11, 12)),
        ("today()-28 days", date(2026, 10, 29)),
    ],
)
def test_relative_dates_are_evaluated_on_the_given_day(expression: str, expected: date) -> None:
    assert relative_date(expression, TODAY) == expected
    assert render_template("X?date=ge{{" + expression + "}}", {}, TODAY) == (
        f"X?date=ge{expected.isoformat()}"
    )


@pytest.mark.parametrize(
    "expression", ["today() - 1 month", "today() - 1 year", "today() * 2", "now() - 1 day"]
)
def test_unsupported_date_expressions_are_not_renderable(expression: str) -> None:
    with pytest.raises(TemplateError):
        render_template("X?date=ge{{" + expression + "}}", {}, TODAY)


def test_a_relative_date_without_the_sites_day_is_not_renderable() -> None:
    with pytest.raises(TemplateError):
        render_template(TEMPLATES["platelets"], {"patientId": "p1"})


@responses.activate
def test_the_fallback_renders_the_relative_date_on_the_sites_day() -> None:
    responses.get(
        f"{BASE}/Observation",
        match=[
            matchers.query_param_matcher(
                {"patient": "p1", "code": "http://loinc.org|777-3", "date": "ge2026-10-29"}
            )
        ],
        json=searchset({"resourceType": "Observation", "id": "o1"}),
    )
    resolver = PrefetchResolver(hook_request(""), {"platelets": TEMPLATES["platelets"]}, SETTINGS)
    result = resolver.resolve(today=TODAY)
    assert [r["id"] for r in result.resources["platelets"]] == ["o1"]
    assert result.unavailable == {}


@responses.activate
def test_a_relative_date_without_today_makes_the_key_unavailable_not_a_wrong_query() -> None:
    resolver = PrefetchResolver(hook_request(""), {"platelets": TEMPLATES["platelets"]}, SETTINGS)
    result = resolver.resolve()
    assert result.unavailable["platelets"].code == FailureCode.INVALID
    assert len(responses.calls) == 0


# --- Scopes -------------------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize(
    "scope",
    [
        "patient/Condition.read",  # v1, another type
        "patient/Condition.rs",  # v2, another type
        "patient/Observation.rs?category=laboratory patient/Condition.rs",  # granular: wider search
        "patient/Observation.cud patient/Condition.rs",  # no read
    ],
)
def test_a_key_the_token_does_not_cover_is_never_asked_for(scope: str) -> None:
    responses.get(f"{BASE}/Condition", json=searchset())
    resolver = PrefetchResolver(hook_request(scope), TEMPLATES, SETTINGS)
    result = resolver.resolve(today=TODAY)
    gap = result.unavailable["platelets"]
    assert (gap.code, gap.reason) == (FailureCode.TOKEN_SCOPE, NOT_PERMITTED)
    assert "platelets" not in result.resources
    assert result.resources["conditions"] == []
    assert [c.request.url.split("?")[0] for c in responses.calls] == [f"{BASE}/Condition"]


@responses.activate
@pytest.mark.parametrize(
    "scope", ["", "patient/*.read", "patient/*.rs", "user/Observation.read user/Condition.rs"]
)
def test_a_token_that_covers_the_keys_or_names_no_scope_is_used_as_before(scope: str) -> None:
    responses.get(f"{BASE}/Observation", json=searchset({"resourceType": "Observation"}))
    responses.get(f"{BASE}/Condition", json=searchset())
    resolver = PrefetchResolver(hook_request(scope), TEMPLATES, SETTINGS)
    result = resolver.resolve(today=TODAY)
    assert result.unavailable == {}
    assert len(responses.calls) == 2


@responses.activate
def test_a_prefetched_first_page_is_kept_when_the_rest_is_not_permitted() -> None:
    page = searchset(
        {"resourceType": "Observation", "id": "o1"}, next_url=f"{BASE}/Observation?p=2"
    )
    resolver = PrefetchResolver(
        hook_request("patient/Condition.rs", {"platelets": page, "conditions": None}),
        TEMPLATES,
        SETTINGS,
    )
    result = resolver.resolve(today=TODAY)
    assert [r["id"] for r in result.resources["platelets"]] == ["o1"]
    gap = result.unavailable["platelets"]
    assert gap.code == FailureCode.TOKEN_SCOPE and gap.partial
    assert len(responses.calls) == 0


@responses.activate
def test_a_referenced_medication_the_token_does_not_cover_is_not_fetched() -> None:
    prefetch = {
        "meds": searchset(
            {
                "resourceType": "MedicationRequest",
                "id": "m1",
                "medicationReference": {"reference": "Medication/med1"},
            }
        )
    }
    resolver = PrefetchResolver(
        hook_request("patient/MedicationRequest.rs", prefetch),
        {"meds": "MedicationRequest"},
        SETTINGS,
    )
    result = resolver.resolve(today=TODAY)
    assert result.unresolved["Medication/med1"].code == FailureCode.TOKEN_SCOPE
    assert len(responses.calls) == 0


@responses.activate
def test_a_token_issued_for_another_patient_is_not_used_for_this_one() -> None:
    resolver = PrefetchResolver(
        hook_request("patient/*.rs", token_patient="someone-else"), TEMPLATES, SETTINGS
    )
    result = resolver.resolve(today=TODAY)
    assert {key: gap.code for key, gap in result.unavailable.items()} == {
        "platelets": FailureCode.TOKEN_SCOPE,
        "conditions": FailureCode.TOKEN_SCOPE,
    }
    assert len(responses.calls) == 0


@responses.activate
def test_a_token_issued_for_this_patient_is_used() -> None:
    responses.get(f"{BASE}/Observation", json=searchset())
    responses.get(f"{BASE}/Condition", json=searchset())
    resolver = PrefetchResolver(
        hook_request("patient/*.rs", token_patient="p1"), TEMPLATES, SETTINGS
    )
    assert resolver.resolve(today=TODAY).unavailable == {}
    assert len(responses.calls) == 2
