"""What a browser asks before the public sandbox page may call the service on loopback.

Chrome's Private Network Access: a public page (https://sandbox.cds-hooks.org) calling a
loopback address first sends a CORS preflight carrying
`Access-Control-Request-Private-Network: true`, and goes on only if the answer carries
`Access-Control-Allow-Private-Network: true`. The demo profile says yes; no other configuration
does, whatever its CORS origins.
"""

from __future__ import annotations

import dataclasses

import pytest

from service.app import create_app
from service.config import DEMO_PROFILE, load_config
from service.storage import Store

SANDBOX = "https://sandbox.cds-hooks.org"
PATHS = (
    ("/cds-services", "GET"),
    ("/cds-services/cementoplasty-order-select", "POST"),
    ("/cds-services/cementoplasty-order-sign/feedback", "POST"),
)


def preflight(client, path: str, method: str, private_network: bool = True):
    headers = {
        "Origin": SANDBOX,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    if private_network:
        headers["Access-Control-Request-Private-Network"] = "true"
    return client.options(path, headers=headers)


@pytest.fixture(scope="module")
def demo_client():
    return create_app(load_config(DEMO_PROFILE), store=Store("sqlite://")).test_client()


@pytest.fixture(scope="module")
def production_like_client():
    """The demo profile's CORS (any origin) without `demo = true`."""
    config = dataclasses.replace(load_config(DEMO_PROFILE), demo=False)
    return create_app(config, store=Store("sqlite://")).test_client()


@pytest.mark.parametrize(("path", "method"), PATHS)
def test_demo_profile_allows_the_private_network_preflight(demo_client, path, method) -> None:
    response = preflight(demo_client, path, method)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Private-Network"] == "true"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()


def test_a_preflight_that_does_not_ask_gets_no_private_network_answer(demo_client) -> None:
    response = preflight(demo_client, "/cds-services", "GET", private_network=False)
    assert response.status_code == 200
    assert "Access-Control-Allow-Private-Network" not in response.headers


@pytest.mark.parametrize(("path", "method"), PATHS)
def test_outside_the_demo_profile_the_preflight_is_not_allowed(
    production_like_client, path, method
) -> None:
    response = preflight(production_like_client, path, method)
    assert response.headers.get("Access-Control-Allow-Origin") == "*"  # CORS itself still on
    # flask-cors answers "false" to a preflight that asks; absent would refuse as well.
    assert response.headers.get("Access-Control-Allow-Private-Network", "false") == "false"


def test_a_browser_reads_the_challenge_of_a_refused_token(demo_client) -> None:
    response = demo_client.get(
        "/cds-services", headers={"Origin": SANDBOX, "Authorization": "Bearer not.a.jwt"}
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert "www-authenticate" in response.headers["Access-Control-Expose-Headers"].lower()
