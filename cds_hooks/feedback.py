"""The feedback request's wire model (CDS Hooks 2.0 "Feedback"): what the parser builds, what the
store keeps, and what the OpenAPI document's `FeedbackRequest` schema is generated from.

`from_json` checks a client's JSON and says which field is wrong (a RequestError, answered 400);
`to_json` writes an item back in its canonical wire form (the store hashes it to keep an item
sent twice once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from cds_hooks.cards import Coding, Text
from cds_hooks.errors import RequestError

_WIRE = ConfigDict(extra="allow")  # a client may send more than the specification lists
Outcome = Literal["accepted", "overridden"]
# The store's column widths (service/storage/schema.py): a longer value is refused, not cut
# (past them PostgreSQL refuses the row, which the client would be told to retry for ever).
MAX_CARD_CHARS = 200
MAX_TIMESTAMP_CHARS = 64


@dataclass(frozen=True)
class AcceptedSuggestion:
    __pydantic_config__ = _WIRE

    id: Text


@dataclass(frozen=True)
class GivenOverrideReason:
    """Why the clinician did not follow the card: one of the card's override reasons (a Coding)
    and/or a comment."""

    __pydantic_config__ = _WIRE

    reason: Coding | None = None
    user_comment: Annotated[str | None, Field(serialization_alias="userComment")] = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.reason is not None:
            out["reason"] = self.reason.to_json()
        if self.user_comment is not None:
            out["userComment"] = self.user_comment
        return out


@dataclass(frozen=True)
class FeedbackItem:
    __pydantic_config__ = _WIRE

    card: Annotated[str, Field(max_length=MAX_CARD_CHARS, json_schema_extra={"format": "uuid"})]
    outcome: Outcome
    outcome_timestamp: Annotated[
        str,
        Field(
            serialization_alias="outcomeTimestamp",
            max_length=MAX_TIMESTAMP_CHARS,
            json_schema_extra={"format": "date-time"},
        ),
    ]
    # Required (non-empty) when accepted; omitted when empty.
    accepted_suggestions: Annotated[
        tuple[AcceptedSuggestion, ...],
        Field(serialization_alias="acceptedSuggestions", min_length=1),
    ] = ()
    override_reason: Annotated[
        GivenOverrideReason | None, Field(serialization_alias="overrideReason")
    ] = None

    @classmethod
    def from_json(cls, item: Any, where: str) -> FeedbackItem:
        if not isinstance(item, dict):
            raise RequestError(f"'{where}' must be an object.")
        card = item.get("card")
        if not isinstance(card, str) or not _is_uuid(card):
            raise RequestError(f"'{where}.card' is required and must be a card uuid.", "required")
        outcome = item.get("outcome")
        if outcome not in ("accepted", "overridden"):
            raise RequestError(f"'{where}.outcome' must be 'accepted' or 'overridden'.")
        timestamp = item.get("outcomeTimestamp")
        if not isinstance(timestamp, str) or not _is_timestamp(timestamp):
            raise RequestError(
                f"'{where}.outcomeTimestamp' is required: an ISO 8601 date-time with a time zone.",
                "required",
            )
        accepted = item.get("acceptedSuggestions")
        if outcome == "accepted" and accepted is None:
            raise RequestError(
                f"'{where}.acceptedSuggestions' is required when accepted.", "required"
            )
        suggestions: list[AcceptedSuggestion] = []
        if accepted is not None:
            if not isinstance(accepted, list) or not accepted:
                raise RequestError(f"'{where}.acceptedSuggestions' must be a non-empty array.")
            for position, suggestion in enumerate(accepted):
                suggestion_id = suggestion.get("id") if isinstance(suggestion, dict) else None
                if not isinstance(suggestion_id, str) or not suggestion_id.strip():
                    raise RequestError(
                        f"'{where}.acceptedSuggestions[{position}].id' is required (a string).",
                        "required",
                    )
                suggestions.append(AcceptedSuggestion(suggestion_id))
        override = item.get("overrideReason")
        return cls(
            card=card,
            outcome=outcome,
            outcome_timestamp=timestamp,
            accepted_suggestions=tuple(suggestions),
            override_reason=(
                None if override is None else _override_reason(override, f"{where}.overrideReason")
            ),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "card": self.card,
            "outcome": self.outcome,
            "outcomeTimestamp": self.outcome_timestamp,
        }
        if self.accepted_suggestions:
            out["acceptedSuggestions"] = [{"id": s.id} for s in self.accepted_suggestions]
        if self.override_reason is not None:
            out["overrideReason"] = self.override_reason.to_json()
        return out


@dataclass(frozen=True)
class FeedbackRequest:
    __pydantic_config__ = _WIRE

    feedback: tuple[FeedbackItem, ...]

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FeedbackRequest:
        items = raw.get("feedback")
        if not isinstance(items, list):
            raise RequestError("'feedback' is required and must be an array.", "required")
        return cls(
            tuple(FeedbackItem.from_json(item, f"feedback[{i}]") for i, item in enumerate(items))
        )


def _override_reason(override: Any, where: str) -> GivenOverrideReason:
    if not isinstance(override, dict):
        raise RequestError(f"'{where}' must be an object.")
    reason = override.get("reason")
    coding = None
    if reason is not None:
        if not isinstance(reason, dict):
            raise RequestError(f"'{where}.reason' must be a Coding.")
        for name in ("code", "system"):
            value = reason.get(name)
            if not isinstance(value, str) or not value.strip():
                raise RequestError(f"'{where}.reason.{name}' is required (a string).", "required")
        display = reason.get("display")
        if display is not None and not isinstance(display, str):
            raise RequestError(f"'{where}.reason.display' must be a string.")
        # An empty display says nothing: kept as absent (a Coding never holds an empty string).
        shown = display if display and display.strip() else None
        coding = Coding(reason["code"], reason["system"], shown)
    comment = override.get("userComment")
    if comment is not None and not isinstance(comment, str):
        raise RequestError(f"'{where}.userComment' must be a string.")
    return GivenOverrideReason(coding, comment)


def _is_uuid(value: str) -> bool:
    if len(value) > MAX_CARD_CHARS:  # UUID() ignores any number of hyphens and "urn:uuid:"
        return False
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def _is_timestamp(value: str) -> bool:
    if len(value) > MAX_TIMESTAMP_CHARS:
        return False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    # RFC 3339 section 5.6 (which the spec profiles) requires an offset.
    return "T" in value.upper() and parsed.tzinfo is not None
