"""Reliability fixtures: the live service (gunicorn, 2 workers) next to the FHIR stub and its
fault modes (tests/support/fhir_stub.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.e2e_servers import free_port
from support.fhir_builders import RXNORM, concept, dosage, medication_request
from support.fhir_stub import FAULTS, FhirStub, running_fhir_stub
from support.reliability_support import LiveService, ServiceSettings


def clopidogrel_order() -> dict[str, Any]:
    """What the stub's data holds: were a fault's answer read as data, MED-CLOPIDOGREL fires."""
    return medication_request(
        concept(RXNORM, "309362", "clopidogrel 75 MG Oral Tablet", display_as_text=False),
        id="fault-clopidogrel",
        patient_id="bench-patient-1",
        dosage=[dosage(text="75 mg once daily")],
    )


@pytest.fixture(scope="session")
def faulty_fhir() -> Iterator[FhirStub]:
    with running_fhir_stub([clopidogrel_order()]) as stub:
        yield stub


@pytest.fixture(scope="session")
def refused_fhir_url() -> str:
    """An allow-listed FHIR base URL where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/fhir"


@pytest.fixture(scope="session")
def live_service(
    faulty_fhir: FhirStub,
    refused_fhir_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveService]:
    """The service with a 1.0 s FHIR deadline, a 2 MiB request cap and a 1 MiB FHIR answer cap,
    allowed to call every fault of `faulty_fhir` (not its data: only a redirect leads there)."""
    workdir = tmp_path_factory.mktemp("reliability-service")
    allowed = [faulty_fhir.base_url(fault) for fault in FAULTS]
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
