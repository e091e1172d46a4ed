"""Helpers of the end-to-end tests: start, wait for and stop server processes; load FHIR data.

Servers bind 127.0.0.1 on a port chosen at run time, log to a file, and are stopped with their
whole process group. The FHIR server (sekmet-fhir) lives in its own virtual environment:
`bash scripts/fhir-server-venv.sh`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

# Sherman McGlynn: small cell lung cancer, an active warfarin MedicationRequest, four platelet
# counts. Deceased in 2012 in the bundle, which does not matter for the rules exercised here.
SYNTHEA_BUNDLE = "Sherman_McGlynn_8ef2ef98-48c5-427e-80d4-5e8f30ac8bf5.json.gz"


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    port: int
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)


@dataclass(frozen=True)
class LoadedPatient:
    """A Synthea patient loaded into the FHIR server, under the id the server assigned."""

    patient_id: str
    bundle: dict[str, Any]  # the transaction Bundle as loaded (ids in it are Synthea's)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sekmet_executable() -> Path:
    configured = os.environ.get("SEKMET_BIN")
    executable = Path(configured) if configured else REPO_ROOT / ".venv-fhir" / "bin" / "sekmet"
    if not executable.is_file():
        # A failure, not a skip: the end-to-end tests must run wherever the suite runs.
        pytest.fail(
            f"FHIR test server not installed at {executable}: "
            "run `bash scripts/fhir-server-venv.sh`"
        )
    return executable


def service_executable() -> Path:
    """`cementoplasty-cds` beside the running Python (CDS_SERVICE_BIN names another build)."""
    configured = os.environ.get("CDS_SERVICE_BIN")
    return Path(configured) if configured else Path(sys.executable).parent / "cementoplasty-cds"


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_process(
    command: list[str], *, env: dict[str, str], cwd: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        # A new session makes the process a group leader: stopping the group stops its
        # children too (gunicorn's workers).
        return subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_ready(
    process: subprocess.Popen[bytes], url: str, log_path: Path, what: str
) -> float:
    """Poll `url` until it answers 200; returns the seconds it took."""
    started = time.monotonic()
    deadline = started + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stop_process(process)
            pytest.fail(
                f"{what} exited with code {process.returncode} before answering {url}; "
                f"log {log_path}:\n{_tail(log_path, 40)}"
            )
        try:
            if requests.get(url, timeout=1.0).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.1)
    stop_process(process)
    pytest.fail(
        f"{what} did not answer {url} within {STARTUP_TIMEOUT_S:.0f} s; "
        f"log {log_path}:\n{_tail(log_path, 40)}"
    )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)
    except ProcessLookupError:
        pass


def child_env(**extra: str) -> dict[str, str]:
    # Settings a developer may have exported must not leak into the servers under test.
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("SEKMET_", "CDS_"))
    }
    env["PYTHONUNBUFFERED"] = "1"  # the log file is complete when a server dies
    env.update(extra)
    return env


def load_transaction_bundle(base_url: str, bundle: dict[str, Any]) -> dict[str, Any]:
    """POST a transaction Bundle to the server's base URL; returns the transaction-response."""
    response = requests.post(
        base_url,
        data=json.dumps(bundle),
        headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
        timeout=60,
    )
    if response.status_code != 200:
        pytest.fail(
            f"loading the bundle failed: HTTP {response.status_code}: {response.text[:500]}"
        )
    result: dict[str, Any] = response.json()
    return result


def assigned_patient_id(bundle: dict[str, Any], transaction_response: dict[str, Any]) -> str:
    """The id the server gave the bundle's Patient (a POST gets a new id).

    Transaction-response entries are in the order of the request entries (FHIR R4 3.1.0.11.4).
    """
    for request_entry, response_entry in zip(
        bundle["entry"], transaction_response.get("entry", []), strict=True
    ):
        if request_entry["resource"]["resourceType"] != "Patient":
            continue
        location = response_entry["response"]["location"]  # .../Patient/<id>/_history/1
        parts = location.split("/")
        return parts[parts.index("Patient") + 1]
    pytest.fail("the transaction-response names no Patient")


def sekmet_settings(base_url: str, port: int, workdir: Path) -> str:
    """sekmet's settings.yaml (YAML is a superset of JSON: no YAML library needed here)."""
    return json.dumps(
        {
            "base_url": base_url,
            "host": "127.0.0.1",
            "port": port,
            "data_dir": str(workdir / "data"),
            # The simulator answers orders by itself (lab results, dispenses...): not wanted.
            "simulator": {"enabled": False},
            # Synthea bundles pass sekmet's strict validation too; it only costs time here.
            "validation": {"inbound": "off"},
            "log_inbound": False,
            "own_private_key_path": str(workdir / "keys" / "unused.pem"),
        },
        indent=2,
    )


def service_config_toml(
    service_port: int, allowed_fhir_servers: list[str], store_path: Path
) -> str:
    allowed = ", ".join(json.dumps(url) for url in allowed_fhir_servers)
    # The deadline is generous: this suite checks that the fallback works end to end, not its
    # timing (the unit tests do that), and CI machines can be slow on the first request.
    return f"""\
public_base_url = "http://127.0.0.1:{service_port}"

[fhir]
allowed_servers = [{allowed}]
allow_http = true
deadline_s = 5.0
request_timeout_s = 4.0

[store]
url = "sqlite:///{store_path}"

[auth]
required = false
"""
