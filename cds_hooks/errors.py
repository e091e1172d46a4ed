"""Protocol-level errors that the blueprint turns into HTTP answers."""

from __future__ import annotations


class Unauthorized(Exception):
    """The caller is not an authenticated CDS Client: 401 with `WWW-Authenticate: Bearer`.

    `reason` is for the log only (it never holds the token); the HTTP body carries no detail.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def code(self) -> str:
        """The short, fixed part of the reason (e.g. `expired`): a safe metric label."""
        return self.reason.split(":", 1)[0]
