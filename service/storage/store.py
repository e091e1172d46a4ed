"""The store: feedback, audit records and client token ids, on SQLite or PostgreSQL.

This class owns the connection pool, the schema and the write transactions; what is written and
read lives beside it, one module per kind of data: `feedback`, `audit`, `replay_guard`,
`report_queries` (and `engine` for the connection itself).

Every write is committed before the method returns (on SQLite with `synchronous=FULL` in WAL
mode, so an acknowledged write survives a crash of the process and of the machine). Several
workers starting at once is safe.

An unreachable store never stops the service: building a `Store` connects to nothing that must
answer; the schema is brought up to date by the first operation that reaches the database.
Until then every operation raises SQLAlchemyError (`ping` and `unready_reason` say why), except
the replay guard, which falls back to this process's memory (`service.storage.replay_guard`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from cds_hooks.auth import Presentation
from cds_hooks.feedback import FeedbackItem
from service.audit_record import AuditCard, AuditRecord
from service.storage.audit import insert_audits, read_audits
from service.storage.engine import create_schema, engine_url, store_engine
from service.storage.feedback import feedback_row, insert_feedback, read_feedback
from service.storage.replay_guard import SharedReplayGuard
from service.storage.report_queries import ReportRows, report_rows

log = logging.getLogger("service.storage")


class Store:
    """One per worker process (it owns a connection pool); thread-safe."""

    def __init__(self, url: str, *, base_dir: Path | None = None) -> None:
        self.url = engine_url(url, base_dir)
        self.engine = store_engine(self.url)
        self.dialect = self.engine.dialect.name
        self._writer_turn: AbstractContextManager[Any] = (
            threading.Lock() if self.dialect == "sqlite" else nullcontext()
        )
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        self.replay_guard = SharedReplayGuard(self._transaction, self.dialect)
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

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        self.ensure_schema()
        with self.engine.connect() as connection:
            yield connection

    def close(self) -> None:
        self.engine.dispose()

    # Health -------------------------------------------------------------------------------

    def ping(self) -> bool:
        return self.unready_reason() is None

    def unready_reason(self) -> str | None:
        """None when the store answers (schema up to date), else why not (never the URL)."""
        try:
            with self._reading() as connection:
                connection.execute(text("SELECT 1"))
            return None
        except SQLAlchemyError as exc:
            log.warning("store unreachable: %s", type(exc).__name__)
            return f"store unreachable: {type(exc).__name__}"

    def warm_up(self) -> None:
        """Write a sample audit record and feedback item in a transaction that is rolled back:
        SQLAlchemy compiles and caches the statements now, not during the first requests."""
        sample_feedback = FeedbackItem("warm-up", "overridden", "2026-01-01T00:00:00Z")
        sample_audit = AuditRecord(
            service="warm-up",
            hook_instance="warm-up",
            rules_fired=("warm-up",),
            cards=(AuditCard("warm-up", "info", ("warm-up",)),),
        )
        self.ensure_schema()
        with self._writer_turn, self.engine.connect() as connection:
            transaction = connection.begin()
            try:
                insert_audits(connection, self.dialect, [sample_audit])
                rows = [feedback_row("warm-up", sample_feedback, datetime.now(UTC))]
                insert_feedback(connection, self.dialect, rows)
            finally:
                transaction.rollback()

    # Feedback -----------------------------------------------------------------------------

    def record_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        """Store every item (all or none); return how many were new (the rest: duplicates)."""
        now = datetime.now(UTC)
        rows = [feedback_row(service_id, item, now) for item in items]
        if not rows:
            return 0
        with self._transaction() as connection:
            return insert_feedback(connection, self.dialect, rows)

    def feedback_items(self, service_id: str | None = None) -> list[dict[str, Any]]:
        with self._reading() as connection:
            return read_feedback(connection, service_id)

    # Audit --------------------------------------------------------------------------------

    def record_audit(self, record: AuditRecord) -> int:
        """Store one evaluation's audit record; return its id."""
        return self.record_audits([record])[0]

    def record_audits(self, records: Sequence[AuditRecord]) -> list[int]:
        """Store several audit records in one transaction (one disk sync); return their ids.
        A record whose `record_key` is already stored is not stored again (its id returned)."""
        with self._transaction() as connection:
            return insert_audits(connection, self.dialect, records)

    def audit_records(self, hook_instance: str | None = None) -> list[AuditRecord]:
        with self._reading() as connection:
            return read_audits(connection, hook_instance)

    # Replay guard (cds_hooks.auth.ReplayGuard) --------------------------------------------

    def claim(
        self, iss: str, jti: str, expires_at: int, presentation: Presentation | None = None
    ) -> bool:
        return self.replay_guard.claim(iss, jti, expires_at, presentation)

    def purge_expired_jti(self, now: int | None = None) -> int:
        return self.replay_guard.purge_expired_jti(now)

    # Report -------------------------------------------------------------------------------

    def report_rows(self) -> ReportRows:
        """Per rule: times fired, feedback accepted/overridden on its cards, override reasons."""
        with self._reading() as connection:
            return report_rows(connection)
