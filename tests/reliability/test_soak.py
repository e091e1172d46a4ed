"""Soak: CDS_SOAK_SECONDS (default 60) at concurrency 8 against the live service with 2 workers.

Mixed typical and small order-select calls with feedback posts in between (a unique card uuid
each). Zero errors, every acknowledged feedback item in the store at the end, and nothing that
accumulates in the workers: open files and threads stay as they were after the first 10 s, and
the resident memory stays under issue #15's ceiling. The p99 of the first and last 10 s are
printed, not asserted: a latency bound is a benchmark's number (`make bench`), and on a machine
shared with other test runs it fails without a defect.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from support.reliability_support import (
    SELECT_SERVICE,
    LiveService,
    ServiceSettings,
    feedback_item,
    post_feedback,
    small_request,
    stored_cards,
    typical_request,
)

from bench.processes import child_pids, rss_mb

pytestmark = [pytest.mark.e2e, pytest.mark.soak]

CONCURRENCY = 8
WINDOW_S = 10.0
FEEDBACK_EVERY = 4  # every 4th call of a client is a feedback post
TYPICAL_EVERY = 2  # every other service call is a typical one
# A leak of one descriptor or thread per call would add thousands; these margins only absorb
# keep-alive connections opening and closing between the two samples, and gthread's pool
# starting its threads (up to the worker's 8) as the load asks for them.
FD_GROWTH_MAX = 16
THREAD_GROWTH_MAX = 8
RSS_MAX_MB = 150.0


def soak_seconds() -> float:
    value = float(os.environ.get("CDS_SOAK_SECONDS", "60"))
    assert value >= 2 * WINDOW_S, "CDS_SOAK_SECONDS must cover a first and a last window"
    return value


@dataclass
class SoakLog:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (start offset, s)
    errors: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)  # card uuids answered 200
    calls: int = 0


@pytest.fixture
def soak_service(tmp_path: Path) -> Iterator[LiveService]:
    service = LiveService(
        ServiceSettings(store_url=f"sqlite:///{tmp_path}/store.sqlite3", workers=2), tmp_path
    )
    try:
        service.start()
        yield service
    finally:
        service.stop()


@dataclass(frozen=True)
class WorkerUsage:
    open_files: int
    threads: int
    rss_mb: float


def worker_usage(master_pid: int) -> dict[int, WorkerUsage]:
    """Per gunicorn worker (the master's children): what a leak would grow."""
    usage: dict[int, WorkerUsage] = {}
    for pid in child_pids().get(master_pid, []):
        try:
            threads = re.search(r"^Threads:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M)
            assert threads is not None
            usage[pid] = WorkerUsage(
                open_files=len(list(Path(f"/proc/{pid}/fd").iterdir())),
                threads=int(threads.group(1)),
                rss_mb=rss_mb(pid),
            )
        except OSError:
            continue  # a process that ended meanwhile
    return usage


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


class EncodedRequest:
    """A request serialised once; each call only swaps in a new hookInstance (the client
    must not spend the CPU the service needs: both share the machine)."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.instance = request["hookInstance"].encode()
        self.body = json.dumps(request).encode()
        assert self.body.count(self.instance) == 1

    def new_call(self) -> bytes:
        return self.body.replace(self.instance, str(uuid.uuid4()).encode())


def run_client(service: LiveService, log: SoakLog, started: float, stop_at: float) -> None:
    typical, small = EncodedRequest(typical_request()), EncodedRequest(small_request())
    url = f"{service.base_url}/cds-services/{SELECT_SERVICE}"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    with requests.Session() as session:
        count = 0
        while time.monotonic() < stop_at:
            count += 1
            card = str(uuid.uuid4())
            began = time.monotonic()
            try:
                if count % FEEDBACK_EVERY == 0:
                    outcome = "accepted" if count % (2 * FEEDBACK_EVERY) else "overridden"
                    response = post_feedback(session, service, [feedback_item(card, outcome)])
                else:
                    body = typical if count % TYPICAL_EVERY else small
                    response = session.post(url, data=body.new_call(), headers=headers, timeout=10)
            except requests.RequestException as exc:
                with log.lock:
                    log.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.monotonic() - began
            with log.lock:
                log.calls += 1
                log.latencies.append((began - started, elapsed))
                if response.status_code != 200:
                    log.errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                elif count % FEEDBACK_EVERY == 0:
                    log.acknowledged.add(card)
                elif not response.json().get("cards"):
                    log.errors.append("a service call answered no card")


def test_soak_no_error_no_degradation_no_lost_feedback(soak_service: LiveService) -> None:
    duration = soak_seconds()
    log = SoakLog()
    started = time.monotonic()
    stop_at = started + duration
    clients = [
        threading.Thread(target=run_client, args=(soak_service, log, started, stop_at))
        for _ in range(CONCURRENCY)
    ]
    for client in clients:
        client.start()
    time.sleep(WINDOW_S)
    assert soak_service.process is not None
    master = soak_service.process.pid
    after_first_window = worker_usage(master)
    for client in clients:
        client.join(timeout=duration + 30)
    assert not any(client.is_alive() for client in clients), "a soak client did not stop"

    assert not log.errors, f"{len(log.errors)} errors of {log.calls}: {log.errors[:5]}"
    first = [s for at, s in log.latencies if at < WINDOW_S]
    last = [s for at, s in log.latencies if at >= duration - WINDOW_S]
    assert len(first) >= 50 and len(last) >= 50, (len(first), len(last))
    p99_first, p99_last = p99(first), p99(last)
    print(
        f"soak {duration:.0f} s: {log.calls} calls, {log.calls / duration:.0f}/s, "
        f"p99 first {p99_first * 1000:.1f} ms, last {p99_last * 1000:.1f} ms, "
        f"{len(log.acknowledged)} feedback items"
    )
    at_end = worker_usage(master)
    print(f"workers after {WINDOW_S:.0f} s: {after_first_window}; at the end: {at_end}")
    # Same workers throughout: a worker restarted during the soak would hide a leak (and is a
    # failure of its own: gunicorn restarts a worker that crashed or timed out).
    assert len(after_first_window) == 2 and set(at_end) == set(after_first_window)
    for pid, first_usage in after_first_window.items():
        end_usage = at_end[pid]
        assert end_usage.open_files <= first_usage.open_files + FD_GROWTH_MAX, (
            pid,
            first_usage,
            end_usage,
        )
        assert end_usage.threads <= first_usage.threads + THREAD_GROWTH_MAX, (
            pid,
            first_usage,
            end_usage,
        )
        assert end_usage.rss_mb <= RSS_MAX_MB, (pid, end_usage)
    assert log.acknowledged
    missing = log.acknowledged - stored_cards(soak_service.settings.store_url)
    assert not missing, f"{len(missing)} acknowledged feedback items not in the store"
