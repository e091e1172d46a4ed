"""Feedback calls write one request log line: service, items, cards, outcomes; never free text
or a token.

The bodies are the three kinds of feedback the CDS Hooks sandbox sends (recorded in the shared
sandbox-traffic folder), plus a comment typed by the clinician, which must never be logged.
"""

from __future__ import annotations

import copy
import json
import logging

import pytest
from support.shared_data import shared_path

from service.app import create_app
from service.config import parse_config
from service.storage import Store

TRAFFIC = shared_path("cds-hooks", "sandbox-traffic")
FEEDBACK = "/cds-services/cementoplasty-order-select/feedback"
COMMENT = "Patient Jeanne Dupont-Secret refuses, see note"


def recorded(name: str) -> dict:
    return json.loads((TRAFFIC / f"{name}.json").read_text())["body"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    return create_app(
        parse_config({"auth": {"required": False}}), store=Store("sqlite://")
    ).test_client()


def feedback_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [r.fields for r in caplog.records if r.name == "service.request"]


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        r.getMessage() + json.dumps(getattr(r, "fields", {}), default=str) for r in caplog.records
    )


@pytest.mark.parametrize(
    ("name", "outcomes", "with_reason", "suggestions"),
    [
        ("feedback-accepted", {"accepted": 1}, 0, 1),
        ("feedback-overridden", {"overridden": 1}, 0, 0),
        ("feedback-overridden-reason", {"overridden": 1}, 1, 0),
    ],
)
def test_each_sandbox_feedback_is_logged(client, caplog, name, outcomes, with_reason, suggestions):
    body = recorded(name)
    with caplog.at_level(logging.INFO):
        response = client.post(FEEDBACK, json=body)
    assert response.status_code == 200
    (line,) = feedback_lines(caplog)
    assert line == {
        "method": "POST",
        "route": "/cds-services/<service_id>/feedback",
        "path": FEEDBACK,
        "service": "cementoplasty-order-select",
        "status": 200,
        "latency_ms": line["latency_ms"],
        "feedback_items": 1,
        "feedback_cards": 1,
        "outcomes": outcomes,
        "override_reasons": with_reason,
        "accepted_suggestions": suggestions,
    }
    assert isinstance(line["latency_ms"], float)


def test_several_items_on_two_cards_with_a_comment_log_counts_only(client, caplog):
    accepted = recorded("feedback-accepted")["feedback"][0]
    overridden = copy.deepcopy(recorded("feedback-overridden-reason")["feedback"][0])
    overridden["overrideReason"]["userComment"] = COMMENT
    second = {**copy.deepcopy(overridden), "card": accepted["card"]}
    body = {"feedback": [accepted, overridden, second]}
    with caplog.at_level(logging.INFO):
        response = client.post(
            FEEDBACK, json=body, headers={"Authorization": "Bearer SECRET.TOKEN.VALUE"}
        )
    # Authentication is not required here, but a token that is sent is verified: refused.
    assert response.status_code == 401
    with caplog.at_level(logging.INFO):
        response = client.post(FEEDBACK, json=body)
    assert response.status_code == 200
    line = feedback_lines(caplog)[-1]
    assert line["feedback_items"] == 3
    assert line["feedback_cards"] == 2
    assert line["outcomes"] == {"accepted": 1, "overridden": 2}
    assert line["override_reasons"] == 2
    logged = everything_logged(caplog)
    assert "Dupont-Secret" not in logged
    assert "SECRET.TOKEN.VALUE" not in logged
    assert accepted["card"] not in logged


def test_refused_feedback_is_logged_with_its_status_and_no_content(client, caplog):
    body = recorded("feedback-overridden")
    body["feedback"][0]["outcome"] = COMMENT  # not a valid outcome: 400
    with caplog.at_level(logging.INFO):
        response = client.post(FEEDBACK, json=body)
    assert response.status_code == 400
    (line,) = feedback_lines(caplog)
    assert line["status"] == 400
    assert line["error"] == "invalid-request"
    assert "feedback_items" not in line
    assert "Dupont-Secret" not in everything_logged(caplog)
