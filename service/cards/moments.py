"""Cards of the moments other than ordering the procedure (service/moments/).

* `dated_cards`: a chart opened (patient-view) or an appointment booked: the cards of the
  rules, each saying which planned procedure it is about and in how many days it takes place;
  the plan card's summary becomes the countdown to the most urgent hold ("Procedure on 09/12:
  clopidogrel is to be stopped from 04/12 — in 2 days").
* `medication_order_card`: an antithrombotic being ordered while a procedure is planned: one
  card with the planned procedure, its date and the hold of the drug being ordered.

The hold arithmetic is the rules' (HoldStep); the drug lines are the plan card's (PlanCard).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime

from service.cards.base import RenderedCard
from service.cards.format import fit
from service.cards.messages import messages, normalise_locale
from service.cards.plan import PlanCard, medication
from service.rules.case import CaseSummary, PlannedProcedure
from service.rules.catalog import CATALOG
from service.rules.finding import Finding, HoldStep
from service.rules.params import MedicationParams

LATE = "MED-HOLD-TOO-LATE"


def is_antithrombotic(rule_id: str) -> bool:
    """A rule of the antithrombotic plan card (the catalog's placement)."""
    return rule_id in CATALOG and CATALOG[rule_id].placement.on_plan


class MomentCards(PlanCard):
    """Wording of one moment's response (the card language, the patient, `now`)."""

    @classmethod
    def for_locale(cls, locale: str, case: CaseSummary, now: datetime) -> MomentCards:
        language = normalise_locale(locale)
        return cls(messages(language), language, case, now)

    # ------------------------------------------------------------------ shared wording

    def procedure_name(self, procedure: PlannedProcedure) -> str:
        return str(self.text["moments"]["kinds"].get(procedure.kind, procedure.display))

    def planned_for(
        self, findings: Sequence[Finding]
    ) -> tuple[PlannedProcedure | None, date | None]:
        """The procedure the hold plan was computed for, and its day: the day is the rules'
        own (`procedure_date` of the MED-* findings), never decided a second time here."""
        written = next(
            (f.params.procedure_date for f in findings if isinstance(f.params, MedicationParams)),
            None,
        )
        day = date.fromisoformat(written) if isinstance(written, str) else None
        same_day = [p for p in self.case.procedures if day is not None and p.day == day]
        procedure = same_day[0] if same_day else None
        if procedure is None and self.case.procedures:
            procedure = self.case.procedures[0]
        return procedure, day

    def in_days(self, day: date) -> str:
        """'today', 'tomorrow', 'in 5 days', '2 days ago' from the site's today."""
        words = self.text["moments"]
        delta = (day - self.now.date()).days
        if delta == 0:
            return str(words["today"])
        if delta == 1:
            return str(words["tomorrow"])
        if delta > 1:
            return str(words["in_days"]).format_map({"n": delta})
        return str(words["days_ago"]).format_map({"n": -delta})

    def planned_line(self) -> str:
        """Which planned procedures the cards are about, each with its date and countdown."""
        words = self.text["moments"]
        lines = []
        for procedure in self.case.procedures:
            day = procedure.day
            fields = {
                "procedure": procedure.display,
                "site": f" ({procedure.body_site})" if procedure.body_site else "",
            }
            if day is None:
                lines.append(str(words["planned_nodate"]).format_map(fields))
            else:
                when = {"date": self.day(day), "in": self.in_days(day)}
                lines.append(str(words["planned"]).format_map({**fields, **when}))
        return "\n".join(dict.fromkeys(lines))

    # ------------------------------------------------------------------ chart / appointment

    def dated_cards(
        self, cards: Sequence[RenderedCard], findings: Sequence[Finding]
    ) -> tuple[RenderedCard, ...]:
        """The rules' cards, each headed by the planned procedure; the plan card's summary is
        the countdown to its most urgent hold."""
        head = self.planned_line()
        countdown = self.countdown(findings)
        dated: list[RenderedCard] = []
        for rendered in cards:
            card = rendered.card
            summary = card.summary
            if countdown and any(is_antithrombotic(rule_id) for rule_id in rendered.rule_ids):
                summary = countdown
            detail = f"{head}\n\n{card.detail}" if card.detail else head
            card = dataclasses.replace(card, summary=fit(summary), detail=detail)
            dated.append(dataclasses.replace(rendered, card=card))
        return tuple(dated)

    def countdown(self, findings: Sequence[Finding]) -> str | None:
        """'Procedure on 09/12: clopidogrel is to be stopped from 04/12 — in 2 days', for the
        earliest hold; without a dated hold, the days to the procedure; None without a date
        (the plan card keeps its own summary)."""
        _, day = self.planned_for(findings)
        holds = [
            (f, f.hold) for f in findings if f.hold is not None and f.hold.hold_from is not None
        ]
        words = self.text["moments"]
        if day is None:
            return None
        if not holds:  # a VKA relay, an aspirin to document: no hold day, the procedure's
            drugs = [
                f for f in findings if isinstance(f.params, MedicationParams) and f.rule_id != LATE
            ]
            if not drugs:
                return None
            return str(words["countdown_undated"]).format_map(
                {
                    "date": self.day(day),
                    "in": self.in_days(day),
                    "drug": self.join([self.record_drug(f) for f in drugs]),
                }
            )
        finding, hold = min(holds, key=lambda item: item[1].hold_from or date.max)
        assert hold.hold_from is not None
        late = any(f.rule_id == LATE and medication(f).drug == hold.drug for f in findings)
        key = "countdown_late" if late else "countdown"
        return str(words[key]).format_map(
            {
                "date": self.day(day),
                "drug": self.record_drug(finding),
                "hold_from": self._hold_start(hold),
                "in": self.in_days(hold.hold_from),
            }
        )

    # ------------------------------------------------------------------ medication order

    def medication_order_card(self, findings: Sequence[Finding]) -> RenderedCard:
        """One card for the antithrombotic(s) being ordered while a procedure is planned."""
        words = self.text["moments"]
        late = {medication(f).drug for f in findings if f.rule_id == LATE}
        drug_findings, attached, planned = self.plan_parts(findings)
        procedure, day = self.planned_for(findings)
        assert procedure is not None  # called only when a procedure is planned
        lines = [self.planned_line(), self.text["plan"]["agreement"]]
        for finding in drug_findings:
            extra = attached.get(medication(finding).record, {})
            line = self.plan_line(finding, extra, planned)
            if line:
                lines.append(line)
        lines.append(str(words["order_note"]))
        first = next((f for f in drug_findings if medication(f).drug in late), None)
        first = first or next((f for f in drug_findings if f.hold is not None), None)
        first = first or drug_findings[0]
        fields = {
            "drug": self.record_drug(first),
            "procedure": self.procedure_name(procedure),
            "date": self.day(day) if day else "",
        }
        hold = first.hold
        if day is None:
            key = "order_nodate"
        elif hold is None or hold.hold_from is None:
            key = "order_other"
        else:
            key = "order_late" if medication(first).drug in late else "order_hold"
            fields["hold_from"] = self._hold_start(hold)
            fields["delay"] = (
                f"{hold.hours_before} h" if hold.hours_before else self.days(hold.days_before)
            )
        summary = str(words[key]).format_map(fields)
        return self.card(findings, summary, "\n\n".join(lines), "§4")

    def _hold_start(self, hold: HoldStep) -> str:
        return self.moment(hold.hold_from_at) if hold.hold_from_at else self.day(hold.hold_from)
