"""The demo profile trusts the CDS Hooks sandbox; a production configuration does not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.auth_tokens import (
    KeyPair,
    MemoryReplayGuard,
    claims,
    es384_key,
    flask_like,
    sign,
    write_jwks,
)
from support.shared_data import shared_path

from cds_hooks.auth import ClientAuthenticator
from cds_hooks.errors import Unauthorized
from service.config import DEMO_PROFILE, Config, load_config

SANDBOX_ISS = "https://sandbox.cds-hooks.org"
# The sandbox names this URL in the `jku` header of every token it signs.
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
PROFILE_SANDBOX_JWKS = DEMO_PROFILE.parent / "sandbox-jwks.json"


def sandbox_kid() -> str:
    [key] = json.loads(PROFILE_SANDBOX_JWKS.read_text())["keys"]
    return key["kid"]


@pytest.fixture(scope="module")
def sandbox_like_key() -> KeyPair:
    # We cannot hold the sandbox's private key: a generated P-384 key under its kid stands in.
    return es384_key(sandbox_kid())


def test_profile_carries_the_published_sandbox_key():
    shared = shared_path("cds-hooks", "sandbox-jwks.json")  # fails, never skips, when missing
    assert json.loads(PROFILE_SANDBOX_JWKS.read_text()) == json.loads(shared.read_text())
    [key] = json.loads(PROFILE_SANDBOX_JWKS.read_text())["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("EC", "P-384", "ES384")


def demo_config_with_test_key(tmp_path: Path, key: KeyPair) -> Config:
    """The demo profile, verbatim, except that its JWK Set holds our stand-in public key."""
    shutil.copy(DEMO_PROFILE, tmp_path / "demo.toml")
    write_jwks(tmp_path / "sandbox-jwks.json", key)
    return load_config(tmp_path / "demo.toml")


def test_demo_profile_accepts_a_token_signed_as_the_sandbox_signs(tmp_path, sandbox_like_key):
    config = demo_config_with_test_key(tmp_path, sandbox_like_key)
    authenticator = ClientAuthenticator(config.auth, MemoryReplayGuard())
    url = f"{config.public_base_urls[0]}/cds-services/cementoplasty-order-select"
    token = sign(sandbox_like_key, claims(SANDBOX_ISS, aud=url))
    assert authenticator.verify(f"Bearer {token}", url).iss == SANDBOX_ISS


def test_demo_profile_accepts_the_sandbox_jku_header_with_its_pinned_key_offline(
    tmp_path, sandbox_like_key
):
    """The sandbox always sends `jku`: the pinned key answers, and nothing is fetched."""
    config = demo_config_with_test_key(tmp_path, sandbox_like_key)
    fetched: list[str] = []

    def no_network(url: str, timeout_s: float) -> dict:
        fetched.append(url)
        raise OSError("offline")

    authenticator = ClientAuthenticator(config.auth, MemoryReplayGuard(), fetch_jwks=no_network)
    url = f"{config.public_base_urls[0]}/cds-services"
    token = sign(sandbox_like_key, claims(SANDBOX_ISS, aud=url), jku=SANDBOX_JKU)
    assert authenticator.verify(f"Bearer {token}", url).iss == SANDBOX_ISS
    assert fetched == []
    other = sign(sandbox_like_key, claims(SANDBOX_ISS, aud=url), jku="https://evil.example/j")
    with pytest.raises(Unauthorized) as raised:
        authenticator.verify(f"Bearer {other}", url)
    assert raised.value.code == "jku-not-allowed"


def test_demo_profile_trusts_the_sandbox_issuer_with_its_published_key():
    settings = load_config(DEMO_PROFILE).auth
    assert not settings.required  # demo: anonymous calls (curl) accepted, tokens still verified
    [client] = settings.clients
    assert client.iss == SANDBOX_ISS
    assert client.jwks_file == PROFILE_SANDBOX_JWKS.resolve()
    assert client.jku == (SANDBOX_JKU,)
    # With the real published key, our stand-in signature must fail: the key is really used.
    authenticator = ClientAuthenticator(settings, MemoryReplayGuard())
    url = f"{settings.public_base_urls[0]}/cds-services"
    token = sign(es384_key(sandbox_kid()), claims(SANDBOX_ISS, aud=url))
    with pytest.raises(Unauthorized) as raised:
        authenticator.verify(f"Bearer {token}", url)
    assert raised.value.code == "signature-invalid"


def test_production_configuration_without_clients_refuses_the_sandbox(sandbox_like_key):
    config = Config()  # the defaults: authentication required, no client trusted
    authenticator = ClientAuthenticator(config.auth, MemoryReplayGuard())
    url = f"{config.public_base_urls[0]}/cds-services"
    token = sign(sandbox_like_key, claims(SANDBOX_ISS, aud=url))
    with pytest.raises(Unauthorized) as raised:
        authenticator.verify(f"Bearer {token}", url)
    assert raised.value.code == "iss-unknown"


def test_authenticate_hook_counts_refusals():
    from prometheus_client import REGISTRY

    from service.auth_setup import build_authenticate

    def refusals() -> float:
        return REGISTRY.get_sample_value("cds_auth_refusals_total", {"reason": "iss-unknown"}) or 0

    authenticate = build_authenticate(Config(), MemoryReplayGuard())
    config = Config()
    request = flask_like(
        path="/cds-services",
        headers={
            "Authorization": "Bearer "
            + sign(
                es384_key(), claims(SANDBOX_ISS, aud=f"{config.public_base_urls[0]}/cds-services")
            )
        },
    )
    before = refusals()
    with pytest.raises(Unauthorized):
        authenticate(request)
    assert refusals() == before + 1
