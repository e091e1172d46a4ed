"""A prefetch key left unavailable says why, by its failure code, in the log line, the metric
(label `prefetch_key`) and the DATA-UNAVAILABLE card (in words): the CDS Hooks sandbox sends
no `fhirAuthorization`, and its users saw DATA-UNAVAILABLE with no reason anywhere."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from service.app import create_app
from service.config import parse_config
from service.storage import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = datetime.fromisoformat(json.loads((FIXTURES / "manifest.json").read_text())["now"])
LOW_PLATELETS = FIXTURES / "BLEED-PLATELETS-LOW" / "unit-G-L-at-limit.json"
RULES = "cementoplasty-cds/rules"


def failures(key: str, code: str) -> float:
    labels = {"prefetch_key": key, "reason": code}
    return REGISTRY.get_sample_value("cds_fhir_fallback_failures_total", labels) or 0.0


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("en", "no authorization in the request"),
        ("fr", "pas d'autorisation dans la requête"),
    ],
)
def test_a_key_missing_for_want_of_fhir_authorization_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, locale: str, words: str
) -> None:
    monkeypatch.setattr("service.app.configure_logging", lambda level: None)  # keep caplog's
    config = parse_config(
        {"auth": {"required": False}, "fhir": {"allowed_servers": ["https://ehr.example/fhir"]}}
    )
    app = create_app(config, store=Store("sqlite://"), clock=lambda: NOW)
    body = json.loads(LOW_PLATELETS.read_text())
    del body["prefetch"]["medicationRequests"]
    body["fhirServer"] = "https://ehr.example/fhir"  # as the sandbox: a server, no token
    before = failures("medicationRequests", "no-authorization")

    with caplog.at_level(logging.INFO):
        response = app.test_client().post(
            "/cds-services/cementoplasty-order-select",
            json=body,
            headers={"Accept-Language": locale},
        )

    assert response.status_code == 200
    (line,) = [r for r in caplog.records if r.name == "service.request"]
    assert line.fields["data_unavailable"] == {"medicationRequests": "no-authorization"}
    assert "prefetch key medicationRequests unavailable (no-authorization)" in caplog.text
    assert failures("medicationRequests", "no-authorization") == before + 1
    [card] = [
        c for c in response.get_json()["cards"] if "DATA-UNAVAILABLE" in c["extension"][RULES]
    ]
    assert card["indicator"] == "warning"
    assert words in card["detail"]
    # The rules the gap leaves unevaluated are in the log, not on the card.
    assert "MED-CLOPIDOGREL" in caplog.text and "MED-CLOPIDOGREL" not in card["detail"]
