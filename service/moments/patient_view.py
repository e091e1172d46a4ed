"""`cementoplasty-patient-view`: a chart is opened while a cementoplasty or bone ablation is
planned. The hold plan matters most days before the procedure (clopidogrel from D-5), not only
when the order is typed: the same rules run against the planned procedure, and the cards say
how many days remain. Nothing planned: no card."""

from __future__ import annotations

from cds_hooks.service import Evaluation, HookRequest, PrefetchSource
from service.facts.planned import planned_procedures, planned_resources
from service.moments.planned import PlannedProcedureService, quiet, resolve


class PatientViewService(PlannedProcedureService):
    def evaluate(self, request: HookRequest, prefetch: PrefetchSource, locale: str) -> Evaluation:
        now = self.clock()
        data = resolve(self.definition, prefetch, self.config, now)
        service_requests, appointments = planned_resources(data.resources)
        procedures = planned_procedures(
            service_requests,
            appointments,
            self.valuesets,
            self.config.triggers.procedures,
            now.date(),
        )
        if not procedures:
            return quiet("nothing planned")
        return self.evaluate_planned(request, data, procedures, now, locale)
