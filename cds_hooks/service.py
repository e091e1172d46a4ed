"""The contract between the protocol layer (this package) and a CDS service that plugs into it.

The blueprint parses and validates the HTTP request into a `HookRequest`, hands the service a
`PrefetchSource` (resolved lazily, so a request that is out of the service's scope costs no FHIR
call), and serialises the `Evaluation` the service returns. The service never sees Flask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cds_hooks.cards import CdsResponse


@dataclass(frozen=True)
class FhirAuthorization:
    access_token: str = field(repr=False)  # never printed, never logged
    token_type: str
    expires_in: int | None
    scope: str
    subject: str
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

    @property
    def patient_id(self) -> str | None:
        value = self.context.get("patientId")
        return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class ResolvedPrefetch:
    """The outcome of prefetch resolution.

    `resources[key]` is the list of resources for a key: a Bundle's entry resources (all pages),
    or a one-element list for a single resource, or [] when the EHR said the data is empty
    (prefetch value `null`) or the search found nothing. A key that could not be obtained is not
    in `resources` but in `unavailable`, with a short reason for operators (never a token).
    A key may be in both: partial data (e.g. the prefetched first page of a search whose other
    pages could not be fetched, or the first `max_pages` pages). Data obtained is never dropped:
    the rules use what is in `resources`, and DATA-UNAVAILABLE reports the gap named in
    `unavailable` (so rules that fire on the *absence* of data stay quiet for that category).
    `referenced` maps "Type/id" to the resources that another resource references (e.g. a
    MedicationRequest's medicationReference), found among the resources at hand or fetched;
    contained references ("#id") are not in it. `unresolved` maps a reference that could not
    be resolved to a short reason (the referenced resource is unknown: treat it as missing data).
    """

    resources: Mapping[str, list[dict[str, Any]]]
    unavailable: Mapping[str, str]
    referenced: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    unresolved: Mapping[str, str] = field(default_factory=dict)
    fetched: tuple[str, ...] = ()  # keys asked of the FHIR server (for metrics and logs)

    @property
    def nothing_obtained(self) -> bool:
        """No key in `resources` (partial data counts as obtained)."""
        return not self.resources


class PrefetchSource(Protocol):
    def resolve(self) -> ResolvedPrefetch:
        """Resolve every prefetch key (at most once per call; later calls return the same)."""
        ...


@dataclass(frozen=True)
class Evaluation:
    """What a service returns: the response, and an audit record for storage and logs.

    `audit` holds JSON-serialisable facts about the evaluation (rule IDs fired, card uuids with
    their indicator, resources used, data unavailable). It must never hold tokens or names.
    """

    response: CdsResponse
    audit: Mapping[str, Any] = field(default_factory=dict)


class PatientDataUnavailable(Exception):
    """No patient data at all could be obtained: the blueprint answers 412."""


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]
    usage_requirements: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
        }
        if self.prefetch:
            out["prefetch"] = dict(self.prefetch)
        if self.usage_requirements:
            out["usageRequirements"] = self.usage_requirements
        return out


class CdsService(Protocol):
    definition: ServiceDefinition

    def evaluate(self, request: HookRequest, prefetch: PrefetchSource, locale: str) -> Evaluation:
        """Evaluate one hook call. Raise PatientDataUnavailable for a 412."""
        ...
