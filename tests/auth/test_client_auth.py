"""Forged and broken client tokens are refused, each for the right reason; valid ones pass."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import responses as responses_lib
from cryptography.hazmat.primitives import serialization
from support.auth_tokens import (
    SERVICE_URL,
    KeyPair,
    MemoryReplayGuard,
    claims,
    es384_key,
    flask_like,
    rs384_key,
    sign,
    write_jwks,
)

from cds_hooks.auth import (
    MAX_JWKS_BYTES,
    AuthSettings,
    ClientAuthenticator,
    TrustedClient,
    VerifiedClient,
    fetch_jwks_over_http,
)
from cds_hooks.errors import Unauthorized

EHR = "https://ehr.example.org"
JKU = "https://ehr.example.org/.well-known/jwks.json"


@pytest.fixture(scope="module")
def ec_key() -> KeyPair:
    return es384_key()


@pytest.fixture(scope="module")
def rsa_key() -> KeyPair:
    return rs384_key()


@pytest.fixture
def authenticator(tmp_path: Path, ec_key: KeyPair, rsa_key: KeyPair) -> ClientAuthenticator:
    return make_authenticator(tmp_path, ec_key, rsa_key)


def make_authenticator(tmp_path: Path, *keys: KeyPair, **settings: Any) -> ClientAuthenticator:
    jwks = write_jwks(tmp_path / "ehr-jwks.json", *keys)
    clients = settings.pop("clients", (TrustedClient(iss=EHR, jwks_file=jwks, jku=(JKU,)),))
    fetch = settings.pop("fetch_jwks", _no_network)
    clock = settings.pop("clock", time.time)
    bases = settings.pop("public_base_urls", ("https://cds.example.org",))
    return ClientAuthenticator(
        AuthSettings(public_base_urls=bases, clients=clients, **settings),
        MemoryReplayGuard(),
        fetch_jwks=fetch,
        clock=clock,
    )


def _no_network(url: str, timeout_s: float) -> dict:
    raise OSError("no network in unit tests")


def refusal(authenticator: ClientAuthenticator, token: str, aud: str = SERVICE_URL) -> str:
    with pytest.raises(Unauthorized) as raised:
        authenticator.verify(f"Bearer {token}", aud)
    assert token not in raised.value.reason
    return raised.value.code


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(key: bytes, header: dict, payload: dict) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


# Accepted ---------------------------------------------------------------------------------


def test_valid_es384_token_is_accepted(authenticator: ClientAuthenticator, ec_key: KeyPair):
    payload = claims(EHR, sub="ehr-client", tenant="chu-1")
    client = authenticator.verify(f"Bearer {sign(ec_key, payload)}", SERVICE_URL)
    assert client == VerifiedClient(
        iss=EHR,
        kid=ec_key.kid,
        jti=payload["jti"],
        expires_at=payload["exp"] + 60 + 1,
        sub="ehr-client",
        tenant="chu-1",
    )


def test_valid_rs384_token_is_accepted(authenticator: ClientAuthenticator, rsa_key: KeyPair):
    client = authenticator.verify(f"Bearer {sign(rsa_key, claims(EHR))}", SERVICE_URL)
    assert client.kid == rsa_key.kid


def test_aud_as_one_element_array_is_accepted(authenticator, ec_key):
    authenticator.verify(f"Bearer {sign(ec_key, claims(EHR, aud=[SERVICE_URL]))}", SERVICE_URL)


def test_small_clock_skew_is_tolerated(authenticator, ec_key):
    payload = claims(EHR, now=time.time() + 30)  # issuer clock 30 s ahead
    authenticator.verify(f"Bearer {sign(ec_key, payload)}", SERVICE_URL)


# Refused, one reason each -----------------------------------------------------------------


def test_missing_header_is_refused(authenticator):
    with pytest.raises(Unauthorized) as raised:
        authenticator.verify(None, SERVICE_URL)
    assert raised.value.code == "no-authorization-header"


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer ", "garbage"])
def test_non_bearer_header_is_refused(authenticator, header):
    with pytest.raises(Unauthorized) as raised:
        authenticator.verify(header, SERVICE_URL)
    assert raised.value.code in {"not-a-bearer-token"}


def test_garbage_token_is_refused(authenticator):
    assert refusal(authenticator, "not.a.jwt") == "malformed"


def test_alg_none_is_refused(authenticator, ec_key):
    token = jwt.encode(claims(EHR), None, algorithm="none", headers={"kid": ec_key.kid})
    assert refusal(authenticator, token) == "alg-not-allowed"


def test_alg_none_is_refused_even_when_configured(tmp_path, ec_key):
    authenticator = make_authenticator(tmp_path, ec_key, algorithms=("none", "ES384"))
    token = jwt.encode(claims(EHR), None, algorithm="none", headers={"kid": ec_key.kid})
    assert refusal(authenticator, token) == "alg-not-allowed"


@pytest.mark.parametrize("configured", [("ES384", "RS384"), ("ES384", "RS384", "HS256")])
def test_hs256_signed_with_the_public_key_is_refused(tmp_path, rsa_key, configured):
    # The classic key-confusion forgery: HMAC keyed with the server's own public key.
    authenticator = make_authenticator(tmp_path, rsa_key, algorithms=configured)
    public_pem = rsa_key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": rsa_key.kid}
    for key in (public_pem, json.dumps(rsa_key.public_jwk()).encode()):
        assert refusal(authenticator, _hs256(key, header, claims(EHR))) == "alg-not-allowed"


def test_algorithm_not_in_the_configured_list_is_refused(tmp_path, rsa_key):
    authenticator = make_authenticator(tmp_path, rsa_key, algorithms=("ES384",))
    assert refusal(authenticator, sign(rsa_key, claims(EHR))) == "alg-not-allowed"


def test_typ_other_than_jwt_is_refused(authenticator, ec_key):
    assert refusal(authenticator, sign(ec_key, claims(EHR), typ="at+jwt")) == "typ-not-jwt"


def test_wrong_aud_is_refused(authenticator, ec_key):
    other = "https://cds.example.org/cds-services/another-service"
    assert refusal(authenticator, sign(ec_key, claims(EHR, aud=other))) == "aud-mismatch"


def test_aud_array_with_several_urls_is_refused(authenticator, ec_key):
    token = sign(ec_key, claims(EHR, aud=[SERVICE_URL, "https://elsewhere.example"]))
    assert refusal(authenticator, token) == "aud-mismatch"


def test_aud_prefix_of_the_url_is_refused(authenticator, ec_key):
    token = sign(ec_key, claims(EHR, aud="https://cds.example.org"))
    assert refusal(authenticator, token) == "aud-mismatch"


def test_expired_token_is_refused(authenticator, ec_key):
    payload = claims(EHR, now=time.time() - 1000)  # exp 700 s ago
    assert refusal(authenticator, sign(ec_key, payload)) == "expired"


def test_iat_in_the_future_is_refused(authenticator, ec_key):
    payload = claims(EHR, now=time.time() + 600)
    assert refusal(authenticator, sign(ec_key, payload)) == "iat-in-future"


def test_too_long_lived_token_is_refused(authenticator, ec_key):
    now = int(time.time())
    payload = claims(EHR, iat=now, exp=now + 3601)
    assert refusal(authenticator, sign(ec_key, payload)) == "lifetime-too-long"


def test_missing_exp_is_refused(authenticator, ec_key):
    payload = claims(EHR)
    del payload["exp"]
    assert refusal(authenticator, sign(ec_key, payload)) == "exp-or-iat-missing"


def test_missing_jti_is_refused(authenticator, ec_key):
    assert refusal(authenticator, sign(ec_key, claims(EHR, jti=None))) == "jti-missing"


def test_missing_kid_is_refused(authenticator, ec_key):
    token = jwt.encode(claims(EHR), ec_key.private_key, algorithm="ES384")
    assert refusal(authenticator, token) == "kid-missing"


def test_unknown_kid_is_refused(authenticator, ec_key):
    assert refusal(authenticator, sign(ec_key, claims(EHR), kid="not-in-the-set")) == "kid-unknown"


def test_key_of_another_client_with_its_kid_is_refused(authenticator, ec_key):
    impostor = KeyPair(ec_key.kid, "ES384", es384_key().private_key)  # same kid, other key
    assert refusal(authenticator, sign(impostor, claims(EHR))) == "signature-invalid"


def test_jku_not_allow_listed_is_refused(authenticator, ec_key):
    token = sign(ec_key, claims(EHR), jku="https://attacker.example/jwks.json")
    assert refusal(authenticator, token) == "jku-not-allowed"


def test_unknown_iss_is_refused(authenticator, ec_key):
    token = sign(ec_key, claims("https://attacker.example"))
    assert refusal(authenticator, token) == "iss-unknown"


def test_tampered_payload_is_refused(authenticator, ec_key):
    header, _, signature = sign(ec_key, claims(EHR)).split(".")
    forged = claims(EHR, exp=int(time.time()) + 3000)
    token = f"{header}.{_b64(json.dumps(forged).encode())}.{signature}"
    assert refusal(authenticator, token) == "signature-invalid"


def test_replayed_jti_is_refused(authenticator, ec_key):
    token = sign(ec_key, claims(EHR))
    authenticator.verify(f"Bearer {token}", SERVICE_URL)
    assert refusal(authenticator, token) == "jti-replayed"


def test_tenant_mismatch_is_refused_when_the_client_names_one(tmp_path, ec_key):
    jwks = write_jwks(tmp_path / "jwks.json", ec_key)
    client = TrustedClient(iss=EHR, jwks_file=jwks, tenant="chu-1")
    authenticator = make_authenticator(tmp_path, ec_key, clients=(client,))
    assert refusal(authenticator, sign(ec_key, claims(EHR, tenant="chu-2"))) == "tenant-mismatch"
    assert refusal(authenticator, sign(ec_key, claims(EHR))) == "tenant-mismatch"
    authenticator.verify(f"Bearer {sign(ec_key, claims(EHR, tenant='chu-1'))}", SERVICE_URL)


def test_es384_token_against_a_p256_key_is_refused(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    p256 = KeyPair("p256", "ES256", ec.generate_private_key(ec.SECP256R1()))
    jwk = p256.public_jwk() | {"alg": "ES384"}
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    authenticator = make_authenticator(tmp_path, clients=(TrustedClient(iss=EHR, jwks_file=jwks),))
    # PyJWT will not sign ES384 with a P-256 key: forge the header (refused before the
    # signature is even looked at).
    _, payload, signature = sign(p256, claims(EHR)).split(".")
    header = _b64(json.dumps({"alg": "ES384", "typ": "JWT", "kid": "p256"}).encode())
    token = f"{header}.{payload}.{signature}"
    assert refusal(authenticator, token) == "alg-does-not-match-key"


def test_refusal_log_never_holds_the_token(authenticator, ec_key, caplog):
    token = sign(ec_key, claims(EHR, aud="https://wrong.example"))
    with caplog.at_level("WARNING", logger="cds_hooks.auth"):
        refusal(authenticator, token)
    assert "aud-mismatch" in caplog.text
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


# Remote key sets (jku) --------------------------------------------------------------------


class FakeJwksServer:
    def __init__(self, *keys: KeyPair) -> None:
        self.keys = list(keys)
        self.calls: list[str] = []

    def __call__(self, url: str, timeout_s: float) -> dict:
        self.calls.append(url)
        assert timeout_s == 2.0
        return {"keys": [key.public_jwk() for key in self.keys]}


def test_allow_listed_jku_is_fetched_and_cached(tmp_path, ec_key):
    remote = es384_key("remote-1")
    server = FakeJwksServer(remote)
    authenticator = make_authenticator(tmp_path, ec_key, fetch_jwks=server)
    for _ in range(3):
        authenticator.verify(f"Bearer {sign(remote, claims(EHR), jku=JKU)}", SERVICE_URL)
    assert server.calls == [JKU]


def test_client_with_only_jku_uses_it_without_a_jku_header(tmp_path):
    remote = es384_key("remote-1")
    server = FakeJwksServer(remote)
    authenticator = make_authenticator(
        tmp_path, clients=(TrustedClient(iss=EHR, jku=(JKU,)),), fetch_jwks=server
    )
    authenticator.verify(f"Bearer {sign(remote, claims(EHR))}", SERVICE_URL)
    assert server.calls == [JKU]


def test_unknown_kid_refetches_at_most_once_a_minute(tmp_path):
    now = [1_000_000.0]
    first, rotated = es384_key("k1"), es384_key("k2")
    server = FakeJwksServer(first)
    settings = AuthSettings(
        public_base_urls=("https://cds.example.org",),
        clients=(TrustedClient(iss=EHR, jku=(JKU,)),),
    )
    authenticator = ClientAuthenticator(
        settings, MemoryReplayGuard(), fetch_jwks=server, clock=lambda: now[0]
    )

    def verify(key: KeyPair) -> None:
        authenticator.verify(f"Bearer {sign(key, claims(EHR, now=now[0]))}", SERVICE_URL)

    verify(first)
    server.keys = [first, rotated]  # the client rotates its keys
    now[0] += 10
    with pytest.raises(Unauthorized, match="kid-unknown"):
        verify(rotated)  # within the minute: no new fetch
    with pytest.raises(Unauthorized, match="kid-unknown"):
        verify(rotated)
    assert len(server.calls) == 1
    now[0] += 51
    verify(rotated)  # a minute later the unknown kid triggers one re-fetch
    assert len(server.calls) == 2


def test_jwks_fetch_failure_is_a_refusal_not_a_crash(tmp_path):
    remote = es384_key("remote-1")
    authenticator = make_authenticator(tmp_path, clients=(TrustedClient(iss=EHR, jku=(JKU,)),))
    assert refusal(authenticator, sign(remote, claims(EHR), jku=JKU)) == "kid-unknown"


def test_not_required_accepts_a_call_without_a_token(tmp_path, ec_key):
    authenticator = make_authenticator(tmp_path, ec_key, required=False)

    request = flask_like(path="/cds-services", headers={})
    assert authenticator(request) is None


def test_not_required_still_verifies_a_token_that_is_presented(tmp_path, ec_key):
    authenticator = make_authenticator(tmp_path, ec_key, required=False)
    forged = sign(es384_key("other"), claims(EHR))
    request = flask_like(path="/cds-services", headers={"Authorization": f"Bearer {forged}"})
    with pytest.raises(Unauthorized):
        authenticator(request)


def test_flask_request_audience_is_public_base_url_plus_path(authenticator, ec_key):
    request = flask_like(
        path="/cds-services/cementoplasty-order-select",
        headers={"Authorization": f"Bearer {sign(ec_key, claims(EHR))}"},
    )
    assert authenticator(request).iss == EHR


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "1700000000", True, None])
def test_non_numeric_or_non_finite_times_are_refused(authenticator, ec_key, bad):
    payload = claims(EHR)
    payload["iat"] = bad
    # PyJWT refuses to encode NaN only in strict mode; Python's json writes it as NaN.
    assert refusal(authenticator, sign(ec_key, payload)) in {"exp-or-iat-missing", "malformed"}


def test_concurrent_first_calls_wait_for_one_jwks_fetch(tmp_path):
    import threading

    remote = es384_key("remote-1")
    started = threading.Event()

    class SlowServer(FakeJwksServer):
        def __call__(self, url: str, timeout_s: float) -> dict:
            started.set()
            time.sleep(0.2)
            return super().__call__(url, timeout_s)

    server = SlowServer(remote)
    authenticator = make_authenticator(
        tmp_path, clients=(TrustedClient(iss=EHR, jku=(JKU,)),), fetch_jwks=server
    )
    results: list[str] = []

    def call() -> None:
        try:
            authenticator.verify(f"Bearer {sign(remote, claims(EHR))}", SERVICE_URL)
            results.append("accepted")
        except Unauthorized as refusal_:
            results.append(refusal_.code)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["accepted"] * 5
    assert server.calls == [JKU]


# Pinned keys and allow-listed jku together (the CDS Hooks sandbox sends both) ---------------


class RecordingFetcher:
    """A JWK Set fetcher that records every call and serves nothing: a call is the failure."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, url: str, timeout_s: float) -> dict:
        self.calls.append(url)
        raise OSError("no network in unit tests")


