"""Helpers for the protocol-layer tests: a fake CDS service, a Flask app, a local FHIR server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import flask
import pytest

from cds_hooks.blueprint import EvaluationRecord, create_blueprint, register_error_handlers
from cds_hooks.cards import Card, CdsResponse, Indicator, Source
from cds_hooks.cors import install_cors
from cds_hooks.errors import Unauthorized
from cds_hooks.feedback import FeedbackItem
from cds_hooks.fhir_client import FhirFetchSettings
from cds_hooks.service import (
    Evaluation,
    HookRequest,
    PrefetchSource,
    ServiceDefinition,
)
from support.fhir_stub import Route, running_fhir_stub

TEMPLATES = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
}
GOOD_TOKEN = "Bearer test-jwt"


@dataclass
class FakeService:
    """Records its calls; answers one info card naming the locale, or what `behaviour` says."""

    definition: ServiceDefinition
    behaviour: str = "card"  # "card" | "crash" | "resolve"
    calls: list[tuple[HookRequest, str]] = field(default_factory=list)

    def evaluate(self, request: HookRequest, prefetch: PrefetchSource, locale: str) -> Evaluation:
        self.calls.append((request, locale))
        if self.behaviour == "crash":
            raise RuntimeError("secret internal detail")
        if self.behaviour == "resolve":
            prefetch.resolve()
        card = Card(summary=f"locale {locale}", indicator=Indicator.INFO, source=Source("Test"))
        return Evaluation(response=CdsResponse(cards=(card,)))


def order_sign_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "order-sign",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {
            "userId": "Practitioner/1",
            "patientId": "p1",
            "draftOrders": {
                "resourceType": "Bundle",
                "entry": [{"resource": {"resourceType": "ServiceRequest", "id": "sr1"}}],
            },
        },
        "prefetch": {"patient": {"resourceType": "Patient", "id": "p1"}, "conditions": None},
    }
    body.update(overrides)
    return body


@dataclass
class AppUnderTest:
    client: Any
    service: FakeService
    records: list[EvaluationRecord]
    feedback: list[tuple[str, Sequence[FeedbackItem]]]

    def post(self, path: str, body: Any, **headers: str) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers = {"Authorization": GOOD_TOKEN, "Content-Type": "application/json"}
        all_headers.update(headers)
        return self.client.post(path, data=data, headers=all_headers)


@pytest.fixture
def make_app() -> Callable[..., AppUnderTest]:
    def factory(
        behaviour: str = "card",
        settings: FhirFetchSettings | None = None,
        feedback_sink: Callable[[str, Sequence[FeedbackItem]], None] | None = None,
    ) -> AppUnderTest:
        service = FakeService(
            ServiceDefinition(
                id="test-order-sign",
                hook="order-sign",
                title="Test",
                description="A fake service",
                prefetch=TEMPLATES,
                usage_requirements="Not a substitute for clinical judgement.",
            ),
            behaviour=behaviour,
        )
        records: list[EvaluationRecord] = []
        feedback: list[tuple[str, Sequence[FeedbackItem]]] = []

        def authenticate(request: flask.Request) -> None:
            if request.headers.get("Authorization") != GOOD_TOKEN:
                raise Unauthorized("bad-token")

        app = flask.Flask("cds-hooks-test")
        app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
        app.register_blueprint(
            create_blueprint(
                [service],
                fhir=settings or FhirFetchSettings(allowed_servers=("*",), allow_http=True),
                authenticate=authenticate,
                feedback_sink=feedback_sink or (lambda sid, items: feedback.append((sid, items))),
                on_evaluated=records.append,
            )
        )
        register_error_handlers(app)
        install_cors(app, ["*"])
        return AppUnderTest(app.test_client(), service, records, feedback)

    return factory


# --- A real FHIR server on loopback, for timing, redirects and streaming -------------------


@dataclass
class LocalFhirServer:
    base_url: str
    routes: dict[str, Route]
    seen: list[tuple[str, dict[str, str]]]  # (path with query, headers)


def send_json(handler: BaseHTTPRequestHandler, value: Any, status: int = 200) -> None:
    body = json.dumps(value).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/fhir+json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def slow_json(value: Any, delay_s: float) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(delay_s)
        send_json(handler, value)

    return route


@pytest.fixture
def fhir_server() -> Iterator[LocalFhirServer]:
    """The FHIR stub with no data: each test scripts its answers in `routes` under `/fhir`."""
    with running_fhir_stub() as stub:
        yield LocalFhirServer(f"http://127.0.0.1:{stub.port}/fhir", stub.routes, stub.seen)
