"""Protocol errors and their wire form: every error response is a FHIR OperationOutcome.

A response body never holds a stack trace, an exception's text from a library, or a token:
only the short diagnostics written here or in `cds_hooks.request`.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response

OUTCOME_MIMETYPE = "application/fhir+json"


class RequestError(ValueError):
    """The client sent something the specification does not allow: answered 400 (or 415)."""

    def __init__(self, message: str, code: str = "invalid", status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code  # FHIR issue-type code (http://hl7.org/fhir/issue-type)
        self.status = status  # 400, or 415 for a body that is not JSON at all


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


def operation_outcome(
    diagnostics: str, code: str = "invalid", severity: str = "error"
) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def outcome_response(
    status: int,
    diagnostics: str,
    code: str = "invalid",
    headers: dict[str, str] | None = None,
) -> Response:
    body = json.dumps(operation_outcome(diagnostics, code), ensure_ascii=False)
    response = Response(body, status=status, mimetype=OUTCOME_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def bad_request(error: RequestError) -> Response:
    return outcome_response(error.status, error.message, error.code)


def unauthorized(invalid_token: bool = False) -> Response:
    """401 with the same body whatever the reason. RFC 6750 section 3.1: the challenge names
    `invalid_token` when a bearer token was sent and refused, and no error when none was sent."""
    challenge = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
    return outcome_response(
        401, "Authentication required.", "login", headers={"WWW-Authenticate": challenge}
    )


def not_found(diagnostics: str = "Not found.") -> Response:
    return outcome_response(404, diagnostics, "not-found")


def internal_error() -> Response:
    # No detail: the cause is in the server log with its stack trace.
    return outcome_response(500, "Internal error.", "exception")
