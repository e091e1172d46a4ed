"""The target procedures: draft ServiceRequests in scope whose code is in the trigger set.

Which draft orders are in scope is the protocol's decision (`HookRequest.orders_in_scope`,
cds_hooks/draft_orders.py). Orders are read defensively from raw JSON, NOT rejected by FHIR
validation: a draft is incomplete by nature, and dropping it would silently switch every check
off.

One TargetProcedure per kind the order names ("vertebroplasty with radiofrequency ablation"
gives two). No body site is inferred from the kind: `body_sites` only holds what the order says.
Date: occurrenceDateTime, else occurrencePeriod.start. `scheduled_date` is the date as written
(None for a month or year only); `scheduled_at` only when a time with a time zone is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from service.facts.dates import parse_fhir_datetime
from service.facts.model import TargetProcedure
from service.facts.refs import as_list, resource_ref
from service.valuesets import ValueSets
from service.valuesets.codeable import display_of
from service.vocabulary import ProcedureKind


def extract_procedures(
    orders: Iterable[dict[str, Any]],
    valuesets: ValueSets,
    trigger_procedures: frozenset[ProcedureKind],
) -> list[TargetProcedure]:
    """The target procedures of `orders` (ServiceRequests as JSON: the draft orders in scope,
    `HookRequest.orders_in_scope`, or a planned order read from the record)."""
    procedures: list[TargetProcedure] = []
    for request in orders:
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
