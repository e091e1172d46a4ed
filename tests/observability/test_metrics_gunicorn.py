"""Under gunicorn with several workers, /metrics counts the requests of every worker."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]

APP = """
import time

from flask import Flask
from service.observability import install_operations_routes, log_request


class Store:
    def ping(self):
        return True


app = Flask(__name__)
install_operations_routes(app, Store())


@app.get("/work")
def work():
    time.sleep(0.1)  # busy long enough that concurrent calls reach other workers
    log_request({"service": "svc", "status": 200, "latency_ms": 1.0, "cards": {"info": 1}})
    return "ok"
"""

GUNICORN_CONFIG = """
from service.observability import gunicorn_child_exit, prepare_metrics_dir

prepare_metrics_dir()
child_exit = gunicorn_child_exit
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.e2e
def test_metrics_cover_every_gunicorn_worker(tmp_path: Path):
    (tmp_path / "metrics_app.py").write_text(textwrap.dedent(APP))
    (tmp_path / "gunicorn_conf.py").write_text(textwrap.dedent(GUNICORN_CONFIG))
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_stale.db").write_bytes(b"left by a previous run")
    port = _free_port()
    env = os.environ | {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--no-control-socket",
            "--config",
            str(tmp_path / "gunicorn_conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "3",
            "metrics_app:app",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(lambda _: requests.get(f"{base}/work", timeout=10), range(60)))
        assert [answer.text for answer in answers] == ["ok"] * 60
        # Sync workers answer one call at a time: concurrent calls were spread over them.
        pids = {path.name for path in metrics_dir.glob("counter_*.db")}
        assert len(pids) >= 2, pids  # more than one worker counted requests
        body = requests.get(f"{base}/metrics", timeout=5).text
        match = re.search(
            r'cds_requests_total\{route="unmatched",service="svc",status="200"\} (\S+)', body
        )
        assert match is not None and float(match.group(1)) == 60.0
        assert requests.get(f"{base}/readyz", timeout=5).status_code == 200
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
