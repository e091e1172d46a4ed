"""What the service's code receives for a hook call, built without HTTP (the facts tests): the
`HookRequest` the blueprint parses from a body (fhir_builders.hook_request) and the
`ResolvedPrefetch` a prefetch resolver returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cds_hooks.service import HookRequest, ResolvedPrefetch
from support.fhir_builders import PATIENT, Json, hook_request, order_context


def hook_call(
    orders: Sequence[Json],
    *,
    hook: str = "order-select",
    selections: Sequence[str] | None = None,
    patient_id: str = PATIENT,
) -> HookRequest:
    """An order hook's call on `orders`; on order-select, `selections` default to the first
    order (other hooks have none)."""
    if hook != "order-select":
        selections = None
    elif selections is None:
        selections = [f"ServiceRequest/{o['id']}" for o in orders[:1]]
    context = order_context(
        orders, user="Practitioner/u1", patient_id=patient_id, selections=selections
    )
    body = hook_request(hook, context, instance="d1577c69-dfbe-44ad-ba6d-3e05e953b2ea")
    return HookRequest(
        service_id=f"cementoplasty-{hook}",
        hook=body["hook"],
        hook_instance=body["hookInstance"],
        context=body["context"],
        prefetch={},
    )


def prefetch(
    unavailable: dict[str, Any] | None = None,
    referenced: dict[str, Json] | None = None,
    **keys: list[Json],
) -> ResolvedPrefetch:
    return ResolvedPrefetch(
        resources=keys, unavailable=unavailable or {}, referenced=referenced or {}
    )
