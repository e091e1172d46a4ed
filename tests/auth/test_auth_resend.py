"""A hook call sent again by the proxy in front of the replicas is answered, not refused.

docker/nginx.conf resends a hook call to the other replica when the first died before answering
(`proxy_next_upstream ... non_idempotent`): the same bytes, so the same token. The first replica
had already claimed the token's `jti` in the shared store, so the resend used to be refused 401
as a replay: the EHR saw "unauthorized" for a valid call during a replica's crash. A token
presented again is accepted only as that: the very same request (method, path, body), within
`RESEND_WINDOW_S` of its first presentation, by another process than the one that claimed it
(a proxy never resends to the replica that had the call); any other reuse is still a replay.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.auth_tokens import KeyPair, claims, es384_key, sign, write_jwks

from cds_hooks import auth
from service.app import create_app
from service.config import parse_config
from service.storage import Store

EHR = "https://ehr.example.org"
BASE = "http://127.0.0.1:8080"
PATH = "/cds-services/cementoplasty-order-select"
FIXTURE = (
    Path(__file__).resolve().parents[2] / "fixtures/BLEED-PLATELETS-LOW/unit-G-L-at-limit.json"
)


@pytest.fixture(scope="module")
def key() -> KeyPair:
    return es384_key("ehr-1")


@pytest.fixture
def replicas(tmp_path: Path, key: KeyPair, store_url: str):
    """Two replicas of one deployment: one store (SQLite, PostgreSQL), each its own memory."""
    jwks = write_jwks(tmp_path / "ehr.json", key)
    config = parse_config(
        {
            "public_base_urls": [BASE],
            "auth": {"clients": [{"iss": EHR, "jwks_file": str(jwks)}]},
            "store": {"spool_dir": str(tmp_path / "spool")},
        }
    )
    stores = [Store(store_url), Store(store_url)]
    apps = [create_app(config, store=store) for store in stores]
    yield [app.test_client() for app in apps]
    for app in apps:
        app.extensions["cementoplasty_audit"].close()
    for store in stores:
        store.close()


def post(client, token: str, body: bytes):
    return client.post(
        PATH,
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def test_the_same_call_resent_to_another_replica_is_answered(replicas, key) -> None:
    first, second = replicas
    token = sign(key, claims(EHR, aud=BASE + PATH))
    body = FIXTURE.read_bytes()
    assert post(first, token, body).status_code == 200  # the replica that then died
    resent = post(second, token, body)
    assert resent.status_code == 200, resent.get_data(as_text=True)[:300]
    assert resent.get_json()["cards"]


def test_the_replica_that_had_the_call_refuses_it_again(replicas, key) -> None:
    first, _ = replicas
    token = sign(key, claims(EHR, aud=BASE + PATH))
    body = FIXTURE.read_bytes()
    assert post(first, token, body).status_code == 200
    assert post(first, token, body).status_code == 401


def test_the_same_token_with_another_body_is_still_a_replay(replicas, key) -> None:
    first, second = replicas
    token = sign(key, claims(EHR, aud=BASE + PATH))
    body = FIXTURE.read_bytes()
    assert post(first, token, body).status_code == 200
    changed = body.replace(b'"hookInstance": "', b'"hookInstance": "x', 1)
    assert changed != body
    assert post(second, token, changed).status_code == 401
    assert post(first, token, changed).status_code == 401


def test_a_resend_after_the_window_is_a_replay(replicas, key, monkeypatch) -> None:
    first, second = replicas
    token = sign(key, claims(EHR, aud=BASE + PATH))
    body = FIXTURE.read_bytes()
    assert post(first, token, body).status_code == 200
    monkeypatch.setattr(auth, "RESEND_WINDOW_S", -1)  # the first presentation is now too old
    assert post(second, token, body).status_code == 401
    assert post(first, token, body).status_code == 401
