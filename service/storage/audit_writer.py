"""Audit records written by a background thread, in batches, off the request path.

A durable commit (fsync) per evaluation cost about a sixth of a typical request's time. The
writer commits what has queued up in one transaction instead, still with durable commits. The
audit is not acknowledged to anyone, so the trade is explicit: on a SIGKILL or power loss, the
records still queued (about BATCH_WINDOW_S' worth) are lost; a clean shutdown flushes them.
Feedback is never written this way: it is committed before its 200.

When the queue is full (the store is slower than the traffic) the request writes its record itself:
back-pressure, never a dropped record.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from service.storage.store import Store

log = logging.getLogger("service.storage.audit")

MAX_QUEUED = 2000
MAX_BATCH = 200
# After the first record of a batch, sleep this long while more queue up: at a few hundred
# evaluations a second, one commit per batch instead of one per record keeps the writer's CPU
# (which competes with requests for the GIL) low. It is also the most a SIGKILL can lose beyond
# the queue.
BATCH_WINDOW_S = 0.05


class AuditWriter:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._queue: queue.Queue[Mapping[str, Any] | None] = queue.Queue(MAX_QUEUED)
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def submit(self, record: Mapping[str, Any]) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._store.record_audit(record)

    def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until every record submitted so far is committed (tests, shutdown)."""
        done = threading.Event()
        self._queue.put({"__flush__": done})
        done.wait(timeout_s)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while True:
            first = self._queue.get()  # asleep until there is something to write
            if first is not None and "__flush__" not in first and self._queue.qsize() < MAX_BATCH:
                # Let the batch gather while asleep: waiting on the queue instead woke this thread
                # at every record, a context switch and a GIL hand-off inside the next request.
                # With a full batch already waiting (a backlog), write at once.
                time.sleep(BATCH_WINDOW_S)
            batch = [first]
            while len(batch) < MAX_BATCH and batch[-1] is not None:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write([item for item in batch if item is not None])
            if batch[-1] is None:
                return

    def _write(self, batch: list[Mapping[str, Any]]) -> None:
        records = [r for r in batch if "__flush__" not in r]
        if records:
            try:
                self._store.record_audits(records)
            except SQLAlchemyError as exc:
                # The store is down: keep serving cards; the log says how many were lost.
                log.error("audit batch of %d not stored: %s", len(records), type(exc).__name__)
            except Exception:
                # A record the store refuses (a bug): this batch is lost and logged, but the
                # writer lives on, or every later record would wait in the queue for nothing.
                log.exception("audit batch of %d not stored", len(records))
        for marker in batch:
            if "__flush__" in marker:
                marker["__flush__"].set()
