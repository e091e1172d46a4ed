"""Client authentication as a CDS Client sees it over HTTP: the 401 and its challenge."""

from __future__ import annotations

import json

import pytest
from support.auth_tokens import KeyPair, claims, es384_key, sign, write_jwks

from service.app import create_app
from service.config import parse_config
from service.storage import Store

EHR = "https://ehr.example.org"
BASE = "http://127.0.0.1:8080"


@pytest.fixture(scope="module")
def key() -> KeyPair:
    return es384_key("ehr-1")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, key: KeyPair):
    jwks = write_jwks(tmp_path_factory.mktemp("jwks") / "ehr.json", key)
    config = parse_config(
        {"public_base_urls": [BASE], "auth": {"clients": [{"iss": EHR, "jwks_file": str(jwks)}]}}
    )
    return create_app(config, store=Store("sqlite://")).test_client()


def _outcome_without_detail(response) -> dict:
    assert response.status_code == 401
    assert response.mimetype == "application/fhir+json"
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    [issue] = body["issue"]
    assert issue["diagnostics"] == "Authentication required."
    return body


def test_a_call_without_a_token_gets_a_bare_bearer_challenge(client) -> None:
    response = client.get("/cds-services")
    _outcome_without_detail(response)
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "make_token",
    [
        lambda key: sign(es384_key("ehr-1"), claims(EHR, aud=f"{BASE}/cds-services")),  # forged
        lambda key: sign(key, claims(EHR, aud="https://elsewhere.example/cds-services")),
        lambda key: sign(key, claims(EHR, aud=f"{BASE}/cds-services", now=1_000_000)),  # expired
        lambda key: "not.a.jwt",
    ],
    ids=["forged", "wrong-aud", "expired", "garbage"],
)
def test_a_refused_token_gets_invalid_token_and_no_detail(client, key, make_token) -> None:
    token = make_token(key)
    response = client.get("/cds-services", headers={"Authorization": f"Bearer {token}"})
    body = _outcome_without_detail(response)
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    # The same body whatever the reason: the reason is for the log only.
    assert body == client.get("/cds-services").get_json()
    assert token not in json.dumps(body)


def test_a_valid_token_is_accepted(client, key) -> None:
    token = sign(key, claims(EHR, aud=f"{BASE}/cds-services"))
    response = client.get("/cds-services", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "WWW-Authenticate" not in response.headers
