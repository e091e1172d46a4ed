"""Audit records: durable before the evaluation is answered, in the store soon after.

Each record is appended to this worker's spool file (`service.storage.spool`: one JSON line,
fsynced) by the request itself before its answer is sent, so that no answered evaluation is
lost, not even to a SIGKILL of the process right after the answer (tests/topology kills an
instance under traffic). A background thread replays the spool into the store every
REPLAY_EVERY_S, in batches (one commit for what has gathered), and the file starts afresh once
replayed. The spool is the write-ahead log of the audit trail; the store, its durable home.

Why not commit each record to the store before answering: its rows (one per rule, one per card
and rule, the resources used) cost about 4 ms for a typical request on SQLite, against about
0.2 ms for one fsynced line. Feedback is different: it is committed to the store before its 200.

When the store is down, records simply stay in the spool (bounded: beyond
`[store] spool_max_mb` a record is lost, logged and counted) and are replayed in order once it
answers; a file left by a dead worker is replayed by any worker of the same store. Each record
carries its idempotent `record_key`, so a record replayed twice is stored once.
"""

from __future__ import annotations

import atexit
import logging
import threading

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from service.audit_record import AuditRecord
from service.observability import count_audit_lost
from service.storage.spool import AuditSpool
from service.storage.store import Store

log = logging.getLogger("service.storage.audit")
# What the store answers when it works but refuses a record: not an outage.
REFUSED = (DataError, IntegrityError)

# How long a record waits, at most, between the spool and the store when the store answers.
REPLAY_EVERY_S = 0.2


class AuditWriter:
    def __init__(self, store: Store, spool: AuditSpool) -> None:
        self._store = store
        self._spool = spool
        self._store_down = False  # for the log: one line when it fails, one when it answers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def submit(self, record: AuditRecord) -> None:
        """Keep `record` durably (or log and count it lost: the spool is full or unwritable);
        returns once it is on disk."""
        self._spool.append([record])

    def flush(self) -> None:
        """Replay now what the spool holds, if the store answers (tests, shutdown)."""
        self._replay()

    def close(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(timeout=5.0)
        if not self._thread.is_alive():
            self._replay()
            self._spool.close()  # a file left non-empty is replayed by the next worker

    def _run(self) -> None:
        while not self._stop.wait(REPLAY_EVERY_S):
            if self._spool.pending():
                self._replay()

    def _replay(self) -> None:
        """Replay the spool into the store; while the store is down, records stay spooled."""
        try:
            self._spool.replay(self._store_replayed)
        except SQLAlchemyError as exc:
            if not self._store_down:
                self._store_down = True
                log.warning(
                    "store unreachable (%s): audit records stay in the spool %s",
                    type(exc).__name__,
                    self._spool.folder,
                )
            return
        except Exception:
            log.exception("audit spool replay failed")
            return
        if self._store_down:
            self._store_down = False
            log.warning("store answers again: audit spool replayed")

    def _store_replayed(self, records: list[AuditRecord]) -> None:
        """Store a replayed batch. A record the store refuses while it works (a value too long for
        its column: DataError; a bug) is not an outage: each record of the batch is then tried
        alone and only the refused ones are lost (logged, counted), or the spool would be
        blocked behind it for ever. An outage (OperationalError) still raises."""
        try:
            self._store.record_audits(records)
        except REFUSED:
            self._one_by_one(records)
        except SQLAlchemyError:
            raise
        except Exception:
            log.exception("audit batch refused by the store: trying its records one by one")
            self._one_by_one(records)

    def _one_by_one(self, records: list[AuditRecord]) -> None:
        for record in records:
            try:
                self._store.record_audits([record])
            except REFUSED as exc:
                log.error("audit record refused by the store, not stored: %s", type(exc).__name__)
                count_audit_lost("refused", 1)
            except SQLAlchemyError:
                raise
            except Exception:
                log.exception("audit record refused by the store, not stored")
                count_audit_lost("refused", 1)
