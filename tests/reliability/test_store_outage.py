"""Nothing lost when the store fails: the live service (gunicorn, 2 workers) on a private
PostgreSQL cluster that is stopped under traffic.

* an outage of ~10 s: hook calls keep answering 200, feedback gets 503 + Retry-After (never a
  500), /readyz says 503 then 200; afterwards every evaluation answered 200 has exactly one audit
  record, and every feedback item acknowledged 200 is stored;
* the same, with every worker SIGKILLed while the store is down and the service restarted
  before it is back (the spool files of the dead workers are replayed by the new ones).

The cluster is private (its own port and folder, `private_postgres`): stopping it disturbs no one.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from support.e2e_servers import (
    child_env,
    free_port,
    service_executable,
    start_process,
    wait_until_ready,
)
from support.private_postgres import PrivatePostgres, private_postgres
from support.reliability_support import (
    SELECT_SERVICE,
    LiveService,
    ServiceSettings,
    config_toml,
    feedback_item,
    post_feedback,
    post_json,
    small_request,
    with_new_instance,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.outage]

CALL_EVERY_S = 0.05
OUTAGE_S = 10.0
RECOVERY_WAIT_S = 60.0


@pytest.fixture
def database() -> Iterator[PrivatePostgres]:
    with private_postgres(free_port()) as server:
        yield server


class OutageService(LiveService):
    def start_alive(self) -> float:
        """Start and wait for /healthz only: with the store down /readyz stays 503."""
        config_path = self.workdir / "service.toml"
        config_path.write_text(config_toml(self.port, self.settings))
        self.starts += 1
        command = [str(service_executable()), "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--workers", str(self.settings.workers)]
        env = child_env(CDS_CONFIG=str(config_path))
        metrics_dir = self.workdir / f"metrics-{self.starts}"
        metrics_dir.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        self.process = start_process(command, env=env, cwd=self.workdir, log_path=self.log_path)
        return wait_until_ready(
            self.process, f"{self.base_url}/healthz", self.log_path, "cementoplasty-cds"
        )


@pytest.fixture
def service(database: PrivatePostgres, tmp_path: Path) -> Iterator[OutageService]:
    # The spool: the default folder, data/audit-spool under the working directory (tmp_path).
    live = OutageService(ServiceSettings(store_url=database.url, workers=2), tmp_path)
    try:
        yield live
    finally:
        live.stop()


@dataclass
class Traffic:
    """Hook calls and feedback every CALL_EVERY_S until stopped; what was answered."""

    service: LiveService
    hook_status: Counter[int] = field(default_factory=Counter)
    feedback_status: Counter[int] = field(default_factory=Counter)
    answered: list[str] = field(default_factory=list)  # hookInstances answered 200
    unanswered: list[str] = field(default_factory=list)  # sent, the connection then lost
    acknowledged: list[str] = field(default_factory=list)  # feedback cards answered 200
    missing_retry_after: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, hook_clients: int = 2) -> None:
        self.stop.clear()
        self.threads = [threading.Thread(target=self._hooks) for _ in range(hook_clients)]
        self.threads.append(threading.Thread(target=self._feedback))
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self.threads)

    def _hooks(self) -> None:
        base = small_request()
        url = f"{self.service.base_url}/cds-services/{SELECT_SERVICE}"
        with requests.Session() as session:
            while not self.stop.is_set():
                request = with_new_instance(base)
                try:
                    response = post_json(session, url, request)
                except requests.RequestException:
                    status = -1  # the service is down (killed): not answered
                else:
                    status = response.status_code
                with self.lock:
                    self.hook_status[status] += 1
                    if status == 200:
                        self.answered.append(request["hookInstance"])
                    elif status == -1:
                        self.unanswered.append(request["hookInstance"])
                time.sleep(CALL_EVERY_S)

    def _feedback(self) -> None:
        with requests.Session() as session:
            while not self.stop.is_set():
                card = str(uuid.uuid4())
                try:
                    response = post_feedback(
                        session, self.service, [feedback_item(card, "accepted")]
                    )
                except requests.RequestException:
                    status = -1
                else:
                    status = response.status_code
                with self.lock:
                    self.feedback_status[status] += 1
                    if status == 200:
                        self.acknowledged.append(card)
                    if status == 503 and not response.headers.get("Retry-After"):
                        self.missing_retry_after += 1
                time.sleep(CALL_EVERY_S * 4)


def audit_counts(database: PrivatePostgres) -> Counter[str]:
    with database.connect() as connection:
        rows = connection.execute("SELECT hook_instance, count(*) FROM audit GROUP BY 1").fetchall()
    return Counter({hook_instance: count for hook_instance, count in rows})


def stored_feedback_cards(database: PrivatePostgres) -> set[str]:
    with database.connect() as connection:
        return {card for (card,) in connection.execute("SELECT card_uuid FROM feedback")}


def wait_for_every_audit(database: PrivatePostgres, answered: list[str]) -> Counter[str]:
    deadline = time.monotonic() + RECOVERY_WAIT_S
    while True:
        counts = audit_counts(database)
        if all(counts[hook_instance] for hook_instance in answered):
            return counts
        if time.monotonic() > deadline:
            missing = [h for h in answered if not counts[h]]
            pytest.fail(f"{len(missing)} of {len(answered)} answered evaluations have no audit")
        time.sleep(0.5)


def readyz(service: LiveService) -> int:
    return requests.get(f"{service.base_url}/readyz", timeout=10).status_code


def assert_nothing_lost(database: PrivatePostgres, traffic: Traffic) -> None:
    counts = wait_for_every_audit(database, traffic.answered)
    duplicated = {hook: count for hook, count in counts.items() if count > 1}
    assert not duplicated, f"audit records written twice: {list(duplicated.items())[:5]}"
    # No record for a call that was not evaluated; a call evaluated (and audited) whose answer
    # was lost to the SIGKILL may have one.
    assert set(counts) - set(traffic.answered) <= set(traffic.unanswered)
    lost = set(traffic.acknowledged) - stored_feedback_cards(database)
    assert not lost, f"{len(lost)} acknowledged feedback items lost"
    assert traffic.hook_status[500] == 0 and traffic.feedback_status[500] == 0
    assert traffic.missing_retry_after == 0


def test_a_10_s_store_outage_under_traffic_loses_no_audit_record(
    service: OutageService, database: PrivatePostgres
) -> None:
    service.start_alive()
    assert readyz(service) == 200
    traffic = Traffic(service)
    traffic.start()
    try:
        time.sleep(2.0)
        answered_before = len(traffic.answered)
        database.stop()
        try:
            time.sleep(2.0)
            assert readyz(service) == 503
            time.sleep(OUTAGE_S - 2.0)
            with traffic.lock:
                answered_during = len(traffic.answered) - answered_before
                feedback_refused = traffic.feedback_status[503]
        finally:
            database.start()
        time.sleep(4.0)
    finally:
        traffic.finish()
    assert answered_during >= 20, traffic.hook_status  # hook calls never needed the store
    assert feedback_refused >= 1, traffic.feedback_status
    assert traffic.hook_status[200] == len(traffic.answered)
    assert set(traffic.hook_status) == {200}, traffic.hook_status
    assert_nothing_lost(database, traffic)
    assert readyz(service) == 200
    assert not any((service.workdir / "data" / "audit-spool").glob("*.jsonl.*"))
    spooled = sum(p.stat().st_size for p in (service.workdir / "data/audit-spool").iterdir())
    assert spooled == 0, "every spooled record was replayed"


def test_workers_killed_while_the_store_is_down_lose_no_audit_record(
    service: OutageService, database: PrivatePostgres
) -> None:
    service.start_alive()
    traffic = Traffic(service)
    traffic.start()
    try:
        time.sleep(1.5)
        database.stop()
        try:
            time.sleep(3.0)
            service.kill_group()  # SIGKILL master and workers: nothing flushed, no atexit
            time.sleep(0.5)
            with traffic.lock:
                answered_before_kill = len(traffic.answered)
            service.start_alive()  # with the store still down
            time.sleep(2.0)
            assert readyz(service) == 503
        finally:
            database.start()
        time.sleep(4.0)
    finally:
        traffic.finish()
    assert answered_before_kill >= 20, traffic.hook_status
    assert len(traffic.answered) > answered_before_kill  # the restarted service answers
    assert_nothing_lost(database, traffic)
    assert readyz(service) == 200
    # The dead workers' spool files were replayed and removed; only live workers' files remain.
    assert len(list((service.workdir / "data" / "audit-spool").iterdir())) <= 2
