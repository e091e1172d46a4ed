"""A hook call sent again by the proxy in front of the replicas is answered, not refused.

docker/nginx.conf resends a hook call to the other replica when the first died before answering
(`proxy_next_upstream ... non_idempotent`): the same bytes, so the same token. The first replica
had already claimed the token's `jti` in the shared store, so the resend used to be refused 401
as a replay: the EHR saw "unauthorized" for a valid call during a replica's crash. A token
presented again is accepted only as that: the very same request (method, path, body), within
`RESEND_WINDOW_S` of its first presentation, once, by another process than the one that
claimed it (a proxy never resends to the replica that had the call); any other reuse is still a
replay.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from support.auth_tokens import KeyPair, claims, es384_key, sign, write_jwks

from cds_hooks import auth
from cds_hooks.auth import Presentation
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
    """Three processes of one deployment: one store (SQLite, PostgreSQL), each its own memory."""
    jwks = write_jwks(tmp_path / "ehr.json", key)
    config = parse_config(
        {
            "public_base_urls": [BASE],
            "auth": {"clients": [{"iss": EHR, "jwks_file": str(jwks)}]},
            "store": {"spool_dir": str(tmp_path / "spool")},
        }
    )
    stores = [Store(store_url) for _ in range(3)]
    apps = [create_app(config, store=store) for store in stores]
    yield [app.test_client() for app in apps]
    for app in apps:
        app.extensions["cementoplasty_audit"].close()
    for store in stores:
        store.close()


def post(client, token: str, body: bytes, language: str = "fr"):
    return client.post(
        PATH,
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept-Language": language,
        },
    )


def test_the_same_call_resent_to_another_replica_is_answered_once(replicas, key) -> None:
    first, second, third = replicas
    token = sign(key, claims(EHR, aud=BASE + PATH))
    body = FIXTURE.read_bytes()
    assert post(first, token, body).status_code == 200  # the replica that then died
    resent = post(second, token, body)
    assert resent.status_code == 200, resent.get_data(as_text=True)[:300]
    assert resent.get_json()["cards"]
    # nginx tries each replica once: a third presentation is a replay, wherever it goes.
    assert post(third, token, body).status_code == 401
    assert post(second, token, body).status_code == 401


def test_the_replica_that_had_the_call_refuses_it_again(replicas, key) -> None:
    first, _, _ = replicas
    token = sign(key, claims(EHR, aud=BASE + PATH))
    body = FIXTURE.read_bytes()
    assert post(first, token, body).status_code == 200
    assert post(first, token, body).status_code == 401


def test_the_same_token_with_another_body_or_language_is_still_a_replay(replicas, key) -> None:
    first, second, third = replicas
    token = sign(key, claims(EHR, aud=BASE + PATH))
    body = FIXTURE.read_bytes()
    assert post(first, token, body).status_code == 200
    changed = body.replace(b'"hookInstance": "', b'"hookInstance": "x', 1)
    assert changed != body
    assert post(second, token, changed).status_code == 401
    assert post(first, token, changed).status_code == 401
    assert post(third, token, body, language="en").status_code == 401  # other cards' language


def test_only_a_hook_call_may_be_resent(replicas, key) -> None:
    # Discovery: method, path and body are known to anyone, so the token alone would do.
    first, second, _ = replicas
    token = sign(key, claims(EHR, aud=f"{BASE}/cds-services"))
    headers = {"Authorization": f"Bearer {token}"}
    assert first.get("/cds-services", headers=headers).status_code == 200
    assert second.get("/cds-services", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("seconds_later", "accepted"), [(0, True), (30, True), (31, False), (-30, True), (-31, False)]
)
def test_the_window_is_30_s_either_way(store_url, seconds_later, accepted) -> None:
    # Either way: the first replica's clock may be ahead of the second's.
    assert auth.RESEND_WINDOW_S == 30
    first, second = Store(store_url), Store(store_url)
    try:
        now = int(time.time())
        expires = now + 300
        assert first.claim(EHR, "jti-1", expires, Presentation("d" * 64, now))
        again = Presentation("d" * 64, now + seconds_later)
        assert second.claim(EHR, "jti-1", expires, again) is accepted
    finally:
        first.close()
        second.close()


def test_of_two_resends_at_once_one_is_accepted(store_url) -> None:
    stores = [Store(store_url) for _ in range(3)]
    try:
        now = int(time.time())
        first = Presentation("d" * 64, now)
        assert stores[0].claim(EHR, "jti-2", now + 300, first)
        start = threading.Barrier(2)
        answers: list[bool] = []

        def resend(store: Store) -> None:
            start.wait()
            answers.append(store.claim(EHR, "jti-2", now + 300, Presentation("d" * 64, now + 1)))

        threads = [threading.Thread(target=resend, args=(store,)) for store in stores[1:]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answers) == [False, True]
    finally:
        for store in stores:
            store.close()


def test_an_id_claimed_without_a_presentation_is_never_accepted_again(store_url) -> None:
    # A discovery call's token, or one claimed before migration 0003.
    first, second = Store(store_url), Store(store_url)
    try:
        now = int(time.time())
        assert first.claim(EHR, "jti-3", now + 300)
        assert not second.claim(EHR, "jti-3", now + 300, Presentation("d" * 64, now))
    finally:
        first.close()
        second.close()


def test_a_query_string_that_is_not_utf_8_is_no_error(replicas, key) -> None:
    # The digest reads the raw query bytes: decoding them (Werkzeug's full_path) made a 500.
    first, _, _ = replicas
    token = sign(key, claims(EHR, aud=BASE + PATH))
    answer = first.post(
        PATH,
        environ_overrides={"QUERY_STRING": "x=\xff"},  # WSGI: the byte 0xFF, as latin-1
        data=FIXTURE.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 200
