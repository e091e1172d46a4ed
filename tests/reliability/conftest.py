"""Reliability fixtures: the live service (gunicorn, 2 workers) next to a misbehaving FHIR server
(tests/support/faulty_fhir.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.e2e_servers import free_port
from support.faulty_fhir import FAULTS, FaultyFhirServer, running_faulty_fhir_server
from support.reliability_support import LiveService, ServiceSettings


@pytest.fixture(scope="session")
def faulty_fhir() -> Iterator[FaultyFhirServer]:
    with running_faulty_fhir_server() as server:
        yield server


@pytest.fixture(scope="session")
def refused_fhir_url() -> str:
    """An allow-listed FHIR base URL where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/fhir"


@pytest.fixture(scope="session")
def live_service(
    faulty_fhir: FaultyFhirServer,
    refused_fhir_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveService]:
    """The service with a 1.0 s FHIR deadline, a 2 MiB request cap and a 1 MiB FHIR answer cap,
    allowed to call every fault of `faulty_fhir` (not `good`: only a redirect leads there)."""
    workdir = tmp_path_factory.mktemp("reliability-service")
    allowed = [faulty_fhir.base_url(fault) for fault in FAULTS if fault != "good"]
    allowed.append(refused_fhir_url)
    service = LiveService(
        ServiceSettings(
            store_url=f"sqlite:///{workdir}/store.sqlite3",
            workers=2,
            allowed_fhir_servers=tuple(allowed),
        ),
        workdir,
    )
    try:
        service.start()
        yield service
    finally:
        service.stop()
