"""Feedback has one wire model (cds_hooks/feedback.py): the parser builds it, the store keeps it,
and the OpenAPI document's FeedbackRequest schema is generated from it."""

from __future__ import annotations

import jsonschema_rs
import pytest

from cds_hooks.errors import RequestError
from cds_hooks.feedback import MAX_TIMESTAMP_CHARS, FeedbackRequest
from cds_hooks.openapi import openapi_document
from service.storage.feedback import feedback_row

CARD = "8f7e2a1c-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
EVERY_FIELD = {
    "card": CARD,
    "outcome": "overridden",
    "outcomeTimestamp": "2026-12-04T10:00:00+01:00",
    "acceptedSuggestions": [{"id": "s1"}],
    "overrideReason": {
        "reason": {"system": "https://x", "code": "mdt-decided", "display": "MDT"},
        "userComment": "seen in MDT",
    },
}


def validator() -> jsonschema_rs.Draft202012Validator:
    """Formats checked (2020-12 knows `uuid`; the document's keywords mean the same there)."""
    document = openapi_document(["svc"])
    schema = {"$ref": "#/components/schemas/FeedbackRequest", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def test_an_item_with_every_field_round_trips_and_matches_the_served_schema() -> None:
    body = {"feedback": [EVERY_FIELD]}
    (item,) = FeedbackRequest.from_json(body).feedback
    assert item.to_json() == EVERY_FIELD
    assert list(validator().iter_errors(body)) == []


@pytest.mark.parametrize(
    "change",
    [
        {"card": "not-a-uuid"},
        # UUID() reads it (hyphens ignored) but no column holds it: refused, never a 503 loop.
        {"card": "urn:uuid:" + "-" * 300 + "0" * 32},
        {"outcome": "ignored"},
        {"outcomeTimestamp": "2026-12-04T10:00:00" + "0" * MAX_TIMESTAMP_CHARS + "Z"},
        {"acceptedSuggestions": []},
        {"acceptedSuggestions": [{"id": ""}]},
    ],
)
def test_what_the_schema_refuses_the_parser_refuses(change: dict) -> None:
    body = {"feedback": [EVERY_FIELD | change]}
    assert list(validator().iter_errors(body)) != []
    with pytest.raises(RequestError, match=r"feedback\[0\]"):
        FeedbackRequest.from_json(body)


def test_the_same_item_sent_again_in_another_key_order_has_the_same_row_key() -> None:
    reordered = dict(reversed(list(EVERY_FIELD.items())))
    first, second = FeedbackRequest.from_json({"feedback": [EVERY_FIELD, reordered]}).feedback
    assert (
        feedback_row("svc", first, None)["item_hash"]
        == feedback_row("svc", second, None)["item_hash"]
    )


def test_an_empty_display_is_kept_as_absent() -> None:
    reason = {"system": "https://x", "code": "c", "display": " "}
    body = {"feedback": [EVERY_FIELD | {"overrideReason": {"reason": reason}}]}
    (item,) = FeedbackRequest.from_json(body).feedback
    assert item.override_reason is not None and item.override_reason.reason is not None
    assert item.override_reason.reason.display is None
