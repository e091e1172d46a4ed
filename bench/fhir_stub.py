"""A local FHIR server stub for the fallback benchmark (loopback only).

Mode `delay`: every request is answered after `--delay` seconds (default 0.1) with the
benchmark's typical data: `GET /Type/id` reads a resource, `GET /Type?...` is a searchset of
every resource of that type, narrowed by `code=` (comma-separated `code` or `system|code`) and by
`_id=`; other search parameters are ignored. Mode `hang`: the request is read and never
answered (the handler sleeps until the stub stops, at most `--hang-max` seconds).

`GET /_bench/requests` answers the number of FHIR requests received so far, at once, in any mode.

Run: PYTHONPATH=tests .venv/bin/python -m bench.fhir_stub
        --data bench/results/requests/fhir-data.json --mode delay
(its searchsets are tests/support/fhir_builders.py's). It binds 127.0.0.1 on a free port and
prints `FHIR_STUB_PORT <port>` on its first line.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.fhir_builders import searchset


class FhirStubServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: the ten searches of one fallback call, sent at
    # once, overflowed it and the kernel's SYN retry (1 s) showed up as a 1 035 ms "request".
    # A FHIR server in production listens with a backlog of hundreds.
    request_queue_size = 128

    def __init__(
        self,
        resources: list[dict[str, Any]],
        mode: str,
        delay_s: float,
        hang_max_s: float,
        port: int = 0,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.resources = resources
        self.mode = mode
        self.delay_s = delay_s
        self.hang_max_s = hang_max_s
        self.stopping = threading.Event()
        self.request_count = 0
        self.count_lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


def _codes_of(resource: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for field in ("code", "medicationCodeableConcept"):
        concept = resource.get(field) or {}
        for coding in concept.get("coding", []):
            yield coding.get("system", ""), coding.get("code", "")


def _matches_code(resource: dict[str, Any], wanted: list[str]) -> bool:
    for system, code in _codes_of(resource):
        for token in wanted:
            if "|" in token:
                want_system, want_code = token.split("|", 1)
                if code == want_code and (not want_system or system == want_system):
                    return True
            elif code == token:
                return True
    return False


def search(
    resources: list[dict[str, Any]], resource_type: str, query: dict[str, list[str]]
) -> list[dict[str, Any]]:
    found = [r for r in resources if r["resourceType"] == resource_type]
    codes = [token for value in query.get("code", []) for token in value.split(",") if token]
    if codes:
        found = [r for r in found if _matches_code(r, codes)]
    ids = [token for value in query.get("_id", []) for token in value.split(",") if token]
    if ids:
        found = [r for r in found if r["id"] in ids]
    return found


class _Handler(BaseHTTPRequestHandler):
    server: FhirStubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the benchmark prints its own figures

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/_bench/requests":
            self._send(200, {"requests": self.server.request_count})
            return
        with self.server.count_lock:
            self.server.request_count += 1
        if self.server.mode == "hang":
            self.server.stopping.wait(self.server.hang_max_s)
            self.close_connection = True
            return
        time.sleep(self.server.delay_s)
        segments = [s for s in parts.path.split("/") if s]
        resources = self.server.resources
        types = {r["resourceType"] for r in resources} | {
            "MedicationStatement",
            "Medication",
            "Procedure",
            "Encounter",
        }
        if segments and segments[-1] in types:
            found = search(resources, segments[-1], parse_qs(parts.query))
            self._send(200, searchset(*found, total=len(found)), "application/fhir+json")
        elif len(segments) >= 2 and segments[-2] in types:
            matches = [
                r
                for r in resources
                if r["resourceType"] == segments[-2] and r["id"] == segments[-1]
            ]
            if matches:
                self._send(200, matches[0], "application/fhir+json")
            else:
                self._send(404, _outcome("not-found", "no such resource"), "application/fhir+json")
        else:
            self._send(400, _outcome("not-supported", "unknown path"), "application/fhir+json")

    def do_POST(self) -> None:
        # `_search` by POST is not served: answer as a FHIR server that does not support it.
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(min(length, 1 << 20))
        self._send(405, _outcome("not-supported", "POST not supported"), "application/fhir+json")

    def _send(
        self, status: int, body: dict[str, Any], content_type: str = "application/json"
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }


def start_stub(
    resources: list[dict[str, Any]],
    mode: str = "delay",
    delay_s: float = 0.1,
    hang_max_s: float = 60,
) -> FhirStubServer:
    """Start a stub in a background thread of this process; call `.stop()` when done."""
    server = FhirStubServer(resources, mode, delay_s, hang_max_s)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="FHIR stub for the fallback benchmark")
    parser.add_argument("--data", type=Path, required=True, help="fhir-data.json (make_requests)")
    parser.add_argument("--mode", choices=("delay", "hang"), default="delay")
    parser.add_argument("--delay", type=float, default=0.1, help="seconds before each answer")
    parser.add_argument("--hang-max", type=float, default=60, help="longest a hang lasts")
    parser.add_argument("--lifetime", type=float, default=900, help="stop after this many s")
    parser.add_argument("--port", type=int, default=0, help="0: one the kernel picks")
    args = parser.parse_args(argv)
    resources = json.loads(args.data.read_text(encoding="utf-8"))["resources"]
    server = FhirStubServer(resources, args.mode, args.delay, args.hang_max, args.port)
    print(f"FHIR_STUB_PORT {server.port}", flush=True)
    # Bounded: the stub stops by itself even if the benchmark that started it dies.
    timer = threading.Timer(args.lifetime, server.stop)
    timer.daemon = True
    timer.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stopping.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
