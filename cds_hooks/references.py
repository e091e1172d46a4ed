"""References between resources (e.g. a MedicationRequest's `medicationReference`): which ones
the service may follow, and what is already at hand."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from cds_hooks.bundles import bundle_resources
from cds_hooks.fhir_client import normalize_base_url

REFERENCE = re.compile(
    r"^(?:(?P<base>https?://.+)/)?(?P<type>[A-Z][A-Za-z]{1,63})/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/[A-Za-z0-9\-.]{1,64})?$"
)
# Valid FHIR ids by their pattern, but path segments to a server: "Medication/.." is the base.
DOT_SEGMENTS = (".", "..")


def parse_reference(reference: str, fhir_server: str | None) -> str | None:
    """ "Type/id" of a relative reference, or of an absolute one on the request's FHIR
    server; None for anything else (never fetched: the token stays with its server)."""
    match = REFERENCE.match(reference.strip())
    if match is None or match.group("id") in DOT_SEGMENTS:
        return None
    base = match.group("base")
    if base is not None:
        server_base = normalize_base_url(fhir_server) if fhir_server else None
        if server_base is None or normalize_base_url(base) != server_base:
            return None
    return f"{match.group('type')}/{match.group('id')}"


def all_resources(
    resources: Mapping[str, list[dict[str, Any]]], context: Mapping[str, Any]
) -> Iterable[dict[str, Any]]:
    for key_resources in resources.values():
        yield from key_resources
    for name in ("draftOrders",):
        bundle = context.get(name)
        if isinstance(bundle, dict):
            yield from bundle_resources(bundle)
