"""Hostile input on every endpoint of the live service: a 4xx (never a 5xx), and the service
answers the next request (discovery 200 after each)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import requests
from support.reliability_support import SELECT_SERVICE, SIGN_SERVICE, LiveService, small_request

pytestmark = pytest.mark.e2e

JSON = "application/json"
POST_PATHS = (
    f"/cds-services/{SELECT_SERVICE}",
    f"/cds-services/{SIGN_SERVICE}",
    f"/cds-services/{SELECT_SERVICE}/feedback",
    f"/cds-services/{SIGN_SERVICE}/feedback",
)
GET_PATHS = ("/cds-services", "/healthz", "/readyz", "/metrics", "/openapi.json")
TEN_MB = 10 * 1024 * 1024
# Stray bytes, a truncated sequence and an encoded surrogate (UTF-8 forbids all three).
INVALID_UTF8 = b'{"hook": "order-select\xff\xfe\xc3\x28", "x": "\xed\xa0\x80"}'


def small_request_with_platelets(value_literal: str) -> bytes:
    """A valid small order-select body whose first platelet value is the given JSON literal."""
    text = json.dumps(small_request())
    marker = '"value": '
    platelets_at = text.index('"777-3"')
    value_at = text.index(marker, platelets_at) + len(marker)
    value_end = min(text.index(c, value_at) for c in ",}" if c in text[value_at:])
    return (text[:value_at] + value_literal + text[value_end:]).encode()


def feedback_with_number(value_literal: str) -> bytes:
    return (
        '{"feedback": [{"card": "5f0e7d3c-3c1a-4c52-9a53-5b7e1b7a0d11", "outcome": "accepted", '
        '"outcomeTimestamp": "2026-01-01T00:00:00Z", "acceptedSuggestions": [{"id": "a"}], '
        f'"extension": {{"n": {value_literal}}}}}]}}'
    ).encode()


def body_for(path: str, value_literal: str) -> bytes:
    if path.endswith("/feedback"):
        return feedback_with_number(value_literal)
    if path.endswith(SIGN_SERVICE):
        return small_request_with_platelets(value_literal).replace(
            b'"order-select"', b'"order-sign"', 1
        )
    return small_request_with_platelets(value_literal)


# name -> (content type, body builder for a path)
HOSTILE_BODIES: dict[str, tuple[str, Callable[[str], bytes]]] = {
    "deep-array-nesting": (JSON, lambda _: b"[" * 100_000 + b"]" * 100_000),
    "deep-object-nesting": (JSON, lambda _: b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    "deep-nesting-inside-a-request": (
        JSON,
        lambda _: (
            b'{"hook": "order-select", "extension": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        ),
    ),
    "10-mb-body": (JSON, lambda _: b'{"pad": "' + b"x" * TEN_MB + b'"}'),
    "invalid-utf8": (JSON, lambda _: INVALID_UTF8),
    "utf16-body": (JSON, lambda _: '{"hook": "order-select"}'.encode("utf-16")),
    "huge-array": (JSON, lambda _: b'{"feedback": [' + b"0," * 500_000 + b'0], "hook": 0}'),
    "huge-array-of-strings": (
        JSON,
        lambda _: (
            b'{"hook": "order-select", "hookInstance": "x", "context": {"patientId": "p", '
            b'"draftOrders": {"resourceType": "Bundle", "entry": []}, "selections": ['
            + b'"ServiceRequest/none",' * 60_000
            + b'"ServiceRequest/none"]}, "feedback": [{}]}'
        ),
    ),
    "number-1e999": (JSON, lambda path: body_for(path, "1e999")),
    "number-minus-1e999": (JSON, lambda path: body_for(path, "-1e999")),
    "integer-10-pow-400": (JSON, lambda path: body_for(path, "1" + "0" * 400)),
    "integer-10-pow-5000": (JSON, lambda path: body_for(path, "1" + "0" * 5000)),
    "nan": (JSON, lambda path: body_for(path, "NaN")),
    "infinity": (JSON, lambda path: body_for(path, "-Infinity")),
    "empty-body": (JSON, lambda _: b""),
    "json-array-not-object": (JSON, lambda _: b"[]"),
    "json-string-not-object": (JSON, lambda _: b'"order-select"'),
    "truncated-json": (JSON, lambda path: body_for(path, "1")[:-7]),
    "nul-bytes": (JSON, lambda _: b'{"hook": "order-\x00select"}\x00\x00'),
    "text-plain": ("text/plain", lambda path: body_for(path, "1")),
    "form-urlencoded": ("application/x-www-form-urlencoded", lambda _: b"hook=order-select&a=b"),
    "multipart": (
        "multipart/form-data; boundary=xyz",
        lambda _: b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n{}\r\n--xyz--\r\n',
    ),
    "xml": ("application/xml", lambda _: b"<hook>order-select</hook>"),
    "bogus-content-type": ("application/json; charset=klingon", lambda _: b"\xff{"),
}


def assert_still_answering(service: LiveService) -> None:
    response = requests.get(f"{service.base_url}/cds-services", timeout=10)
    assert response.status_code == 200, f"discovery after hostile input: {response.status_code}"
    assert response.json()["services"]


def send(service: LiveService, method: str, path: str, content_type: str, body: bytes) -> int:
    # A fresh connection each time: a 413 may close it before the body is fully sent.
    with requests.Session() as session:
        try:
            response = session.request(
                method,
                f"{service.base_url}{path}",
                data=body,
                headers={"Content-Type": content_type, "Accept": JSON},
                timeout=30,
            )
        except requests.ConnectionError as exc:
            pytest.fail(f"{method} {path}: connection error instead of an answer: {exc}")
        return response.status_code


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_body_is_a_4xx_and_the_service_keeps_answering(
    live_service: LiveService, path: str, name: str
) -> None:
    content_type, build = HOSTILE_BODIES[name]

    status = send(live_service, "POST", path, content_type, build(path))

    assert 400 <= status < 500, f"POST {path} with {name}: HTTP {status}\n{live_service.log_tail()}"
    if name == "10-mb-body":
        assert status == 413
    assert_still_answering(live_service)


@pytest.mark.parametrize("path", GET_PATHS)
@pytest.mark.parametrize("name", ["deep-array-nesting", "10-mb-body", "invalid-utf8", "xml"])
def test_hostile_body_on_a_get_is_never_a_5xx(
    live_service: LiveService, path: str, name: str
) -> None:
    content_type, build = HOSTILE_BODIES[name]

    status = send(live_service, "GET", path, content_type, build(path))

    assert status < 500, f"GET {path} with {name}: HTTP {status}\n{live_service.log_tail()}"
    assert_still_answering(live_service)


@pytest.mark.parametrize(
    "method, path, headers",
    [
        ("GET", "/cds-services/" + "x" * 20_000, {}),
        ("POST", "/cds-services/" + "%ff%fe" * 100, {}),
        ("POST", f"/cds-services/{SELECT_SERVICE}/feedback/extra", {}),
        ("GET", "/cds-services?" + "a=1&" * 3000, {}),
        ("GET", "/cds-services", {"X-Huge": "x" * 100_000}),
        ("GET", "/cds-services", {f"X-H{i}": "v" for i in range(200)}),
        ("POST", f"/cds-services/{SELECT_SERVICE}", {"Content-Length": "-1"}),
        ("DELETE", f"/cds-services/{SELECT_SERVICE}", {}),
        ("PUT", "/cds-services", {}),
    ],
    ids=[
        "long-path",
        "invalid-utf8-path",
        "unknown-sub-path",
        "many-query-parameters",
        "huge-header",
        "many-headers",
        "negative-content-length",
        "delete",
        "put",
    ],
)
def test_hostile_request_line_and_headers_are_a_4xx(
    live_service: LiveService, method: str, path: str, headers: dict[str, str]
) -> None:
    body = json.dumps(small_request()).encode() if method == "POST" else None
    with requests.Session() as session:
        request = requests.Request(method, f"{live_service.base_url}{path}", data=body)
        prepared = session.prepare_request(request)
        prepared.headers.update({"Content-Type": JSON, **headers})
        try:
            response = session.send(prepared, timeout=30)
        except requests.ConnectionError as exc:
            pytest.fail(f"{method} {path[:60]}: connection error instead of an answer: {exc}")

    assert 400 <= response.status_code < 500, (
        f"{method} {path[:60]}: HTTP {response.status_code}\n{live_service.log_tail()}"
    )
    assert_still_answering(live_service)


def test_garbage_accept_language_falls_back_to_the_default_locale(
    live_service: LiveService,
) -> None:
    response = requests.post(
        f"{live_service.base_url}/cds-services/{SELECT_SERVICE}",
        data=json.dumps(small_request()).encode(),
        headers={"Content-Type": JSON, "Accept-Language": "é;q=NaN," * 600},
        timeout=30,
    )

    assert response.status_code == 200, response.text[:300]
    assert response.json()["cards"]
