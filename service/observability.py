"""Operations: one JSON log line per request, Prometheus metrics, health endpoints.

Logs: `configure_logging(level)` sends every log record to stderr as one JSON object per
line. `log_request(record)` writes the per-request line and updates the request metrics
(called once per request by the middleware in service/request_log.py); it keeps only the fields
listed in `REQUEST_LOG_FIELDS`, so a token or a patient name passed by mistake never reaches the
log.

Metrics under gunicorn with several workers: each worker process has its own counters, so
Prometheus' multiprocess mode is needed. Set `PROMETHEUS_MULTIPROC_DIR` to an empty,
writable folder in the environment of the gunicorn master *before* it starts (before
prometheus_client is imported), call `prepare_metrics_dir()` in the master, and set
gunicorn's `child_exit` hook to `gunicorn_child_exit`. `/metrics` then aggregates every
worker. Without the variable (one process, tests), the default registry is used.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from cds_hooks.service import ResolvedPrefetch

request_log = logging.getLogger("service.request")

# Only these keys of a request record are logged (never tokens, never names).
REQUEST_LOG_FIELDS = (
    "method",
    "route",  # the route's template ("/cds-services/<service_id>"), "unmatched" for a 404
    "path",
    "service",
    "hook",
    "hookInstance",
    "status",
    "latency_ms",
    "cards",  # {indicator: count}
    "rule_ids",
    "client",  # the authenticated iss
    "data_unavailable",
    "fhir_fallback",  # {"calls": n, "failures": n}
    "feedback_items",
    "feedback_cards",
    "outcomes",  # {feedback outcome: count}
    "override_reasons",  # how many items gave one (never its text)
    "accepted_suggestions",  # how many
    "locale",
    "error",  # a short error code, never a message built from input
)

REQUESTS = Counter(
    "cds_requests",
    "HTTP requests answered, by route, CDS service (empty for other routes) and status.",
    ["route", "service", "status"],
)
LATENCY = Histogram(
    "cds_request_latency_seconds",
    "Time to answer a request, by route and CDS service.",
    ["route", "service"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)
CARDS = Counter("cds_cards", "Cards returned, by service and indicator.", ["service", "indicator"])
FHIR_FALLBACK_CALLS = Counter(
    "cds_fhir_fallback_calls",
    "FHIR fallback fetches (a prefetch key absent, failed or paged), by prefetch key.",
    ["prefetch_key"],
)
FHIR_FALLBACK_FAILURES = Counter(
    "cds_fhir_fallback_failures",
    "Prefetch keys not obtained, or only in part, by prefetch key and failure code "
    "(timeout, connect, http-status, redirect, not-https, too-large, invalid, deadline, scope, "
    "no-authorization, no-server, internal).",
    ["prefetch_key", "reason"],
)
AUTH_REFUSALS = Counter("cds_auth_refusals", "Client tokens refused, by reason.", ["reason"])
FEEDBACK_ITEMS = Counter("cds_feedback_items", "Feedback items received, by outcome.", ["outcome"])
REPLAY_GUARD_DEGRADED = Counter(
    "cds_replay_guard_degraded",
    "Client token ids checked against this process's memory alone (the store was unreachable).",
)
AUDIT_SPOOLED = Counter(
    "cds_audit_spooled", "Audit records written to the local spool (the store was unreachable)."
)
AUDIT_REPLAYED = Counter("cds_audit_replayed", "Audit records replayed from the spool.")
AUDIT_LOST = Counter(
    "cds_audit_lost",
    "Audit records lost: the store was unreachable and the spool full or unwritable.",
    ["reason"],
)

# Content-keyed memos (service/facts/validation.py; the text memos of service/valuesets/text.py,
# reported after each call): bounded, so their size and hit rate say
# whether realistic traffic (distinct patients) still gets anything from them.
MEMO_LOOKUPS = Counter(
    "cds_memo_lookups", "Memo lookups, by memo and result (hit, miss).", ["memo", "result"]
)
MEMO_ENTRIES = Gauge(
    "cds_memo_entries",
    "Entries held by a memo, per worker (each is bounded).",
    ["memo"],
    multiprocess_mode="all",
)


def count_memo_lookup(memo: str, hit: bool, entries: int) -> None:
    lookups, size = _memo_children(memo)
    lookups["hit" if hit else "miss"].inc()
    size.set(entries)


@functools.cache
def _memo_children(memo: str) -> tuple[dict[str, Any], Any]:
    """A memo's metric children, made once: `labels()` costs more than the count it keeps, and
    the validation memo counts several lookups a call. (A child made before a fork stays right:
    prometheus_client's multiprocess values notice the new pid.)"""
    lookups = {result: MEMO_LOOKUPS.labels(memo=memo, result=result) for result in ("hit", "miss")}
    return lookups, MEMO_ENTRIES.labels(memo=memo)


# Memos that count their own lookups (lru_cache: thousands a call, too many to count one by one
# into the metrics files): what was last reported of each, so that only the growth is added.
_memo_reported: dict[str, tuple[int, int]] = {}
_memo_lock = threading.Lock()


def report_memo_totals(
    memo: str, hits: int, misses: int, entries: int, *, baseline_only: bool = False
) -> None:
    """A memo's cumulative lookups in this process, reported once a call: /metrics gains the
    lookups since the last report. Threads report concurrently: a total read before another
    thread's report is older, adds nothing and never moves the baseline back. `baseline_only`:
    the lookups so far (start-up's warm-up) are not traffic."""
    with _memo_lock:
        last_hits, last_misses = _memo_reported.get(memo, (0, 0))
        _memo_reported[memo] = (max(hits, last_hits), max(misses, last_misses))
    if baseline_only:
        return
    if hits > last_hits:
        MEMO_LOOKUPS.labels(memo=memo, result="hit").inc(hits - last_hits)
    if misses > last_misses:
        MEMO_LOOKUPS.labels(memo=memo, result="miss").inc(misses - last_misses)
    MEMO_ENTRIES.labels(memo=memo).set(entries)


_LABEL_SAFE = re.compile(r"[^A-Za-z0-9_.:/<>-]")  # <> for route templates


def _label(value: Any, limit: int = 60) -> str:
    """A bounded, printable label value (labels must not explode in number or size)."""
    return _LABEL_SAFE.sub("_", str(value))[:limit] or "none"


# Logs -------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send every record to stderr as JSON lines (replaces the root handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def log_request(record: Mapping[str, Any]) -> None:
    """Log one request (allowed fields only) and count it in the metrics
    (service.request_log calls it once per request)."""
    fields = {key: record[key] for key in REQUEST_LOG_FIELDS if key in record}
    request_log.info("request", extra={"fields": fields})

    status = fields.get("status", 0)
    route = _label(fields.get("route", "unmatched"))
    # Set by a view for a registered service only; and an unknown id (404) is client input: it
    # must never become a label value.
    service = _label(fields["service"]) if fields.get("service") else ""
    if status == 404 and service:
        service = "unknown"
    REQUESTS.labels(route=route, service=service, status=_label(status)).inc()
    latency_ms = fields.get("latency_ms")
    if isinstance(latency_ms, (int, float)):
        LATENCY.labels(route=route, service=service).observe(latency_ms / 1000.0)
    cards = fields.get("cards")
    if isinstance(cards, Mapping):
        for indicator, count in cards.items():
            if isinstance(count, int) and count > 0:
                CARDS.labels(service=service, indicator=_label(indicator, 20)).inc(count)


HOOK_ROUTE = "/cds-services/<service_id>"


def prepare_request_metrics(service_ids: list[str]) -> None:
    """Create the usual label sets at start-up (at zero): under gunicorn each new one opens or
    grows the worker's metric files, which the first request would otherwise pay for."""
    for service in service_ids:
        REQUESTS.labels(route=HOOK_ROUTE, service=service, status="200")
        LATENCY.labels(route=HOOK_ROUTE, service=service)
        for indicator in ("info", "warning", "critical"):
            CARDS.labels(service=service, indicator=indicator)


def count_prefetch(prefetch: ResolvedPrefetch) -> None:
    """The keys of one call asked of the FHIR server, and every key not (fully) obtained with
    its failure code, fetched or not (a key left out for want of `fhirAuthorization` too).
    Keys are the service's own template names and codes a fixed set: labels stay bounded."""
    for key in prefetch.fetched:
        FHIR_FALLBACK_CALLS.labels(prefetch_key=_label(key, 40)).inc()
    for key, gap in prefetch.unavailable.items():
        FHIR_FALLBACK_FAILURES.labels(
            prefetch_key=_label(key, 40), reason=_label(gap.code, 40)
        ).inc()


def count_auth_refusal(reason_code: str) -> None:
    """One refused client token; pass `Unauthorized.code` (a fixed, short string)."""
    AUTH_REFUSALS.labels(reason=_label(reason_code, 40)).inc()


def count_feedback(outcome: str, count: int = 1) -> None:
    FEEDBACK_ITEMS.labels(outcome=_label(outcome, 20)).inc(count)


def count_replay_guard_degraded() -> None:
    REPLAY_GUARD_DEGRADED.inc()


def count_audit_spooled(count: int) -> None:
    AUDIT_SPOOLED.inc(count)


def count_audit_replayed(count: int) -> None:
    AUDIT_REPLAYED.inc(count)


def count_audit_lost(reason: str, count: int) -> None:
    """`reason`: spool-full or spool-unwritable."""
    AUDIT_LOST.labels(reason=_label(reason, 20)).inc(count)


# Metrics exposition -----------------------------------------------------------------------


def _multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def metrics_response() -> tuple[bytes, int, dict[str, str]]:
    """Body, status and headers for `GET /metrics` (every worker's values when multiprocess)."""
    if _multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}


