"""End-to-end fixtures: a real FHIR R4 server (sekmet-fhir) and the service, as real processes."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support.e2e_servers import (
    SYNTHEA_BUNDLE,
    LoadedPatient,
    RunningServer,
    assigned_patient_id,
    child_env,
    free_port,
    load_transaction_bundle,
    sekmet_executable,
    sekmet_settings,
    service_config_toml,
    service_executable,
    start_process,
    stop_process,
    wait_until_ready,
)
from support.shared_data import synthea_dir


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """sekmet-fhir serving FHIR R4 at http://127.0.0.1:<port>/fhir, simulator off."""
    executable = sekmet_executable()
    workdir = tmp_path_factory.mktemp("sekmet")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}/fhir"
    settings = workdir / "settings.yaml"
    settings.write_text(sekmet_settings(base_url, port, workdir))
    log_path = workdir / "sekmet.log"
    command = [str(executable), "serve", "--config", str(settings)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    process = start_process(command, env=child_env(), cwd=workdir, log_path=log_path)
    try:
        wait_until_ready(process, f"{base_url}/metadata", log_path, "sekmet FHIR server")
        yield RunningServer(base_url=base_url, port=port, log_path=log_path)
    finally:
        stop_process(process)


@pytest.fixture(scope="session")
def loaded_patient(fhir_server: RunningServer) -> LoadedPatient:
    """The Synthea patient of SYNTHEA_BUNDLE, loaded by a transaction; ids are the server's."""
    path = synthea_dir() / SYNTHEA_BUNDLE
    with gzip.open(path, "rt", encoding="utf-8") as file:
        bundle: dict[str, Any] = json.load(file)
    transaction_response = load_transaction_bundle(fhir_server.base_url, bundle)
    patient_id = assigned_patient_id(bundle, transaction_response)
    check = requests.get(f"{fhir_server.base_url}/Patient/{patient_id}", timeout=10)
    assert check.status_code == 200, f"Patient/{patient_id} not readable after the load"
    return LoadedPatient(patient_id=patient_id, bundle=bundle)


@pytest.fixture(scope="session")
def unreachable_fhir_url() -> str:
    """An allow-listed FHIR base URL where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/fhir"


@pytest.fixture(scope="session")
def cds_service(
    fhir_server: RunningServer,
    unreachable_fhir_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningServer]:
    """The service itself (`cementoplasty-cds serve`, gunicorn), allowed to call `fhir_server`."""
    executable = service_executable()
    if not executable.is_file():
        pytest.fail(f"{executable} not found: install the project (`make setup`)")
    workdir: Path = tmp_path_factory.mktemp("cds-service")
    port = free_port()
    config_path = workdir / "e2e.toml"
    allowed = [fhir_server.base_url, unreachable_fhir_url]
    config_path.write_text(service_config_toml(port, allowed, workdir / "e2e.sqlite3"))
    log_path = workdir / "service.log"
    command = [str(executable), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1"]
    env = child_env(CDS_CONFIG=str(config_path))
    process = start_process(command, env=env, cwd=workdir, log_path=log_path)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, f"{base_url}/cds-services", log_path, "cementoplasty-cds")
        yield RunningServer(base_url=base_url, port=port, log_path=log_path)
    finally:
        stop_process(process)
