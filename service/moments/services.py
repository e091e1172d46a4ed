"""The moment services the application registers beside the two order services."""

from __future__ import annotations

from collections.abc import Mapping

from service.cementoplasty import Clock, service_definition
from service.config import Config
from service.moments.appointment_book import AppointmentBookService
from service.moments.patient_view import PatientViewService
from service.moments.planned import PlannedProcedureService
from service.valuesets import ValueSets


def moment_services(
    templates: Mapping[str, str],
    config: Config,
    valuesets: ValueSets,
    clock: Clock,
    fallback: Mapping[str, str] | None = None,
) -> list[PlannedProcedureService]:
    """patient-view and appointment-book, with the prefetch of the order services (which
    holds the planned ServiceRequests and Appointments and every key the rules read);
    `fallback`: the templates of the FHIR fallback, when they differ from those advertised."""
    return [
        PatientViewService(
            service_definition("patient-view", templates, fallback), config, valuesets, clock
        ),
        AppointmentBookService(
            service_definition("appointment-book", templates, fallback), config, valuesets, clock
        ),
    ]
