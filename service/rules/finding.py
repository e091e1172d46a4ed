"""What a rule returns when it fires."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from cds_hooks.cards import Indicator
from service.facts.model import ResourceRef
from service.rules.params import NoParams, Params


@dataclass(frozen=True)
class HoldStep:
    """One dated step of the antithrombotic hold plan for one drug.

    With a procedure date, `last_dose_on`/`hold_from` are calendar dates (or `hold_from_at` a
    timestamp for hour-based delays); without one, `days_before` gives the D-N form.
    """

    drug: str  # ingredient key
    display: str
    days_before: int | None = None  # D-N
    hours_before: int | None = None  # 48 h for DOACs
    last_dose_on: date | None = None
    hold_from: date | None = None
    hold_from_at: datetime | None = None
    starts_today: bool = False


@dataclass(frozen=True)
class Finding:
    rule_id: str
    indicator: Indicator
    # Everything the card needs, typed per rule (service/rules/params.py; `fire` builds it).
    params: Params = field(default_factory=NoParams)
    evidence: tuple[ResourceRef, ...] = ()
    # The step of a plan line; None on a note attached to a line (MED-HOLD-TOO-LATE,
    # MED-HOLD-TIME-UNKNOWN, MED-VKA-TOO-LATE): the line's finding holds its record's one step.
    hold: HoldStep | None = None
