"""The replay guard of client token ids (`jti`, cds_hooks.auth.ReplayGuard).

`SharedReplayGuard` claims each id in the store, shared by every worker and replica. A process's
own memory (`MemoryReplayGuard`) backs it up: every id a process claims is remembered there too,
so that while the store is unreachable a token this process has already accepted is still
refused (a token replayed to another process during an outage is not: that is the degraded mode,
logged and counted); the ids accepted meanwhile are written to the store when it answers again.

The store keeps each id with its first presentation (which request carried it, and when): a
proxy's resend of that very request to another replica is accepted once, any other reuse refused
(`cds_hooks.auth.accepted_again` decides what is a resend; the store's row, that it comes once).
A process never accepts an id it has claimed itself: a proxy resends to another replica, never
to the one that had the call. Ids claimed during an outage are written to the store with their
presentation, so their one resend stays possible once it answers.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from cds_hooks.auth import Presentation, accepted_again
from service.observability import count_replay_guard_degraded
from service.storage.engine import insert
from service.storage.schema import jti

log = logging.getLogger("service.storage")

_JTI_PURGE_EVERY_S = 300.0
# After the store failed a claim, claims go to memory alone for this long: a hook call must not
# wait for a connection attempt to a database that has just been found down.
_JTI_STORE_RETRY_S = 1.0
_MAX_UNSYNCED_JTI = 10_000

# At the default 300 s token lifetime this is several thousand calls a second per process: an
# outage this busy forgets the ids closest to expiry first (the least useful ones).
DEFAULT_MAX_ENTRIES = 200_000


class MemoryReplayGuard:
    """Thread-safe; bounded to `max_entries` ids."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._expires: dict[tuple[str, str], int] = {}
        self._by_expiry: list[tuple[int, str, str]] = []  # heap, may hold stale entries
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expires)

    def claim(self, iss: str, jti: str, expires_at: int, *, now: int | None = None) -> bool:
        """Remember `jti` until `expires_at` (Unix s); False if remembered and unexpired."""
        now = int(time.time()) if now is None else now
        key = (iss, jti)
        with self._lock:
            self._forget_expired(now)
            known = self._expires.get(key)
            if known is not None and known >= now:
                return False
            self._remember(key, int(expires_at))
            return True

    def knows(self, iss: str, jti: str) -> bool:
        """True if `jti` is remembered and unexpired (nothing recorded)."""
        with self._lock:
            known = self._expires.get((iss, jti))
            return known is not None and known >= int(time.time())

    def remember(self, iss: str, jti: str, expires_at: int) -> None:
        """Record an id the store has just accepted."""
        with self._lock:
            self._forget_expired(int(time.time()))
            self._remember((iss, jti), int(expires_at))

    def _remember(self, key: tuple[str, str], expires_at: int) -> None:
        self._expires[key] = expires_at
        heapq.heappush(self._by_expiry, (expires_at, *key))
        while len(self._expires) > self._max_entries:
            self._pop_soonest()

    def _forget_expired(self, now: int) -> None:
        while self._by_expiry and self._by_expiry[0][0] < now:
            self._pop_soonest()

    def _pop_soonest(self) -> None:
        expires_at, iss, jti = heapq.heappop(self._by_expiry)
        if self._expires.get((iss, jti)) == expires_at:  # not a stale heap entry
            del self._expires[(iss, jti)]


class SharedReplayGuard:
    """Token ids claimed in the store (`transaction` opens a write transaction on it)."""

    def __init__(
        self, transaction: Callable[[], AbstractContextManager[Connection]], dialect: str
    ) -> None:
        self._transaction = transaction
        self._dialect = dialect
        self._next_jti_purge = 0.0
        self._purge_lock = threading.Lock()
        self._memory_guard = MemoryReplayGuard()
        # Ids accepted from memory alone during an outage: written to the store once it answers,
        # so that a replay to another process is refused from then on.
        self._unsynced_jti: deque[tuple[str, str, int, Presentation | None]] = deque(
            maxlen=_MAX_UNSYNCED_JTI
        )
        self._jti_store_retry_at = 0.0

    def claim(
        self, iss: str, jti_value: str, expires_at: int, presentation: Presentation | None = None
    ) -> bool:
        """Record a client token id until `expires_at` (Unix s); False if seen and unexpired,
        unless `presentation` is the one resend of its first request (`_resend`).

        The store is shared by every process; while it is unreachable, this process's memory
        answers alone (degraded: a replay to another process is not detected), never an error.
        """
        if self._memory_guard.knows(iss, jti_value):
            # Claimed here before (perhaps during an outage, so unknown to the store): a replay,
            # even of the same request, since a proxy resends to another replica only.
            return False
        if time.monotonic() >= self._jti_store_retry_at:
            try:
                claimed = self._claim_in_store(iss, jti_value, expires_at, presentation)
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
            self._unsynced_jti.append((iss, jti_value, int(expires_at), presentation))
        return claimed

    def _sync_jti(self) -> None:
        """Write the ids accepted during an outage (best effort: a replay guard, not a record)."""
        pending = []
        while self._unsynced_jti:
            try:
                pending.append(self._unsynced_jti.popleft())
            except IndexError:
                break
        rows = [_row(i, j, e, p) for i, j, e, p in pending]
        try:
            with self._transaction() as connection:
                connection.execute(insert(self._dialect, jti).on_conflict_do_nothing(), rows)
        except SQLAlchemyError as exc:
            log.warning("token ids of the outage not written: %s", type(exc).__name__)

    def _claim_in_store(
        self, iss: str, jti_value: str, expires_at: int, presentation: Presentation | None
    ) -> bool:
        """True for an id new to the store, or the resend of its first request; else False."""
        now = int(time.time())
        with self._transaction() as connection:
            # A row for the same id that has expired no longer protects anything.
            connection.execute(
                delete(jti).where(jti.c.iss == iss, jti.c.jti == jti_value, jti.c.expires_at < now)
            )
            statement = (
                insert(self._dialect, jti)
                .values(_row(iss, jti_value, expires_at, presentation))
                .on_conflict_do_nothing()
                .returning(jti.c.jti)
            )
            claimed = len(connection.execute(statement).all()) == 1 or self._resend(
                connection, iss, jti_value, presentation
            )
        self._maybe_purge_jti(now)
        return claimed

    @staticmethod
    def _resend(
        connection: Connection, iss: str, jti_value: str, presentation: Presentation | None
    ) -> bool:
        """Accept `presentation` as the one resend of the id's first request, if it is one and
        none was accepted before. The UPDATE's condition makes "once" hold between replicas: of
        two at once, one updates the row, the other finds it resent."""
        if presentation is None:
            return False
        key = (jti.c.iss == iss, jti.c.jti == jti_value)
        row = connection.execute(
            select(jti.c.request_sha256, jti.c.presented_at).where(*key)
        ).first()
        if row is None or row.request_sha256 is None or row.presented_at is None:
            return False  # claimed before this column existed, or without a presentation
        if not accepted_again(Presentation(row.request_sha256, row.presented_at), presentation):
            return False
        resent = connection.execute(
            update(jti).where(*key, jti.c.resent_at.is_(None)).values(resent_at=presentation.at)
        )
        return resent.rowcount == 1

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


def _row(iss: str, jti_value: str, expires_at: int, first: Presentation | None) -> dict[str, Any]:
    """A `jti` row: the id until it expires, and its first presentation when known."""
    return {
        "iss": iss,
        "jti": jti_value,
        "expires_at": int(expires_at),
        "request_sha256": first.request_digest if first else None,
        "presented_at": first.at if first else None,
    }
