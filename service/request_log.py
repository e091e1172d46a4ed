"""One middleware logs and counts every HTTP request the app answers, whatever the route and
the status: hook calls, feedback, discovery, health and rule pages, 401 and 404 included.

It writes one JSON line (`service.request`) and the request metrics through
`observability.log_request`, which keeps only the allowed fields (never a token, a JWT or
patient data). A view adds what only it knows (the service, cards, rule IDs, the feedback
counts) with `add_request_log_fields`; the authenticator adds the client's `iss`.
"""

from __future__ import annotations

import time
from typing import Any

import flask

from service.observability import log_request

# A short, fixed code per error status (never a message built from input).
ERROR_CODES = {
    400: "invalid-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    413: "too-large",
    415: "unsupported-media-type",
    500: "internal-error",
    503: "unavailable",
}
_MAX_PATH_CHARS = 200  # a path is client input: bounded in the log
# Set in the WSGI environment of the app's own start-up call (no HTTP header can set it).
WARM_UP_ENVIRON = "cementoplasty_cds.warm_up"


def add_request_log_fields(**fields: Any) -> None:
    """Fields for this request's log line (filtered by observability.REQUEST_LOG_FIELDS)."""
    flask.g.setdefault("request_log_fields", {}).update(fields)


def install_request_log(app: flask.Flask) -> None:
    @app.before_request
    def _started() -> None:
        flask.g.request_started = time.perf_counter()

    @app.after_request
    def _logged(response: flask.Response) -> flask.Response:
        if flask.request.environ.get(WARM_UP_ENVIRON):
            return response
        started = flask.g.get("request_started")
        rule = flask.request.url_rule
        fields: dict[str, Any] = {
            "method": flask.request.method,
            "route": rule.rule if rule is not None else "unmatched",
            "path": flask.request.path[:_MAX_PATH_CHARS],
            "status": response.status_code,
        }
        if started is not None:
            fields["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
        if response.status_code >= 400:
            fields["error"] = ERROR_CODES.get(response.status_code, "error")
        fields |= flask.g.get("request_log_fields", {})
        log_request(fields)
        return response
