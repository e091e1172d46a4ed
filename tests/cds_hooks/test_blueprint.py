"""The HTTP surface: discovery, service calls, feedback, errors, authentication, CORS."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from support.cds_support import GOOD_TOKEN, AppUnderTest, order_sign_body

from cds_hooks.service import FailureCode

SERVICE = "/cds-services/test-order-sign"
FEEDBACK = SERVICE + "/feedback"
CARD_UUID = "1b6f6b3a-6d1f-4c0e-9a83-5d3f2e4b9c11"


def assert_outcome(response: Any, status: int, text: str = "") -> None:
    assert response.status_code == status
    assert response.mimetype in ("application/fhir+json", "application/json")
    body = response.get_json(force=True)
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert issue["severity"] == "error" and issue["code"] and issue["diagnostics"]
    assert text in issue["diagnostics"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_discovery_lists_each_service(make_app: Callable[..., AppUnderTest]) -> None:
    app = make_app()
    response = app.client.get("/cds-services", headers={"Authorization": GOOD_TOKEN})
    assert response.status_code == 200
    assert response.get_json() == {
        "services": [
            {
                "hook": "order-sign",
                "id": "test-order-sign",
                "title": "Test",
                "description": "A fake service",
                "version": "3.0.0",
                "hookVersion": "1.0",
                "prefetch": {
                    "patient": "Patient/{{context.patientId}}",
                    "conditions": "Condition?patient={{context.patientId}}",
                },
                "usageRequirements": "Not a substitute for clinical judgement.",
            }
        ]
    }


def test_call_returns_cards_and_records_it(make_app: Callable[..., AppUnderTest]) -> None:
    app = make_app()
    response = app.post(SERVICE, order_sign_body())
    assert response.status_code == 200
    body = response.get_json()
    assert body["cards"][0]["summary"] == "locale en"
    assert "systemActions" not in body
    [record] = app.records
    assert record.status == 200 and record.request is not None and record.evaluation is not None
    assert record.latency_s >= 0
    assert record.prefetch is None  # the fake service never asked for data: no work done


@pytest.mark.parametrize(
    ("accept_language", "locale"),
    [("fr-FR,fr;q=0.9,en;q=0.5", "fr"), ("de, en;q=0.2", "en"), ("de", "en"), ("", "en")],
)
def test_locale_is_best_match_of_accept_language(
    make_app: Callable[..., AppUnderTest], accept_language: str, locale: str
) -> None:
    app = make_app()
    response = app.post(SERVICE, order_sign_body(), **{"Accept-Language": accept_language})
    assert response.get_json()["cards"][0]["summary"] == f"locale {locale}"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"{oops", "not valid JSON"),
        (order_sign_body(hook="order-select"), "not 'order-select'"),
        ({"hook": "order-sign", "context": {}}, "hookInstance"),
        ({"hook": "order-sign", "hookInstance": "x"}, "context"),
    ],
)
def test_malformed_calls_are_400(
    make_app: Callable[..., AppUnderTest], body: Any, text: str
) -> None:
    app = make_app()
    response = app.post(SERVICE, body)
    assert_outcome(response, 400, text)
    assert app.service.calls == []
    assert app.records[0].status == 400 and app.records[0].request is None


def test_unknown_service_is_404(make_app: Callable[..., AppUnderTest]) -> None:
    app = make_app()
    assert_outcome(app.post("/cds-services/nope", order_sign_body()), 404, "nope")
    assert_outcome(app.post("/cds-services/nope/feedback", {"feedback": []}), 404)
    assert_outcome(app.client.get("/elsewhere"), 404)


def test_wrong_method_is_405(make_app: Callable[..., AppUnderTest]) -> None:
    response = make_app().client.get(SERVICE, headers={"Authorization": GOOD_TOKEN})
    assert_outcome(response, 405)
    assert "POST" in response.headers["Allow"]


def test_wrong_content_type_is_415(make_app: Callable[..., AppUnderTest]) -> None:
    app = make_app()
    response = app.post(SERVICE, order_sign_body(), **{"Content-Type": "text/plain"})
    assert_outcome(response, 415, "Content-Type")
    ok = app.post(SERVICE, order_sign_body(), **{"Content-Type": "application/fhir+json"})
    assert ok.status_code == 200


def test_body_too_large_is_413(make_app: Callable[..., AppUnderTest]) -> None:
    body = order_sign_body()
    body["context"]["padding"] = "x" * 100_000
    assert_outcome(make_app().post(SERVICE, body), 413)


def test_no_patient_data_obtainable_still_gives_the_service_cards(
    make_app: Callable[..., AppUnderTest],
) -> None:
    """No prefetch and no FHIR server: the service answers with its cards (it says what could
    not be obtained), never an empty 412 the clinician does not see."""
    app = make_app(behaviour="resolve")
    body = order_sign_body()
    del body["prefetch"]
    response = app.post(SERVICE, body)
    assert response.status_code == 200
    assert [c["summary"] for c in response.get_json()["cards"]] == ["locale en"]
    [record] = app.records
    assert record.status == 200 and record.prefetch is not None
    assert record.prefetch.resources == {}
    assert {key: gap.code for key, gap in record.prefetch.unavailable.items()} == {
        "patient": FailureCode.NO_SERVER,
        "conditions": FailureCode.NO_SERVER,
    }


def test_crash_is_a_bare_500_logged_with_its_stack(
    make_app: Callable[..., AppUnderTest], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(behaviour="crash")
    with caplog.at_level(logging.ERROR):
        response = app.post(SERVICE, order_sign_body())
    assert_outcome(response, 500)
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert any(r.exc_info for r in caplog.records)


def test_unauthenticated_calls_are_401_with_neutral_body(
    make_app: Callable[..., AppUnderTest],
) -> None:
    app = make_app()
    # RFC 6750 section 3.1: no error code when no token was sent; invalid_token for a refused one.
    for response, challenge in (
        (app.client.get("/cds-services"), "Bearer"),
        (
            app.post(SERVICE, order_sign_body(), Authorization="Bearer forged"),
            'Bearer error="invalid_token"',
        ),
        (app.post(FEEDBACK, {"feedback": []}, Authorization=""), "Bearer"),
        (app.post(FEEDBACK, {"feedback": []}, Authorization="Basic dXNlcjpwdw=="), "Bearer"),
    ):
        assert_outcome(response, 401)
        assert response.headers["WWW-Authenticate"] == challenge
        assert "bad-token" not in response.get_data(as_text=True)
    assert app.service.calls == []


def test_cors_preflight_as_the_sandbox_sends_it(make_app: Callable[..., AppUnderTest]) -> None:
    app = make_app()
    for path, method in (("/cds-services", "GET"), (SERVICE, "POST"), (FEEDBACK, "POST")):
        response = app.client.options(
            path,
            headers={
                "Origin": "https://sandbox.cds-hooks.org",
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )  # no Authorization header: a browser never sends one on a preflight
        assert 200 <= response.status_code < 300
        assert response.headers["Access-Control-Allow-Origin"] in (
            "*",
            "https://sandbox.cds-hooks.org",
        )
        allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
        assert "authorization" in allowed_headers and "content-type" in allowed_headers
        assert method in response.headers["Access-Control-Allow-Methods"]
    actual = app.post(SERVICE, order_sign_body(), Origin="https://sandbox.cds-hooks.org")
    assert actual.status_code == 200
    assert actual.headers["Access-Control-Allow-Origin"]


def feedback_item(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "card": CARD_UUID,
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
        "outcomeTimestamp": "2024-05-01T10:00:00Z",
    }
    item.update(overrides)
    return item


def test_valid_feedback_reaches_the_sink_before_200(
    make_app: Callable[..., AppUnderTest],
) -> None:
    app = make_app()
    overridden = feedback_item(
        outcome="overridden",
        overrideReason={
            "reason": {"code": "not-relevant", "system": "https://example.org/reasons"},
            "userComment": "seen",
        },
        outcomeTimestamp="2024-05-01T10:00:00+02:00",
        extension={"com.example": 1},
    )
    del overridden["acceptedSuggestions"]
    items = [feedback_item(), overridden]
    response = app.post(FEEDBACK, {"feedback": items})
    assert response.status_code == 200
    [(service_id, received)] = app.feedback
    assert service_id == "test-order-sign"
    # As parsed: every field of the specification; an extension the service reads nothing of is
    # not carried.
    without_extension = {k: v for k, v in overridden.items() if k != "extension"}
    assert [item.to_json() for item in received] == [items[0], without_extension]


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({}, "'feedback'"),
        ({"feedback": {}}, "'feedback'"),
        ({"feedback": [1]}, "feedback[0]"),
        ({"feedback": [feedback_item(card="not-a-uuid")]}, "card"),
        ({"feedback": [feedback_item(outcome="ignored")]}, "outcome"),
        ({"feedback": [feedback_item(outcomeTimestamp="yesterday")]}, "outcomeTimestamp"),
        ({"feedback": [feedback_item(outcomeTimestamp="2024-05-01T10:00:00")]}, "time zone"),
        ({"feedback": [feedback_item(acceptedSuggestions=None)]}, "acceptedSuggestions"),
        ({"feedback": [feedback_item(acceptedSuggestions=[{}])]}, "acceptedSuggestions[0]"),
        ({"feedback": [feedback_item(overrideReason="no")]}, "overrideReason"),
        ({"feedback": [feedback_item(overrideReason={"reason": {"code": "x"}})]}, "system"),
        ({"feedback": [feedback_item(overrideReason={"userComment": 3})]}, "userComment"),
    ],
)
def test_invalid_feedback_is_400(
    make_app: Callable[..., AppUnderTest], body: Any, text: str
) -> None:
    app = make_app()
    assert_outcome(app.post(FEEDBACK, body), 400, text)
    assert app.feedback == []


def test_sink_failure_is_500_not_200(make_app: Callable[..., AppUnderTest]) -> None:
    def failing_sink(service_id: str, items: list[dict[str, Any]]) -> None:
        raise OSError("database down")

    app = make_app(feedback_sink=failing_sink)
    response = app.post(FEEDBACK, {"feedback": [feedback_item()]})
    assert_outcome(response, 500)
    assert "database" not in response.get_data(as_text=True)
