"""docker/compose.yaml without Docker: Debian's nginx configured from docker/nginx.conf, two
instances running the Dockerfile's command with docker/config.toml, and PostgreSQL, all on
loopback (`docker_files` says exactly what is substituted).

Under steady traffic through nginx (hook calls and feedback), one instance is SIGKILLed (master
and workers: a container killed) and restarted on the same data folder (its volume), then
PostgreSQL is restarted. No hook call through nginx may fail, no acknowledged feedback may be
lost, and every evaluation answered 200 has exactly one audit record afterwards. Every call is
signed, as an EHR's are (auth required, as shipped): a hook call nginx resends to the other
replica when the first died carries the same token, and must be answered, not refused 401. The
calls, failures and worst latency of each phase are printed (README "Running several
instances").

Ports: free ones, or CDS_TOPOLOGY_PORT_BASE and the next few (a shared machine's own range).
PostgreSQL is a private cluster (`private_postgres`): restarting it disturbs no one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from support.auth_tokens import KeyPair, claims, es384_key, sign, write_jwks
from support.docker_files import (
    loopback_nginx_conf,
    loopback_service_config,
    nginx_body_limit_bytes,
    nginx_text,
    nginx_upstreams,
    read_dockerfile,
)
from support.e2e_servers import (
    child_env,
    free_port,
    service_executable,
    start_process,
    stop_process,
    wait_until_ready,
)
from support.private_postgres import PrivatePostgres, private_postgres
from support.reliability_support import (
    SELECT_SERVICE,
    feedback_item,
    post_json,
    small_request,
    wait_for_group_exit,
    with_new_instance,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.outage]

NGINX = Path("/usr/sbin/nginx")
HOOK_CLIENTS = 3
PAUSE_S = 0.05  # between two calls of one client
PG_DOWN_S = 2.0  # PostgreSQL restart: stopped this long, then started
SETTLE_S = 3.0
RECOVERY_WAIT_S = 60.0
EHR = "https://ehr.example.org"  # the test's CDS Client, trusted by both replicas


def ports(count: int) -> list[int]:
    base = os.environ.get("CDS_TOPOLOGY_PORT_BASE")
    return [int(base) + i for i in range(count)] if base else [free_port() for _ in range(count)]


@dataclass
class Instance:
    """One replica: the Dockerfile's CMD on loopback, docker/config.toml, its own data folder."""

    name: str
    port: int
    folder: Path
    config_text: str
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"  # the container's /data (its compose volume)

    def start(self) -> float:
        dockerfile = read_dockerfile()
        command = list(dockerfile.cmd)
        assert command[0] == "cementoplasty-cds", command
        command[0] = str(service_executable())
        command[command.index("--host") + 1] = "127.0.0.1"
        command[command.index("--port") + 1] = str(self.port)
        # The configuration the Dockerfile names (CDS_CONFIG, mounted by compose) and a metrics
        # folder per start (PROMETHEUS_MULTIPROC_DIR: a killed master leaves its files).
        self.starts += 1
        config_path = self.folder / "config.toml"
        config_path.write_text(self.config_text)
        metrics = self.folder / f"metrics-{self.starts}"
        metrics.mkdir()
        env = child_env(CDS_CONFIG=str(config_path), PROMETHEUS_MULTIPROC_DIR=str(metrics))
        assert set(dockerfile.env) >= {"CDS_CONFIG", "PROMETHEUS_MULTIPROC_DIR"}
        self.data_dir.mkdir(exist_ok=True)
        log = self.folder / f"service-{self.starts}.log"
        self.process = start_process(command, env=env, cwd=self.data_dir, log_path=log)
        return wait_until_ready(self.process, f"{self.base_url}/readyz", log, self.name)

    def kill(self) -> None:
        """SIGKILL the master and every worker at once, as `docker kill` does."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        wait_for_group_exit(self.process.pid)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)


@dataclass
class Nginx:
    prefix: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self, upstream_ports: dict[str, int]) -> None:
        if not NGINX.is_file():
            pytest.fail(f"{NGINX} not found: run `bash scripts/install-nginx.sh` (make test does)")
        conf = self.prefix / "nginx.conf"
        conf.write_text(loopback_nginx_conf(nginx_text(), upstream_ports, self.port, self.prefix))
        command = [str(NGINX), "-p", str(self.prefix), "-c", str(conf)]
        command += ["-e", str(self.prefix / "error.log")]
        command += ["-g", f"daemon off; pid {self.prefix / 'nginx.pid'};"]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            pytest.fail(f"nginx refuses the configuration: {check.stderr.strip()}")
        self.process = start_process(
            command, env=child_env(), cwd=self.prefix, log_path=self.prefix / "stdout.log"
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            time.sleep(0.1)
        pytest.fail(f"nginx does not listen on {self.port}: {self.error_log()}")

    def error_log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.prefix / "error.log").read_text()[-3000:]
        return "(no log)"

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def signed(key: KeyPair, url: str) -> dict[str, str]:
    """The headers of a call the EHR signs: a fresh token for `url`, as CDS Hooks asks."""
    return {"Authorization": f"Bearer {sign(key, claims(EHR, aud=url))}"}


@dataclass
class Call:
    kind: str  # "hook" or "feedback"
    started: float
    latency_s: float
    status: int  # -1: no answer from nginx at all
    key: str  # hookInstance, or the feedback's card
    retry_after: bool = True


@dataclass
class Traffic:
    """HOOK_CLIENTS hook callers and one feedback caller through nginx, until stopped."""

    base_url: str
    key: KeyPair  # the EHR's signing key: a fresh token for every call
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    halt: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._hooks) for _ in range(HOOK_CLIENTS)]
        self.threads.append(threading.Thread(target=self._feedback))
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.halt.set()
        for thread in self.threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self.threads)

    def _send(self, session: requests.Session, kind: str, url: str, body: object, key: str) -> None:
        started = time.monotonic()
        try:
            response = post_json(session, url, body, timeout=30, headers=signed(self.key, url))
            status, retry_after = response.status_code, bool(response.headers.get("Retry-After"))
        except requests.RequestException:
            status, retry_after = -1, False
        call = Call(kind, started, time.monotonic() - started, status, key, retry_after)
        with self.lock:
            self.calls.append(call)

    def _hooks(self) -> None:
        base = small_request()
        url = f"{self.base_url}/cds-services/{SELECT_SERVICE}"
        with requests.Session() as session:
            while not self.halt.is_set():
                request = with_new_instance(base)
                self._send(session, "hook", url, request, request["hookInstance"])
                time.sleep(PAUSE_S)

    def _feedback(self) -> None:
        url = f"{self.base_url}/cds-services/{SELECT_SERVICE}/feedback"
        with requests.Session() as session:
            while not self.halt.is_set():
                card = str(uuid.uuid4())
                body = {"feedback": [feedback_item(card, "overridden")]}
                self._send(session, "feedback", url, body, card)
                time.sleep(PAUSE_S * 4)

    def between(self, start: float, end: float) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if start <= call.started < end]

    def in_flight(self, start: float, end: float) -> list[Call]:
        """The calls that were open at some moment of [start, end): started before its end and
        answered after its start (a call sent just before a kill is one the kill interrupts)."""
        with self.lock:
            return [c for c in self.calls if c.started < end and c.started + c.latency_s >= start]


def figures(name: str, calls: list[Call]) -> str:
    hooks = [call for call in calls if call.kind == "hook"]
    feedback = [call for call in calls if call.kind == "feedback"]
    worst = max((call.latency_s for call in calls), default=0.0) * 1000
    median = statistics.median(call.latency_s for call in hooks) * 1000 if hooks else 0.0
    return (
        f"{name}: {len(hooks)} hook calls, {sum(c.status != 200 for c in hooks)} failed, "
        f"median {median:.0f} ms; "
        f"{len(feedback)} feedback calls, {sum(c.status == 200 for c in feedback)} acknowledged, "
        f"{dict(Counter(c.status for c in feedback if c.status != 200))} not; "
        f"worst latency {worst:.0f} ms"
    )


def audit_counts(database: PrivatePostgres) -> Counter[str]:
    with database.connect() as connection:
        rows = connection.execute("SELECT hook_instance, count(*) FROM audit GROUP BY 1").fetchall()
    return Counter({hook_instance: count for hook_instance, count in rows})


def stored_feedback_cards(database: PrivatePostgres) -> set[str]:
    with database.connect() as connection:
        return {card for (card,) in connection.execute("SELECT card_uuid FROM feedback")}


def wait_until_ready_again(instances: list[Instance]) -> None:
    deadline = time.monotonic() + RECOVERY_WAIT_S
    while time.monotonic() < deadline:
        statuses = []
        for instance in instances:
            with contextlib.suppress(requests.RequestException):
                statuses.append(requests.get(f"{instance.base_url}/readyz", timeout=2).status_code)
        if statuses == [200] * len(instances):
            return
        time.sleep(0.2)
    pytest.fail("an instance's /readyz is not 200 a minute after PostgreSQL restarted")


@dataclass
class Topology:
    nginx: Nginx
    instances: list[Instance]
    database: PrivatePostgres
    key: KeyPair  # the EHR's signing key, trusted by every instance
    spare_port: int  # for a stand-in between nginx and an instance


@pytest.fixture
def topology() -> Iterator[Topology]:
    nginx_port, pg_port, spare_port, *instance_ports = ports(3 + len(nginx_upstreams(nginx_text())))
    # Under /tmp with 0755: nginx's workers (user nobody when started as root) write its
    # temporary files there.
    root = Path(tempfile.mkdtemp(prefix="cds-topology-", dir="/tmp"))
    root.chmod(0o755)
    nginx = Nginx(root / "nginx", nginx_port)
    nginx.prefix.mkdir()
    nginx.prefix.chmod(0o755)
    instances: list[Instance] = []
    key = es384_key("ehr-topology")
    jwks = write_jwks(root / "ehr-jwks.json", key)
    try:
        with private_postgres(pg_port) as database:
            config_text = (Path(__file__).resolve().parents[2] / "docker/config.toml").read_text()
            for (host, _), port in zip(nginx_upstreams(nginx_text()), instance_ports, strict=True):
                folder = root / host
                folder.mkdir()
                text = loopback_service_config(
                    config_text,
                    public_base_url=f"http://127.0.0.1:{nginx_port}",
                    store_url=database.url,
                    data_dir=folder / "data",
                    client_iss=EHR,
                    client_jwks=jwks,
                )
                instances.append(Instance(host, port, folder, text))
            for instance in instances:  # together: both apply the migrations, once
                instance.start()
            nginx.start({instance.name: instance.port for instance in instances})
            yield Topology(nginx, instances, database, key, spare_port)
    finally:
        nginx.stop()
        for instance in instances:
            instance.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_a_killed_instance_and_a_restarted_database_fail_no_call_and_lose_nothing(
    topology: Topology,
) -> None:
    nginx, instances, database, key = (
        topology.nginx,
        topology.instances,
        topology.database,
        topology.key,
    )
    entry = f"http://127.0.0.1:{nginx.port}"
    health_path = urlsplit(read_dockerfile().healthcheck_url).path
    for instance in instances:  # the image's HEALTHCHECK, on each instance
        assert requests.get(instance.base_url + health_path, timeout=5).status_code == 200
    assert requests.get(f"{entry}/metrics", timeout=5).status_code == 404  # not from outside
    too_large = requests.post(
        f"{entry}/cds-services/{SELECT_SERVICE}",
        data=b"x" * (nginx_body_limit_bytes(nginx_text()) + 1),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert too_large.status_code == 413
    assert too_large.headers["Content-Type"] == "application/json"
    assert too_large.json()["resourceType"] == "OperationOutcome"
    victim = instances[0]
    traffic = Traffic(entry, key)
    traffic.start()
    try:
        time.sleep(SETTLE_S)
        kill_started = time.monotonic()
        victim.kill()
        restart_s = victim.start()  # restart policy: the same data folder (its volume)
        time.sleep(SETTLE_S)
        kill_ended = pg_started = time.monotonic()
        database.stop()
        time.sleep(PG_DOWN_S)
        database.start()
        wait_until_ready_again(instances)
        time.sleep(SETTLE_S)
        pg_ended = time.monotonic()
    finally:
        traffic.finish()

    steady = traffic.between(0, kill_started)
    killed = traffic.between(kill_started, kill_ended)
    restarted = traffic.between(pg_started, pg_ended)
    print()
    for name, calls in (("steady", steady), ("kill", killed), ("pg restart", restarted)):
        print(figures(name, calls))
    print(f"killed instance ready again after {restart_s:.1f} s")

    hooks = [call for call in traffic.calls if call.kind == "hook"]
    failed = Counter(call.status for call in hooks if call.status != 200)
    assert not failed, f"hook calls through nginx failed: {dict(failed)}\n{nginx.error_log()}"
    assert len(killed) >= 20 and len(restarted) >= 20, "too little traffic to show anything"

    feedback = [call for call in traffic.calls if call.kind == "feedback"]
    # Not acknowledged is allowed (the EHR sends it again), an error without Retry-After is not.
    refused = [call for call in feedback if call.status != 200]
    assert all(call.status == 503 and call.retry_after for call in refused), Counter(
        call.status for call in refused
    )
    acknowledged = {call.key for call in feedback if call.status == 200}
    lost = acknowledged - stored_feedback_cards(database)
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged feedback items lost"

    answered = [call.key for call in hooks]  # all answered 200 (asserted above)
    deadline = time.monotonic() + RECOVERY_WAIT_S
    while True:
        counts = audit_counts(database)
        missing = [key for key in answered if not counts[key]]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not missing, f"{len(missing)} of {len(answered)} answered evaluations have no audit"
    # A call the killed instance had evaluated (its audit record spooled before the answer) but
    # not answered is evaluated again by the other instance (nginx resends it, non_idempotent):
    # two true records, the second the one the clinician saw. Never outside the kill, never
    # more than two (seen once in a fresh-clone run).
    # "During the kill" is every call open at some moment of it, those sent just before the kill
    # included: CI failed once on a twice-audited call not sent during the kill; the service never
    # answers a hook call 502/503 and every call took well under nginx's 15 s read timeout, so the
    # likely resend is of a call whose instance died under it.
    duplicated = {key: count for key, count in counts.items() if count > 1}
    in_kill = {call.key for call in traffic.in_flight(kill_started, kill_ended)}
    sent = {call.key: call for call in hooks}
    assert set(counts) <= set(sent), "an audit record for a call never sent"
    assert all(key in in_kill and count == 2 for key, count in duplicated.items()), (
        "audit records written twice outside a resent call (key, records, sent ms after the kill"
        " began, latency ms): "
        + str(
            [
                (
                    key,
                    count,
                    round((sent[key].started - kill_started) * 1000),
                    round(sent[key].latency_s * 1000),
                )
                for key, count in list(duplicated.items())[:5]
            ]
        )
    )
    assert len(duplicated) <= HOOK_CLIENTS, duplicated  # one call in flight per client


class DyingReplica:
    """Stands in for a replica that dies between its work and its answer: each hook call is
    passed on to the real instance (which claims the token in the store and evaluates), then the
    connection to nginx is closed with no answer, as a replica killed at that moment would. A
    SIGKILL under traffic (the test above) hits that moment only by chance; this, every time."""

    def __init__(self, port: int, target: str) -> None:
        self.passed_on: list[int] = []  # the real instance's status for each call it had
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # health checks: relayed
                answer = requests.get(target + self.path, timeout=10)
                self.send_response(answer.status_code)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k: self.headers[k] for k in ("Authorization", "Content-Type")}
                answer = requests.post(target + self.path, data=body, headers=headers, timeout=30)
                stand_in.passed_on.append(answer.status_code)
                self.close_connection = True  # and no answer: nginx sees the replica die

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_hook_call_nginx_resends_after_its_replica_died_is_answered(topology: Topology) -> None:
    """The resend carries the token the dead replica had already claimed in the store: it is
    answered 200 by the other replica, not refused 401 as a replay (cds_hooks/auth.py)."""
    first, second = topology.instances
    dying = DyingReplica(topology.spare_port, first.base_url)
    try:
        topology.nginx.stop()
        topology.nginx.start({first.name: topology.spare_port, second.name: second.port})
        entry = f"http://127.0.0.1:{topology.nginx.port}"
        url = f"{entry}/cds-services/{SELECT_SERVICE}"
        statuses = []
        for _ in range(6):  # round robin: every other call reaches the dying replica first
            request = with_new_instance(small_request())
            answer = post_json(None, url, request, headers=signed(topology.key, url))
            statuses.append(answer.status_code)
    finally:
        dying.close()
    assert dying.passed_on and set(dying.passed_on) == {200}, dying.passed_on
    assert statuses == [200] * 6, f"{statuses}\n{topology.nginx.error_log()}"
