"""Reads from the CDS Client's FHIR server: allow-list, bounded, never following redirects.

One process-wide thread pool runs every fallback fetch (one call's fetches in parallel), and
each pool thread keeps its own `requests.Session` so connections are reused. The access token
goes into the Authorization header and nowhere else: not in a log line, an error, or a reason.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from pydantic import ConfigDict, Field

from cds_hooks.json_body import decode_json
from cds_hooks.service import FailureCode

log = logging.getLogger("cds_hooks.fhir")

T = TypeVar("T")

FHIR_JSON = "application/fhir+json"
POOL_WORKERS = 32
_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class FhirFetchSettings:
    """How the service may read from a CDS Client's FHIR server (`[fhir]` in the config).

    The bounds are checked when a configuration is validated against this class (pydantic
    reads `__pydantic_config__` and the `Field` bounds); constructing it in code trusts the
    caller.
    """

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)

    # FHIR base URLs; "*" allows any server (demo only).
    allowed_servers: tuple[str, ...] = ()
    allow_http: bool = False
    deadline_s: Annotated[float, Field(ge=0.05, le=30)] = 1.5  # all fetches of one call
    request_timeout_s: Annotated[float, Field(ge=0.05, le=30)] = 1.0  # one HTTP request
    max_pages: Annotated[int, Field(ge=1, le=100)] = 5  # pages of one search, the first included
    max_response_bytes: Annotated[int, Field(ge=1024, le=1 << 30)] = 8 * 1024 * 1024
    # Distinct referenced resources (e.g. medicationReference) fetched in one call: bounds the
    # fan-out a request with many references can cause on the FHIR server and the pool.
    max_referenced_fetches: Annotated[int, Field(ge=1, le=500)] = 50


class FetchError(Exception):
    """A fetch that gave nothing usable: a failure code and a short reason for operators."""

    def __init__(self, code: FailureCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


_ENCODED_DOT = re.compile("%2e", re.IGNORECASE)
# A slash or backslash a server may decode into a segment separator, after our check.
_HIDDEN_SEPARATOR = re.compile(r"%2f|%5c|\\", re.IGNORECASE)


def resolve_dot_segments(path: str) -> str | None:
    """The path with its dot segments removed (RFC 3986 section 5.2.4), reading `%2e` as "."
    and `..;x` as ".." (as servlet containers do), so the path checked is the path a server
    resolves. None when no path can be trusted: one that climbs above the root, or holds an
    encoded slash or a backslash."""
    if _HIDDEN_SEPARATOR.search(path):
        return None
    resolved: list[str] = []
    for segment in _ENCODED_DOT.sub(".", path).split("/")[1:]:
        name = segment.split(";", 1)[0]
        if name == "..":
            if not resolved:
                return None
            resolved.pop()
        elif name != ".":
            resolved.append(segment)
    return "/" + "/".join(resolved) if resolved else ""


def normalize_base_url(url: str) -> str | None:
    """Canonical form of a FHIR base URL (lower-case scheme and host, no default port, dot
    segments resolved, no trailing slash); None when it is not a plain http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password or parts.query or parts.fragment:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    path = resolve_dot_segments(parts.path)
    if path is None:
        return None
    return f"{scheme}://{host}{path.rstrip('/')}"


def check_fhir_server(url: str, settings: FhirFetchSettings) -> str:
    """The normalised base URL if the service may call it; else FetchError with the reason."""
    base = normalize_base_url(url)
    if base is None:
        raise FetchError(FailureCode.SCOPE, "fhirServer is not a plain http(s) URL")
    if not settings.allow_http and not base.startswith("https://"):
        raise FetchError(FailureCode.NOT_HTTPS, "fhirServer is not https")
    if "*" in settings.allowed_servers:
        return base
    allowed = {normalize_base_url(s) for s in settings.allowed_servers}
    if base not in allowed:
        raise FetchError(FailureCode.SCOPE, "fhirServer is not in the allow-list")
    return base


def is_under_base(url: str, base: str) -> bool:
    """Whether an absolute URL is on the FHIR server `base` (same origin, path under it once
    its dot segments are resolved: `base/../admin` is not under `base`)."""
    normalized = normalize_base_url(url.split("?", 1)[0].split("#", 1)[0])
    if normalized is None:
        return False
    return normalized == base or normalized.startswith(base + "/")