def test_allow_listed_jku_with_a_pinned_kid_uses_the_pinned_key_without_fetching(tmp_path, ec_key):
    fetcher = RecordingFetcher()
    authenticator = make_authenticator(tmp_path, ec_key, fetch_jwks=fetcher)
    token = sign(ec_key, claims(EHR), jku=JKU)
    assert authenticator.verify(f"Bearer {token}", SERVICE_URL).kid == ec_key.kid
    assert fetcher.calls == []


def test_allow_listed_jku_with_a_pinned_kid_still_checks_the_signature(tmp_path, ec_key):
    fetcher = RecordingFetcher()
    authenticator = make_authenticator(tmp_path, ec_key, fetch_jwks=fetcher)
    impostor = KeyPair(ec_key.kid, "ES384", es384_key().private_key)  # same kid, other key
    assert refusal(authenticator, sign(impostor, claims(EHR), jku=JKU)) == "signature-invalid"
    assert fetcher.calls == []


def test_unlisted_jku_is_refused_even_when_the_kid_is_pinned(tmp_path, ec_key):
    fetcher = RecordingFetcher()
    authenticator = make_authenticator(tmp_path, ec_key, fetch_jwks=fetcher)
    token = sign(ec_key, claims(EHR), jku="https://attacker.example/jwks.json")
    assert refusal(authenticator, token) == "jku-not-allowed"
    assert fetcher.calls == []


