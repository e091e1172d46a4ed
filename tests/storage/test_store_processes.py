"""Several processes on one database: durability, start-up race, replay protection."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from service.storage import Store

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str], timeout: float = 60) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


WRITE_THEN_WAIT = """
import json, sys, time
from service.audit_record import AuditRecord
from service.storage import Store
store = Store(sys.argv[1])
from cds_hooks.feedback import FeedbackItem
items = [FeedbackItem(f"card-{i}", "overridden", "2026-01-05T10:00:00Z") for i in range(5)]
stored = store.record_feedback("svc", items)
store.record_audit(AuditRecord(service="svc", hook_instance="h-killed", rules_fired=("R-A",)))
print(json.dumps({"ack": stored}), flush=True)
time.sleep(120)  # killed long before this ends
"""


def test_acknowledged_writes_survive_sigkill(store_url: str):
    writer = _python(WRITE_THEN_WAIT, store_url)
    try:
        assert writer.stdout is not None
        line = writer.stdout.readline()
        assert line, writer.stderr.read() if writer.stderr else ""
        assert json.loads(line) == {"ack": 5}
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == -signal.SIGKILL
    reopened = Store(store_url)
    try:
        cards = sorted(item["card_uuid"] for item in reopened.feedback_items("svc"))
        assert cards == [f"card-{i}" for i in range(5)]
        assert [r.rules_fired for r in reopened.audit_records("h-killed")] == [("R-A",)]
    finally:
        reopened.close()


START_AT_ONCE = """
import sys, time
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
from service.storage import Store
store = Store(sys.argv[1])
print(store.claim("https://ehr", "the-same-jti", int(time.time()) + 600), flush=True)
"""


def test_workers_starting_at_once_create_the_schema_and_one_claims_the_jti(store_url: str):
    # Eight fresh processes on an empty database: every one creates-or-finds the schema, and
    # of eight simultaneous claims of one token id exactly one wins.
    start = str(time.time() + 2.0)
    workers = [_python(START_AT_ONCE, store_url, start) for _ in range(8)]
    results = [_finish(worker).strip() for worker in workers]
    assert sorted(results) == ["False"] * 7 + ["True"]


VERIFY_TOKEN = """
import sys
from pathlib import Path
from cds_hooks.auth import AuthSettings, ClientAuthenticator, TrustedClient
from cds_hooks.errors import Unauthorized
from service.storage import Store
settings = AuthSettings(
    public_base_urls=("https://cds.example.org",),
    clients=(TrustedClient(iss="https://ehr.example.org", jwks_file=Path(sys.argv[2])),),
)
authenticator = ClientAuthenticator(settings, Store(sys.argv[1]))
try:
    authenticator.verify("Bearer " + sys.stdin.read().strip(), sys.argv[3])
    print("accepted")
except Unauthorized as refusal:
    print(refusal.code)
"""


def test_a_token_accepted_by_one_worker_is_refused_by_another(store_url: str, tmp_path: Path):
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk | {"kid": "k1", "alg": "ES384"}]}))
    audience = "https://cds.example.org/cds-services/svc"
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": "https://ehr.example.org",
            "aud": audience,
            "iat": now,
            "exp": now + 300,
            "jti": "jti-shared",
        },
        key,
        algorithm="ES384",
        headers={"kid": "k1", "typ": "JWT"},
    )

    def verify_in_a_new_process() -> str:
        worker = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(VERIFY_TOKEN), store_url, str(jwks), audience],
            cwd=ROOT,
            input=token,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert worker.returncode == 0, worker.stderr
        assert token not in worker.stderr
        return worker.stdout.strip()

    assert verify_in_a_new_process() == "accepted"
    assert verify_in_a_new_process() == "jti-replayed"
