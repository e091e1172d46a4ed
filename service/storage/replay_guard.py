"""One process's memory of the client token ids (`jti`) it has seen, until each token expires.

The store is the replay guard shared by every worker and replica. This memory backs it up: every
id a process claims is remembered here too, so that while the store is unreachable a token this
process has already accepted is still refused (a token replayed to another process during an
outage is not: that is the degraded mode, logged and counted by the store).
"""

from __future__ import annotations

import heapq
import threading
import time

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
