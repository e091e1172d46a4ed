"""Feedback answers: a small JSON body when stored; a retryable 503 when the store is down."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

from service.app import create_app
from service.config import parse_config
from service.storage import Store

FEEDBACK = "/cds-services/cementoplasty-order-select/feedback"


def items(count: int = 2) -> dict:
    return {
        "feedback": [
            {
                "card": str(uuid.uuid4()),
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": str(uuid.uuid4())}],
                "outcomeTimestamp": "2026-11-26T09:05:00+01:00",
            }
            for _ in range(count)
        ]
    }


def unreachable_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql://cds:secret@127.0.0.1:{port}/cds"


def test_stored_feedback_is_answered_200_with_a_small_json_body(tmp_path: Path) -> None:
    store = Store("sqlite://")
    app = create_app(
        parse_config(
            {"auth": {"required": False}, "store": {"spool_dir": str(tmp_path / "spool")}}
        ),
        store=store,
    )
    body = items(2)
    answer = app.test_client().post(FEEDBACK, json=body)
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"  # was text/html with an empty body
    assert answer.get_json() == {"status": "stored", "items": 2}
    assert len(store.feedback_items()) == 2
    # Sent again (a client retry): the same answer, nothing stored twice.
    again = app.test_client().post(FEEDBACK, json=body)
    assert again.get_json() == {"status": "stored", "items": 2}
    assert len(store.feedback_items()) == 2


def test_feedback_while_the_store_is_down_is_a_retryable_503(tmp_path: Path) -> None:
    app = create_app(
        parse_config(
            {
                "auth": {"required": False},
                "store": {"url": unreachable_url(), "spool_dir": str(tmp_path / "spool")},
            }
        )
    )
    answer = app.test_client().post(FEEDBACK, json=items(1))
    assert answer.status_code == 503  # was 500
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.mimetype == "application/fhir+json"
    outcome = answer.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "transient"
    assert "secret" not in answer.get_data(as_text=True)


def test_invalid_feedback_is_still_a_400_when_the_store_is_down(tmp_path: Path) -> None:
    app = create_app(
        parse_config(
            {
                "auth": {"required": False},
                "store": {"url": unreachable_url(), "spool_dir": str(tmp_path / "spool")},
            }
        )
    )
    answer = app.test_client().post(FEEDBACK, json={"feedback": [{"card": "not-a-uuid"}]})
    assert answer.status_code == 400