class FhirClient:
    """Reads JSON resources from one FHIR server on behalf of one hook call."""

    def __init__(
        self, base_url: str, access_token: str | None, settings: FhirFetchSettings
    ) -> None:
        self.base_url = base_url  # normalised, allow-listed
        self._access_token = access_token
        self.settings = settings

    def __repr__(self) -> str:  # never show the token
        return f"FhirClient({self.base_url!r})"

    def url_for(self, relative: str) -> str:
        return f"{self.base_url}/{relative.lstrip('/')}"

    def get_json(self, url: str, deadline: float) -> dict[str, Any]:
        """GET an absolute URL under the base; a JSON object or FetchError. `deadline` is a
        `time.monotonic()` instant after which nothing more is read."""
        if not is_under_base(url, self.base_url):
            raise FetchError(FailureCode.SCOPE, "URL outside the FHIR server")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(FailureCode.DEADLINE, "deadline exceeded")
        timeout = min(self.settings.request_timeout_s, remaining)
        headers = {"Accept": FHIR_JSON}
        if self._access_token:
            headers["Authorization"] = f"Bearer {self._access_token}"
        try:
            with _session().get(
                url, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            ) as response:
                if 300 <= response.status_code < 400:
                    raise FetchError(
                        FailureCode.REDIRECT, f"HTTP {response.status_code} redirect not followed"
                    )
                if response.status_code != 200:
                    raise FetchError(FailureCode.HTTP_STATUS, f"HTTP {response.status_code}")
                body = self._read_capped(response, deadline)
        # A read timeout while streaming the body comes from urllib3 or the socket, not requests.
        except (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError):
            raise FetchError(FailureCode.TIMEOUT, "timed out") from None
        except OSError as exc:  # requests.RequestException, or a socket error under it
            # The exception text may hold the URL; the type is enough for operators.
            raise FetchError(
                FailureCode.CONNECT, f"connection failed ({type(exc).__name__})"
            ) from None
        try:
            value = decode_json(body)
        except (ValueError, RecursionError):  # NaN, Infinity, 1e999 included
            raise FetchError(FailureCode.INVALID, "answer is not JSON") from None
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise FetchError(FailureCode.INVALID, "answer is not a FHIR resource")
        return value

    def _read_capped(self, response: requests.Response, deadline: float) -> bytes:
        cap = self.settings.max_response_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            raise FetchError(FailureCode.TOO_LARGE, f"answer larger than {cap} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            # read1 returns what has arrived (at least one byte), so a server dripping bytes
            # cannot hold this pool thread past the deadline.
            chunk = response.raw.read1(_CHUNK_BYTES, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > cap:
                raise FetchError(FailureCode.TOO_LARGE, f"answer larger than {cap} bytes")
            if time.monotonic() > deadline:
                raise FetchError(FailureCode.DEADLINE, "deadline exceeded")
            chunks.append(chunk)
        return b"".join(chunks)


def next_link(bundle: Mapping[str, Any], current_url: str | None = None) -> str | None:
    """The Bundle's `next` link (made absolute against `current_url`), if any."""
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and url.strip():
                return urljoin(current_url, url.strip()) if current_url else url.strip()
    return None


def run_parallel(
    tasks: Mapping[str, Callable[[], T]], deadline: float
) -> dict[str, T | FetchError]:
    """Run tasks on the shared pool; each result, or a FetchError for a failed or late task.

    Returns by `deadline` at the latest; late tasks are cancelled if not started, and finish in
    the background otherwise (each bounded by its own request timeouts).
    """
    if not tasks:
        return {}
    pool = _executor()
    futures: dict[Future[T], str] = {pool.submit(task): name for name, task in tasks.items()}
    done, late = wait(futures, timeout=max(0.0, deadline - time.monotonic()))
    results: dict[str, T | FetchError] = {}
    for future in late:
        future.cancel()
        results[futures[future]] = FetchError(FailureCode.DEADLINE, "deadline exceeded")
    for future in done:
        name = futures[future]
        try:
            results[name] = future.result()
        except FetchError as exc:
            results[name] = exc
        except Exception as exc:  # a bug in a task must not fail the hook call
            log.exception("FHIR fetch task %r failed", name)
            results[name] = FetchError(
                FailureCode.INTERNAL, f"internal error ({type(exc).__name__})"
            )
    return results


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_thread_state = threading.local()


def _executor() -> ThreadPoolExecutor:
    """The process-wide pool, created lazily (so after a gunicorn fork, never before)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=POOL_WORKERS, thread_name_prefix="fhir-fetch")
            _pool_pid = os.getpid()
        return _pool


def _session() -> requests.Session:
    session = getattr(_thread_state, "session", None)
    if session is None:
        session = requests.Session()
        # No proxies or .netrc credentials from the environment: a netrc entry would replace
        # the Authorization header, and the token must only ever go to the FHIR server.
        session.trust_env = False
        _thread_state.session = session
    return session
