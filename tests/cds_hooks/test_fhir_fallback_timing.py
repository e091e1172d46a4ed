"""Fallback fetches against a real HTTP server on loopback: parallelism, deadline, redirects.

The only timed assertions of the protocol tests, with generous margins (the brief asks for them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from typing import Any

from support.cds_support import (
    GOOD_TOKEN,
    AppUnderTest,
    LocalFhirServer,
    order_sign_body,
    send_json,
    slow_json,
)
from support.fhir_builders import searchset

from cds_hooks.fhir_client import FhirFetchSettings
from cds_hooks.prefetch import PrefetchResolver
from cds_hooks.service import FailureCode, FhirAuthorization, HookRequest, Unavailable

TEMPLATES = {
    "platelets": "Observation?patient={{context.patientId}}&code=777-3",
    "inr": "Observation?patient={{context.patientId}}&code=6301-6",
}
EMPTY = searchset()


def settings(deadline_s: float = 1.5) -> FhirFetchSettings:
    return FhirFetchSettings(
        allowed_servers=("*",), allow_http=True, deadline_s=deadline_s, request_timeout_s=1.0
    )


def request_for(server: LocalFhirServer) -> HookRequest:
    return HookRequest(
        service_id="svc",
        hook="order-sign",
        hook_instance="i",
        context={"patientId": "p1"},
        prefetch={},
        fhir_server=server.base_url,
        fhir_authorization=FhirAuthorization("tok-xyz", "Bearer", 60, "patient/*.read", "cds"),
    )


def test_fallback_fetches_run_in_parallel(fhir_server: LocalFhirServer) -> None:
    fhir_server.routes["/fhir/Observation"] = slow_json(EMPTY, 0.3)
    resolver = PrefetchResolver(request_for(fhir_server), TEMPLATES, settings())
    started = time.monotonic()
    result = resolver.resolve()
    elapsed = time.monotonic() - started
    assert result.resources == {"platelets": [], "inr": []}
    assert len(fhir_server.seen) == 2
    assert all(h["Authorization"] == "Bearer tok-xyz" for _, h in fhir_server.seen)
    assert elapsed < 0.55, f"two 0.3 s fetches took {elapsed:.2f} s: not parallel"


def test_deadline_makes_the_slow_key_unavailable(fhir_server: LocalFhirServer) -> None:
    def route(handler: BaseHTTPRequestHandler) -> None:
        delay = 1.5 if "777-3" in handler.path else 0.0
        slow_json(EMPTY, delay)(handler)

    fhir_server.routes["/fhir/Observation"] = route
    resolver = PrefetchResolver(request_for(fhir_server), TEMPLATES, settings(deadline_s=0.5))
    started = time.monotonic()
    result = resolver.resolve()
    elapsed = time.monotonic() - started
    assert result.resources == {"inr": []}
    assert (result.unavailable["platelets"].code, result.unavailable["platelets"].reason) in (
        (FailureCode.DEADLINE, "deadline exceeded"),
        (FailureCode.TIMEOUT, "timed out"),
    )
    assert elapsed < 0.5 + 0.4, f"answered after {elapsed:.2f} s with a 0.5 s deadline"


def test_slow_drip_body_is_cut_at_the_deadline(fhir_server: LocalFhirServer) -> None:
    stopped_after: list[float] = []

    def drip(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/fhir+json")
        handler.end_headers()
        started = time.monotonic()
        try:
            for _ in range(30):  # a byte every 0.1 s: each read is within the socket timeout
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.1)
        finally:
            stopped_after.append(time.monotonic() - started)

    fhir_server.routes["/fhir/Observation"] = drip
    resolver = PrefetchResolver(request_for(fhir_server), TEMPLATES, settings(deadline_s=0.5))
    started = time.monotonic()
    result = resolver.resolve()
    assert time.monotonic() - started < 0.5 + 0.4
    assert set(result.unavailable) == {"platelets", "inr"}
    # The fetch threads hang up soon after the deadline rather than reading for 3 s.
    for _ in range(30):
        if len(stopped_after) == 2:
            break
        time.sleep(0.1)
    assert len(stopped_after) == 2 and max(stopped_after) < 1.5, stopped_after


def test_redirects_are_never_followed(fhir_server: LocalFhirServer) -> None:
    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(307)
        handler.send_header("Location", f"http://localhost:{handler.server.server_port}/steal")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    fhir_server.routes["/fhir/Observation"] = redirect
    result = PrefetchResolver(request_for(fhir_server), TEMPLATES, settings()).resolve()
    assert result.unavailable["platelets"] == Unavailable(
        FailureCode.REDIRECT, "HTTP 307 redirect not followed"
    )
    assert [path for path, _ in fhir_server.seen if path.startswith("/steal")] == []


def test_streamed_answer_over_the_byte_cap_is_refused(fhir_server: LocalFhirServer) -> None:
    def chunked_big(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/fhir+json")
        handler.end_headers()  # no Content-Length: the cap must hold while streaming
        handler.wfile.write(b'{"resourceType": "Bundle", "entry": [' + b" " * 50_000 + b"]}")

    fhir_server.routes["/fhir/Observation"] = chunked_big
    small = FhirFetchSettings(allowed_servers=("*",), allow_http=True, max_response_bytes=4096)
    result = PrefetchResolver(request_for(fhir_server), TEMPLATES, small).resolve()
    assert result.unavailable["platelets"] == Unavailable(
        FailureCode.TOO_LARGE, "answer larger than 4096 bytes"
    )


def test_service_call_without_prefetch_uses_the_fallback(
    make_app: Callable[..., AppUnderTest], fhir_server: LocalFhirServer
) -> None:
    patient = {"resourceType": "Patient", "id": "p1"}
    fhir_server.routes["/fhir/Patient/p1"] = slow_json(patient, 0)
    fhir_server.routes["/fhir/Condition"] = slow_json(EMPTY, 0)
    app = make_app(behaviour="resolve")
    authorization = {
        "access_token": "fhir-tok",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds",
    }
    body: dict[str, Any] = order_sign_body(
        fhirServer=fhir_server.base_url, fhirAuthorization=authorization
    )
    del body["prefetch"]
    response = app.post("/cds-services/test-order-sign", body, Authorization=GOOD_TOKEN)
    assert response.status_code == 200
    [record] = app.records
    assert record.prefetch is not None
    assert record.prefetch.resources == {"patient": [patient], "conditions": []}
    assert all(h["Authorization"] == "Bearer fhir-tok" for _, h in fhir_server.seen)


def page(*ids: str, next_url: str | None = None) -> dict[str, Any]:
    observations = [{"resourceType": "Observation", "id": i} for i in ids]
    return searchset(*observations, next_url=next_url)


def test_pages_fetched_before_the_deadline_are_kept(fhir_server: LocalFhirServer) -> None:
    """The deadline passes while a later page is on its way: the pages already fetched are
    used, never thrown away, and the gap is reported as a deadline (README: "never")."""
    base = fhir_server.base_url

    def route(handler: BaseHTTPRequestHandler) -> None:
        if "page=3" in handler.path:
            slow_json(page("o5"), 3.0)(handler)  # far beyond the deadline
        elif "page=2" in handler.path:
            send_json(handler, page("o3", "o4", next_url=f"{base}/Observation?page=3"))
        elif "777-3" in handler.path:
            send_json(handler, page("o1", "o2", next_url=f"{base}/Observation?page=2"))
        else:
            send_json(handler, EMPTY)

    fhir_server.routes["/fhir/Observation"] = route
    resolver = PrefetchResolver(request_for(fhir_server), TEMPLATES, settings(deadline_s=0.6))
    started = time.monotonic()
    result = resolver.resolve()
    assert time.monotonic() - started < 0.6 + 0.4
    assert [r["id"] for r in result.resources["platelets"]] == ["o1", "o2", "o3", "o4"]
    assert result.unavailable["platelets"] == Unavailable(
        FailureCode.DEADLINE, "only the first 2 pages: deadline exceeded", partial=True
    )
    assert result.resources["inr"] == [] and "inr" not in result.unavailable


def test_prefetched_page_and_fetched_pages_are_kept_at_the_deadline(
    fhir_server: LocalFhirServer,
) -> None:
    base = fhir_server.base_url

    def route(handler: BaseHTTPRequestHandler) -> None:
        if "page=3" in handler.path:
            slow_json(page("o5"), 3.0)(handler)
        else:
            send_json(handler, page("o3", next_url=f"{base}/Observation?page=3"))

    fhir_server.routes["/fhir/Observation"] = route
    request = request_for(fhir_server)
    prefetched = page("o1", next_url=f"{base}/Observation?page=2")
    request = replace(request, prefetch={"platelets": prefetched, "inr": EMPTY})
    result = PrefetchResolver(request, TEMPLATES, settings(deadline_s=0.6)).resolve()
    assert [r["id"] for r in result.resources["platelets"]] == ["o1", "o3"]
    assert result.unavailable["platelets"].code is FailureCode.DEADLINE
    assert result.unavailable["platelets"].partial


def test_covered_pages_are_complete_and_next_is_not_followed(
    fhir_server: LocalFhirServer,
) -> None:
    base = fhir_server.base_url

    def route(handler: BaseHTTPRequestHandler) -> None:
        if "page=2" in handler.path:
            slow_json(page("o3"), 3.0)(handler)
        elif "777-3" in handler.path:
            send_json(handler, page("o1", "o2", next_url=f"{base}/Observation?page=2"))
        else:
            send_json(handler, EMPTY)

    fhir_server.routes["/fhir/Observation"] = route
    resolver = PrefetchResolver(request_for(fhir_server), TEMPLATES, settings(deadline_s=0.6))
    # The service says: once "o2" is at hand, nothing older is needed.
    result = resolver.resolve({"platelets": lambda rs: any(r["id"] == "o2" for r in rs)})
    assert [r["id"] for r in result.resources["platelets"]] == ["o1", "o2"]
    assert "platelets" not in result.unavailable
    assert not [path for path, _ in fhir_server.seen if "page=2" in path]  # never asked for
