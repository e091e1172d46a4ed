"""What the cards need of the case besides the findings: the patient and the procedures in scope.

The card renderer never reads the facts (service/cards/render.py): the few things a card shows
or a suggestion needs that are not a rule's finding (the patient a suggested resource is for,
which procedures are planned and when, whether the order is a thermal ablation alone) are
computed here once, from the facts, as a small typed summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from service.facts.model import PatientFacts, TargetProcedure


@dataclass(frozen=True)
class PlannedProcedure:
    """One procedure order in scope, as a card names it."""

    display: str
    kind: str  # ProcedureKind value ("vertebroplasty", "radiofrequency-ablation", ...)
    thermal_ablation: bool
    body_site: str | None  # the order's bodySite as written, None when it names none
    day: date | None  # the day written on the order (None: not dated)


@dataclass(frozen=True)
class CaseSummary:
    patient_id: str | None
    procedures: tuple[PlannedProcedure, ...] = ()

    @property
    def ablation_only(self) -> bool:
        """A thermal ablation alone: no cement is put in (the checklist is worded for it)."""
        return bool(self.procedures) and all(p.thermal_ablation for p in self.procedures)


def _day(procedure: TargetProcedure) -> date | None:
    if procedure.scheduled_date is not None:
        return procedure.scheduled_date
    return procedure.scheduled_at.date() if procedure.scheduled_at else None


def case_summary(facts: PatientFacts) -> CaseSummary:
    return CaseSummary(
        patient_id=facts.patient_id,
        procedures=tuple(
            PlannedProcedure(
                display=p.display,
                kind=p.kind.value,
                thermal_ablation=p.kind.is_thermal_ablation,
                body_site=p.body_site_display,
                day=_day(p),
            )
            for p in facts.procedures
        ),
    )
