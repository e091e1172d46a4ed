"""Which draft orders an order-select or order-sign call is about: a CDS Hooks rule, decided here
once for request validation and for every service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ORDER_SELECT = "order-select"
ORDER_SIGN = "order-sign"


def draft_orders_in_scope(
    hook: str, context: Any, resource_type: str
) -> tuple[dict[str, Any], ...]:
    """See HookRequest.orders_in_scope."""
    if hook not in (ORDER_SELECT, ORDER_SIGN) or not isinstance(context, Mapping):
        return ()
    draft = context.get("draftOrders")
    entries = draft.get("entry") if isinstance(draft, Mapping) else None
    candidates = [
        entry
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict)
        and isinstance(entry.get("resource"), dict)
        and entry["resource"].get("resourceType") == resource_type
    ]
    selections = context.get("selections")
    if hook == ORDER_SELECT and selections is not None:
        named = selections if isinstance(selections, list) else [selections]
        wanted = {s.strip() for s in named if isinstance(s, str)}
        # The same matching as request validation (by id or by fullUrl), never a second one.
        candidates = [entry for entry in candidates if selection_references(entry) & wanted]
    return tuple(entry["resource"] for entry in candidates)


def selection_references(entry: Any) -> set[str]:
    """The "Type/id" references by which `context.selections` can name one draftOrders entry:
    its resource's type and id, and the last two segments of its fullUrl (a draft may have no
    `id`). The one definition for request validation and for the service's scope, so the two
    can never disagree on what was selected."""
    references: set[str] = set()
    if not isinstance(entry, dict):
        return references
    resource = entry.get("resource")
    if isinstance(resource, dict):
        resource_type, resource_id = resource.get("resourceType"), resource.get("id")
        if isinstance(resource_type, str) and isinstance(resource_id, str):
            references.add(f"{resource_type}/{resource_id}")
    full_url = entry.get("fullUrl")
    if isinstance(full_url, str):
        # "https://ehr/fhir/ServiceRequest/1" or "ServiceRequest/1": keep "Type/id".
        parts = full_url.rstrip("/").split("/")
        if len(parts) >= 2:
            references.add(f"{parts[-2]}/{parts[-1]}")
    return references