def test_jku_on_a_client_with_a_pinned_file_only_is_refused(tmp_path, ec_key):
    jwks = write_jwks(tmp_path / "pinned.json", ec_key)
    authenticator = make_authenticator(
        tmp_path, clients=(TrustedClient(iss=EHR, jwks_file=jwks),), fetch_jwks=RecordingFetcher()
    )
    assert refusal(authenticator, sign(ec_key, claims(EHR), jku=JKU)) == "jku-not-allowed"


def test_allow_listed_jku_with_a_kid_not_pinned_is_fetched_from_that_url(tmp_path, ec_key):
    remote = es384_key("remote-only")
    server = FakeJwksServer(remote)
    authenticator = make_authenticator(tmp_path, ec_key, fetch_jwks=server)
    authenticator.verify(f"Bearer {sign(remote, claims(EHR), jku=JKU)}", SERVICE_URL)
    assert server.calls == [JKU]


# Several public base URLs (loopback spellings, internal and external host names) ------------


def test_aud_may_be_any_public_base_url_plus_the_path(tmp_path, ec_key):
    authenticator = make_authenticator(
        tmp_path, ec_key, public_base_urls=("http://127.0.0.1:8080", "http://localhost:8080")
    )
    for base in ("http://127.0.0.1:8080", "http://localhost:8080"):
        request = flask_like(
            path="/cds-services",
            headers={
                "Authorization": f"Bearer {sign(ec_key, claims(EHR, aud=base + '/cds-services'))}"
            },
        )
        assert authenticator(request).iss == EHR