def prepare_metrics_dir() -> None:
    """Empty the multiprocess folder (stale files would add old workers' counts)."""
    directory = _multiprocess_dir()
    if directory is None:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def gunicorn_child_exit(server: Any, worker: Any) -> None:
    """gunicorn `child_exit` hook: drop the live-only values of a worker that has exited."""
    if _multiprocess_dir():
        multiprocess.mark_process_dead(worker.pid)


# Health -----------------------------------------------------------------------------------


def healthz() -> tuple[dict[str, str], int]:
    """Alive: the process answers. Nothing else is checked (a restart would not help)."""
    return {"status": "ok"}, 200


def readyz(store: Any) -> tuple[dict[str, str], int]:
    """Ready: the store answers. Until then the load balancer sends calls elsewhere."""
    if hasattr(store, "unready_reason"):  # why not, in words (service.storage.Store)
        reason = store.unready_reason()
    else:
        reason = None if store.ping() else "store unreachable"
    if reason is None:
        return {"status": "ready"}, 200
    return {"status": "not ready", "reason": reason}, 503


def install_operations_routes(app: Any, store: Any) -> None:
    """Add GET /healthz, /readyz and /metrics to a Flask app (no client authentication:
    restrict /metrics at the load balancer, see docker/nginx.conf)."""

    def healthz_view() -> Any:
        return healthz()

    def readyz_view() -> Any:
        return readyz(store)

    def metrics_view() -> Any:
        return metrics_response()

    app.add_url_rule("/healthz", "healthz", healthz_view, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", readyz_view, methods=["GET"])
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
