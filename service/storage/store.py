"""The store: feedback, audit records and client token ids, on SQLite or PostgreSQL.

Every write is committed before the method returns (on SQLite with `synchronous=FULL` in WAL
mode, so an acknowledged write survives a crash of the process and of the machine). The
schema is created at start-up; several workers starting at once is safe.

An unreachable store never stops the service: building a `Store` connects to nothing that must
answer; the schema is brought up to date by the first operation that reaches the database.
Until then every operation raises SQLAlchemyError (`ping` and `unready_reason` say why), except
the replay guard, which falls back to this process's memory (`service.storage.replay_guard`).

The audit record `record_audit` takes (keys in camelCase or snake_case as shown):

    {
      "service": "cementoplasty-order-select",       # required
      "hookInstance": "d1577c69-…",                  # required
      "time": "2026-01-05T10:00:00+00:00",           # optional, default now (UTC)
      "ruleset_version": "2026.1",
      "patient_id": "123",
      "status": 200,
      "latency_ms": 12.5,
      "rules_fired": ["R-ANTICOAG-HOLD", …],
      "cards": [{"uuid": "…", "indicator": "warning", "rule_ids": ["R-…"]}],  # or "rule_id"
      "resources_used": {"R-…": ["Observation/1/_history/2", …]},
      "data_unavailable": ["MedicationStatement"],
      "record_key": "5f0c…",                         # the evaluation's uuid: stored once
    }

Only these keys are stored: anything else in the record is ignored, so that a token or a name
slipped into it by mistake never reaches the database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, delete, event, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from service.observability import count_replay_guard_degraded
from service.storage import migrate
from service.storage.replay_guard import MemoryReplayGuard
from service.storage.schema import audit, audit_card, audit_rule, feedback, jti

log = logging.getLogger("service.storage")

FEEDBACK_OUTCOMES = ("accepted", "overridden")
_JTI_PURGE_EVERY_S = 300.0
# After the store failed a claim, claims go to memory alone for this long: a hook call must not
# wait for a connection attempt to a database that has just been found down.
_JTI_STORE_RETRY_S = 1.0
_MAX_UNSYNCED_JTI = 10_000
# A database host that does not answer at all must not hold a request for minutes.
_CONNECT_TIMEOUT_S = 3


@dataclass(frozen=True)
class OverrideReasonCount:
    code: str | None
    system: str | None
    display: str | None
    count: int


@dataclass(frozen=True)
class RuleReportRow:
    rule_id: str
    fired: int = 0
    accepted: int = 0
    overridden: int = 0
    override_reasons: tuple[OverrideReasonCount, ...] = ()


@dataclass(frozen=True)
class ReportRows:
    rules: tuple[RuleReportRow, ...]
    evaluations: int
    feedback_items: int
    feedback_unmatched: int  # feedback on card uuids no audit record knows
    by_rule: Mapping[str, RuleReportRow] = field(default_factory=dict)


def engine_url(url: str, base_dir: Path | None = None) -> URL:
    """The SQLAlchemy URL to connect to: psycopg 3 for PostgreSQL; SQLite paths resolved."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return parsed.set(database=str(path))
    return parsed


