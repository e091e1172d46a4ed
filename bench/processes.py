"""Start, probe and stop the processes the benchmark measures (loopback only, bounded waits)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"


class StartError(RuntimeError):
    """A process did not come up; the message carries the tail of its log."""


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free loopback port: within BENCH_PORTS ("low-high") when set (a shared machine gives
    each user a range), else one the kernel picks."""
    low, _, high = os.environ.get("BENCH_PORTS", "0-0").partition("-")
    for port in range(int(low), int(high or low) + 1):
        if port and port in _HANDED_OUT:  # given to a server that may not have bound it yet
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _HANDED_OUT.add(port)
            return int(sock.getsockname()[1])
    raise StartError(f"no free port in BENCH_PORTS={os.environ.get('BENCH_PORTS')}")


def _executable(name: str) -> str:
    candidate = VENV_BIN / name
    return str(candidate) if candidate.exists() else name


def child_pids() -> dict[int, list[int]]:
    """Every process's children, by parent pid (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the ppid follows the last ")".
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def rss_mb(pid: int) -> float:
    match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(match.group(1)) / 1024 if match else float("nan")


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of `pid` in clock ticks (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


@dataclass
class ServerProcess:
    """A gunicorn master (possibly under a launcher) and its workers, on 127.0.0.1:port."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def worker_pids(self) -> list[int]:
        """Leaf descendants of the launched process: gunicorn's workers."""
        children = child_pids()
        leaves: list[int] = []
        stack = list(children.get(self.process.pid, []))
        while stack:
            pid = stack.pop()
            if children.get(pid):
                stack.extend(children[pid])
            else:
                leaves.append(pid)
        return sorted(leaves)

    def worker_rss_mb(self) -> list[float]:
        values = []
        for pid in self.worker_pids():
            try:
                values.append(rss_mb(pid))
            except OSError:
                continue  # a worker that just exited
        return values

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait_ready(self, workers: int, timeout_s: float = 30) -> None:
        """Until a worker answers a GET (any status) and every worker process exists.

        A GET, never the hook's POST: the first hook call after start-up is measured.
        """
        deadline = time.monotonic() + timeout_s
        answered = False
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StartError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if not answered:
                answered = probe_get(self.port, "/cds-services") is not None
            if answered and len(self.worker_pids()) >= workers:
                return
            time.sleep(0.05)
        raise StartError(f"{self.name} not ready after {timeout_s} s:\n{self.log_tail()}")

    def wait_idle(self, timeout_s: float = 15, quiet_s: float = 0.3) -> bool:
        """Until no worker uses CPU for `quiet_s` (start-up finished); False on timeout."""
        deadline = time.monotonic() + timeout_s
        last: dict[int, int] = {}
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            ticks = {pid: cpu_ticks(pid) for pid in self.worker_pids()}
            if ticks != last:
                last = ticks
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_s:
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout_s: float = 15) -> None:
        """SIGINT (gunicorn's quick shutdown), then SIGKILL to master and workers if needed."""
        if self.process.poll() is not None:
            return
        workers = self.worker_pids()
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            for pid in [self.process.pid, *workers]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def probe_get(port: int, path: str) -> int | None:
    """The status of one GET, or None when nothing answered within a second."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


@dataclass
class TimedResponse:
    seconds: float
    status: int | None
    body: Any


def timed_post(port: int, path: str, body: bytes, timeout_s: float = 30) -> TimedResponse:
    """One POST on a new connection; wall time from connect to the last byte of the body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    start = time.perf_counter()
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - start
    except OSError:
        return TimedResponse(time.perf_counter() - start, None, None)
    finally:
        connection.close()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = data[:200]
    return TimedResponse(elapsed, response.status, parsed)


def _spawn(
    name: str, command: list[str], env: dict[str, str], log_path: Path, port: int
) -> ServerProcess:
    log = log_path.open("ab")
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a Ctrl-C on the benchmark reaches it only through stop()
    )
    log.close()
    return ServerProcess(name, process, port, log_path)


def start_service(config_path: Path, workers: int, threads: int, log_path: Path) -> ServerProcess:
    port = free_port()
    command = [
        _executable("cementoplasty-cds"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]
    env = {**os.environ, "CDS_CONFIG": str(config_path)}
    return _spawn("service", command, env, log_path, port)


def start_floor(workers: int, threads: int, log_path: Path, name: str = "floor") -> ServerProcess:
    """The floor app under gunicorn with the service's settings (service/server.py)."""
    port = free_port()
    command = [
        _executable("gunicorn"),
        "--no-control-socket",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--timeout",
        "30",
        "--graceful-timeout",
        "10",
        "--limit-request-line",
        "8190",
        "bench.floor_app:app",
    ]
    return _spawn(name, command, dict(os.environ), log_path, port)


@dataclass
class StubProcess:
    """The FHIR stub (tests/support/fhir_stub.py) in a process of its own."""

    process: subprocess.Popen[str]
    port: int
    mode: str  # "data" (answers after the delay) or "hang" (never answers)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.mode}/fhir"

    def request_count(self) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", "/_stub/requests")
            return int(json.loads(connection.getresponse().read())["requests"])
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_stub(data_path: Path, mode: str, delay_s: float, lifetime_s: float) -> StubProcess:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "support.fhir_stub",
            "--data",
            str(data_path),
            "--delay",
            str(delay_s),
            "--lifetime",
            str(lifetime_s),
            "--port",
            str(free_port() if os.environ.get("BENCH_PORTS") else 0),
        ],
        cwd=REPO_ROOT,
        # The stub is the tests' own (tests/support/fhir_stub.py), run from there.
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "tests")},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # the stub prints its port first, at once
    match = re.match(r"FHIR_STUB_PORT (\d+)", line)
    if not match:
        process.kill()
        raise StartError(f"FHIR stub did not start: {line!r}")
    return StubProcess(process, int(match.group(1)), mode)
