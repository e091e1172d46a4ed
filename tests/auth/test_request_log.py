"""One middleware logs and counts every request, whatever the route and status: 401 and 404
included, with the authenticated client's issuer and never its token."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from support.auth_tokens import KeyPair, claims, es384_key, sign, write_jwks

from service.app import create_app
from service.config import parse_config
from service.storage import Store

BASE = "https://cds.example.org"
EHR = "https://ehr.example.org"
SELECT = "/cds-services/cementoplasty-order-select"
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "CHECKLIST" / "scope-rules-firing.json"


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


def lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [dict(r.fields) for r in caplog.records if r.name == "service.request"]


def counted(route: str, status: str, service: str = "") -> float:
    labels = {"route": route, "service": service, "status": status}
    return REGISTRY.get_sample_value("cds_requests_total", labels) or 0.0


@pytest.mark.parametrize(
    ("method", "path", "route", "status"),
    [
        ("GET", "/healthz", "/healthz", 200),
        ("GET", "/rules", "/rules", 200),
        ("GET", "/no/such/page", "unmatched", 404),
        ("GET", "/cds-services", "/cds-services", 401),  # no token
        ("POST", "/cds-services/no-such-service", "/cds-services/<service_id>", 401),
        ("DELETE", "/healthz", "unmatched", 405),  # no route for that method
    ],
)
def test_every_route_is_logged_and_counted_once(
    client, caplog: pytest.LogCaptureFixture, method: str, path: str, route: str, status: int
) -> None:
    before = counted(route, str(status))
    caplog.set_level(logging.INFO, logger="service.request")
    response = client.open(path, method=method)
    assert response.status_code == status
    [line] = lines(caplog)
    assert line["route"] == route
    assert line["path"] == path
    assert line["status"] == status
    assert line["latency_ms"] >= 0
    assert ("error" in line) == (status >= 400)
    assert counted(route, str(status)) == before + 1


def test_an_authenticated_call_names_its_client_and_never_the_token(
    client, key: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    token = sign(key, claims(EHR, aud=f"{BASE}{SELECT}"))
    before = counted("/cds-services/<service_id>", "200", "cementoplasty-order-select")
    caplog.set_level(logging.INFO, logger="service.request")
    response = client.post(
        SELECT,
        data=FIXTURE.read_bytes(),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    [line] = lines(caplog)
    assert line["client"] == EHR
    assert line["service"] == "cementoplasty-order-select"
    assert line["rule_ids"]  # the view's fields join the middleware's line
    assert token not in json.dumps(line)
    assert token.split(".")[2] not in caplog.text
    after = counted("/cds-services/<service_id>", "200", "cementoplasty-order-select")
    assert after == before + 1


def test_an_unknown_service_id_is_never_a_metric_label(
    client, key: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    path = "/cds-services/made-up-service-id"
    token = sign(key, claims(EHR, aud=f"{BASE}{path}"))
    caplog.set_level(logging.INFO, logger="service.request")
    response = client.post(
        path,
        data=b"{}",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404
    [line] = lines(caplog)
    assert line["client"] == EHR and "service" not in line
    text = "".join(f"{s.name}{s.labels}" for metric in REGISTRY.collect() for s in metric.samples)
    assert "made-up-service-id" not in text
