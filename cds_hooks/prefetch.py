"""Prefetch resolution: each key from the request, else from the FHIR server, in parallel.

Templates are rendered by `cds_hooks.templates`, Bundles read by `cds_hooks.bundles`,
references parsed by `cds_hooks.references`; this module decides and fetches.

Per key, as CDS Hooks 2.0 defines it:
* the key holds a resource → use it (a Bundle → its entry resources);
* the key is `null` → the client has no data: known empty, never refetched;
* the key is absent, holds an OperationOutcome (or a Bundle carrying an error outcome), or a
  Bundle with a `next` link → fetch from `fhirServer` (following `next` up to `max_pages`),
  only with the request's `fhirAuthorization` token: never anonymously (CDS Hooks 2.0, "CDS
  Services present a valid access token to the FHIR server with each API call").
Every fetch of one call runs in parallel under one deadline; a key that cannot be obtained is
reported in `ResolvedPrefetch.unavailable` and never fails the call. Data obtained is never
discarded: when the rest of a search cannot be fetched (no server, a failure, more than
`max_pages` pages, the deadline passing while later pages are on their way), the pages at hand
stay in `resources` and the key is ALSO in `unavailable`, so the rules use what is known and
DATA-UNAVAILABLE reports the gap. A search the service says is covered (`Coverage`, per key:
e.g. sorted newest first and already older than what it reads) is complete without its other
pages. Every gap carries a `FailureCode`. Then references named by `reference_fields` (e.g.
`medicationReference`) are resolved from what is already at hand, or fetched, within what is
left of the same deadline.

CDS Hooks 3.0: a template may hold relative dates (`{{today() - 30 days}}`), rendered on the
day `resolve` is given (the site's); and nothing is asked of the FHIR server that the access
token's SMART scope (`fhirAuthorization.scope`, see `cds_hooks.scopes`) does not cover: such a
key or reference is unavailable with `FailureCode.TOKEN_SCOPE`. A token without a scope is used
as it is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from cds_hooks.bundles import bundle_resources, has_error_outcome, read_entries
from cds_hooks.fhir_client import (
    FetchError,
    FhirClient,
    FhirFetchSettings,
    check_fhir_server,
    is_under_base,
    next_link,
    run_parallel,
)
from cds_hooks.references import all_resources, parse_reference
from cds_hooks.scopes import ResourceScope, for_patient, parse_scopes, permits
from cds_hooks.service import (
    Coverage,
    FailureCode,
    HookRequest,
    ResolvedPrefetch,
    Unavailable,
)
from cds_hooks.templates import TemplateError, render_template

log = logging.getLogger("cds_hooks.prefetch")

# A read the access token does not cover: never asked of the FHIR server.
_NOT_PERMITTED = FetchError(FailureCode.TOKEN_SCOPE, "not permitted by the access token's scope")


@dataclass(frozen=True)
class _Fetch:
    """What to fetch for one key: a URL (template or `next` link) and entries already held."""

    url: str
    expected_type: str  # "Bundle" for a search, else the resource type of a read
    entries: tuple[dict[str, Any], ...] = ()  # pages this fetch continues from
    pages_held: int = 0
    # The prefetched first page of a paged Bundle: kept if the fetch gives nothing.
    prefetched_page: tuple[dict[str, Any], ...] | None = None

    def outcome_of_failure(self, error: FetchError) -> _Partial | Unavailable:
        """What is left of the key when the fetch gave nothing: the prefetched page, if any."""
        return _first_page_or_gap(self.prefetched_page, error)


@dataclass(frozen=True)
class _Partial:
    """Part of a key's resources (the pages obtained), and why the rest is missing."""

    resources: list[dict[str, Any]]
    gap: Unavailable


class _Progress:
    """The resources a search task has obtained so far, page by page. The task goes on in the
    background after the deadline; the resolver reads what had arrived by then, so pages
    fetched before the deadline are used, never thrown away."""

    def __init__(self, fetch: _Fetch) -> None:
        self._lock = threading.Lock()
        self._resources = list(fetch.entries)
        self._pages = fetch.pages_held

    def add_page(self, resources: list[dict[str, Any]]) -> None:
        with self._lock:
            self._resources.extend(resources)
            self._pages += 1

    def snapshot(self) -> tuple[list[dict[str, Any]], int]:
        """A copy of the resources so far, and how many pages they come from."""
        with self._lock:
            return list(self._resources), self._pages


def _gap(error: FetchError) -> Unavailable:
    return Unavailable(error.code, error.reason)


def _first_page_or_gap(
    prefetched_page: tuple[dict[str, Any], ...] | None, error: FetchError
) -> _Partial | Unavailable:
    if prefetched_page is None:
        return _gap(error)
    reason = f"only the first page of the prefetch: {error.reason}"
    return _Partial(list(prefetched_page), Unavailable(error.code, reason, partial=True))


