"""The one procedure the antithrombotic plan is computed for (RULES.md contract, change 9).

Every rule and every card that needs "the procedure" reads it from `scheduled_procedure`:
* the procedure's day is the site's calendar day, the site being the time zone of `now`
  (`[locale] time_zone`): a date-time with an offset is converted to that zone first;
* a date without a time is taken at 00:00 site time (`time_given` is False, and a card whose
  arithmetic depends on it says so);
* with several orders in scope, the earliest one decides: the earliest day, then the earliest
  instant on that day, a date-only order counting as 00:00 (the safer reading: the earliest hold);
* an order without a usable date does not compete; with no dated order there is no procedure
  date and the plan is given as D-N.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from service.facts.model import PatientFacts, ResourceRef, TargetProcedure
from service.rules.params import ProcedureShown


@dataclass(frozen=True)
class ScheduledProcedure:
    """The procedure the plan is for, on the site's calendar."""

    order: ResourceRef  # the ServiceRequest
    display: str
    day: date  # the site's calendar day
    start: datetime  # the procedure instant in the site's zone (00:00 when no time is given)
    time_given: bool
    orders_in_scope: int  # distinct orders in scope: several -> cards name this one
    undated_orders: int  # orders in scope without a usable date

    def params(self) -> ProcedureShown:
        """What a card and a suggested resource need, JSON-friendly."""
        return ProcedureShown(
            reference=self.order.reference,
            display=self.display,
            day=self.day.isoformat(),
            start=self.start.isoformat(),
            time_given=self.time_given,
            several=self.orders_in_scope > 1,
            undated_orders=self.undated_orders,
        )


def _site_start(procedure: TargetProcedure, now: datetime) -> tuple[datetime, bool] | None:
    """(instant in the site's zone, time given) of one order, or None without a usable date."""
    zone = now.tzinfo
    if procedure.scheduled_at is not None:
        at = procedure.scheduled_at
        if at.tzinfo is None:  # defensive: the facts give aware instants
            at = at.replace(tzinfo=zone)
        return at.astimezone(zone), True
    if procedure.scheduled_date is not None:
        return datetime.combine(procedure.scheduled_date, time(0, 0), tzinfo=zone), False
    return None


def scheduled_procedure(facts: PatientFacts, now: datetime) -> ScheduledProcedure | None:
    """The earliest procedure in scope on the site's calendar, or None when none is dated."""
    orders = {p.source.reference for p in facts.procedures}
    dated: list[tuple[datetime, bool, TargetProcedure]] = []
    undated: set[str] = set()
    for procedure in facts.procedures:
        start = _site_start(procedure, now)
        if start is None:
            undated.add(procedure.source.reference)
        else:
            dated.append((start[0], start[1], procedure))
    if not dated:
        return None
    # Earliest instant; on a tie a date-only order (no time given) first: it is the 00:00 reading.
    start, time_given, chosen = min(dated, key=lambda item: (item[0], item[1]))
    return ScheduledProcedure(
        order=chosen.source,
        display=chosen.display,
        day=start.date(),
        start=start,
        time_given=time_given,
        orders_in_scope=len(orders),
        undated_orders=len(undated - {p.source.reference for _, _, p in dated}),
    )
