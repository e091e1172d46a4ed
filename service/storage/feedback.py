"""Feedback items: checked and turned into rows, stored once however often they are sent."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from service.storage.engine import insert
from service.storage.schema import feedback

FEEDBACK_OUTCOMES = ("accepted", "overridden")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def insert_feedback(connection: Connection, dialect: str, rows: Sequence[dict[str, Any]]) -> int:
    """Insert-if-absent each row; return how many were new."""
    stored = 0
    for row in rows:
        statement = (
            insert(dialect, feedback)
            .values(**row)
            .on_conflict_do_nothing()
            .returning(feedback.c.id)
        )
        # RETURNING, not rowcount: psycopg 3 may not report a rowcount here.
        stored += len(connection.execute(statement).all())
    return stored


def read_feedback(connection: Connection, service_id: str | None = None) -> list[dict[str, Any]]:
    query = select(feedback).order_by(feedback.c.id)
    if service_id is not None:
        query = query.where(feedback.c.service_id == service_id)
    out = []
    for row in connection.execute(query).mappings().all():
        item = dict(row)
        item["accepted_suggestions"] = json.loads(row["accepted_suggestions"] or "[]")
        item["received_at"] = as_utc(row["received_at"])
        out.append(item)
    return out


def as_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite keeps no zone: every stored time is UTC


def feedback_row(service_id: str, item: Any, index: int, received_at: datetime) -> dict[str, Any]:
    where = f"feedback[{index}]"
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: must be an object")
    card = item.get("card")
    if not isinstance(card, str) or not card or len(card) > 200:
        raise ValueError(f"{where}.card: must be a card uuid")
    outcome = item.get("outcome")
    if outcome not in FEEDBACK_OUTCOMES:
        raise ValueError(f"{where}.outcome: must be accepted or overridden")
    timestamp = item.get("outcomeTimestamp")
    if timestamp is not None and (not isinstance(timestamp, str) or len(timestamp) > 64):
        raise ValueError(f"{where}.outcomeTimestamp: must be a date-time string")
    accepted = item.get("acceptedSuggestions") or []
    if not isinstance(accepted, list) or not all(
        isinstance(s, Mapping) and isinstance(s.get("id"), str) for s in accepted
    ):
        raise ValueError(f"{where}.acceptedSuggestions: must be a list of {{id}}")
    override = item.get("overrideReason") or {}
    if not isinstance(override, Mapping):
        raise ValueError(f"{where}.overrideReason: must be an object")
    reason = override.get("reason") or {}
    if not isinstance(reason, Mapping):
        raise ValueError(f"{where}.overrideReason.reason: must be a Coding")
    comment = override.get("userComment")
    if comment is not None and not isinstance(comment, str):
        raise ValueError(f"{where}.overrideReason.userComment: must be a string")
    coding = {}
    for key in ("code", "system", "display"):
        value = reason.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{where}.overrideReason.reason.{key}: must be a string")
        coding[key] = value
    item_hash = hashlib.sha256(
        canonical_json({"service": service_id, "item": item}).encode()
    ).hexdigest()
    return {
        "item_hash": item_hash,
        "service_id": service_id,
        "card_uuid": card,
        "outcome": outcome,
        "outcome_timestamp": timestamp,
        "accepted_suggestions": canonical_json([s["id"] for s in accepted]),
        "override_code": coding["code"],
        "override_system": coding["system"],
        "override_display": coding["display"],
        "user_comment": comment,
        "received_at": received_at,
    }
