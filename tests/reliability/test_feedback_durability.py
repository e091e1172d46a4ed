"""Durability: feedback acknowledged (HTTP 200) by a live server that is then killed with SIGKILL
(master and workers at once, while calls are still coming in) is in the store after a restart,
on SQLite and on the local PostgreSQL; the restarted service is ready (/readyz 200)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from support.reliability_support import (
    LiveService,
    ServiceSettings,
    feedback_item,
    post_feedback,
    stored_cards,
)

pytestmark = pytest.mark.e2e

WRITERS = 4
WRITE_BEFORE_KILL_S = 1.5
MAX_WRITE_S = 20.0  # a writer stops by itself at the latest after this


@pytest.fixture
def service(store_url: str, tmp_path: Path) -> Iterator[LiveService]:
    live = LiveService(ServiceSettings(store_url=store_url, workers=2), tmp_path)
    try:
        yield live
    finally:
        live.stop()


def write_feedback_until_killed(
    service: LiveService, acknowledged: set[str], lock: threading.Lock, stop: threading.Event
) -> None:
    give_up_at = time.monotonic() + MAX_WRITE_S
    with requests.Session() as session:
        count = 0
        while not stop.is_set() and time.monotonic() < give_up_at:
            count += 1
            items = [
                feedback_item(str(uuid.uuid4()), "accepted" if count % 2 else "overridden")
                for _ in range(1 + count % 3)
            ]
            try:
                response = post_feedback(session, service, items)
            except requests.RequestException:
                return  # the server is gone
            if response.status_code == 200:
                with lock:
                    acknowledged.update(item["card"] for item in items)


def test_acknowledged_feedback_survives_sigkill(service: LiveService, store_url: str) -> None:
    service.start()
    acknowledged: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()
    writers = [
        threading.Thread(
            target=write_feedback_until_killed, args=(service, acknowledged, lock, stop)
        )
        for _ in range(WRITERS)
    ]
    for writer in writers:
        writer.start()
    time.sleep(WRITE_BEFORE_KILL_S)

    service.kill_group()  # mid-flight: writers still posting
    stop.set()
    for writer in writers:
        writer.join(timeout=MAX_WRITE_S + 10)
    assert not any(writer.is_alive() for writer in writers)
    with lock:
        acknowledged_before_kill = set(acknowledged)
    assert len(acknowledged_before_kill) >= 20, len(acknowledged_before_kill)

    service.start()
    ready = requests.get(f"{service.base_url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text

    missing = acknowledged_before_kill - stored_cards(store_url)
    assert not missing, f"{len(missing)} of {len(acknowledged_before_kill)} acknowledged items lost"
    # And the restarted service takes feedback again.
    card = str(uuid.uuid4())
    assert post_feedback(None, service, [feedback_item(card, "accepted")]).status_code == 200
    assert card in stored_cards(store_url)