def test_aud_of_a_base_url_not_configured_is_refused(tmp_path, ec_key):
    authenticator = make_authenticator(
        tmp_path, ec_key, public_base_urls=("http://127.0.0.1:8080", "http://localhost:8080")
    )
    aud = "http://0.0.0.0:8080/cds-services"
    request = flask_like(
        path="/cds-services",
        headers={"Authorization": f"Bearer {sign(ec_key, claims(EHR, aud=aud))}"},
    )
    with pytest.raises(Unauthorized) as raised:
        authenticator(request)
    assert raised.value.code == "aud-mismatch"


def test_aud_of_another_path_on_a_configured_base_is_refused(tmp_path, ec_key):
    authenticator = make_authenticator(
        tmp_path, ec_key, public_base_urls=("http://127.0.0.1:8080", "http://localhost:8080")
    )
    aud = "http://localhost:8080/cds-services/cementoplasty-order-sign"
    request = flask_like(
        path="/cds-services/cementoplasty-order-select",
        headers={"Authorization": f"Bearer {sign(ec_key, claims(EHR, aud=aud))}"},
    )
    with pytest.raises(Unauthorized) as raised:
        authenticator(request)
    assert raised.value.code == "aud-mismatch"


# Key sets fetched through jku expire ------------------------------------------------------


