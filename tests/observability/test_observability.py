"""Request logs, metrics (one process and several) and the health endpoints."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client import REGISTRY

from cds_hooks.service import FailureCode, ResolvedPrefetch, Unavailable
from service.observability import (
    JsonFormatter,
    count_auth_refusal,
    count_prefetch,
    install_operations_routes,
    log_request,
    metrics_response,
)

ROOT = Path(__file__).resolve().parents[2]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def json_log(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="service.request")
    formatter = JsonFormatter()

    def lines() -> list[dict]:
        return [json.loads(formatter.format(record)) for record in caplog.records]

    return lines


def test_request_log_is_one_json_line_without_tokens_or_names(json_log):
    log_request(
        {
            "service": "cementoplasty-order-select",
            "hookInstance": "hook-1",
            "status": 200,
            "latency_ms": 42.0,
            "cards": {"warning": 2, "info": 1},
            "rule_ids": ["R-A", "R-B"],
            "authorization": "Bearer eyJhbGciOi.secret.token",
            "fhirAuthorization": {"access_token": "secret-access-token"},
            "patient_name": "Jeanne Martin",
        }
    )
    [line] = json_log()
    assert line["message"] == "request"
    assert line["level"] == "INFO"
    assert (line["service"], line["hookInstance"], line["status"]) == (
        "cementoplasty-order-select",
        "hook-1",
        200,
    )
    assert line["cards"] == {"warning": 2, "info": 1}
    assert line["rule_ids"] == ["R-A", "R-B"]
    text = json.dumps(line)
    assert "secret" not in text and "Jeanne" not in text and "eyJ" not in text
    assert "\n" not in JsonFormatter().format(
        logging.LogRecord("x", logging.INFO, "f", 1, "multi\nline", None, None)
    )


def test_requests_latency_and_cards_are_counted():
    labels = {"route": "/cds-services/<service_id>", "service": "svc-metrics"}
    before = sample("cds_requests_total", status="200", **labels)
    log_request({**labels, "status": 200, "latency_ms": 250, "cards": {"critical": 1}})
    assert sample("cds_requests_total", status="200", **labels) == before + 1
    assert sample("cds_request_latency_seconds_count", **labels) >= 1
    assert sample("cds_request_latency_seconds_bucket", le="0.25", **labels) >= 1
    assert sample("cds_cards_total", indicator="critical", service="svc-metrics") >= 1


def test_unknown_service_ids_do_not_become_labels():
    log_request({"service": "random-attacker-chosen-id", "status": 404, "latency_ms": 1})
    body, _, _ = metrics_response()
    assert b"random-attacker-chosen-id" not in body
    assert sample("cds_requests_total", route="unmatched", service="unknown", status="404") >= 1


def test_fhir_fallback_and_auth_refusals_are_counted():
    def failures(key: str, code: str) -> float:
        return sample("cds_fhir_fallback_failures_total", prefetch_key=key, reason=code)

    before = {
        (key, code): failures(key, code)
        for key, code in (
            ("platelets", "timeout"),
            ("pain", "redirect"),
            ("conditions", "not-https"),
            ("allergies", "no-authorization"),
        )
    }
    calls_before = sample("cds_fhir_fallback_calls_total", prefetch_key="platelets")
    count_prefetch(
        ResolvedPrefetch(
            resources={"pain": []},
            unavailable={
                "platelets": Unavailable(FailureCode.TIMEOUT, "timed out"),
                "pain": Unavailable(FailureCode.REDIRECT, "HTTP 302 redirect not followed"),
                "conditions": Unavailable(FailureCode.NOT_HTTPS, "fhirServer is not https"),
                # Never fetched (no token), but still counted as a key not obtained.
                "allergies": Unavailable(FailureCode.NO_AUTHORIZATION, "no fhirAuthorization"),
            },
            fetched=("platelets", "pain"),
        )
    )
    count_auth_refusal("jti-replayed")
    assert sample("cds_fhir_fallback_calls_total", prefetch_key="platelets") == calls_before + 1
    for (key, code), count in before.items():
        assert failures(key, code) == count + 1, (key, code)
    assert sample("cds_auth_refusals_total", reason="jti-replayed") >= 1


class FakeStore:
    def __init__(self, up: bool) -> None:
        self.up = up

    def ping(self) -> bool:
        return self.up


@pytest.mark.parametrize(("up", "status"), [(True, 200), (False, 503)])
def test_operations_routes(up, status):
    app = Flask(__name__)
    install_operations_routes(app, FakeStore(up))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == status
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.content_type.startswith("text/plain")
    assert b"cds_requests_total" in metrics.data


WORKER = """
import sys
from service.observability import log_request, count_auth_refusal
log_request({"service": "svc", "status": 200, "latency_ms": 10, "cards": {"warning": 1}})
count_auth_refusal("expired")
"""
SCRAPE = """
import sys
from service.observability import metrics_response
sys.stdout.write(metrics_response()[0].decode())
"""


def test_metrics_add_up_across_worker_processes(tmp_path):
    # What gunicorn does: several worker processes, one /metrics answer covering them all.
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def run(code: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run(WORKER)
    run(WORKER)
    scraped = run(SCRAPE)
    assert 'cds_requests_total{route="unmatched",service="svc",status="200"} 2.0' in scraped
    assert 'cds_cards_total{indicator="warning",service="svc"} 2.0' in scraped
    assert 'cds_auth_refusals_total{reason="expired"} 2.0' in scraped
    assert 'cds_request_latency_seconds_count{route="unmatched",service="svc"} 2.0' in scraped
