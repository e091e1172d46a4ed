"""The one FHIR server stub of the tests and the benchmark: a real HTTP server on loopback.

Its base URLs are `http://127.0.0.1:<port>/<mode>/fhir`; every request under a mode's base gets
that mode, whatever the resource type:

* `data`: the stub's resources, as a FHIR server gives them: `GET Type/id` reads one; `GET Type?`
  searches, narrowed by `code` (`code` or `system|code`, comma-separated), `_id`, `patient` and
  `date` (`geYYYY-MM-DD`, `leYYYY-MM-DD`), sorted newest first on `_sort=-date` (unless the stub
  is built with `honour_sort=False`, as some servers are), paged by `_count` and `_offset` with a
  `next` link; each answer after `delay_s`.
* faults: `hang` (never answers; released at stop), `slow` (the data after 1.6 s, past the
  service's 1 s deadline), `error500`, `unauthorized`, `badjson`, `huge` (a 50 MB body streamed
  until the reader stops), `redirect` (to the data under another host name: were it followed,
  the data would arrive), `wrongtype` (a Patient where a Bundle is due), `loop` (a `next` link
  back and forth).

A test scripts one answer with `routes[path]` (path with or without its query, from the root):
it answers before any mode. `GET /_stub/requests` gives the request counts at once.

In a test: `with running_fhir_stub(resources) as stub: stub.base_url("data")`. As a process (the
benchmark): `PYTHONPATH=tests python -m support.fhir_stub --data F` prints `FHIR_STUB_PORT <port>`
first. Every wait is bounded and ends when the stub stops.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from support.fhir_builders import searchset

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
)
MODES = ("data", *FAULTS)
SLOW_DELAY_S = 1.6  # past the service's 1.0 s deadline
MAX_HANG_S = 30.0  # a hanging answer is released at the latest after this, or at stop
HUGE_BODY_BYTES = 50 * 1024 * 1024
_CHUNK = b" " * (64 * 1024)
SEEN_KEPT = 1000  # the requests remembered (a long bench run must not grow without bound)
# An idle kept-alive connection is closed after this: no handler thread outlives the stub long.
IDLE_TIMEOUT_S = 5.0
# Resource types a search may name although the stub holds none of them: an empty searchset.
_SEARCHABLE = {"MedicationStatement", "Medication", "Procedure", "Encounter"}

Route = Callable[[BaseHTTPRequestHandler], None]


class FhirStub(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: the ten searches of one fallback call, sent at
    # once, overflowed it and the kernel's SYN retry (1 s) showed up as a 1 035 ms "request".
    # A FHIR server in production listens with a backlog of hundreds.
    request_queue_size = 128

    def __init__(
        self,
        resources: Sequence[Mapping[str, Any]] = (),
        *,
        delay_s: float = 0.0,
        honour_sort: bool = True,
        hang_max_s: float = MAX_HANG_S,
        port: int = 0,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.resources = list(resources)
        self.delay_s = delay_s
        self.honour_sort = honour_sort
        self.hang_max_s = hang_max_s
        self.routes: dict[str, Route] = {}
        # (path with query, headers) of the latest requests, for the tests that read them.
        self.seen: deque[tuple[str, dict[str, str]]] = deque(maxlen=SEEN_KEPT)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.requests: dict[str, int] = {}  # by mode
        self.bytes_sent = 0
        self.huge_bytes_sent: list[int] = []  # one count per finished huge answer

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def base_url(self, mode: str = "data", host: str = "127.0.0.1") -> str:
        assert mode in MODES, mode
        return f"http://{host}:{self.port}/{mode}/fhir"

    def count(self, mode: str) -> int:
        with self.lock:
            return self.requests.get(mode, 0)

    def reset_counts(self) -> tuple[int, int]:
        """(requests, bytes) answered since the last reset, then both back to zero."""
        with self.lock:
            counts = (sum(self.requests.values()), self.bytes_sent)
            self.requests.clear()
            self.bytes_sent = 0
            return counts

    def wait_for_huge_answers(self, count: int, timeout_s: float = 10.0) -> list[int]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.huge_bytes_sent) >= count:
                    return list(self.huge_bytes_sent)
            time.sleep(0.05)
        with self.lock:
            return list(self.huge_bytes_sent)

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that drops its connection (a deadline, a byte cap) is what the tests
        # provoke; anything else is printed as socketserver does.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def running_fhir_stub(
    resources: Sequence[Mapping[str, Any]] = (), **options: Any
) -> Iterator[FhirStub]:
    stub = FhirStub(resources, **options)
    thread = threading.Thread(target=stub.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield stub
    finally:
        stub.stop()
        thread.join(timeout=5)


def search(
    resources: Sequence[Mapping[str, Any]],
    resource_type: str,
    query: Mapping[str, list[str]],
    honour_sort: bool = True,
) -> list[Mapping[str, Any]]:
    """The resources a FHIR server's search of `resource_type` with `query` finds, in order."""
    found = [r for r in resources if r.get("resourceType") == resource_type]
    codes = _tokens(query, "code")
    if codes:
        found = [r for r in found if _matches_code(r, codes)]
    ids = _tokens(query, "_id")
    if ids:
        found = [r for r in found if r.get("id") in ids]
    for patient in query.get("patient", []):
        wanted = patient if "/" in patient else f"Patient/{patient}"
        found = [r for r in found if _subject(r) == wanted]
    for bound in query.get("date", []):
        prefix, day = bound[:2], bound[2:12]
        if prefix == "ge":
            found = [r for r in found if _date(r)[:10] >= day]
        elif prefix == "le":
            found = [r for r in found if _date(r)[:10] <= day]
    if honour_sort and query.get("_sort") == ["-date"]:
        found.sort(key=_date, reverse=True)
    return found