class Store:
    """One per worker process (it owns a connection pool); thread-safe."""

    def __init__(self, url: str, *, base_dir: Path | None = None) -> None:
        self.url = engine_url(url, base_dir)
        self.engine = _create_engine(self.url)
        self.dialect = self.engine.dialect.name
        self._next_jti_purge = 0.0
        self._purge_lock = threading.Lock()
        self._writer_turn: AbstractContextManager[Any] = (
            threading.Lock() if self.dialect == "sqlite" else nullcontext()
        )
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        self._memory_guard = MemoryReplayGuard()
        # Ids accepted from memory alone during an outage: written to the store once it answers,
        # so that a replay to another process is refused from then on.
        self._unsynced_jti: deque[tuple[str, str, int]] = deque(maxlen=_MAX_UNSYNCED_JTI)
        self._jti_store_retry_at = 0.0
        try:
            self.ensure_schema()
        except SQLAlchemyError as exc:
            log.warning(
                "store unreachable at start-up (%s): hook calls are answered, the schema is "
                "updated when it answers",
                type(exc).__name__,
            )

    def ensure_schema(self) -> None:
        """Bring the schema up to date once (raises SQLAlchemyError while unreachable)."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if not self._schema_ready:
                create_schema(self.engine)
                self._schema_ready = True

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A write transaction. On SQLite, writers in one process take turns: the database
        allows one writer at a time anyway, and an in-memory database is a single connection
        that concurrent transactions would otherwise interleave on."""
        self.ensure_schema()
        with self._writer_turn, self.engine.begin() as connection:
            yield connection

    def close(self) -> None:
        self.engine.dispose()

    # Health -------------------------------------------------------------------------------

    def ping(self) -> bool:
        return self.unready_reason() is None

    def unready_reason(self) -> str | None:
        """None when the store answers (schema up to date), else why not (never the URL)."""
        try:
            self.ensure_schema()
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return None
        except SQLAlchemyError as exc:
            log.warning("store unreachable: %s", type(exc).__name__)
            return f"store unreachable: {type(exc).__name__}"

    # Feedback -----------------------------------------------------------------------------

    def record_feedback(self, service_id: str, items: Sequence[Mapping[str, Any]]) -> int:
        """Store every item (all or none); return how many were new (the rest: duplicates).

        Raises ValueError, storing nothing, when an item is not a CDS Hooks feedback object.
        """
        now = datetime.now(UTC)
        rows = [_feedback_row(service_id, item, index, now) for index, item in enumerate(items)]
        if not rows:
            return 0
        with self._transaction() as connection:
            return self._insert_feedback(connection, rows)

    def _insert_feedback(self, connection: Connection, rows: list[dict[str, Any]]) -> int:
        stored = 0
        for row in rows:
            statement = (
                self._insert(feedback)
                .values(**row)
                .on_conflict_do_nothing()
                .returning(feedback.c.id)
            )
            # RETURNING, not rowcount: psycopg 3 may not report a rowcount here.
            stored += len(connection.execute(statement).all())
        return stored

    def warm_up(self) -> None:
        """Write a sample audit record and feedback item in a transaction that is rolled back:
        SQLAlchemy compiles and caches the statements now, not during the first requests."""
        sample_feedback = {
            "card": "warm-up",
            "outcome": "accepted",
            "outcomeTimestamp": "2026-01-01T00:00:00Z",
        }
        sample_audit = {
            "service": "warm-up",
            "hookInstance": "warm-up",
            "rules_fired": ["warm-up"],
            "cards": [{"uuid": "warm-up", "indicator": "info", "rule_ids": ["warm-up"]}],
        }
        self.ensure_schema()
        with self._writer_turn, self.engine.connect() as connection:
            transaction = connection.begin()
            try:
                self._insert_audits(connection, [sample_audit])
                rows = [_feedback_row("warm-up", sample_feedback, 0, datetime.now(UTC))]
                self._insert_feedback(connection, rows)
            finally:
                transaction.rollback()

    def feedback_items(self, service_id: str | None = None) -> list[dict[str, Any]]:
        query = select(feedback).order_by(feedback.c.id)
        if service_id is not None:
            query = query.where(feedback.c.service_id == service_id)
        self.ensure_schema()
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        out = []
        for row in rows:
            item = dict(row)
            item["accepted_suggestions"] = json.loads(row["accepted_suggestions"] or "[]")
            item["received_at"] = _utc(row["received_at"])
            out.append(item)
        return out

    # Audit --------------------------------------------------------------------------------

    def record_audit(self, record: Mapping[str, Any]) -> int:
        """Store one evaluation's audit record; return its id. See the module docstring."""
        return self.record_audits([record])[0]

    def record_audits(self, records: Sequence[Mapping[str, Any]]) -> list[int]:
        """Store several audit records in one transaction (one disk sync); return their ids.
        A record whose `record_key` is already stored is not stored again (its id returned)."""
        with self._transaction() as connection:
            return self._insert_audits(connection, records)

    def _insert_audits(
        self, connection: Connection, records: Sequence[Mapping[str, Any]]
    ) -> list[int]:
        """Three statements per batch, whatever its size (insertmanyvalues with RETURNING)."""
        rows = [_audit_rows(record) for record in records]
        if not rows:
            return []
        # Insert-if-absent on the record key: replaying a record already stored adds nothing.
        statement = (
            self._insert(audit)
            .on_conflict_do_nothing(index_elements=[audit.c.record_key])
            .returning(audit.c.id, audit.c.record_key)
        )
        inserted = connection.execute(statement, [row for row, _, _ in rows])
        new_ids = {key: int(audit_id) for audit_id, key in inserted}
        ids_by_key = dict(new_ids)
        known = [row["record_key"] for row, _, _ in rows if row["record_key"] not in new_ids]
        if known:
            query = select(audit.c.record_key, audit.c.id).where(audit.c.record_key.in_(known))
            ids_by_key.update({key: int(audit_id) for key, audit_id in connection.execute(query)})
        ids = [ids_by_key[row["record_key"]] for row, _, _ in rows]
        fresh = []  # (id, rules, cards) of each record inserted now, once per key
        for row, rules, cards in rows:
            audit_id = new_ids.pop(row["record_key"], None)
            if audit_id is not None:
                fresh.append((audit_id, rules, cards))
        rule_rows = [
            {"audit_id": audit_id, "rule_id": rule_id}
            for audit_id, rules, _ in fresh
            for rule_id in rules
        ]
        card_rows = [
            {"audit_id": audit_id, **card} for audit_id, _, cards in fresh for card in cards
        ]
        if rule_rows:
            connection.execute(audit_rule.insert(), rule_rows)
        if card_rows:
            connection.execute(audit_card.insert(), card_rows)
        return ids

    def audit_records(self, hook_instance: str | None = None) -> list[dict[str, Any]]:
        query = select(audit).order_by(audit.c.id)
        if hook_instance is not None:
            query = query.where(audit.c.hook_instance == hook_instance)
        self.ensure_schema()
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        out = []
        for row in rows:
            item = dict(row)
            for key in ("rule_ids", "cards", "resources_used", "data_unavailable"):
                item[key] = json.loads(row[key])
            item["recorded_at"] = _utc(row["recorded_at"])
            out.append(item)
        return out

    # Replay guard (cds_hooks.auth.ReplayGuard) --------------------------------------------

    def claim_jti(self, iss: str, jti_value: str, expires_at: int) -> bool:
        """Record a client token id until `expires_at` (Unix s); False if seen and unexpired.

        The store is shared by every process; while it is unreachable, this process's memory
        answers alone (degraded: a replay to another process is not detected), never an error.
        """
        if self._memory_guard.knows(iss, jti_value):
            # Claimed here before (perhaps during an outage, so unknown to the store): a replay.
            return False
        if time.monotonic() >= self._jti_store_retry_at:
            try:
                claimed = self._claim_in_store(iss, jti_value, expires_at)
            except SQLAlchemyError as exc:
                self._jti_store_retry_at = time.monotonic() + _JTI_STORE_RETRY_S
                log.warning(
                    "replay guard degraded: store unreachable (%s), this process's memory of "
                    "token ids answers alone",
                    type(exc).__name__,
                )
            else:
                if claimed:  # remembered here too, for a replay during a later outage
                    self._memory_guard.remember(iss, jti_value, expires_at)
                if self._unsynced_jti:
                    self._sync_jti()
                return claimed
        count_replay_guard_degraded()
        claimed = self._memory_guard.claim(iss, jti_value, expires_at)
        if claimed:
            self._unsynced_jti.append((iss, jti_value, int(expires_at)))
        return claimed

    def _sync_jti(self) -> None:
        """Write the ids accepted during an outage (best effort: a replay guard, not a record)."""
        pending = []
        while self._unsynced_jti:
            try:
                pending.append(self._unsynced_jti.popleft())
            except IndexError:
                break
        rows = [{"iss": i, "jti": j, "expires_at": e} for i, j, e in pending]
        try:
            with self._transaction() as connection:
                connection.execute(self._insert(jti).on_conflict_do_nothing(), rows)
        except SQLAlchemyError as exc:
            log.warning("token ids of the outage not written: %s", type(exc).__name__)

    def _claim_in_store(self, iss: str, jti_value: str, expires_at: int) -> bool:
        now = int(time.time())
        with self._transaction() as connection:
            # A row for the same id that has expired no longer protects anything.
            connection.execute(
                delete(jti).where(jti.c.iss == iss, jti.c.jti == jti_value, jti.c.expires_at < now)
            )
            statement = (
                self._insert(jti)
                .values(iss=iss, jti=jti_value, expires_at=int(expires_at))
                .on_conflict_do_nothing()
                .returning(jti.c.jti)
            )
            claimed = len(connection.execute(statement).all()) == 1
        self._maybe_purge_jti(now)
        return claimed

    claim = claim_jti  # the ReplayGuard protocol

    def purge_expired_jti(self, now: int | None = None) -> int:
        now = int(time.time()) if now is None else now
        with self._transaction() as connection:
            return connection.execute(delete(jti).where(jti.c.expires_at < now)).rowcount

    def _maybe_purge_jti(self, now: int) -> None:
        with self._purge_lock:
            if now < self._next_jti_purge:
                return
            self._next_jti_purge = now + _JTI_PURGE_EVERY_S
        try:
            self.purge_expired_jti(now)
        except SQLAlchemyError as exc:  # a later purge will catch up
            log.warning("jti purge failed: %s", type(exc).__name__)

    # Report -------------------------------------------------------------------------------

    def report_rows(self) -> ReportRows:
        """Per rule: times fired, feedback accepted/overridden on its cards, override reasons."""
        fired_q = select(audit_rule.c.rule_id, func.count()).group_by(audit_rule.c.rule_id)
        outcome_q = (
            select(audit_card.c.rule_id, feedback.c.outcome, func.count(feedback.c.id.distinct()))
            .join(feedback, feedback.c.card_uuid == audit_card.c.card_uuid)
            .where(audit_card.c.rule_id.is_not(None))
            .group_by(audit_card.c.rule_id, feedback.c.outcome)
        )
        reason_q = (
            select(
                audit_card.c.rule_id,
                feedback.c.override_code,
                feedback.c.override_system,
                feedback.c.override_display,
                func.count(feedback.c.id.distinct()),
            )
            .join(feedback, feedback.c.card_uuid == audit_card.c.card_uuid)
            .where(audit_card.c.rule_id.is_not(None), feedback.c.outcome == "overridden")
            .group_by(
                audit_card.c.rule_id,
                feedback.c.override_code,
                feedback.c.override_system,
                feedback.c.override_display,
            )
        )
        unmatched_q = select(func.count()).where(
            ~feedback.c.card_uuid.in_(select(audit_card.c.card_uuid))
        )
        self.ensure_schema()
        with self.engine.connect() as connection:
            fired = dict(connection.execute(fired_q).all())
            outcomes = connection.execute(outcome_q).all()
            reasons = connection.execute(reason_q).all()
            evaluations = connection.execute(select(func.count()).select_from(audit)).scalar()
            items = connection.execute(select(func.count()).select_from(feedback)).scalar()
            unmatched = connection.execute(unmatched_q.select_from(feedback)).scalar()

        counts: dict[str, dict[str, int]] = {}
        for rule_id, outcome, count in outcomes:
            counts.setdefault(rule_id, {})[outcome] = count
        reasons_by_rule: dict[str, list[OverrideReasonCount]] = {}
        for rule_id, code, system, display, count in reasons:
            reasons_by_rule.setdefault(rule_id, []).append(
                OverrideReasonCount(code, system, display, count)
            )
        rows = []
        for rule_id in sorted(set(fired) | set(counts)):
            rows.append(
                RuleReportRow(
                    rule_id=rule_id,
                    fired=fired.get(rule_id, 0),
                    accepted=counts.get(rule_id, {}).get("accepted", 0),
                    overridden=counts.get(rule_id, {}).get("overridden", 0),
                    override_reasons=tuple(
                        sorted(
                            reasons_by_rule.get(rule_id, []),
                            key=lambda r: (-r.count, r.code or ""),
                        )
                    ),
                )
            )
        return ReportRows(
            rules=tuple(rows),
            evaluations=evaluations or 0,
            feedback_items=items or 0,
            feedback_unmatched=unmatched or 0,
            by_rule={row.rule_id: row for row in rows},
        )

    def _insert(self, table: Any) -> Any:
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(table)


