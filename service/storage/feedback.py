"""Feedback items: checked and turned into rows, stored once however often they are sent."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from cds_hooks.feedback import FeedbackItem
from service.storage.engine import insert
from service.storage.schema import feedback


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


def feedback_row(service_id: str, item: FeedbackItem, received_at: datetime) -> dict[str, Any]:
    """The row of one item; `item_hash` over its canonical wire form keeps an item sent twice
    (a client retrying) once."""
    item_hash = hashlib.sha256(
        canonical_json({"service": service_id, "item": item.to_json()}).encode()
    ).hexdigest()
    override = item.override_reason
    reason = override.reason if override is not None else None
    return {
        "item_hash": item_hash,
        "service_id": service_id,
        "card_uuid": item.card,
        "outcome": item.outcome,
        "outcome_timestamp": item.outcome_timestamp,
        "accepted_suggestions": canonical_json([s.id for s in item.accepted_suggestions]),
        "override_code": reason.code if reason else None,
        "override_system": reason.system if reason else None,
        "override_display": reason.display if reason else None,
        "user_comment": override.user_comment if override else None,
        "received_at": received_at,
    }
