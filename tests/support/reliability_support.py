"""Helpers of the reliability suite: the live service as a process group, its configuration,
and the requests the tests send.

The service runs as `cementoplasty-cds serve` (gunicorn) on 127.0.0.1 and a free port, in its
own session, so that stopping or SIGKILLing the group stops the master and every worker.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.make_requests import build_small, build_typical, without_prefetch
from support.e2e_servers import (
    child_env,
    free_port,
    service_executable,
    start_process,
    stop_process,
    wait_until_ready,
)

SELECT_SERVICE = "cementoplasty-order-select"
SIGN_SERVICE = "cementoplasty-order-sign"
RULES_KEY = "cementoplasty-cds/rules"
FEEDBACK_REASON_SYSTEM = "https://cementoplasty-cds.example/fhir/CodeSystem/override-reason"
# The prefetch keys that hold medications: the fault tests leave them to the FHIR server.
MEDICATION_KEYS = ("medicationStatements", "medicationRequests")


@dataclass(frozen=True)
class ServiceSettings:
    store_url: str
    workers: int = 2
    allowed_fhir_servers: tuple[str, ...] = ()
    deadline_s: float = 1.0
    request_timeout_s: float = 0.8
    max_request_bytes: int = 2 * 1024 * 1024
    max_response_bytes: int = 1024 * 1024
    max_pages: int = 5
    auth_required: bool = False
    auth_clients: tuple[tuple[str, Path], ...] = ()  # (iss, JWK Set file)


@dataclass
class LiveService:
    """One `cementoplasty-cds serve` process group."""

    settings: ServiceSettings
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"service-{self.starts}.log"

    def start(self) -> float:
        """Start (or restart, on the same port and store); the seconds until /readyz is 200."""
        executable = service_executable()
        if not executable.is_file():
            pytest.fail(f"{executable} not found: install the project (`make setup`)")
        config_path = self.workdir / "service.toml"
        config_path.write_text(config_toml(self.port, self.settings))
        self.starts += 1
        command = [str(executable), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", str(self.settings.workers)]
        env = child_env(CDS_CONFIG=str(config_path))
        # Each start gets its own metrics folder: a killed master leaves its files behind.
        metrics_dir = self.workdir / f"metrics-{self.starts}"
        metrics_dir.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        self.process = start_process(command, env=env, cwd=self.workdir, log_path=self.log_path)
        return wait_until_ready(
            self.process, f"{self.base_url}/readyz", self.log_path, "cementoplasty-cds"
        )

    def kill_group(self) -> None:
        """SIGKILL the master and every worker at once (no graceful shutdown, no flush)."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        wait_for_group_exit(self.process.pid)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # any straggling worker

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def wait_for_group_exit(pgid: int, timeout_s: float = 10.0) -> None:
    """Wait until no process of the group is left (workers die just after the master)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"process group {pgid} still alive {timeout_s:.0f} s after SIGKILL")


def config_toml(port: int, settings: ServiceSettings) -> str:
    allowed = ", ".join(json.dumps(url) for url in settings.allowed_fhir_servers)
    return f"""\
public_base_url = "http://127.0.0.1:{port}"

[server]
max_request_bytes = {settings.max_request_bytes}

[fhir]
allowed_servers = [{allowed}]
allow_http = true
deadline_s = {settings.deadline_s}
request_timeout_s = {settings.request_timeout_s}
max_pages = {settings.max_pages}
max_response_bytes = {settings.max_response_bytes}

[store]
url = {json.dumps(settings.store_url)}

[auth]
required = {"true" if settings.auth_required else "false"}

[logging]
level = "WARNING"
""" + "".join(
        f"\n[[auth.clients]]\niss = {json.dumps(iss)}\njwks_file = {json.dumps(str(jwks))}\n"
        for iss, jwks in settings.auth_clients
    )


# Requests ---------------------------------------------------------------------------------


def typical_request() -> dict[str, Any]:
    return build_typical()


def small_request() -> dict[str, Any]:
    return build_small()


def with_new_instance(request: dict[str, Any]) -> dict[str, Any]:
    out = dict(request)
    out["hookInstance"] = str(uuid.uuid4())
    return out


def low_platelets_without_medications(fhir_server: str) -> dict[str, Any]:
    """A small order-select call whose latest platelet count is 32 000/µL (BLEED-PLATELETS-LOW
    fires from prefetch) and whose medications must come from `fhir_server`."""
    request = copy.deepcopy(build_small(fhir_server=fhir_server))
    entries = request["prefetch"]["platelets"]["entry"]
    for entry in entries:
        entry["resource"]["valueQuantity"]["value"] = 32  # 10*3/uL
    keep = tuple(key for key in request["prefetch"] if key not in MEDICATION_KEYS)
    request = without_prefetch(request, keep=keep)
    request["hookInstance"] = str(uuid.uuid4())
    return request


def fired_rules(cards: list[dict[str, Any]]) -> set[str]:
    return {rule for card in cards for rule in card.get("extension", {}).get(RULES_KEY, [])}


def feedback_item(card_uuid: str, outcome: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "card": card_uuid,
        "outcome": outcome,
        "outcomeTimestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": str(uuid.uuid4())}]
    else:
        item["overrideReason"] = {
            "reason": {
                "system": FEEDBACK_REASON_SYSTEM,
                "code": "not-applicable",
                "display": "Does not apply to this patient or this target",
            },
            "userComment": "reliability suite",
        }
    return item


def post_json(
    session: requests.Session | None,
    url: str,
    body: Any,
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    sender = session or requests
    return sender.post(
        url,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            **(headers or {}),
        },
        timeout=timeout,
    )


def post_feedback(
    session: requests.Session | None, service: LiveService, items: list[dict[str, Any]]
) -> requests.Response:
    url = f"{service.base_url}/cds-services/{SELECT_SERVICE}/feedback"
    return post_json(session, url, {"feedback": items})


def stored_cards(store_url: str) -> set[str]:
    """The card uuids of every feedback item in the store (read by a fresh connection)."""
    from service.storage import Store

    store = Store(store_url)
    try:
        return {str(item["card_uuid"]) for item in store.feedback_items()}
    finally:
        store.close()