def _pages_obtained(resources: list[dict[str, Any]], pages: int, error: FetchError) -> _Partial:
    shown = "page" if pages == 1 else f"{pages} pages"
    reason = f"only the first {shown}: {error.reason}"
    return _Partial(resources, Unavailable(error.code, reason, partial=True))


def _after_failure(fetch: _Fetch, progress: _Progress, error: FetchError) -> _Partial | Unavailable:
    """What a key keeps when its task failed or was still running at the deadline: the pages
    it had obtained by then, else the prefetched page. (Pages that cover the key never get
    here: the task returns as soon as they do.)"""
    obtained, pages = progress.snapshot()
    if pages == fetch.pages_held:
        return fetch.outcome_of_failure(error)
    return _pages_obtained(obtained, pages, error)


def _record(
    key: str,
    outcome: list[dict[str, Any]] | _Partial | Unavailable,
    resources: dict[str, list[dict[str, Any]]],
    unavailable: dict[str, Unavailable],
) -> None:
    if isinstance(outcome, _Partial):  # partial data: in both
        resources[key] = outcome.resources
        unavailable[key] = outcome.gap
    elif isinstance(outcome, Unavailable):
        unavailable[key] = outcome
    else:
        resources[key] = outcome


class PrefetchResolver:
    """`cds_hooks.service.PrefetchSource` for one hook call: resolves once, on first use."""

    def __init__(
        self,
        request: HookRequest,
        templates: Mapping[str, str],
        settings: FhirFetchSettings,
        reference_fields: Sequence[str] = ("medicationReference",),
    ) -> None:
        self._request = request
        self._templates = templates
        self._settings = settings
        self._reference_fields = tuple(reference_fields)
        self._lock = threading.Lock()
        self._result: ResolvedPrefetch | None = None
        self._coverage: Mapping[str, Coverage] = {}
        self._keys: frozenset[str] | None = None  # None: every key of the templates
        self._today: date | None = None
        # What the access token covers; None: the token names no scope, used as it is.
        authorization = request.fhir_authorization
        scope = authorization.scope.strip() if authorization else ""
        self._scopes: tuple[ResourceScope, ...] | None = None
        if authorization is not None and scope:
            self._scopes = for_patient(
                parse_scopes(scope), authorization.patient, request.patient_id
            )
        self._client: FhirClient | None = None
        self._client_refusal: FetchError | None = None
        self.fetch_count = 0  # HTTP-level fetch tasks started (for logs and tests)

    @property
    def resolved(self) -> ResolvedPrefetch | None:
        """The result if `resolve()` has run, else None (it is never run just for a log)."""
        return self._result

    def resolve(
        self,
        coverage: Mapping[str, Coverage] | None = None,
        keys: Collection[str] | None = None,
        today: date | None = None,
    ) -> ResolvedPrefetch:
        with self._lock:
            if self._result is None:
                self._coverage = coverage or {}
                self._today = today
                self._keys = None if keys is None else frozenset(keys)
                self._result = self._resolve()
            return self._result

    def _covered(self, key: str, resources: list[dict[str, Any]]) -> bool:
        """Whether the pages of `key` at hand are all the service needs (its `Coverage`)."""
        coverage = self._coverage.get(key)
        return coverage is not None and coverage(resources)

    def _resolve(self) -> ResolvedPrefetch:
        deadline = time.monotonic() + self._settings.deadline_s
        resources: dict[str, list[dict[str, Any]]] = {}
        unavailable: dict[str, Unavailable] = {}
        to_fetch: dict[str, _Fetch] = {}
        for key, template in self._templates.items():
            if self._keys is not None and key not in self._keys:
                continue  # not read by this call: neither used nor fetched nor reported missing
            outcome = self._from_prefetch(key, template)
            if isinstance(outcome, _Fetch):
                to_fetch[key] = outcome
            else:
                _record(key, outcome, resources, unavailable)

        client = self._fhir_client() if to_fetch else None
        if client is not None:  # a _Fetch is only planned once the client exists
            self.fetch_count += len(to_fetch)
            progress = {key: _Progress(fetch) for key, fetch in to_fetch.items()}
            tasks = {
                key: partial(
                    _fetch_key,
                    client,
                    fetch,
                    deadline,
                    self._settings.max_pages,
                    self._coverage.get(key),
                    progress[key],
                )
                for key, fetch in to_fetch.items()
            }
            for key, result in run_parallel(tasks, deadline).items():
                if isinstance(result, FetchError):
                    result = _after_failure(to_fetch[key], progress[key], result)
                _record(key, result, resources, unavailable)

        referenced, unresolved = self._resolve_references(resources, deadline)
        for key, gap in unavailable.items():
            log.info("prefetch key %s unavailable (%s): %s", key, gap.code, gap.reason)
        for reference, gap in unresolved.items():
            log.info("reference %s unresolved (%s): %s", reference, gap.code, gap.reason)
        return ResolvedPrefetch(
            resources=resources,
            unavailable=unavailable,
            referenced=referenced,
            unresolved=unresolved,
            fetched=tuple(to_fetch) if client is not None else (),
        )

    def _from_prefetch(
        self, key: str, template: str
    ) -> list[dict[str, Any]] | _Partial | Unavailable | _Fetch:
        """Resources at hand, or a reason the key is unavailable, or partial data and the
        reason for the rest, or what to fetch."""
        prefetch = self._request.prefetch
        if key in prefetch and prefetch[key] is None:
            return []  # the client says: no data
        value = prefetch.get(key)
        held: tuple[dict[str, Any], ...] | None = None  # a prefetched first page
        next_url: str | None = None
        resource_type = value.get("resourceType") if isinstance(value, dict) else None
        if resource_type == "Bundle":
            entries, has_error = read_entries(value)
            if not has_error:
                next_url = next_link(value)
                if next_url is None or self._covered(key, entries):
                    return entries
                held = tuple(entries)
        elif isinstance(resource_type, str) and resource_type != "OperationOutcome":
            return [value]
        # Absent, malformed, an error outcome, or a first page: the FHIR server must answer.
        try:
            relative = render_template(template, self._request.context, self._today)
        except TemplateError as exc:
            error = FetchError(FailureCode.INVALID, f"template not renderable: {exc}")
            return _first_page_or_gap(held, error)
        if not self._permitted(relative):
            return _first_page_or_gap(held, _NOT_PERMITTED)
        client = self._fhir_client()
        if client is None:
            return _first_page_or_gap(held, self._refusal())
        expected = _expected_type(relative)
        if held is not None and next_url is not None and is_under_base(next_url, client.base_url):
            return _Fetch(
                url=next_url,
                expected_type="Bundle",
                entries=held,
                pages_held=1,
                prefetched_page=held,
            )
        # A first page whose `next` link is elsewhere: the whole search again, from this server.
        return _Fetch(url=client.url_for(relative), expected_type=expected, prefetched_page=held)

    def _permitted(self, relative: str) -> bool:
        """Whether the request's access token covers this read (always, without a scope)."""
        return self._scopes is None or permits(self._scopes, relative)

    def _refusal(self) -> FetchError:
        """Why there is no FHIR client for this call (after `_fhir_client` returned None)."""
        return self._client_refusal or FetchError(FailureCode.NO_SERVER, "no FHIR server")

    def _fhir_client(self) -> FhirClient | None:
        if self._client is None and self._client_refusal is None:
            server = self._request.fhir_server
            if not server:
                self._client_refusal = FetchError(
                    FailureCode.NO_SERVER, "no fhirServer in the request"
                )
                return None
            authorization = self._request.fhir_authorization
            token = authorization.access_token.strip() if authorization else ""
            if not token:
                # CDS Hooks 2.0: a service presents a valid access token with each FHIR call.
                self._client_refusal = FetchError(
                    FailureCode.NO_AUTHORIZATION,
                    "no fhirAuthorization: the service does not call the FHIR server anonymously",
                )
                log.info("no fhirAuthorization in the request: the FHIR server is not called")
                return None
            try:
                base = check_fhir_server(server, self._settings)
            except FetchError as exc:
                self._client_refusal = exc
                log.warning("FHIR server refused (%s): %s", exc.code, exc.reason)
                return None
            self._client = FhirClient(base, token, self._settings)
        return self._client

    def _resolve_references(
        self, resources: Mapping[str, list[dict[str, Any]]], deadline: float
    ) -> tuple[dict[str, dict[str, Any]], dict[str, Unavailable]]:
        if not self._reference_fields:
            return {}, {}
        scanned = list(all_resources(resources, self._request.context))
        referenced: dict[str, dict[str, Any]] = {}
        unresolved: dict[str, Unavailable] = {}
        references: list[str] = []  # "Type/id" of each reference, in the order met
        for resource in scanned:
            for field_name in self._reference_fields:
                value = resource.get(field_name)
                reference = value.get("reference") if isinstance(value, dict) else None
                if not isinstance(reference, str) or reference.startswith("#"):
                    continue  # no reference, or a contained resource: the service reads it
                parsed = parse_reference(reference, self._request.fhir_server)
                if parsed is None:
                    unresolved[reference[:200]] = Unavailable(
                        FailureCode.SCOPE, "reference not on the FHIR server"
                    )
                else:
                    references.append(parsed)
        if not references:  # most calls: no index of every resource by "Type/id" to build
            return referenced, unresolved

        at_hand: dict[str, dict[str, Any]] = {}
        for resource in scanned:
            resource_type, resource_id = resource.get("resourceType"), resource.get("id")
            if isinstance(resource_type, str) and isinstance(resource_id, str):
                at_hand[f"{resource_type}/{resource_id}"] = resource
        wanted: dict[str, str] = {}  # "Type/id" -> resource type expected
        for parsed in references:
            if parsed in at_hand:
                referenced[parsed] = at_hand[parsed]
            elif not self._permitted(parsed):
                unresolved[parsed] = _gap(_NOT_PERMITTED)
            else:
                wanted[parsed] = parsed.split("/", 1)[0]
        if not wanted:
            return referenced, unresolved

        client = self._fhir_client()
        if client is None:
            for reference in wanted:
                unresolved[reference] = _gap(self._refusal())
            return referenced, unresolved
        if time.monotonic() >= deadline:
            for reference in wanted:
                unresolved[reference] = Unavailable(FailureCode.DEADLINE, "deadline exceeded")
            return referenced, unresolved
        cap = self._settings.max_referenced_fetches
        too_many = f"more than {cap} referenced resources to fetch in one call"
        for reference in list(wanted)[cap:]:  # in the order met: deterministic
            unresolved[reference] = Unavailable(FailureCode.TOO_LARGE, too_many)
            del wanted[reference]
        self.fetch_count += len(wanted)
        tasks = {
            reference: partial(_fetch_read, client, client.url_for(reference), rtype, deadline)
            for reference, rtype in wanted.items()
        }
        for reference, result in run_parallel(tasks, deadline).items():
            if isinstance(result, FetchError):
                unresolved[reference] = _gap(result)
            else:
                referenced[reference] = result
        return referenced, unresolved


