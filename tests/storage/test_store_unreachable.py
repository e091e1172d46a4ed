"""Hook calls never depend on the store: the service starts and answers with the store
unreachable, /readyz says why, and the replay guard falls back to each process's memory."""

from __future__ import annotations

import json
import socket
import time
import uuid
from datetime import datetime
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from prometheus_client import REGISTRY

from service.app import create_app
from service.config import parse_config
from service.storage import Store
from service.storage.replay_guard import MemoryReplayGuard

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
NOW = datetime.fromisoformat(MANIFEST["now"])  # the fixtures' own "today"
LOW_PLATELETS = FIXTURES / "BLEED-PLATELETS-LOW/unit-G-L-at-limit.json"
SELECT = "/cds-services/cementoplasty-order-select"
BASE_URL = "https://cds.example.org"
ISS = "https://ehr.example.org"


def unreachable_url() -> str:
    """A PostgreSQL URL where nothing listens: every connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://cds:secret@127.0.0.1:{port}/cds"


def degraded_claims() -> float:
    return REGISTRY.get_sample_value("cds_replay_guard_degraded_total") or 0.0


def test_a_store_that_cannot_be_reached_does_not_stop_the_store_from_being_built() -> None:
    store = Store(unreachable_url())  # used to raise OperationalError (schema creation)
    assert store.ping() is False
    assert "unreachable" in (store.unready_reason() or "")


def test_the_app_starts_answers_hook_calls_and_says_why_it_is_not_ready(tmp_path: Path) -> None:
    config = parse_config(
        {
            "auth": {"required": False},
            "store": {"url": unreachable_url(), "spool_dir": str(tmp_path / "spool")},
        }
    )
    app = create_app(config, clock=lambda: NOW)  # used to fail: "Worker failed to boot"
    client = app.test_client()
    response = client.post(SELECT, data=LOW_PLATELETS.read_bytes(), content_type="application/json")
    assert response.status_code == 200
    assert any(card["indicator"] == "critical" for card in response.get_json()["cards"])
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.get_json()
    assert body["status"] == "not ready"
    assert "store unreachable" in body["reason"]
    assert "secret" not in json.dumps(body)  # never the store's password


def test_the_memory_guard_refuses_a_replay_and_forgets_expired_ids() -> None:
    guard = MemoryReplayGuard(max_entries=3)
    now = int(time.time())
    assert guard.claim(ISS, "a", now + 60, now=now)
    assert not guard.claim(ISS, "a", now + 60, now=now)
    assert guard.claim("https://other", "a", now + 60, now=now)  # per issuer
    # Expired: it no longer protects anything, and is forgotten.
    assert guard.claim(ISS, "b", now + 5, now=now)
    assert guard.claim(ISS, "b", now + 70, now=now + 10)
    # Bounded: the id that expires first is forgotten when the memory is full.
    assert guard.claim(ISS, "c", now + 1000, now=now + 10)
    assert guard.claim(ISS, "d", now + 1000, now=now + 10)
    assert len(guard) <= 3
    assert not guard.claim(ISS, "d", now + 1000, now=now + 10)


def test_claims_fall_back_to_memory_when_the_store_is_down_logged_and_counted(caplog) -> None:
    store = Store(unreachable_url())
    before = degraded_claims()
    expires = int(time.time()) + 300
    assert store.claim(ISS, "jti-1", expires) is True  # used to raise OperationalError
    assert store.claim(ISS, "jti-1", expires) is False  # still refused: a replay
    assert store.claim(ISS, "jti-2", expires) is True
    assert degraded_claims() - before == 2  # the replay: refused by memory before asking
    assert any("replay guard degraded" in record.getMessage() for record in caplog.records)


def test_an_id_claimed_in_the_store_is_refused_from_memory_during_an_outage(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path}/store.sqlite3")
    expires = int(time.time()) + 300
    assert store.claim(ISS, "jti-before", expires)
    store.engine.dispose()
    store.engine = Store(unreachable_url()).engine  # the database is now out of reach
    assert store.claim(ISS, "jti-before", expires) is False


def test_authenticated_calls_are_answered_during_an_outage_replays_still_refused(
    tmp_path: Path,
) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk | {"kid": "k1", "alg": "ES384"}]}))
    config = parse_config(
        {
            "public_base_urls": [BASE_URL],
            "auth": {"clients": [{"iss": ISS, "jwks_file": str(jwks)}]},
            "store": {"url": unreachable_url(), "spool_dir": str(tmp_path / "spool")},
        }
    )
    app = create_app(config, clock=lambda: NOW)
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": ISS,
            "aud": f"{BASE_URL}{SELECT}",
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        },
        key,
        algorithm="ES384",
        headers={"kid": "k1", "typ": "JWT"},
    )
    client = app.test_client()

    def call() -> int:
        return client.post(
            SELECT,
            data=LOW_PLATELETS.read_bytes(),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        ).status_code

    assert call() == 200  # used to be 500: the replay guard needed the store
    assert call() == 401  # the same token again: a replay


def test_ids_accepted_during_an_outage_reach_the_store_when_it_answers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.sqlite3"
    store = Store(url)
    working_engine = store.engine
    store.engine = Store(unreachable_url()).engine  # the database is out of reach
    expires = int(time.time()) + 300
    assert store.claim(ISS, "jti-outage", expires) is True  # from memory
    store.engine = working_engine  # it answers again
    store.replay_guard._jti_store_retry_at = 0.0  # (do not wait for the retry delay)
    assert store.claim(ISS, "jti-after", expires) is True
    # Another process (its own memory, the same database) now refuses the outage's token.
    assert Store(url).claim(ISS, "jti-outage", expires) is False
