"""The target procedures: draft ServiceRequests in scope whose code is in the trigger set.

Scope: on `order-select`, only the ServiceRequests named in `context.selections`
("ServiceRequest/id", matched as request validation does: `selection_references`), or every one
when `selections` is absent (it is optional); on `order-sign`, every ServiceRequest in
`context.draftOrders`, whatever its status. Draft orders are read defensively from raw JSON,
NOT rejected by FHIR validation: a draft is incomplete by nature, and dropping it would silently
switch every check off.

One TargetProcedure per kind the order names ("vertebroplasty with radiofrequency ablation"
gives two). No body site is inferred from the kind: `body_sites` only holds what the order says.
Date: occurrenceDateTime, else occurrencePeriod.start. `scheduled_date` is the date as written
(None for a month or year only); `scheduled_at` only when a time with a time zone is given.
"""

from __future__ import annotations

from typing import Any

from cds_hooks.request import selection_references
from service.facts.dates import parse_fhir_datetime
from service.facts.model import TargetProcedure
from service.facts.refs import as_list, resource_ref
from service.valuesets import ValueSets
from service.valuesets.codeable import display_of
from service.vocabulary import ProcedureKind

ORDER_SELECT = "order-select"
ORDER_SIGN = "order-sign"


def service_requests_in_scope(hook: str, context: Any) -> list[dict[str, Any]]:
    if not isinstance(context, dict):
        return []
    draft = context.get("draftOrders")
    entries = [
        entry
        for entry in (as_list(draft.get("entry")) if isinstance(draft, dict) else [])
        if isinstance(entry, dict)
        and isinstance(entry.get("resource"), dict)
        and entry["resource"].get("resourceType") == "ServiceRequest"
    ]
    if hook == ORDER_SIGN or (hook == ORDER_SELECT and context.get("selections") is None):
        return [entry["resource"] for entry in entries]  # no selection: every draft order
    if hook == ORDER_SELECT:
        selections = {s.strip() for s in as_list(context.get("selections")) if isinstance(s, str)}
        # The same matching as request validation (by id or by fullUrl), never a second one.
        return [entry["resource"] for entry in entries if selection_references(entry) & selections]
    return []


def extract_procedures(
    hook: str, context: Any, valuesets: ValueSets, trigger_procedures: frozenset[ProcedureKind]
) -> list[TargetProcedure]:
    procedures: list[TargetProcedure] = []
    for request in service_requests_in_scope(hook, context):
        body_concepts = [c for c in as_list(request.get("bodySite")) if isinstance(c, dict)]
        sites = valuesets.body_sites.match(body_concepts)
        kinds = valuesets.procedures.match(request.get("code"), bone_site_known=bool(sites))
        kinds = [kind for kind in kinds if kind in trigger_procedures]
        if not kinds:
            continue
        when = request.get("occurrenceDateTime")
        if when is None and isinstance(request.get("occurrencePeriod"), dict):
            when = request["occurrencePeriod"].get("start")
        date = parse_fhir_datetime(when)
        site_display = "; ".join(d for d in map(display_of, body_concepts) if d) or None
        for kind in kinds:
            procedures.append(
                TargetProcedure(
                    kind=kind,
                    display=display_of(request.get("code")) or kind.value,
                    source=resource_ref(request),
                    body_sites=sites,
                    body_site_display=site_display,
                    scheduled_date=date.day if date is not None else None,
                    scheduled_at=(
                        date.instant if date is not None and date.precision == "time" else None
                    ),
                )
            )
    return procedures
