"""`cementoplasty-appointment-book`: the appointment of a cementoplasty or bone ablation is
booked (or moved). The plan is recomputed from the appointment's start, so a rescheduled
appointment gives the new hold dates. The appointment is the procedure's when its `basedOn`
names a planned ServiceRequest of the record, or its `serviceType`/`reasonCode` names the
procedure (service/facts/planned.py). Any other appointment: no card, and no FHIR call when
nothing in it can point to a procedure."""

from __future__ import annotations

from typing import Any

from cds_hooks.service import Evaluation, HookRequest, PrefetchSource
from service.facts.planned import (
    appointment_targets,
    bundle_appointments,
    planned_procedures,
    planned_resources,
)
from service.facts.refs import as_list
from service.moments.planned import PlannedProcedureService, quiet, resolve


class AppointmentBookService(PlannedProcedureService):
    def evaluate(self, request: HookRequest, prefetch: PrefetchSource, locale: str) -> Evaluation:
        appointments = bundle_appointments(request.context.get("appointments"))
        if not any(self._may_be_procedure(a) for a in appointments):
            return quiet("no appointment for a procedure")
        now = self.clock()
        data = resolve(self.definition, prefetch, self.config, now)
        service_requests, _ = planned_resources(data.resources)
        # The appointments being booked date the plan; the record's own Appointments (the old
        # slot of a rescheduled one) are not read.
        procedures = planned_procedures(
            service_requests,
            appointments,
            self.valuesets,
            self.config.triggers.procedures,
            now.date(),
            booked_only=True,
        )
        if not procedures:
            return quiet("no appointment for a planned procedure")
        return self.evaluate_planned(request, data, procedures, now, locale)

    def _may_be_procedure(self, appointment: dict[str, Any]) -> bool:
        """Decided from the appointment alone: based on a ServiceRequest (which the record
        may show to be a cementoplasty), or naming the procedure itself."""
        for item in as_list(appointment.get("basedOn")):
            reference = item.get("reference") if isinstance(item, dict) else None
            if isinstance(reference, str) and "ServiceRequest/" in reference:
                return True
        return bool(
            appointment_targets(appointment, self.valuesets, self.config.triggers.procedures)
        )
