"""Partial data is never discarded: the pages obtained stay, and the gap is reported.

A prefetched first page (a Bundle with a `next` link) whose other pages cannot be fetched, or a
search longer than `max_pages`, gives the key in BOTH `resources` and `unavailable`.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from support.fhir_builders import searchset

from cds_hooks.fhir_client import FhirFetchSettings
from cds_hooks.prefetch import PrefetchResolver
from cds_hooks.service import (
    FailureCode,
    FhirAuthorization,
    HookRequest,
    ResolvedPrefetch,
    Unavailable,
)

BASE = "https://ehr.example/fhir"
TEMPLATES = {"labs": "Observation?patient={{context.patientId}}&code=26515-7"}
LABS_URL = f"{BASE}/Observation"
SETTINGS = FhirFetchSettings(allowed_servers=(BASE,), deadline_s=2.0)
PLATELETS_30 = {"resourceType": "Observation", "id": "plt-30", "status": "final"}
LATER = {"resourceType": "Observation", "id": "plt-later", "status": "final"}


def resolve(
    prefetch: dict[str, Any],
    fhir_server: str | None = BASE,
    settings: FhirFetchSettings = SETTINGS,
) -> ResolvedPrefetch:
    request = HookRequest(
        service_id="svc",
        hook="order-sign",
        hook_instance="i",
        context={"patientId": "p1"},
        prefetch=prefetch,
        fhir_server=fhir_server,
        fhir_authorization=FhirAuthorization("tok", "Bearer", 300, "patient/*.read", "cds"),
    )
    return PrefetchResolver(request, TEMPLATES, settings).resolve()


def ids(result: ResolvedPrefetch, key: str = "labs") -> list[str]:
    return [r["id"] for r in result.resources[key]]


FIRST_PAGE = searchset(PLATELETS_30, next_url=f"{BASE}/Observation?page=2")


@pytest.mark.parametrize(
    ("fhir_server", "why", "code"),
    [
        (None, "no fhirServer in the request", FailureCode.NO_SERVER),
        (
            "https://not-allowed.example/fhir",
            "fhirServer is not in the allow-list",
            FailureCode.SCOPE,
        ),
    ],
)
@responses.activate
def test_first_page_is_kept_when_the_server_cannot_be_called(
    fhir_server: str | None, why: str, code: FailureCode
) -> None:
    result = resolve({"labs": FIRST_PAGE}, fhir_server=fhir_server)
    assert ids(result) == ["plt-30"]
    assert result.unavailable["labs"] == Unavailable(
        code, f"only the first page of the prefetch: {why}", partial=True
    )
    assert result.resources  # partial data counts as obtained
    assert len(responses.calls) == 0


@pytest.mark.parametrize(
    ("mock", "why"),
    [
        ({"status": 500, "json": {}}, "HTTP 500"),
        ({"json": {"resourceType": "Patient"}}, "expected Bundle, got Patient"),
        ({"body": ConnectionError("refused")}, "connection failed"),
    ],
)
@responses.activate
def test_first_page_is_kept_when_the_next_page_fails(mock: dict[str, Any], why: str) -> None:
    responses.get(LABS_URL, **mock)
    result = resolve({"labs": FIRST_PAGE})
    assert ids(result) == ["plt-30"]
    assert result.unavailable["labs"].reason.startswith("only the first page of the prefetch: ")
    assert why in result.unavailable["labs"].reason
    assert result.unavailable["labs"].partial


@responses.activate
def test_first_page_then_fetched_pages_are_joined_when_a_later_page_fails() -> None:
    responses.get(f"{BASE}/Observation?page=2", json=searchset(LATER, next_url=f"{BASE}/x?p=3"))
    responses.get(f"{BASE}/x?p=3", status=503, json={})
    result = resolve({"labs": FIRST_PAGE})
    assert ids(result) == ["plt-30", "plt-later"]
    assert result.unavailable["labs"] == Unavailable(
        FailureCode.HTTP_STATUS, "only the first 2 pages: HTTP 503", partial=True
    )


@responses.activate
def test_next_link_elsewhere_full_refetch_is_used_when_it_succeeds() -> None:
    first = searchset(PLATELETS_30, next_url="https://other.example/fhir?page=2")
    responses.get(LABS_URL, json=searchset(PLATELETS_30, LATER))
    result = resolve({"labs": first})
    assert ids(result) == ["plt-30", "plt-later"]
    assert result.unavailable == {}
    assert [c.request.url.split("?")[0] for c in responses.calls] == [LABS_URL]


@responses.activate
def test_next_link_elsewhere_first_page_is_kept_when_the_refetch_fails() -> None:
    first = searchset(PLATELETS_30, next_url="https://other.example/fhir?page=2")
    responses.get(LABS_URL, status=500, json={})
    result = resolve({"labs": first})
    assert ids(result) == ["plt-30"]
    assert result.unavailable["labs"].reason == "only the first page of the prefetch: HTTP 500"


@responses.activate
def test_more_than_max_pages_keeps_the_pages_obtained() -> None:
    settings = FhirFetchSettings(allowed_servers=(BASE,), max_pages=2)
    responses.get(LABS_URL, json=searchset(PLATELETS_30, next_url=f"{BASE}/p?n=2"))
    responses.get(f"{BASE}/p?n=2", json=searchset(LATER, next_url=f"{BASE}/p?n=3"))
    result = resolve({}, settings=settings)
    assert ids(result) == ["plt-30", "plt-later"]
    assert result.unavailable["labs"].reason == "only the first 2 pages: more than 2 pages"
    assert result.unavailable["labs"].code is FailureCode.TOO_LARGE
    assert len(responses.calls) == 2  # page 3 is never asked for


@responses.activate
def test_prefetched_page_at_the_page_bound_is_kept() -> None:
    settings = FhirFetchSettings(allowed_servers=(BASE,), max_pages=1)
    result = resolve({"labs": FIRST_PAGE}, settings=settings)
    assert ids(result) == ["plt-30"]
    assert result.unavailable["labs"].reason == (
        "only the first page of the prefetch: more than 1 pages"
    )
    assert len(responses.calls) == 0


@responses.activate
def test_a_first_failure_with_nothing_prefetched_is_unavailable_only() -> None:
    responses.get(LABS_URL, status=500, json={})
    result = resolve({})
    assert "labs" not in result.resources
    assert result.unavailable == {"labs": Unavailable(FailureCode.HTTP_STATUS, "HTTP 500")}
    assert result.resources == {}


# --- Coverage: the service says when the pages at hand are enough ----------------------------


def resolve_with(
    prefetch: dict[str, Any], covered: bool, fhir_server: str | None = None
) -> ResolvedPrefetch:
    request = HookRequest(
        service_id="svc",
        hook="order-sign",
        hook_instance="i",
        context={"patientId": "p1"},
        prefetch=prefetch,
        fhir_server=fhir_server,
        fhir_authorization=None,
    )
    return PrefetchResolver(request, TEMPLATES, SETTINGS).resolve({"labs": lambda _: covered})


@responses.activate
def test_a_covered_first_page_is_complete_without_a_fhir_server() -> None:
    result = resolve_with({"labs": FIRST_PAGE}, covered=True)
    assert ids(result) == ["plt-30"] and result.unavailable == {}
    assert len(responses.calls) == 0


@responses.activate
def test_a_first_page_not_covered_stays_partial() -> None:
    result = resolve_with({"labs": FIRST_PAGE}, covered=False, fhir_server=BASE)
    assert ids(result) == ["plt-30"]
    assert result.unavailable["labs"] == Unavailable(
        FailureCode.NO_AUTHORIZATION,
        "only the first page of the prefetch: no fhirAuthorization: the service does not call "
        "the FHIR server anonymously",
        partial=True,
    )


@responses.activate
def test_coverage_stops_following_next_links() -> None:
    responses.get(f"{BASE}/Observation?page=2", json=searchset(LATER, next_url=f"{BASE}/x?p=3"))
    request = HookRequest(
        service_id="svc",
        hook="order-sign",
        hook_instance="i",
        context={"patientId": "p1"},
        prefetch={"labs": FIRST_PAGE},
        fhir_server=BASE,
        fhir_authorization=FhirAuthorization("tok", "Bearer", 300, "patient/*.read", "cds"),
    )
    covered = {"labs": lambda rs: any(r["id"] == "plt-later" for r in rs)}
    result = PrefetchResolver(request, TEMPLATES, SETTINGS).resolve(covered)
    assert ids(result) == ["plt-30", "plt-later"] and result.unavailable == {}
    assert len(responses.calls) == 1  # page 3 never asked for


# --- End to end: the real app, a low platelet count on a prefetched first page -------------

REPO = Path(__file__).resolve().parents[2]
LOW_PLATELETS = REPO / "fixtures" / "BLEED-PLATELETS-LOW" / "platelets-26515-7-low.json"


def test_low_platelets_on_a_first_page_without_fhir_server_still_give_the_critical_card() -> None:
    from service.app import create_app
    from service.config import parse_config
    from service.storage import Store

    manifest = json.loads((REPO / "fixtures" / "manifest.json").read_text("utf-8"))
    now = datetime.fromisoformat(manifest["now"])
    config = parse_config({"auth": {"required": False}, "logging": {"level": "WARNING"}})
    app = create_app(config, store=Store("sqlite://"), clock=lambda: now)
    request = copy.deepcopy(json.loads(LOW_PLATELETS.read_text("utf-8")))
    assert "fhirServer" not in request
    platelets = request["prefetch"]["platelets"]
    platelets["link"] = [{"relation": "next", "url": "https://ehr.example.org/fhir/x?page=2"}]

    response = app.test_client().post(
        "/cds-services/cementoplasty-order-select",
        data=json.dumps(request),
        headers={"Content-Type": "application/json", "Accept-Language": "en"},
    )
    assert response.status_code == 200
    cards = response.get_json()["cards"]
    fired = {rule for card in cards for rule in card["extension"]["cementoplasty-cds/rules"]}
    assert "BLEED-PLATELETS-LOW" in fired  # the count at hand is used...
    assert "DATA-UNAVAILABLE" in fired  # ...and the missing pages are reported
    low = [c for c in cards if "BLEED-PLATELETS-LOW" in c["extension"]["cementoplasty-cds/rules"]]
    assert low[0]["indicator"] == "critical"


def call_app(request: dict[str, Any], locale: str = "en") -> tuple[int, dict[str, Any]]:
    from service.app import create_app
    from service.config import parse_config
    from service.storage import Store

    manifest = json.loads((REPO / "fixtures" / "manifest.json").read_text("utf-8"))
    now = datetime.fromisoformat(manifest["now"])
    config = parse_config({"auth": {"required": False}, "logging": {"level": "WARNING"}})
    app = create_app(config, store=Store("sqlite://"), clock=lambda: now)
    response = app.test_client().post(
        "/cds-services/cementoplasty-order-select",
        data=json.dumps(request),
        headers={"Content-Type": "application/json", "Accept-Language": locale},
    )
    return response.status_code, response.get_json(silent=True) or {}


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_no_patient_data_at_all_gives_a_critical_card_and_the_checklist(locale: str) -> None:
    """RULES.md v2: with an order in scope, 200 with a critical DATA-UNAVAILABLE card ("none of
    the safety checks could run") and the checklist, never an empty 412."""
    request = copy.deepcopy(json.loads(LOW_PLATELETS.read_text("utf-8")))
    del request["prefetch"]
    request["fhirServer"] = "https://ehr.example.org/fhir"  # named, but no fhirAuthorization
    status, body = call_app(request, locale)
    assert status == 200, body
    cards = body["cards"]
    by_rule = {
        rule: card for card in cards for rule in card["extension"]["cementoplasty-cds/rules"]
    }
    assert {"DATA-UNAVAILABLE", "CHECKLIST", "TUMOR-CONTROL"} <= set(by_rule)
    unavailable = by_rule["DATA-UNAVAILABLE"]
    assert unavailable["indicator"] == "critical"
    words = {
        "en": ("none of the safety checks could run", "no authorization in the request"),
        "fr": ("aucune des vérifications de sécurité", "pas d'autorisation dans la requête"),
    }[locale]
    assert words[0] in unavailable["summary"]
    assert words[1] in unavailable["detail"]
    # Nothing is claimed from data that could not be read.
    assert not set(by_rule) & {"BLEED-LAB-MISSING", "SCOPE-NO-BONE-METASTASIS"}


@responses.activate
def test_keys_asked_of_the_fhir_server_are_named_for_metrics() -> None:
    responses.get(f"{BASE}/Observation?page=2", json=searchset(LATER))
    assert resolve({"labs": FIRST_PAGE}).fetched == ("labs",)
    assert resolve({"labs": searchset(PLATELETS_30)}).fetched == ()
    assert resolve({"labs": FIRST_PAGE}, fhir_server=None).fetched == ()