def _expected_type(relative: str) -> str:
    path = relative.split("?", 1)[0].strip("/")
    segments = path.split("/")
    # "Patient/123" is a read; "Observation" or "Observation/_search"-like is a search.
    if len(segments) == 2 and not segments[1].startswith("_"):
        return segments[0]
    return "Bundle"


def _fetch_read(
    client: FhirClient, url: str, expected_type: str, deadline: float
) -> dict[str, Any]:
    resource = client.get_json(url, deadline)
    found = resource["resourceType"]
    if found != expected_type:
        raise FetchError(FailureCode.INVALID, f"expected {expected_type}, got {found}"[:120])
    return resource


def _fetch_key(
    client: FhirClient,
    fetch: _Fetch,
    deadline: float,
    max_pages: int,
    coverage: Coverage | None,
    progress: _Progress,
) -> list[dict[str, Any]] | _Partial:
    """A key's resources; `_Partial` when pages were fetched but not the last one; FetchError
    when this task fetched nothing usable (the caller falls back to a prefetched page). Each
    page is recorded in `progress` as it arrives (read by the caller at the deadline); a
    search is complete once `coverage` says the pages so far are enough."""
    if fetch.expected_type != "Bundle":
        return [_fetch_read(client, fetch.url, fetch.expected_type, deadline)]

    collected = list(fetch.entries)
    pages = fetch.pages_held
    seen: set[str] = set()
    url: str | None = fetch.url
    while url is not None:
        try:
            if url in seen:
                raise FetchError(FailureCode.INVALID, "next link loop")
            seen.add(url)
            if pages >= max_pages:
                raise FetchError(FailureCode.TOO_LARGE, f"more than {max_pages} pages")
            bundle = _fetch_search_page(client, url, deadline)
        except FetchError as exc:
            return _stopped_search(collected, pages, fetch.pages_held, exc)
        page = bundle_resources(bundle)
        pages += 1
        collected.extend(page)
        progress.add_page(page)
        if coverage is not None and coverage(collected):
            return collected
        url = next_link(bundle, url)
        if url is not None and not is_under_base(url, client.base_url):
            error = FetchError(FailureCode.SCOPE, "next link outside the FHIR server")
            return _stopped_search(collected, pages, fetch.pages_held, error)
    return collected


def _fetch_search_page(client: FhirClient, url: str, deadline: float) -> dict[str, Any]:
    bundle = client.get_json(url, deadline)
    if bundle["resourceType"] != "Bundle":
        raise FetchError(
            FailureCode.INVALID, f"expected Bundle, got {bundle['resourceType']}"[:120]
        )
    if has_error_outcome(bundle):
        raise FetchError(FailureCode.HTTP_STATUS, "search answered with an error OperationOutcome")
    return bundle


def _stopped_search(
    collected: list[dict[str, Any]], pages: int, pages_held: int, error: FetchError
) -> _Partial:
    """The pages obtained before `error`; raises it if this task obtained no page."""
    if pages == pages_held:
        raise error
    return _pages_obtained(collected, pages, error)
