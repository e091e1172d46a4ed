"""The audit record of one evaluation: one type from the evaluation to the store.

The evaluation fills in what it knows (rules, cards and the rule IDs of each, resources used,
data unavailable); the HTTP layer adds the answer's status and latency; the audit writer, the
spool and the store take it as it is. Its field names are the only spelling of its keys: the
spool's JSON lines are `to_json()`, read back by `from_json()`. It holds no token and no name by
construction: there is no field for them.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class AuditCard:
    uuid: str
    indicator: str
    rule_ids: tuple[str, ...] = ()


def _new_key() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AuditRecord:
    service: str
    hook_instance: str
    patient_id: str | None = None
    ruleset_version: str | None = None
    rules_fired: tuple[str, ...] = ()
    cards: tuple[AuditCard, ...] = ()
    # rule ID -> the resources its finding relied on ("Observation/1/_history/2")
    resources_used: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    data_unavailable: tuple[str, ...] = ()  # prefetch keys not (fully) obtained
    status: int = 200
    latency_ms: float | None = None
    recorded_at: datetime = field(default_factory=_now)
    # Idempotency: a record replayed from the spool is stored once.
    record_key: str = field(default_factory=_new_key)

    def answered(self, status: int, latency_ms: float) -> AuditRecord:
        """The record with what the HTTP answer adds."""
        return replace(self, status=status, latency_ms=latency_ms)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {item.name: getattr(self, item.name) for item in fields(self)}
        out["rules_fired"] = list(self.rules_fired)
        out["cards"] = [
            {"uuid": c.uuid, "indicator": c.indicator, "rule_ids": list(c.rule_ids)}
            for c in self.cards
        ]
        out["resources_used"] = {rule: list(refs) for rule, refs in self.resources_used.items()}
        out["data_unavailable"] = list(self.data_unavailable)
        out["recorded_at"] = self.recorded_at.isoformat()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditRecord:
        """Raises ValueError when `data` is not exactly such a record: a spool line is replayed
        as it is, so a damaged one is set aside (logged) rather than reshaped."""
        if "hookInstance" in data and "hook_instance" not in data:
            data = _previous_release(data)
        try:
            status = data.get("status", 200)
            if type(status) is not int:
                raise TypeError("status is not an integer")
            latency = data.get("latency_ms")
            if latency is not None and (
                type(latency) not in (int, float) or not math.isfinite(latency)
            ):
                raise TypeError("latency_ms is not a number")
            record_key = _text(data["record_key"])
            if not record_key:
                raise TypeError("record_key is empty")
            recorded_at = (
                datetime.fromisoformat(_text(data["recorded_at"])).astimezone(UTC)
                if "recorded_at" in data
                else _now()
            )
            return cls(
                service=_text(data["service"]),
                hook_instance=_text(data["hook_instance"]),
                patient_id=_optional_text(data.get("patient_id")),
                ruleset_version=_optional_text(data.get("ruleset_version")),
                rules_fired=_texts(data.get("rules_fired", [])),
                cards=tuple(
                    AuditCard(
                        _text(card["uuid"]),
                        _text(card["indicator"]),
                        _texts(card.get("rule_ids", [])),
                    )
                    for card in _list(data.get("cards", []))
                ),
                resources_used={
                    _text(rule): _texts(refs)
                    for rule, refs in _mapping(data.get("resources_used", {})).items()
                },
                data_unavailable=_texts(data.get("data_unavailable", [])),
                status=status,
                latency_ms=None if latency is None else float(latency),
                recorded_at=recorded_at,
                record_key=record_key,
            )
        except (KeyError, TypeError, AttributeError, ValueError, OverflowError) as exc:
            raise ValueError(f"not an audit record: {type(exc).__name__} {exc}") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):  # a string is not a list of its letters
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(_text(item) for item in _list(value))


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def _previous_release(data: Mapping[str, Any]) -> dict[str, Any]:
    """A spool line written before this type existed (releases up to 2026-12-04): the same
    fields but `hookInstance`, and no time (stored at replay, as that release did). Read so that
    an upgrade with records still spooled loses none of them."""
    return {key: value for key, value in data.items() if key != "hookInstance"} | {
        "hook_instance": data["hookInstance"]
    }
