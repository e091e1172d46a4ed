"""The contract between the protocol layer (this package) and a CDS service that plugs into it.

The blueprint parses and validates the HTTP request into a `HookRequest`, hands the service a
`PrefetchSource` (resolved lazily, so a request that is out of the service's scope costs no FHIR
call), and serialises the `Evaluation` the service returns. The service never sees Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Protocol

from pydantic import ConfigDict, Field

from cds_hooks.cards import CdsResponse, Text
from cds_hooks.discovery import DiscoveredService
from cds_hooks.draft_orders import draft_orders_in_scope


@dataclass(frozen=True)
class FhirAuthorization:
    """The call's `fhirAuthorization` (CDS Hooks 2.0), as on the wire: the parser builds it
    (cds_hooks/request.py) and the OpenAPI schema is generated from it."""

    __pydantic_config__ = ConfigDict(extra="allow")

    access_token: Text = field(repr=False)  # never printed, never logged
    # OAuth 2.0 token types are case-insensitive (RFC 6749 5.1); the parser writes "Bearer".
    token_type: Annotated[str, Field(pattern="^[Bb][Ee][Aa][Rr][Ee][Rr]$")]
    expires_in: Annotated[int, Field(ge=0)]
    scope: Text
    subject: Text
    patient: str | None = None


@dataclass(frozen=True)
class HookRequest:
    """A validated hook call. `prefetch` is as sent: a key may be absent, or map to None."""

    service_id: str
    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any]
    fhir_server: str | None = None
    fhir_authorization: FhirAuthorization | None = None

    # Draft orders in scope by resource type, computed once per call (orders_in_scope).
    _scope: dict[str, tuple[dict[str, Any], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def patient_id(self) -> str | None:
        value = self.context.get("patientId")
        return value if isinstance(value, str) and value else None

    def orders_in_scope(self, resource_type: str) -> tuple[dict[str, Any], ...]:
        """The draft orders of `resource_type` the call is about (CDS Hooks order-select and
        order-sign): on order-select those named by `context.selections`, or every one when
        `selections` is absent (it is optional); on order-sign every draft order, whatever its
        status. Drafts are raw JSON, never rejected by FHIR validation: a draft is incomplete by
        nature, and dropping it would silently switch every check off. Other hooks: none."""
        if resource_type not in self._scope:
            self._scope[resource_type] = draft_orders_in_scope(
                self.hook, self.context, resource_type
            )
        return self._scope[resource_type]


class FailureCode(StrEnum):
    """What kind of failure left (part of) a prefetch key unobtained: a fixed, short code for
    the log, the metric and the words of the card (the reason text is for operators only)."""

    TIMEOUT = "timeout"  # one request took longer than `request_timeout_s`
    CONNECT = "connect"  # the server could not be reached
    HTTP_STATUS = "http-status"  # an HTTP error status, or an error OperationOutcome
    REDIRECT = "redirect"  # a 3xx: redirects are never followed
    NOT_HTTPS = "not-https"  # fhirServer is http and `allow_http` is off
    TOO_LARGE = "too-large"  # an answer over the byte cap, more pages or references than read
    INVALID = "invalid"  # an answer (or a request element) that is not what FHIR says
    DEADLINE = "deadline"  # the call's one deadline for every fetch passed
    SCOPE = "scope"  # a server or URL the service may not call (allow-list, other host)
    # The request's access token does not cover the read (`fhirAuthorization.scope`).
    TOKEN_SCOPE = "token-scope"
    NO_AUTHORIZATION = "no-authorization"  # the request gave no `fhirAuthorization` token
    NO_SERVER = "no-server"  # the request named no `fhirServer`
    INTERNAL = "internal"  # a defect of the service itself


@dataclass(frozen=True)
class Unavailable:
    """Why a prefetch key (or a reference) could not be obtained, or only in part.

    `code` is the kind of failure (for the log, the metric and the card's words); `reason` a
    short text for operators (never a token, never a URL); `partial` says that the pages
    obtained before the failure are in `ResolvedPrefetch.resources`.
    """

    code: FailureCode
    reason: str
    partial: bool = False

    def __str__(self) -> str:
        return self.reason


# Whether the resources of a paged search obtained so far are all the service needs from it
# (e.g. a search sorted newest first whose oldest entry is already older than what the service
# reads). The service says what "enough" means per key; this package knows nothing clinical.
Coverage = Callable[[Sequence[Mapping[str, Any]]], bool]


@dataclass(frozen=True)
class ResolvedPrefetch:
    """The outcome of prefetch resolution.

    `resources[key]` is the list of resources for a key: a Bundle's entry resources (all pages),
    or a one-element list for a single resource, or [] when the EHR said the data is empty
    (prefetch value `null`) or the search found nothing. A key that could not be obtained is not
    in `resources` but in `unavailable`: its failure code and a short reason for operators
    (never a token). A key may be in both (`partial`): e.g. the prefetched first page of a search
    whose other pages could not be fetched, the first `max_pages` pages, or the pages obtained
    before the deadline. A search the service's `Coverage` says is covered is complete, in
    `resources` only, whatever its `next` link. Data obtained is never dropped:
    the rules use what is in `resources`, and DATA-UNAVAILABLE reports the gap named in
    `unavailable` (so rules that fire on the *absence* of data stay quiet for that category).
    `referenced` maps "Type/id" to the resources that another resource references (e.g. a
    MedicationRequest's medicationReference), found among the resources at hand or fetched;
    contained references ("#id") are not in it. `unresolved` maps a reference that could not
    be resolved to why (the referenced resource is unknown: treat it as missing data).
    """

    resources: Mapping[str, list[dict[str, Any]]]
    unavailable: Mapping[str, Unavailable]
    referenced: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    unresolved: Mapping[str, Unavailable] = field(default_factory=dict)
    fetched: tuple[str, ...] = ()  # keys asked of the FHIR server (for metrics and logs)


class PrefetchSource(Protocol):
    def resolve(
        self,
        coverage: Mapping[str, Coverage] | None = None,
        keys: Collection[str] | None = None,
        today: date | None = None,
    ) -> ResolvedPrefetch:
        """Resolve the prefetch keys (at most once per call; later calls return the same).

        `today` is the site's day: the value of `today()` in a template's relative-date token
        (CDS Hooks 3.0 "Simpler FHIRPath"); a template with such a token and no `today` cannot
        be rendered.

        `coverage[key]`, when given, says when the pages of that key's search obtained so far
        are enough: a `next` link is then not followed and the key is complete. `keys`, when
        given, are the only keys this call reads: the others are neither fetched nor reported.
        """
        ...


@dataclass(frozen=True)
class Evaluation:
    """What a service returns: the response, and the service's own audit record (or None when
    there is nothing to audit), handed as it is to the blueprint's `on_evaluated`. The protocol
    layer never reads it; it must never hold a token or a name.
    """

    response: CdsResponse
    audit: object | None = None


# The CDS Hooks version this package implements, advertised in discovery. CDS Hooks 3.0.0
# change log (HL7/cds-hooks input/pagecontent/changes.md, https://cds-hooks.hl7.org changes
# page): "Recommend CDS Services advertise their version of CDS Hooks" (index.html#response),
# a `version` element of each service in the discovery response. A 2.0 client ignores it.
CDS_HOOKS_VERSION = "3.0.0"

# `hookVersion` of each hook as its published definition states it (HL7/cds-hooks-library,
# input/pagecontent/<hook>.md, "Metadata" table: order-select, order-sign, patient-view and
# appointment-book all give `hookVersion | 1.0`, change log "1.0 | Initial Release").
HOOK_VERSIONS: Mapping[str, str] = {
    "order-select": "1.0",
    "order-sign": "1.0",
    "patient-view": "1.0",
    "appointment-book": "1.0",
}


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]  # the templates discovery offers the CDS Client
    usage_requirements: str | None = None
    # The templates the service's own FHIR fallback renders when a key is missing; None: the
    # advertised ones. They may use tokens the service evaluates itself (e.g. `today()`) that
    # not every client understands, so they can differ from what discovery offers.
    fallback_prefetch: Mapping[str, str] | None = None

    @property
    def fallback_templates(self) -> Mapping[str, str]:
        return self.prefetch if self.fallback_prefetch is None else self.fallback_prefetch

    def discovered(self) -> DiscoveredService:
        """What discovery says of this service (the fallback templates stay inside)."""
        return DiscoveredService(
            hook=self.hook,
            id=self.id,
            title=self.title or None,
            description=self.description,
            version=CDS_HOOKS_VERSION,
            prefetch=dict(self.prefetch) or None,
            usage_requirements=self.usage_requirements or None,
            hook_version=HOOK_VERSIONS.get(self.hook),
        )


class CdsService(Protocol):
    definition: ServiceDefinition

    def evaluate(self, request: HookRequest, prefetch: PrefetchSource, locale: str) -> Evaluation:
        """Evaluate one hook call. No patient data obtainable is not an error here: the
        service answers with cards that say so (the blueprint never sends an empty 412)."""
        ...