class FlakyJwksServer(FakeJwksServer):
    down = False

    def __call__(self, url: str, timeout_s: float) -> dict:
        if self.down:
            self.calls.append(url)
            raise OSError("connection refused")
        return super().__call__(url, timeout_s)


def _jku_authenticator(server, now: list[float], **settings: Any) -> ClientAuthenticator:
    return ClientAuthenticator(
        AuthSettings(
            public_base_urls=("https://cds.example.org",),
            clients=(TrustedClient(iss=EHR, jku=(JKU,)),),
            **settings,
        ),
        MemoryReplayGuard(),
        fetch_jwks=server,
        clock=lambda: now[0],
    )


def _verify_at(authenticator: ClientAuthenticator, key: KeyPair, now: float) -> None:
    token = sign(key, claims(EHR, now=now), jku=JKU)
    authenticator.verify(f"Bearer {token}", SERVICE_URL)


def test_a_key_removed_from_the_served_set_is_refused_once_the_set_expires():
    now = [1_000_000.0]
    kept, compromised = es384_key("kept"), es384_key("compromised")
    server = FakeJwksServer(kept, compromised)
    authenticator = _jku_authenticator(server, now)  # default maximum age: one hour
    _verify_at(authenticator, compromised, now[0])
    server.keys = [kept]  # the client withdraws the compromised key
    now[0] += 3599
    _verify_at(authenticator, compromised, now[0])  # the cached set is still young: trusted
    assert len(server.calls) == 1
    now[0] += 2  # past one hour: the set is fetched again, without the compromised key
    with pytest.raises(Unauthorized, match="kid-unknown"):
        _verify_at(authenticator, compromised, now[0])
    assert len(server.calls) == 2
    _verify_at(authenticator, kept, now[0])  # the fresh set serves the kept key, no new fetch
    assert len(server.calls) == 2


