"""Contract: each change of CDS Hooks 3.0.0, met by the service or shown not to apply to it.

The requirement lists in the shared folder (`cds-hooks/*_requirements.csv`) are CDS Hooks 2.0's.
This module follows the 3.0.0 change log instead (HL7/cds-hooks, `input/pagecontent/changes.md`,
section "CDS Hooks 3.0.0"; published as the "Change Log" page of https://cds-hooks.hl7.org),
one section per item, in its order. Each test asserts what the service does today against the
assembled app (`service.app.create_app`), never a constant copied from the code. The 2.0 clients
keep working: nothing below is required of them (the sandbox replay in test_sandbox_traffic.py
runs against the same app).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import flask
import jwt
import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import ec
from responses import matchers
from support.auth_tokens import MemoryReplayGuard
from support.fhir_builders import searchset
from support.shared_data import shared_path

from cds_hooks.auth import AuthSettings, ClientAuthenticator, TrustedClient
from cds_hooks.errors import Unauthorized
from cds_hooks.service import FailureCode
from cds_hooks.templates import TemplateError, render_template
from service.app import create_app
from service.cards.base import HL7_OVERRIDE_SYSTEM, OVERRIDE_REASON_SYSTEM
from service.config import parse_config
from service.storage import Store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
NOW = datetime.fromisoformat(MANIFEST["now"])  # 2026-11-26 09:00, Paris
FHIR = "https://ehr.example/fhir"
LOW_PLATELETS = "BLEED-PLATELETS-LOW/unit-G-L-at-limit.json"
ORDER_SELECT = "/cds-services/cementoplasty-order-select"
HOOKS = ("order-select", "order-sign", "patient-view", "appointment-book")
# What a CDS Hooks 2.0 prefetch token may be (context fields, user tokens); 3.0 adds `today()`.
TOKENS_2_0 = re.compile(
    r"^(context\.[A-Za-z]+|user(Practitioner|PractitionerRole|Patient|RelatedPerson)Id)$"
)
TODAY_TOKEN = re.compile(r"^today\(\) - \d+ days$")


def make_app(**config: Any) -> flask.Flask:
    settings = {"auth": {"required": False}, **config}
    return create_app(parse_config(settings), store=Store("sqlite://"), clock=lambda: NOW)


@pytest.fixture(scope="module")
def app() -> flask.Flask:
    return make_app(fhir={"allowed_servers": [FHIR]})


@pytest.fixture(scope="module")
def app_relative_dates() -> flask.Flask:
    return make_app(prefetch={"relative_dates": True})


def discovery(app: flask.Flask) -> list[dict[str, Any]]:
    response = app.test_client().get("/cds-services")
    assert response.status_code == 200
    return response.get_json()["services"]


def tokens(template: str) -> list[str]:
    return [t.strip() for t in re.findall(r"\{\{([^{}]*)\}\}", template)]


def fixture_body(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def post(app: flask.Flask, path: str, body: Any) -> Any:
    return app.test_client().post(path, json=body)


def every_fixture_response(app: flask.Flask) -> Iterator[tuple[str, dict[str, Any]]]:
    for name in MANIFEST["fixtures"]:
        body = fixture_body(name)
        response = post(app, f"/cds-services/cementoplasty-{body['hook']}", body)
        assert response.status_code == 200, name
        yield name, response.get_json()


def with_fhir_fallback(scope: str) -> dict[str, Any]:
    """The low-platelets fixture without its platelets: the service must ask the FHIR server."""
    body = fixture_body(LOW_PLATELETS)
    del body["prefetch"]["platelets"]
    body["fhirServer"] = FHIR
    body["fhirAuthorization"] = {
        "access_token": "tok",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": scope,
        "subject": "cementoplasty-cds",
    }
    return body


# --- Prefetch: tokens containing simpler FHIRPath (STU) ----------------------------------------


def test_discovery_offers_cds_hooks_2_0_tokens_unless_the_operator_says_otherwise(
    app: flask.Flask, app_relative_dates: flask.Flask
) -> None:
    # By default a 2.0 client (the sandbox, most EHRs) gets only tokens it understands.
    for service in discovery(app):
        for template in service["prefetch"].values():
            assert all(TOKENS_2_0.match(t) for t in tokens(template)), template
    # `[prefetch] relative_dates = true`: the lab searches are bounded by a relative date.
    bounded = {
        key: template
        for service in discovery(app_relative_dates)
        for key, template in service["prefetch"].items()
        if any(TODAY_TOKEN.match(t) for t in tokens(template))
    }
    assert set(bounded) == {"platelets", "coagulation", "pain", "temperature", "neutrophils"}
    assert all("&date=ge{{today() - 30 days}}" in t for t in bounded.values())


@responses.activate
def test_the_fallback_renders_relative_dates_on_the_sites_day(app: flask.Flask) -> None:
    # lab_max_age_days 7: four windows, at least 30 days, before the site's day (26/11).
    responses.get(
        f"{FHIR}/Observation",
        match=[matchers.query_param_matcher({"date": "ge2026-10-27"}, strict_match=False)],
        json=searchset(),
    )
    response = post(app, ORDER_SELECT, with_fhir_fallback("patient/*.rs"))
    assert response.status_code == 200
    [call] = responses.calls
    assert "date=ge2026-10-27" in call.request.url
    assert "_sort=-date" in call.request.url


@responses.activate
def test_a_result_older_than_the_lab_window_is_still_shown_through_the_bounded_search(
    app: flask.Flask,
) -> None:
    """The bound spares years of pages, never the stale value RULES.md shows ("older than 7
    days") rather than "no result": a count 20 days old is inside the 30-day bound."""
    body = fixture_body(LOW_PLATELETS)
    old = body["prefetch"]["platelets"]["entry"][0]["resource"]
    old["effectiveDateTime"] = "2026-11-06T09:00:00+01:00"  # 20 days before the site's day

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        since = request.params["date"].removeprefix("ge")
        found = [] if old["effectiveDateTime"][:10] < since else [old]
        return 200, {}, json.dumps(searchset(*found))

    responses.add_callback(responses.GET, f"{FHIR}/Observation", callback=answer)
    response = post(app, ORDER_SELECT, with_fhir_fallback("patient/*.rs"))
    assert len(responses.calls) == 1
    text = json.dumps(response.get_json()["cards"], ensure_ascii=False)
    assert "06/11" in text or "2026-11-06" in text or "6 November" in text, text
    assert "older than 7 days" in text


# --- Prefetch: prior prefetch templates as variables (STU) -------------------------------------


def test_no_template_uses_a_prior_prefetch_as_a_variable(
    app: flask.Flask, app_relative_dates: flask.Flask
) -> None:
    """Not used: each key is one search by patient and code, none depends on another key's
    result (the planned procedure is found by status, not through a prior key). A template
    holding such a variable is refused by the fallback rather than sent half-rendered."""
    for application in (app, app_relative_dates):
        for service in discovery(application):
            for template in service["prefetch"].values():
                assert not [t for t in tokens(template) if t.startswith("%")], template
    with pytest.raises(TemplateError):
        render_template("Practitioner?_id={{%patient.generalPractitioner.resolve().id}}", {})


# --- suggestion.actionSelectionBehavior --------------------------------------------------------


def test_no_suggestion_sets_action_selection_behavior(app: flask.Flask) -> None:
    """Not used: every suggestion's actions are meant together (a hold plan's Task and its
    message to the patient; the ServiceRequests of the missing tests), which is the meaning of
    a suggestion without `actionSelectionBehavior` in 2.0 and 3.0 alike. The choice between
    alternatives is made between suggestions, by `card.selectionBehavior`."""
    suggestions = 0
    for name, answer in every_fixture_response(app):
        for card in answer["cards"]:
            for suggestion in card.get("suggestions", []):
                suggestions += 1
                assert "actionSelectionBehavior" not in suggestion, name
            if card.get("suggestions"):
                assert card["selectionBehavior"] in ("at-most-one", "any"), name
    assert suggestions > 0  # the fixtures do exercise suggestions


# --- Example value set of override reasons -----------------------------------------------------


def clinical_override_codes() -> set[str]:
    path = shared_path("cds-hooks", "hl7-3.0", "ValueSet-non-adherence-reason-clinical.json")
    value_set = json.loads(path.read_text("utf-8"))
    return {
        concept["code"]
        for include in value_set["compose"]["include"]
        if include["system"] == HL7_OVERRIDE_SYSTEM
        for concept in include["concept"]
    }


def test_override_reasons_come_from_the_3_0_value_set_or_the_services_own_codes(
    app: flask.Flask,
) -> None:
    hl7 = clinical_override_codes()
    seen: set[tuple[str, str]] = set()
    for name, answer in every_fixture_response(app):
        for card in answer["cards"]:
            for reason in card.get("overrideReasons", []):
                seen.add((reason["system"], reason["code"]))
                assert reason["display"].strip(), name
                if reason["system"] == HL7_OVERRIDE_SYSTEM:
                    assert reason["code"] in hl7, name
                else:
                    assert reason["system"] == OVERRIDE_REASON_SYSTEM, name
    assert {system for system, _ in seen} == {HL7_OVERRIDE_SYSTEM, OVERRIDE_REASON_SYSTEM}


# --- Errors as FHIR OperationOutcome (FHIR-50287) ----------------------------------------------


def down_store_app(tmp_path: Path) -> flask.Flask:
    import socket

    with socket.socket() as probe:  # a port nothing listens on: the store is unreachable
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return create_app(
        parse_config(
            {
                "auth": {"required": False},
                "store": {
                    "url": f"postgresql://cds:pw@127.0.0.1:{port}/cds",
                    "spool_dir": str(tmp_path / "spool"),
                },
            }
        )
    )


FEEDBACK_ITEM = {
    "card": "1b6f6b3a-6d1f-4c0e-9a83-5d3f2e4b9c11",
    "outcome": "overridden",
    "outcomeTimestamp": "2026-11-26T09:00:00+01:00",
}


@pytest.mark.parametrize(
    ("status", "call"),
    [
        (400, lambda c: c.post(ORDER_SELECT, json={"hook": "order-select"})),
        (404, lambda c: c.post("/cds-services/nope", json={})),
        (404, lambda c: c.get("/nowhere")),
        (405, lambda c: c.get(ORDER_SELECT)),
        (413, lambda c: c.post(ORDER_SELECT, data=b"x" * 4096, content_type="application/json")),
        (415, lambda c: c.post(ORDER_SELECT, data=b"{}", content_type="text/plain")),
    ],
)
def test_every_error_answer_is_an_operation_outcome(status: int, call: Any) -> None:
    app = make_app(server={"max_request_bytes": 2048})
    assert_outcome(call(app.test_client()), status)


def test_401_is_an_operation_outcome_without_detail() -> None:
    # A token that is sent is verified even where calls without one are accepted.
    response = (
        make_app().test_client().get("/cds-services", headers={"Authorization": "Bearer forged"})
    )
    assert_outcome(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.get_json()["issue"][0]["diagnostics"] == "Authentication required."


def test_503_is_an_operation_outcome(tmp_path: Path) -> None:
    client = down_store_app(tmp_path).test_client()
    response = client.post(
        "/cds-services/cementoplasty-order-select/feedback", json={"feedback": [FEEDBACK_ITEM]}
    )
    assert_outcome(response, 503)
    assert int(response.headers["Retry-After"]) > 0


def assert_outcome(response: Any, status: int) -> None:
    assert response.status_code == status
    assert response.mimetype == "application/fhir+json"
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"] and all(i["severity"] in ("error", "fatal") for i in body["issue"])


# --- CDS Clients: a JSON Web Key Set URL and key rotation --------------------------------------


def test_a_client_rotating_keys_behind_its_jku_is_followed() -> None:
    """A recommendation to clients; the service's part: an allow-listed `jku` is fetched and a
    token signed with a new key (unknown `kid`) fetches the set again (at most once a minute)."""
    iss, jku = "https://ehr.example", "https://ehr.example/jwks.json"
    url = "https://cds.example/cds-services/cementoplasty-order-select"
    keys = {"old": ec.generate_private_key(ec.SECP384R1())}
    fetched: list[str] = []
    now = [1_000_000.0]

    def jwk(kid: str) -> dict[str, Any]:
        value = json.loads(jwt.get_algorithm_by_name("ES384").to_jwk(keys[kid].public_key()))
        return {**value, "kid": kid, "alg": "ES384"}

    def fetch(address: str, timeout_s: float) -> dict[str, Any]:
        fetched.append(address)
        return {"keys": [jwk(kid) for kid in keys]}

    def token(kid: str, key: ec.EllipticCurvePrivateKey | None = None) -> str:
        claims = {"iss": iss, "aud": url, "iat": int(now[0]), "exp": int(now[0]) + 300}
        claims["jti"] = str(uuid.uuid4())
        headers = {"kid": kid, "jku": jku, "typ": "JWT"}
        return jwt.encode(claims, key or keys[kid], algorithm="ES384", headers=headers)

    settings = AuthSettings(
        public_base_urls=("https://cds.example",), clients=(TrustedClient(iss=iss, jku=(jku,)),)
    )

    authenticator = ClientAuthenticator(
        settings, MemoryReplayGuard(), fetch_jwks=fetch, clock=lambda: now[0]
    )
    authenticator.verify(f"Bearer {token('old')}", url)
    keys["new"] = ec.generate_private_key(ec.SECP384R1())  # the client rotates
    now[0] += 61
    authenticator.verify(f"Bearer {token('new')}", url)
    assert fetched == [jku, jku]
    retired = keys.pop("old")  # the client retires its old key: once the cached set is
    now[0] += settings.jwks_max_age_s  # stale, a token signed with it is refused
    with pytest.raises(Unauthorized):
        authenticator.verify(f"Bearer {token('old', retired)}", url)
    assert fetched == [jku, jku, jku]


# --- Services advertise their version of CDS Hooks ---------------------------------------------


def test_discovery_advertises_the_cds_hooks_version_and_each_hook_version(app: flask.Flask) -> None:
    services = discovery(app)
    assert sorted(s["hook"] for s in services) == sorted(HOOKS)
    for service in services:
        assert re.fullmatch(r"\d+\.\d+\.\d+", service["version"])
        assert service["version"].startswith("3.")
        # Each hook's published definition (HL7/cds-hooks-library) states hookVersion 1.0.
        assert service["hookVersion"] == "1.0"
    # The OpenAPI document describes both fields (tools read it before calling).
    schema = app.test_client().get("/openapi.json").get_json()["components"]["schemas"]
    assert {"version", "hookVersion"} <= set(schema["DiscoveredService"]["properties"])


# --- SMART App Launch STU 2: the `scope` of fhirAuthorization ----------------------------------


@responses.activate
@pytest.mark.parametrize("locale", ["en", "fr"])
def test_a_key_the_tokens_scope_does_not_cover_is_never_fetched_and_is_shown(
    app: flask.Flask, locale: str
) -> None:
    body = with_fhir_fallback("patient/Patient.rs patient/Condition.rs")  # no Observation
    response = app.test_client().post(ORDER_SELECT, json=body, headers={"Accept-Language": locale})
    assert response.status_code == 200
    assert len(responses.calls) == 0  # `responses` refuses any call: none was made
    [card] = [
        c for c in response.get_json()["cards"] if "DATA-UNAVAILABLE" in json.dumps(c["extension"])
    ]
    said = {
        "en": "not permitted by the access token's scope",
        "fr": "non autorisé par la portée du jeton d'accès",
    }[locale]
    assert said in card["detail"]
    assert FailureCode.TOKEN_SCOPE.value not in card["detail"]


@responses.activate
@pytest.mark.parametrize(
    "scope",
    ["patient/Observation.read", "patient/Observation.rs", "user/*.read", "system/*.rs"],
)
def test_a_token_covering_the_key_or_without_a_scope_is_used(app: flask.Flask, scope: str) -> None:
    responses.get(f"{FHIR}/Observation", json=searchset())
    response = post(app, ORDER_SELECT, with_fhir_fallback(scope))
    assert response.status_code == 200
    assert len(responses.calls) == 1


def test_a_request_without_a_scope_is_refused_as_in_2_0(app: flask.Flask) -> None:
    """`fhirAuthorization.scope` is required (2.0 and 3.0): a blank one is a 400, as before.
    (Below the HTTP layer, a token without a scope is used unrestricted: see
    tests/cds_hooks/test_prefetch_scope_and_dates.py.)"""
    response = post(app, ORDER_SELECT, with_fhir_fallback(""))
    assert_outcome(response, 400)
