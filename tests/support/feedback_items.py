"""Feedback items as the HTTP layer hands them to the store: parsed from the wire JSON."""

from __future__ import annotations

import uuid
from typing import Any

from cds_hooks.feedback import FeedbackItem, FeedbackRequest


def card(name: str) -> str:
    """A card's uuid, the same for the same name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def items(*raw: dict[str, Any]) -> tuple[FeedbackItem, ...]:
    return FeedbackRequest.from_json({"feedback": list(raw)}).feedback
