"""Audit records written by a background thread, in batches.

A durable commit (fsync) per evaluation cost about a sixth of a typical request's time. The
writer commits what has queued up in one transaction instead, still with durable commits.
`submit(record, durable=True)` (what the service does for every evaluation) returns once the
record is committed or spooled, so that an answer is never sent for an evaluation whose audit
record a SIGKILL could still lose (tests/topology kills an instance under traffic): the writer
then commits at once what has queued up, and the requests that queue up during one commit share
the next (group commit). Feedback is committed before its 200 too.

When the queue is full (the store is slower than the traffic) the request writes its record itself:
back-pressure, never a dropped record.

When the store cannot take a batch (it is down), the batch goes to the local spool
(`service.storage.spool`) and the writer switches to "spool first": until the spool is replayed,
every record is appended to the spool (fsynced) by the request itself, before its answer is sent,
so that nothing answered during an outage is lost even to a SIGKILL. Every second the writer
tries to replay the spool (and any file a dead worker left); once it is empty, records are
batched again. Each record gets its idempotent `record_key` on submission, so a replayed record
is never stored twice.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from service.observability import count_audit_lost
from service.storage.spool import AuditSpool
from service.storage.store import Store

log = logging.getLogger("service.storage.audit")
# What the store answers when it works but refuses a record: not an outage.
REFUSED = (DataError, IntegrityError)

MAX_QUEUED = 2000
MAX_BATCH = 200
# After the first record of a batch, sleep this long while more queue up: at a few hundred
# evaluations a second, one commit per batch instead of one per record keeps the writer's CPU
# (which competes with requests for the GIL) low. It is also the most a SIGKILL can lose beyond
# the queue.
BATCH_WINDOW_S = 0.05
# The longest a durable submit holds its answer when the store neither commits nor fails.
DURABLE_WAIT_S = 5.0
# How often the writer, when idle, looks for spooled records to replay.
REPLAY_EVERY_S = 1.0


class AuditWriter:
    def __init__(self, store: Store, spool: AuditSpool | None = None) -> None:
        self._store = store
        self._spool = spool
        self._spool_first = False  # the store failed and the spool is not replayed yet
        self._next_replay_check = 0.0
        self._queue: queue.Queue[Mapping[str, Any] | None] = queue.Queue(MAX_QUEUED)
        # Set when someone waits for the queue to be written: no batch window then.
        self._someone_waits = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def submit(self, record: Mapping[str, Any], *, durable: bool = False) -> None:
        """Queue `record`; with `durable`, return once it is committed or spooled (or after
        DURABLE_WAIT_S if the store hangs: the answer is not held for ever)."""
        if "record_key" not in record:
            record = {**record, "record_key": str(uuid.uuid4())}
        if self._spool is not None and self._spool_first:
            self._spool.append([record])  # durable before the request is answered
            return
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            try:
                self._store.record_audit(record)
            except SQLAlchemyError:
                if self._spool is None:
                    raise
                self._to_spool([record])
            return
        if durable:
            self.flush(DURABLE_WAIT_S)

    def flush(self, timeout_s: float = 5.0) -> None:
        """Wait until every record submitted so far is committed, or spooled if the store is
        down."""
        done = threading.Event()
        self._queue.put({"__flush__": done})
        self._someone_waits.set()
        done.wait(timeout_s)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5.0)
        if self._spool is not None and not self._thread.is_alive():
            self._spool.close()  # a file left non-empty is replayed by the next worker

    def _run(self) -> None:
        if self._spool is not None:
            self._replay()  # records a previous worker left in the spool
        while True:
            try:
                first = self._queue.get(timeout=REPLAY_EVERY_S)  # asleep until there is work
            except queue.Empty:
                self._maybe_replay()
                continue
            if first is not None and "__flush__" not in first and self._queue.qsize() < MAX_BATCH:
                # Let the batch gather while asleep: waiting on the queue instead woke this thread
                # at every record, a context switch and a GIL hand-off inside the next request.
                # With a full batch already waiting (a backlog), write at once.
                self._someone_waits.wait(BATCH_WINDOW_S)
            # Cleared before gathering: a waiter that sets it again after this point is in
            # the next batch, which then does not wait either.
            self._someone_waits.clear()
            batch = [first]
            while len(batch) < MAX_BATCH and batch[-1] is not None:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write([item for item in batch if item is not None])
            if batch[-1] is None:
                return
            self._maybe_replay()

    def _write(self, batch: list[Mapping[str, Any]]) -> None:
        records = [r for r in batch if "__flush__" not in r]
        if records and self._spool is not None and self._spool_first:
            # Queued before the store failed: after what is spooled already, in order.
            self._spool.append(records)
        elif records:
            try:
                self._store.record_audits(records)
            except REFUSED:
                # The store answers but refuses a record (too long a value, a constraint): not an
                # outage. Spooling it would block every later record behind it; each record is
                # tried alone, and only the refused ones are lost (logged, counted).
                self._write_one_by_one(records)
            except SQLAlchemyError as exc:
                if self._spool is None:
                    log.error("audit batch of %d not stored: %s", len(records), type(exc).__name__)
                else:
                    log.warning(
                        "store unreachable (%s): audit records go to the spool %s",
                        type(exc).__name__,
                        self._spool.folder,
                    )
                    self._to_spool(records)
            except Exception:
                # A record the store refuses (a bug): this batch is lost and logged, but the
                # writer lives on, or every later record would wait in the queue for nothing.
                log.exception("audit batch of %d not stored", len(records))
        markers = [marker["__flush__"] for marker in batch if "__flush__" in marker]
        if markers and self._spool is not None and (self._spool_first or self._spool.pending()):
            self._replay()  # a flush also writes what the spool holds, if the store answers
        for marker in markers:
            marker.set()

    def _to_spool(self, records: list[Mapping[str, Any]]) -> None:
        assert self._spool is not None
        self._spool_first = True
        self._spool.append(records)

    def _write_one_by_one(self, records: list[Mapping[str, Any]]) -> None:
        for record in records:
            try:
                self._store.record_audits([record])
            except REFUSED as exc:
                log.error("audit record refused by the store, not stored: %s", type(exc).__name__)
                count_audit_lost("refused", 1)

    def _store_replayed(self, records: list[dict[str, Any]]) -> None:
        """Store a replayed batch; a record the store refuses (a bug, not an outage) is logged
        and skipped, or it would block the spool behind it for ever."""
        try:
            self._store.record_audits(records)
        except REFUSED:
            self._write_one_by_one(records)  # an outage (OperationalError) still raises
        except SQLAlchemyError:
            raise
        except Exception:
            for record in records:
                try:
                    self._store.record_audits([record])
                except SQLAlchemyError:
                    raise
                except Exception:
                    log.exception("spooled audit record refused by the store, skipped")

    def _maybe_replay(self) -> None:
        """At most every REPLAY_EVERY_S: replay if the spool holds anything."""
        if self._spool is None or time.monotonic() < self._next_replay_check:
            return
        self._next_replay_check = time.monotonic() + REPLAY_EVERY_S
        if self._spool_first or self._spool.pending():
            self._replay()

    def _replay(self) -> None:
        """Replay the spool into the store; back to batching once our own file is empty."""
        assert self._spool is not None
        try:
            self._spool.replay(self._store_replayed)
        except SQLAlchemyError:
            return  # still down: the next attempt resumes where this one stopped
        except Exception:
            log.exception("audit spool replay failed")
            return
        if self._spool_first and self._spool.own_file_drained():
            self._spool_first = False
            log.warning("store answers again: audit spool replayed, batching resumed")
            # A record appended between the check and the switch is replayed by the next
            # idle round (pending() sees it).
