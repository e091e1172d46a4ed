#!/usr/bin/env python3
"""`make demo`: the service with the demo profile, and (embedded default) a local FHIR R4 server
holding the demo patients (scripts/demo-patients.py), so that the CDS Hooks sandbox shows
cards. Not a production setup: the demo profile says so at start-up.

    .venv/bin/python scripts/demo-run.py [--port 8080] [--fhir-port 8091] [--no-fhir]

The FHIR server (sekmet-fhir, the one the end-to-end tests use) is installed into .venv-fhir by
scripts/fhir-server-venv.sh, keeps its data under data/demo-fhir/, and is stopped with the
service (Ctrl-C). The demo patients are loaded again at each start, dated from today.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIRST_PATIENT = "cemento-demo-1"  # scripts/demo-patients.py

STARTUP_TIMEOUT_S = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="the service's address")
    parser.add_argument("--port", type=int, default=8080, help="the service's port")
    parser.add_argument("--fhir-port", type=int, default=8091, help="the FHIR server's port")
    parser.add_argument("--no-fhir", action="store_true", help="no embedded FHIR server")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=REPO,
        help="where data/ goes: the service's store (demo profile) and the FHIR server's data",
    )
    parser.add_argument("--workers", type=int, default=1, help="service workers")
    args = parser.parse_args()
    data = args.workdir / "data"
    data.mkdir(parents=True, exist_ok=True)

    children: list[subprocess.Popen[bytes]] = []

    def interrupted(*_: object) -> None:
        raise SystemExit(0)  # runs the `finally` below: the children are stopped

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    try:
        if not args.no_fhir:
            base_url = f"http://127.0.0.1:{args.fhir_port}/fhir"
            children.append(start_fhir(base_url, args.fhir_port, data / "demo-fhir"))
            wait_for(f"{base_url}/metadata", children[-1], "FHIR server")
            load_demo_patients(base_url)
            print_sandbox_help(base_url, args.host, args.port)
        env = {**os.environ, "CDS_CONFIG": str(REPO / "service" / "profiles" / "demo.toml")}
        service = [str(Path(sys.executable).parent / "cementoplasty-cds"), "serve"]
        service += ["--host", args.host, "--port", str(args.port), "--workers", str(args.workers)]
        # The demo profile's store is data/demo.sqlite3, relative to the working folder.
        children.append(
            subprocess.Popen(service, env=env, cwd=args.workdir, start_new_session=True)
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1  # a server stopped by itself
    finally:
        stop(children)


def stop(children: list[subprocess.Popen[bytes]]) -> None:
    """Each child (its own process group: gunicorn's workers too), the service first."""
    for child in reversed(children):
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def start_fhir(base_url: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    installed = subprocess.run(
        ["bash", str(REPO / "scripts" / "fhir-server-venv.sh")],
        check=True,
        capture_output=True,
        text=True,
    )
    sekmet = installed.stdout.strip().splitlines()[-1]
    workdir.mkdir(parents=True, exist_ok=True)
    settings = {
        "base_url": base_url,
        "host": "127.0.0.1",
        "port": port,
        "data_dir": str(workdir / "data"),
        "simulator": {"enabled": False},  # it would answer orders by itself
        "validation": {"inbound": "off"},
        "log_inbound": False,
        "own_private_key_path": str(workdir / "keys" / "unused.pem"),
    }
    (workdir / "settings.yaml").write_text(json.dumps(settings, indent=2))  # YAML reads JSON
    log = (workdir / "sekmet.log").open("wb")
    command = [sekmet, "serve", "--config", str(workdir / "settings.yaml")]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(
        command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_for(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer {url} within {STARTUP_TIMEOUT_S:.0f} s")


def load_demo_patients(base_url: str) -> None:
    """The Bundle of scripts/demo-patients.py (dated from today), as one transaction."""
    # The script builds with tests/support/fhir_builders.py and fixtures/build.py.
    path = os.pathsep.join(str(REPO / folder) for folder in ("tests", "fixtures"))
    body = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo-patients.py")],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": path},
    ).stdout
    request = urllib.request.Request(
        base_url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        if response.status != 200:
            raise SystemExit(f"loading the demo patients: HTTP {response.status}")


def print_sandbox_help(fhir_url: str, host: str, port: int) -> None:
    service = f"http://{host}:{port}/cds-services"
    print(f"Demo FHIR server: {fhir_url} (patients cemento-demo-1 to -5)", flush=True)
    print(
        "CDS Hooks sandbox: https://sandbox.cds-hooks.org/"
        f"?fhirServiceUrl={fhir_url}&patientId={FIRST_PATIENT}&serviceDiscoveryURL={service}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
