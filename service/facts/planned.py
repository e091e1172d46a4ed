"""Planned procedures: ServiceRequests and Appointments in the record -> TargetProcedure.

The moments other than ordering (a chart opened, a medication ordered, an appointment booked)
need "the cementoplasty or ablation this patient is to have". It is read here, once, into the
same `TargetProcedure` the order hooks use, so every rule and card works unchanged.

* A ServiceRequest is planned when its status is `active`, `draft` or `on-hold` and its code is
  in the trigger value set (read exactly as a draft order is: `extract_procedures`).
* An Appointment counts when it is not cancelled, missed, entered in error or already done
  (`APPOINTMENT_DONE`). Booked for a planned ServiceRequest (`basedOn`), its `start` is the
  procedure date (the booked day is what the team works to, not the date on the request);
  without such a ServiceRequest, its `serviceType` or `reasonCode` must name the procedure.
* Kept when the date is today or later in the site's day, or absent (a plan without a date is
  still a plan: the hold is then given as D-N). A past date is not a planned procedure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from service.facts.dates import parse_fhir_datetime
from service.facts.model import TargetProcedure
from service.facts.procedures import extract_procedures
from service.facts.refs import as_list, is_one_of, resource_ref
from service.valuesets import ValueSets
from service.valuesets.codeable import display_of
from service.vocabulary import ProcedureKind

PLANNED_STATUSES = frozenset({"active", "draft", "on-hold"})
# Appointment statuses that are no longer a plan (FHIR R4 AppointmentStatus).
APPOINTMENT_DONE = frozenset({"cancelled", "noshow", "entered-in-error", "fulfilled"})
# The others: what the prefetch asks for (service/prefetch_templates.py).
APPOINTMENT_STATUSES = (
    "proposed",
    "pending",
    "booked",
    "arrived",
    "checked-in",
    "waitlist",
)


def planned_resources(
    resources: Mapping[str, Iterable[Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(ServiceRequests, Appointments) from every prefetch key, each type/id once."""
    found: dict[str, list[dict[str, Any]]] = {"ServiceRequest": [], "Appointment": []}
    seen: set[tuple[str, str]] = set()

    def add(items: Iterable[Any]) -> None:
        for resource in items:
            if not isinstance(resource, dict):
                continue
            resource_type = resource.get("resourceType")
            if resource_type == "Bundle":
                add(
                    e.get("resource") for e in as_list(resource.get("entry")) if isinstance(e, dict)
                )
                continue
            if not isinstance(resource_type, str) or resource_type not in found:
                continue
            resource_id = resource.get("id")
            if isinstance(resource_id, str):
                if (resource_type, resource_id) in seen:
                    continue
                seen.add((resource_type, resource_id))
            found[resource_type].append(resource)

    for items in resources.values():
        add(items or ())
    return found["ServiceRequest"], found["Appointment"]


def bundle_appointments(bundle: Any) -> list[dict[str, Any]]:
    """The Appointments of a Bundle (`context.appointments` of appointment-book)."""
    if not isinstance(bundle, dict):
        return []
    return [
        entry["resource"]
        for entry in as_list(bundle.get("entry"))
        if isinstance(entry, dict)
        and isinstance(entry.get("resource"), dict)
        and entry["resource"].get("resourceType") == "Appointment"
    ]


def planned_procedures(
    service_requests: Iterable[dict[str, Any]],
    appointments: Iterable[dict[str, Any]],
    valuesets: ValueSets,
    trigger_procedures: frozenset[ProcedureKind],
    today: date,
    *,
    booked_only: bool = False,
) -> list[TargetProcedure]:
    """The planned procedures, dated by their appointment when one is booked for them.

    `booked_only` (appointment-book): only the procedures of `appointments`, the ones being
    booked; a planned ServiceRequest they are not booked for is left out."""
    targets_by_request: dict[str, list[TargetProcedure]] = {}
    for request in service_requests:
        if not is_one_of(request.get("status"), PLANNED_STATUSES):
            continue
        targets = request_targets(request, valuesets, trigger_procedures)
        if targets:
            targets_by_request[resource_ref(request).reference] = targets

    live = [a for a in appointments if isinstance(a, dict) and _appointment_live(a)]
    planned: list[TargetProcedure] = []
    booked: set[str] = set()
    for appointment in live:
        based_on = _based_on(appointment) & targets_by_request.keys()
        if based_on:
            for reference in sorted(based_on):
                booked.add(reference)
                planned.extend(_dated(t, appointment) for t in targets_by_request[reference])
            continue
        planned.extend(appointment_targets(appointment, valuesets, trigger_procedures))
    for reference, targets in targets_by_request.items():
        if (
            reference not in booked and not booked_only
        ):  # its appointment, when there is one, gives the date
            planned.extend(targets)
    return [target for target in planned if _not_past(target, today)]


def request_targets(
    request: dict[str, Any], valuesets: ValueSets, trigger_procedures: frozenset[ProcedureKind]
) -> list[TargetProcedure]:
    """A ServiceRequest's target procedures, read as an order-sign draft order is (one place
    decides what a cementoplasty order is: service/facts/procedures.py)."""
    return extract_procedures([request], valuesets, trigger_procedures)


def appointment_targets(
    appointment: dict[str, Any],
    valuesets: ValueSets,
    trigger_procedures: frozenset[ProcedureKind],
) -> list[TargetProcedure]:
    """Procedures an Appointment names by its serviceType or reasonCode (no body site in R4)."""
    targets: list[TargetProcedure] = []
    for concept in [
        *as_list(appointment.get("serviceType")),
        *as_list(appointment.get("reasonCode")),
    ]:
        if not isinstance(concept, dict):
            continue
        for kind in valuesets.procedures.match(concept, bone_site_known=False):
            if kind in trigger_procedures and all(t.kind is not kind for t in targets):
                target = TargetProcedure(
                    kind=kind,
                    display=display_of(concept) or kind.value,
                    source=resource_ref(appointment),
                )
                targets.append(_dated(target, appointment))
    return targets


def _appointment_live(appointment: dict[str, Any]) -> bool:
    status = appointment.get("status")
    return not (isinstance(status, str) and status.strip() in APPOINTMENT_DONE)


def _based_on(appointment: dict[str, Any]) -> set[str]:
    """'ServiceRequest/id' of each basedOn reference (absolute URLs and history cut away)."""
    references: set[str] = set()
    for item in as_list(appointment.get("basedOn")):
        reference = item.get("reference") if isinstance(item, dict) else None
        if not isinstance(reference, str):
            continue
        parts = [p for p in reference.strip().split("/") if p]
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        if len(parts) >= 2 and parts[-2] == "ServiceRequest":
            references.add(f"ServiceRequest/{parts[-1]}")
    return references


def _dated(target: TargetProcedure, appointment: dict[str, Any]) -> TargetProcedure:
    """The target dated by the appointment's start (unchanged when it has none)."""
    start = parse_fhir_datetime(appointment.get("start"))
    if start is None or start.day is None:
        return target
    return dataclasses.replace(
        target,
        scheduled_date=start.day,
        scheduled_at=start.instant if start.precision == "time" else None,
    )


def _not_past(target: TargetProcedure, today: date) -> bool:
    day = target.scheduled_date or (target.scheduled_at.date() if target.scheduled_at else None)
    return day is None or day >= today
