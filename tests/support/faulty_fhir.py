"""A misbehaving FHIR server on loopback: one fault per base URL `http://127.0.0.1:<port>/<fault>/fhir`.

Every request under a fault's base gets that fault, whatever the resource type. `good` answers
proper searchsets holding an active clopidogrel order (the target of the redirect fault: were
the redirect followed, the data would arrive and no DATA-UNAVAILABLE card would be shown).
Every wait is bounded and ends when the server stops.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from support.fhir_builders import RXNORM, concept, dosage, medication_request, searchset

FAULTS = (
    "hang",
    "slow",
    "error500",
    "unauthorized",
    "badjson",
    "huge",
    "redirect",
    "wrongtype",
    "loop",
    "good",
)
SLOW_DELAY_S = 1.6  # past the service's 1.0 s deadline
MAX_HANG_S = 30.0  # a hanging answer is released at the latest after this, or at stop
HUGE_BODY_BYTES = 50 * 1024 * 1024
_CHUNK = b" " * (64 * 1024)


class FaultyFhirServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self.huge_bytes_sent: list[int] = []  # one count per finished huge answer

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def base_url(self, fault: str, host: str = "127.0.0.1") -> str:
        assert fault in FAULTS
        return f"http://{host}:{self.port}/{fault}/fhir"

    def count(self, fault: str) -> int:
        with self.lock:
            return self.requests.get(fault, 0)

    def wait_for_huge_answers(self, count: int, timeout_s: float = 10.0) -> list[int]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.huge_bytes_sent) >= count:
                    return list(self.huge_bytes_sent)
            time.sleep(0.05)
        with self.lock:
            return list(self.huge_bytes_sent)


class _Handler(BaseHTTPRequestHandler):
    server: FaultyFhirServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        segments = parts.path.strip("/").split("/")
        fault = segments[0] if segments else ""
        with self.server.lock:
            self.server.requests[fault] = self.server.requests.get(fault, 0) + 1
        resource_type = segments[2] if len(segments) > 2 else ""
        handler = getattr(self, f"_fault_{fault}", None)
        if handler is None:
            self._send_json(404, {"resourceType": "OperationOutcome", "issue": []})
            return
        handler(resource_type, parts.query)

    # Faults --------------------------------------------------------------------------------

    def _fault_hang(self, resource_type: str, query: str) -> None:
        self.server.stopping.wait(MAX_HANG_S)
        self.close_connection = True

    def _fault_slow(self, resource_type: str, query: str) -> None:
        if self.server.stopping.wait(SLOW_DELAY_S):
            return
        self._send_json(200, self._searchset(resource_type))

    def _fault_error500(self, resource_type: str, query: str) -> None:
        self._send_json(
            500,
            {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "fatal", "code": "exception", "diagnostics": "boom"}],
            },
        )

    def _fault_unauthorized(self, resource_type: str, query: str) -> None:
        self._send_bytes(
            401, b'{"error": "invalid_token"}', extra_headers={"WWW-Authenticate": "Bearer"}
        )

    def _fault_badjson(self, resource_type: str, query: str) -> None:
        self._send_bytes(200, b'{"resourceType": "Bundle", "entry": [{"resource": {"resou')

    def _fault_huge(self, resource_type: str, query: str) -> None:
        """A 50 MB searchset (whitespace inside a valid JSON object), streamed until the
        reader stops reading; how much went out is recorded."""
        head = b'{"resourceType": "Bundle", "type": "searchset", "entry": [], "pad": "'
        tail = b'"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(HUGE_BODY_BYTES))
        self.end_headers()
        sent = 0
        try:
            self.wfile.write(head)
            sent += len(head)
            while sent + len(_CHUNK) + len(tail) <= HUGE_BODY_BYTES:
                if self.server.stopping.is_set():
                    break
                self.wfile.write(_CHUNK)
                sent += len(_CHUNK)
            self.wfile.write(b" " * (HUGE_BODY_BYTES - sent - len(tail)) + tail)
            sent = HUGE_BODY_BYTES
        except OSError:
            pass  # the service closed the connection: what it should do
        finally:
            self.close_connection = True
            with self.server.lock:
                self.server.huge_bytes_sent.append(sent)

    def _fault_redirect(self, resource_type: str, query: str) -> None:
        # Another host name (same loopback socket) serving good data.
        target = f"{self.server.base_url('good', host='localhost')}/{resource_type}?{query}"
        self._send_bytes(302, b"", extra_headers={"Location": target})

    def _fault_wrongtype(self, resource_type: str, query: str) -> None:
        # A search answered with a single resource of another type instead of a Bundle.
        self._send_json(200, {"resourceType": "Patient", "id": "not-a-bundle", "active": True})

    def _fault_loop(self, resource_type: str, query: str) -> None:
        page = "2" if "page=1" in query else "1"
        next_url = f"{self.server.base_url('loop')}/{resource_type}?patient=x&page={page}"
        self._send_json(200, self._searchset(resource_type, next_url))

    def _fault_good(self, resource_type: str, query: str) -> None:
        self._send_json(200, self._searchset(resource_type))

    # Helpers -------------------------------------------------------------------------------

    def _searchset(self, resource_type: str, next_url: str | None = None) -> dict[str, Any]:
        found = [_clopidogrel_order()] if resource_type == "MedicationRequest" else []
        return searchset(*found, next_url=next_url)

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        self._send_bytes(status, json.dumps(body).encode())

    def _send_bytes(
        self, status: int, body: bytes, extra_headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra_headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


def _clopidogrel_order() -> dict[str, Any]:
    return medication_request(
        concept(RXNORM, "309362", "clopidogrel 75 MG Oral Tablet", display_as_text=False),
        id="fault-clopidogrel",
        patient_id="bench-patient-1",
        dosage=[dosage(text="75 mg once daily")],
    )


@contextmanager
def running_faulty_fhir_server() -> Iterator[FaultyFhirServer]:
    server = FaultyFhirServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