def _tokens(query: Mapping[str, list[str]], name: str) -> list[str]:
    return [token for value in query.get(name, []) for token in value.split(",") if token]


def _matches_code(resource: Mapping[str, Any], wanted: list[str]) -> bool:
    for field in ("code", "medicationCodeableConcept"):
        for coding in (resource.get(field) or {}).get("coding", []):
            system, code = coding.get("system", ""), coding.get("code", "")
            for token in wanted:
                want_system, _, want_code = token.rpartition("|")
                if code == want_code and (not want_system or system == want_system):
                    return True
    return False


def _subject(resource: Mapping[str, Any]) -> str | None:
    reference = resource.get("subject") or resource.get("patient") or {}
    return reference.get("reference") if isinstance(reference, dict) else None


def _date(resource: Mapping[str, Any]) -> str:
    for field in ("effectiveDateTime", "authoredOn", "recordedDate", "issued"):
        if isinstance(resource.get(field), str):
            return str(resource[field])
    return ""


def _outcome(code: str, text: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": text}],
    }


class _Handler(BaseHTTPRequestHandler):
    server: FhirStub
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    # The headers and the body go out in two writes: with Nagle's algorithm on, the body waits
    # for the client's delayed ACK of the headers (40 ms on Linux), which no FHIR server makes
    # its clients wait. The benchmark's "FHIR answers in 20 ms" was 60 ms without this.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests and the benchmark report what matters

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/_stub/requests":
            with self.server.lock:
                counts = dict(self.server.requests)
            self._send_json(200, {"requests": sum(counts.values()), "by_mode": counts})
            return
        with self.server.lock:
            self.server.seen.append((self.path, dict(self.headers)))
        route = self.server.routes.get(self.path) or self.server.routes.get(parts.path)
        if route is not None:
            # A scripted answer may have no Content-Length (a drip, a chunked body): it is an
            # HTTP/1.0 answer, which ends with its connection (so says its status line, and the
            # client does not reuse it). The client may give up (a deadline).
            self.protocol_version = "HTTP/1.0"
            self.close_connection = True
            with suppress(BrokenPipeError, ConnectionResetError):
                route(self)
            return
        segments = parts.path.strip("/").split("/")
        mode = segments[0]
        with self.server.lock:
            self.server.requests[mode] = self.server.requests.get(mode, 0) + 1
        answer = getattr(self, f"_mode_{mode}", None) if mode in MODES else None
        if answer is None or segments[1:2] != ["fhir"]:
            self._send_json(404, _outcome("not-found", "unknown path"))
            return
        answer(segments[2:], parts.query)

    def do_POST(self) -> None:
        # `_search` by POST is not served: answer as a FHIR server that does not support it.
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(min(length, 1 << 20))
        self._send_json(405, _outcome("not-supported", "POST not supported"))

    # Modes ---------------------------------------------------------------------------------

    def _mode_data(self, path: list[str], query: str) -> None:
        if self.server.delay_s and self.server.stopping.wait(self.server.delay_s):
            return
        self._data(path, query)

    def _mode_hang(self, path: list[str], query: str) -> None:
        self.server.stopping.wait(self.server.hang_max_s)
        self.close_connection = True

    def _mode_slow(self, path: list[str], query: str) -> None:
        if not self.server.stopping.wait(SLOW_DELAY_S):
            self._data(path, query)

    def _mode_error500(self, path: list[str], query: str) -> None:
        self._send_json(500, _outcome("exception", "boom", severity="fatal"))

    def _mode_unauthorized(self, path: list[str], query: str) -> None:
        self._send_bytes(
            401, b'{"error": "invalid_token"}', extra_headers={"WWW-Authenticate": "Bearer"}
        )

    def _mode_badjson(self, path: list[str], query: str) -> None:
        self._send_bytes(200, b'{"resourceType": "Bundle", "entry": [{"resource": {"resou')

    def _mode_huge(self, path: list[str], query: str) -> None:
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

    def _mode_redirect(self, path: list[str], query: str) -> None:
        # Another host name (same loopback socket) serving the data.
        target = f"{self.server.base_url('data', host='localhost')}/{'/'.join(path)}?{query}"
        self._send_bytes(302, b"", extra_headers={"Location": target})

    def _mode_wrongtype(self, path: list[str], query: str) -> None:
        # A search answered with a single resource of another type instead of a Bundle.
        self._send_json(200, {"resourceType": "Patient", "id": "not-a-bundle", "active": True})

    def _mode_loop(self, path: list[str], query: str) -> None:
        page = "2" if "page=1" in query else "1"
        resource_type = path[0] if path else ""
        next_url = f"{self.server.base_url('loop')}/{resource_type}?patient=x&page={page}"
        found = search(self.server.resources, resource_type, {})
        self._send_json(200, searchset(*found, total=len(found), next_url=next_url))

    # Answers -------------------------------------------------------------------------------

    def _data(self, path: list[str], query: str) -> None:
        resources = self.server.resources
        types = {str(r.get("resourceType")) for r in resources} | _SEARCHABLE
        if len(path) == 1 and path[0] in types:
            params = parse_qs(query)
            found = search(resources, path[0], params, self.server.honour_sort)
            try:
                count = int(params.get("_count", [str(len(found) or 1)])[0])
                offset = int(params.get("_offset", ["0"])[0])
            except ValueError:
                self._send_json(400, _outcome("invalid", "_count and _offset are integers"))
                return
            if count < 1 or offset < 0:
                self._send_json(400, _outcome("invalid", "_count >= 1 and _offset >= 0"))
                return
            next_url = None
            if offset + count < len(found):
                # Every parameter, repeated ones too (date=ge…&date=le…): the next page is the
                # same search.
                following = {**params, "_offset": [str(offset + count)]}
                # The host the client called: a link to another host is refused, as it should.
                host = (self.headers.get("Host") or "127.0.0.1").rsplit(":", 1)[0]
                base = self.server.base_url("data", host=host)
                next_url = f"{base}/{path[0]}?{urlencode(following, doseq=True)}"
            page = found[offset : offset + count]
            self._send_json(200, searchset(*page, total=len(found), next_url=next_url))
        elif len(path) == 2 and path[0] in types:
            matches = [
                r for r in resources if r.get("resourceType") == path[0] and r.get("id") == path[1]
            ]
            if matches:
                self._send_json(200, dict(matches[0]))
            else:
                self._send_json(404, _outcome("not-found", "no such resource"))
        else:
            self._send_json(400, _outcome("not-supported", "unknown path"))

    def _send_json(self, status: int, body: Mapping[str, Any]) -> None:
        self._send_bytes(status, json.dumps(body).encode())

    def _send_bytes(
        self, status: int, body: bytes, extra_headers: Mapping[str, str] | None = None
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
            return
        with self.server.lock:
            self.server.bytes_sent += len(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The FHIR stub, as a process (the benchmark)")
    parser.add_argument("--data", type=Path, required=True, help="JSON: {'resources': [...]}")
    parser.add_argument("--delay", type=float, default=0.1, help="seconds before each answer")
    parser.add_argument("--hang-max", type=float, default=60, help="longest a hang lasts")
    parser.add_argument("--lifetime", type=float, default=900, help="stop after this many s")
    parser.add_argument("--port", type=int, default=0, help="0: one the kernel picks")
    args = parser.parse_args(argv)
    resources = json.loads(args.data.read_text(encoding="utf-8"))["resources"]
    stub = FhirStub(resources, delay_s=args.delay, hang_max_s=args.hang_max, port=args.port)
    print(f"FHIR_STUB_PORT {stub.port}", flush=True)
    # Bounded: the stub stops by itself even if the benchmark that started it dies.
    timer = threading.Timer(args.lifetime, stub.stop)
    timer.daemon = True
    timer.start()
    with suppress(KeyboardInterrupt):
        stub.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
