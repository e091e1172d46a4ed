"""What the access token of `fhirAuthorization.scope` lets the service read (SMART App Launch).

CDS Hooks 3.0 moved `fhirAuthorization` to SMART App Launch STU 2 (change log: "Use SMART App
Launch STU 2, replacing use of SMART App Launch STU 1 ... this impacts the contents of the
`scope` element"), so a token may carry either form:

* v1: `patient/Observation.read`, `user/*.read`, `system/Patient.*` (`.write` grants no read);
* v2: `patient/Observation.rs` (letters from `cruds`, in that order; `r` read, `s` search),
  and granular scopes restricted by search parameters: `patient/Observation.rs?category=laboratory`.

The service never asks the FHIR server for what the token does not cover. A granular scope
covers a search only when the search itself carries each of the scope's parameters with a value
the scope allows (the service does not widen or narrow its own queries to fit a token): else the
key is unavailable for scope, shown on the card, never a silent "no result". Scopes that are not
about resources (`openid`, `fhirUser`, `launch/patient`, `offline_access`) grant nothing here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

_V1_PERMISSIONS = {"read": frozenset("rs"), "write": frozenset("cud"), "*": frozenset("cruds")}
_V2_PERMISSIONS = re.compile(r"^c?r?u?d?s?$")
_RESOURCE_SCOPE = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]{1,63})\.(?P<perm>[a-z*]+)"
    r"(?:\?(?P<query>.*))?$"
)


@dataclass(frozen=True)
class ResourceScope:
    """One resource scope: which resource type, which interactions, which restrictions."""

    context: str  # patient, user or system
    resource_type: str  # a FHIR resource type, or "*"
    permissions: frozenset[str]  # letters of "cruds"
    # Granular restriction (v2): parameter name -> the values allowed (comma-separated values in
    # a search are OR'ed, so any of them; several parameters must all be present).
    restrictions: Mapping[str, frozenset[str]]


def parse_scopes(scope: str) -> tuple[ResourceScope, ...]:
    """The resource scopes of a space-separated scope string; others are left out."""
    parsed = []
    for item in scope.split():
        match = _RESOURCE_SCOPE.match(item)
        if match is None:
            continue
        perm = match.group("perm")
        permissions = _V1_PERMISSIONS.get(perm)
        if permissions is None:
            if not _V2_PERMISSIONS.match(perm):
                continue  # neither form: grants nothing
            permissions = frozenset(perm)
        restrictions: dict[str, frozenset[str]] = {}
        for name, value in parse_qsl(match.group("query") or "", keep_blank_values=True):
            restrictions[name] = restrictions.get(name, frozenset()) | frozenset(value.split(","))
        parsed.append(
            ResourceScope(match.group("context"), match.group("type"), permissions, restrictions)
        )
    return tuple(parsed)


def for_patient(
    scopes: tuple[ResourceScope, ...], token_patient: str | None, patient_id: str | None
) -> tuple[ResourceScope, ...]:
    """The scopes that reach `patient_id`: `patient/` scopes cover only the patient the token
    was issued for (`fhirAuthorization.patient`, when given); a token for another patient must
    not be used to read this one (a server could answer with the other patient's data)."""
    if token_patient is None or token_patient == patient_id:
        return scopes
    return tuple(scope for scope in scopes if scope.context != "patient")


def permits(scopes: tuple[ResourceScope, ...], relative_url: str) -> bool:
    """Whether one of `scopes` covers the GET of `relative_url` ("Type/id" is a read,
    "Type?params" a search)."""
    path, _, query = relative_url.partition("?")
    segments = path.strip("/").split("/")
    resource_type = segments[0]
    is_read = len(segments) == 2 and not segments[1].startswith("_")
    interaction = "r" if is_read else "s"
    params: dict[str, set[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(name, set()).update(value.split(","))
    return any(
        scope.resource_type in ("*", resource_type)
        and interaction in scope.permissions
        and _within(scope.restrictions, params, is_read)
        for scope in scopes
    )


def _within(
    restrictions: Mapping[str, frozenset[str]], params: Mapping[str, set[str]], is_read: bool
) -> bool:
    """A restricted scope covers a search asking only for values it allows; never a read (the
    service cannot know beforehand whether the resource read meets the restriction)."""
    if not restrictions:
        return True
    if is_read:
        return False
    return all(name in params and params[name] <= allowed for name, allowed in restrictions.items())