# Engines ----------------------------------------------------------------------------------


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "postgresql":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            connect_args={"connect_timeout": _CONNECT_TIMEOUT_S},
        )
    if url.get_backend_name() != "sqlite":
        raise ValueError(f"store: unsupported database {url.get_backend_name()!r}")
    if url.database in (None, "", ":memory:"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)
    else:
        folder = Path(url.database).parent
        # Never created here: a typo in store.url would put the audit trail where nobody looks.
        if not folder.is_dir():
            raise ValueError(f"store.url: the folder {str(folder)!r} does not exist")
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")  # first: the next pragma may wait
        cursor.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous = FULL")  # a commit is on disk when it returns
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    return engine


def create_schema(engine: Engine) -> None:
    """Bring the schema up to date (Alembic revisions); safe when several workers or instances
    start at once."""
    migrate.upgrade(engine)


# Rows -------------------------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _feedback_row(service_id: str, item: Any, index: int, received_at: datetime) -> dict[str, Any]:
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


def _audit_rows(
    record: Mapping[str, Any],
) -> tuple[dict[str, Any], list[str], list[dict[str, Any]]]:
    def get(*names: str, default: Any = None) -> Any:
        for name in names:
            if name in record:
                return record[name]
        return default

    service_id = get("service", "service_id")
    hook_instance = get("hookInstance", "hook_instance")
    if not isinstance(service_id, str) or not isinstance(hook_instance, str):
        raise ValueError("audit record: service and hookInstance are required strings")
    recorded_at = get("time", "recorded_at")
    if isinstance(recorded_at, str):
        recorded_at = datetime.fromisoformat(recorded_at)
    if not isinstance(recorded_at, datetime):
        recorded_at = datetime.now(UTC)
    rules = [str(rule) for rule in _strings(get("rules_fired", "rule_ids", "ruleIds", default=[]))]
    cards = []
    card_json = []
    for card in get("cards", default=[]) or []:
        if not isinstance(card, Mapping) or not isinstance(card.get("uuid"), str):
            continue
        rule_ids = card.get("rule_ids", card.get("ruleIds"))
        if rule_ids is None:
            rule_ids = [card["rule_id"]] if isinstance(card.get("rule_id"), str) else []
        rule_ids = list(_strings(rule_ids))
        indicator = str(card.get("indicator", ""))
        card_json.append({"uuid": card["uuid"], "indicator": indicator, "rule_ids": rule_ids})
        for rule_id in rule_ids or [None]:
            cards.append({"card_uuid": card["uuid"], "indicator": indicator, "rule_id": rule_id})
    status = get("status", default=200)
    latency = get("latency_ms", "latencyMs")
    patient_id = get("patient_id", "patientId")
    version = get("ruleset_version", "rulesetVersion")
    resources = get("resources_used", "resourcesUsed", default={}) or {}
    unavailable = get("data_unavailable", "dataUnavailable", default=[]) or []
    key = get("record_key", "recordKey")
    row = {
        "record_key": str(key) if key else str(uuid.uuid4()),
        "service_id": service_id,
        "hook_instance": hook_instance,
        "recorded_at": recorded_at.astimezone(UTC),
        "ruleset_version": str(version) if version is not None else None,
        "patient_id": str(patient_id) if patient_id is not None else None,
        "status": int(status),
        "latency_ms": float(latency) if latency is not None else None,
        "rule_ids": canonical_json(rules),
        "cards": canonical_json(card_json),
        "resources_used": canonical_json(resources),
        "data_unavailable": canonical_json(list(_strings(unavailable))),
    }
    return row, sorted(set(rules)), cards


def _strings(values: Any) -> Iterable[str]:
    if isinstance(values, str):
        return [values]
    if not isinstance(values, Iterable):
        return []
    return [str(value) for value in values]


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite keeps no zone: every stored time is UTC