def test_the_maximum_age_is_configurable():
    now = [1_000_000.0]
    key = es384_key("k1")
    server = FakeJwksServer(key)
    authenticator = _jku_authenticator(server, now, jwks_max_age_s=300)
    _verify_at(authenticator, key, now[0])
    now[0] += 301
    _verify_at(authenticator, key, now[0])
    assert len(server.calls) == 2


def test_an_expired_set_is_not_used_when_the_refetch_fails_and_refetches_stay_throttled():
    now = [1_000_000.0]
    key = es384_key("k1")
    server = FlakyJwksServer(key)
    authenticator = _jku_authenticator(server, now, jwks_max_age_s=300)
    _verify_at(authenticator, key, now[0])
    server.down = True
    now[0] += 301
    for _ in range(3):  # fail closed: an expired set is never trusted again
        with pytest.raises(Unauthorized, match="kid-unknown"):
            _verify_at(authenticator, key, now[0])
    assert len(server.calls) == 2  # one refetch attempt, not one per call
    server.down = False  # the client's server is back
    now[0] += 61  # the next attempt waits for the refetch interval
    _verify_at(authenticator, key, now[0])
    assert len(server.calls) == 3


def test_pinned_keys_never_expire(tmp_path, ec_key):
    now = [time.time()]
    fetcher = RecordingFetcher()
    authenticator = make_authenticator(tmp_path, ec_key, fetch_jwks=fetcher, clock=lambda: now[0])
    _verify_at(authenticator, ec_key, now[0])
    now[0] += 10 * 3600
    _verify_at(authenticator, ec_key, now[0])
    assert fetcher.calls == []


# The HTTP fetch itself: no redirect followed, bounded size ---------------------------------


@responses_lib.activate
def test_jwks_fetch_follows_no_redirect():
    responses_lib.get(JKU, status=302, headers={"Location": "https://attacker.example/jwks"})
    responses_lib.get("https://attacker.example/jwks", json={"keys": []})
    with pytest.raises(OSError, match="302"):
        fetch_jwks_over_http(JKU, 2.0)
    assert [call.request.url for call in responses_lib.calls] == [JKU]


@responses_lib.activate
def test_jwks_fetch_refuses_a_set_larger_than_the_cap():
    responses_lib.get(JKU, body=b'{"keys": [' + b" " * MAX_JWKS_BYTES + b"]}")
    with pytest.raises(OSError, match="too large"):
        fetch_jwks_over_http(JKU, 2.0)


@responses_lib.activate
def test_jwks_fetch_reads_a_set_under_the_cap():
    responses_lib.get(JKU, json={"keys": [{"kid": "a"}]})
    assert fetch_jwks_over_http(JKU, 2.0) == {"keys": [{"kid": "a"}]}
