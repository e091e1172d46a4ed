"""The service's OpenAPI document, and schemathesis against the live service.

The service runs with client authentication required (production setting); a schemathesis
auth hook signs every generated call as the trusted client, so the calls reach the service
itself. Bounded: 30 examples per operation, a fixed seed, 10 s per request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from support.reliability_support import LiveService, ServiceSettings

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
ISSUER = "https://ehr.reliability.example"
KEY_ID = "reliability-es384"
SEED = 20260101
MAX_EXAMPLES = 30
RUN_TIMEOUT_S = 150
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "ignored_auth",
)
OPERATIONS = {
    ("GET", "/cds-services"),
    ("POST", "/cds-services/{service_id}"),
    ("POST", "/cds-services/{service_id}/feedback"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
}


def write_client_key(workdir: Path) -> tuple[Path, Path]:
    """An ES384 key pair: (private key PEM for the client, JWK Set file for the service)."""
    private_key = ec.generate_private_key(ec.SECP384R1())
    pem = workdir / "client-key.pem"
    pem.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    jwk = json.loads(jwt.get_algorithm_by_name("ES384").to_jwk(private_key.public_key()))
    jwk.update({"kid": KEY_ID, "alg": "ES384", "use": "sig"})
    jwks = workdir / "client-jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    return pem, jwks


@pytest.fixture(scope="module")
def authenticated_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveService, Path]]:
    workdir = tmp_path_factory.mktemp("schemathesis-service")
    pem, jwks = write_client_key(workdir)
    service = LiveService(
        ServiceSettings(
            store_url=f"sqlite:///{workdir}/store.sqlite3",
            workers=2,
            auth_required=True,
            auth_clients=((ISSUER, jwks),),
        ),
        workdir,
    )
    try:
        service.start()
        yield service, pem
    finally:
        service.stop()


def test_openapi_document_lists_every_endpoint(
    authenticated_service: tuple[LiveService, Path],
) -> None:
    service, _ = authenticated_service
    response = requests.get(f"{service.base_url}/openapi.json", timeout=10)

    assert response.status_code == 200  # public: it holds no data
    document = response.json()
    assert document["openapi"].startswith("3.")
    listed = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert listed == OPERATIONS
    service_id = document["paths"]["/cds-services/{service_id}"]["post"]["parameters"][0]
    assert set(service_id["schema"]["enum"]) == {
        "cementoplasty-order-select",
        "cementoplasty-order-sign",
        "cementoplasty-patient-view",
        "cementoplasty-appointment-book",
    }
    anonymous = requests.get(f"{service.base_url}/cds-services", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")


def test_schemathesis_finds_no_5xx_and_no_response_outside_the_document(
    authenticated_service: tuple[LiveService, Path], tmp_path: Path
) -> None:
    service, pem = authenticated_service
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "schemathesis_client_jwt",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "CDS_ST_ISS": ISSUER,
        "CDS_ST_KID": KEY_ID,
        "CDS_ST_BASE_URL": service.base_url,
        "CDS_ST_KEY_PEM": str(pem),
        "NO_COLOR": "1",
    }
    report = tmp_path / "schemathesis.json"
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{service.base_url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--request-timeout",
        "10",
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "2",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    try:
        result = subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"schemathesis did not finish within {RUN_TIMEOUT_S} s")

    output = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, f"schemathesis failed:\n{output}\n{service.log_tail()}"
    # Schemathesis leaves out the operation that serves the document itself (/openapi.json);
    # test_openapi_document_lists_every_endpoint covers it.
    assert f"Tested: {len(OPERATIONS) - 1}" in output, output
