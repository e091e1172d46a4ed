"""Contract: the requests the real CDS Hooks sandbox sends, replayed against the service.

The recordings (`cds-hooks/sandbox-traffic/` in the shared folder, see its README) hold each
request as sent: method, URL, body, and the JWT header and claims of its bearer token. Each is
replayed here with a token minted as the sandbox mints it: the recorded header (`alg`, `typ`,
`kid`, and the `jku` the sandbox always names), the recorded claims (`iss`, `aud` = the exact
URL called, `iat`, `exp` = `iat` + 300, a fresh `jti`). We cannot hold the sandbox's private
key: a P-384 test key under the sandbox's `kid` stands in, its public half pinned for the
sandbox issuer in the demo profile (copied; everything else verbatim) with authentication
required, so every answer below was earned by a verified token.

Each answer is checked against CDS Hooks 2.0 (`cds_hooks_spec`, written from the
specification, not from the service's own OpenAPI document) and against what the service
should say for it today. No network call may happen: the token is verified with the pinned key
(no `jku` fetch), and the sandbox sends no `fhirAuthorization`, so the FHIR server is never
called back.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from support.cds_hooks_spec import discovery_violations, response_violations
from support.shared_data import shared_path

from service.app import create_app
from service.config import DEMO_PROFILE, load_config
from service.storage import Store

TRAFFIC = shared_path("cds-hooks", "sandbox-traffic")
# The recordings were made on this morning; the rules' "today" is fixed to it.
RECORDED_AT = datetime(2026, 12, 4, 9, 15, tzinfo=ZoneInfo("Europe/Paris"))
RULES = "cementoplasty-cds/rules"
OUR_SERVICES = {
    "cementoplasty-order-select": "order-select",
    "cementoplasty-order-sign": "order-sign",
}


def recording(name: str) -> dict[str, Any]:
    return json.loads((TRAFFIC / f"{name}.json").read_text(encoding="utf-8"))


ALL_RECORDINGS = sorted(path.stem for path in TRAFFIC.glob("*.json"))
SANDBOX_HEADER = recording("discovery")["jwt"]["header"]


def test_every_recording_is_replayed_below() -> None:
    """A recording added to the shared folder without a test here fails, never goes unseen."""
    assert set(ALL_RECORDINGS) == set(EXPECTED)


def test_the_recorded_tokens_are_the_shape_this_file_mints() -> None:
    for name in ALL_RECORDINGS:
        token = recording(name)["jwt"]
        assert token["header"] == SANDBOX_HEADER, name
        assert set(token["claims"]) == {"iss", "aud", "exp", "iat", "jti"}, name
        assert token["claims"]["iss"] == "https://sandbox.cds-hooks.org", name
    assert SANDBOX_HEADER["jku"] == "https://sandbox.cds-hooks.org/.well-known/jwks.json"


# The service, trusting a stand-in for the sandbox's key -----------------------------------


@dataclasses.dataclass(frozen=True)
class KeyPair:
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.get_algorithm_by_name("ES384").to_jwk(self.private_key.public_key()))
        return {"keys": [jwk | {"kid": self.kid, "alg": "ES384", "use": "sig"}]}


def es384_key(kid: str) -> KeyPair:
    return KeyPair(kid, ec.generate_private_key(ec.SECP384R1()))


@pytest.fixture(scope="module")
def sandbox_key() -> KeyPair:
    assert SANDBOX_HEADER["alg"] == "ES384"
    return es384_key(SANDBOX_HEADER["kid"])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, sandbox_key: KeyPair):
    folder = tmp_path_factory.mktemp("sandbox-profile")
    shutil.copy(DEMO_PROFILE, folder / "demo.toml")
    (folder / "sandbox-jwks.json").write_text(json.dumps(sandbox_key.jwks()), encoding="utf-8")
    config = load_config(folder / "demo.toml")
    [client] = config.auth.clients
    assert client.iss == "https://sandbox.cds-hooks.org"
    assert SANDBOX_HEADER["jku"] in client.jku  # the demo profile allow-lists it
    config = dataclasses.replace(config, auth=dataclasses.replace(config.auth, required=True))
    store = Store("sqlite://")
    app = create_app(config, store=store, clock=lambda: RECORDED_AT)
    return app, store


def sandbox_token(key: KeyPair, claims_template: dict[str, Any], url: str) -> str:
    """A token as the sandbox mints it: its header, its claims, `aud` the exact URL called."""
    now = int(time.time())
    claims = {
        "iss": claims_template["iss"],
        "aud": url,
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    headers = {name: value for name, value in SANDBOX_HEADER.items() if name != "alg"}
    return jwt.encode(claims, key.private_key, algorithm=SANDBOX_HEADER["alg"], headers=headers)


def replay(service, key: KeyPair, name: str, url: str | None = None):
    """Send one recorded request as the sandbox sent it (to `url` if given)."""
    app, _ = service
    recorded = recording(name)
    url = url or recorded["url"]
    parts = urlsplit(url)
    client = app.test_client()
    headers = {
        "Authorization": f"Bearer {sandbox_token(key, recorded['jwt']['claims'], url)}",
        "Origin": "https://sandbox.cds-hooks.org",
    }
    base_url = f"{parts.scheme}://{parts.netloc}"
    if recorded["method"] == "GET":
        return client.get(parts.path, headers=headers, base_url=base_url)
    return client.post(
        parts.path,
        data=json.dumps(recorded["body"]),
        content_type="application/json",
        headers=headers,
        base_url=base_url,
    )


def rules_of(card: dict[str, Any]) -> set[str]:
    return set(card["extension"][RULES])


# What the service says to each recording --------------------------------------------------


def check_discovery(response, service) -> None:
    document = response.get_json()
    assert discovery_violations(document) == []
    hooks = {entry["id"]: entry["hook"] for entry in document["services"]}
    assert OUR_SERVICES.items() <= hooks.items()


def check_no_guidance(response, service) -> None:
    """Rx View / Rx Sign: a draft MedicationRequest with no medication yet, nothing planned."""
    document = response.get_json()
    assert response_violations(document) == []
    assert document == {"cards": []}


def recording_templates() -> dict[str, str]:
    """The prefetch templates the service lists today for the order-sign service."""
    from service.prefetch_templates import prefetch_templates
    from service.valuesets import load_valuesets

    return prefetch_templates(load_valuesets())


def check_empty_procedure_code(response, service) -> None:
    """PAMA as the public sandbox sends it: a ServiceRequest whose coding is `[{}]`."""
    document = response.get_json()
    assert response_violations(document) == []
    assert document == {"cards": []}


def check_vertebroplasty_on_clopidogrel_with_low_platelets(response, service) -> None:
    """PAMA with CPT 22511 (percutaneous vertebroplasty, lumbosacral): the demo patient has
    40 000 platelets/mm³ today, takes clopidogrel, and has no TP/INR in the record."""
    document = response.get_json()
    assert response_violations(document) == []
    cards = document["cards"]
    by_rule = {rule: card for card in cards for rule in rules_of(card)}
    assert by_rule["BLEED-PLATELETS-LOW"]["indicator"] == "critical"
    assert "40" in by_rule["BLEED-PLATELETS-LOW"]["summary"]
    assert by_rule["MED-CLOPIDOGREL"]["indicator"] in ("warning", "critical")
    assert "clopidogrel" in by_rule["MED-CLOPIDOGREL"]["summary"].lower()
    assert "BLEED-LAB-MISSING" in by_rule  # no TP nor INR: to be checked before the procedure
    assert {"CHECKLIST", "TUMOR-CONTROL"} <= set(by_rule)
    # The sandbox prefetches the keys discovery listed when it was recorded; the keys the service
    # asks for since (catalog v2: temperature, neutrophils) could not be fetched either (no
    # fhirAuthorization): DATA-UNAVAILABLE names exactly those, as a warning, and why.
    sent = set(recording("order-sign-servicerequest")["body"]["prefetch"])
    missing = set(recording_templates()) - sent
    if not missing:
        assert "DATA-UNAVAILABLE" not in by_rule
    else:
        unavailable = by_rule["DATA-UNAVAILABLE"]
        assert unavailable["indicator"] == "warning", missing
        assert "authoriz" in unavailable["detail"].lower(), unavailable["detail"]
        assert "platelet" not in unavailable["summary"].lower()
    # Every card can be answered with feedback: each has a uuid (req. 79-80).
    assert all(card.get("uuid") for card in cards)


def check_feedback_stored(name: str):
    def check(response, service) -> None:
        _, store = service
        assert response.mimetype == "application/json"
        assert response.get_json() == {"status": "stored", "items": 1}
        [item] = recording(name)["body"]["feedback"]
        stored = [row for row in store.feedback_items() if row["card_uuid"] == item["card"]]
        assert stored and stored[-1]["outcome"] == item["outcome"]
        assert stored[-1]["service_id"] == "cementoplasty-order-select"
        if "overrideReason" in item:
            assert stored[-1]["override_code"] == item["overrideReason"]["reason"]["code"]
        if "acceptedSuggestions" in item:
            assert stored[-1]["accepted_suggestions"] == [item["acceptedSuggestions"][0]["id"]]

    return check


EXPECTED = {
    "discovery": check_discovery,
    "order-select-medication": check_no_guidance,
    "order-sign-medication": check_no_guidance,
    "order-select-servicerequest": check_empty_procedure_code,
    "order-sign-servicerequest": check_vertebroplasty_on_clopidogrel_with_low_platelets,
    "feedback-accepted": check_feedback_stored("feedback-accepted"),
    "feedback-overridden": check_feedback_stored("feedback-overridden"),
    "feedback-overridden-reason": check_feedback_stored("feedback-overridden-reason"),
}


@pytest.mark.parametrize("name", ALL_RECORDINGS)
def test_the_service_answers_each_recorded_sandbox_request(
    service, sandbox_key, no_network, name
) -> None:
    response = replay(service, sandbox_key, name)
    assert response.status_code == recording(name)["status"] == 200
    # The sandbox is a browser page: it can read the answer only with CORS.
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    EXPECTED[name](response, service)
    assert no_network == []  # no jku fetch, no FHIR call


@pytest.mark.parametrize("spelling", ["http://127.0.0.1:8080", "http://localhost:8080"])
def test_either_loopback_spelling_the_sandbox_was_given_is_accepted(
    service, sandbox_key, no_network, spelling
) -> None:
    response = replay(service, sandbox_key, "discovery", url=f"{spelling}/cds-services")
    assert response.status_code == 200
    assert no_network == []


def test_the_same_request_without_a_token_is_refused(service, no_network) -> None:
    """Authentication is required here: the answers above were earned by the tokens."""
    app, _ = service
    response = app.test_client().get("/cds-services")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_token_whose_signature_is_not_the_pinned_keys_is_refused(service, no_network) -> None:
    impostor = es384_key(SANDBOX_HEADER["kid"])  # the sandbox's kid, another key
    response = replay(service, impostor, "discovery")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert no_network == []


def test_a_token_naming_another_jku_is_refused(service, sandbox_key, no_network) -> None:
    app, _ = service
    url = recording("discovery")["url"]
    now = int(time.time())
    claims = {"iss": "https://sandbox.cds-hooks.org", "aud": url}
    claims |= {"iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
    headers = {**SANDBOX_HEADER, "jku": "https://attacker.example/.well-known/jwks.json"}
    headers.pop("alg")
    token = jwt.encode(claims, sandbox_key.private_key, algorithm="ES384", headers=headers)
    response = app.test_client().get("/cds-services", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert no_network == []
