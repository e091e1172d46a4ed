"""The antithrombotic plan card: a line and a suggestion per medication, dated."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from cds_hooks.cards import (
    Action,
    ActionType,
    Card,
    Suggestion,
)
from service.cards import resources
from service.cards.base import CardBuilder
from service.cards.format import plain
from service.rules.finding import Finding, HoldStep

PLAN_SECTION = "§4"


class PlanCard(CardBuilder):
    def plan_card(self, findings: Sequence[Finding]) -> Card:
        plan = self.text["plan"]
        late = {f.params.get("drug"): f for f in findings if f.rule_id == "MED-HOLD-TOO-LATE"}
        drug_findings = [f for f in findings if f.rule_id != "MED-HOLD-TOO-LATE"]
        procedure = next((f.params.get("procedure_date") for f in findings), None)
        lines: list[str] = [plan["agreement"]]
        if procedure is None:
            lines.append(plan["no_date"])
        suggestions: list[Suggestion] = []
        for finding in drug_findings:
            line = self.plan_line(finding, finding.params.get("drug") in late)
            p = finding.params
            refs = list(p.get("orders", ())) + list(p.get("statements", ()))
            sources = plan["sources"].format_map(
                {"displays": self.join(list(p.get("displays", ()))), "references": ", ".join(refs)}
            )
            lines.append(f"{line} {sources}")
            suggestion = self.drug_suggestion(
                finding, plain(line), finding.params.get("drug") in late
            )
            if suggestion is not None:
                suggestions.append(suggestion)
        when = (
            plan["when_date"].format_map({"date": self.day(procedure)})
            if procedure
            else plan["when_none"]
        )
        key = "summary_late" if late else "summary"
        named = [f for f in drug_findings if f.params.get("drug") in late] or drug_findings
        names = [self.drug_name(f.params) for f in named]
        summary = self.fit_list(plan[key], list(dict.fromkeys(names)), {"when": when})
        return self.card(findings, summary, "\n\n".join(lines), PLAN_SECTION, tuple(suggestions))

    def plan_line(self, finding: Finding, too_late: bool) -> str:
        plan = self.text["plan"]
        p = finding.params
        drug = self.drug_name(p)
        hold = finding.hold
        rule_id = finding.rule_id
        if rule_id == "MED-VKA":
            if "lmwh_hold_from" in p:
                lmwh = plan["vka_lmwh_dates"].format_map(
                    {
                        "last": self.day(p["lmwh_last_dose_on"]),
                        "hold_from": self.day(p["lmwh_hold_from"]),
                    }
                )
            else:
                lmwh = plan["vka_lmwh_nodate"]
            return plan["vka"].format_map({"drug": drug, "lmwh": lmwh})
        if rule_id == "MED-ASPIRIN-LOW-DOSE":
            return plan["aspirin_low"].format_map(
                {"drug": drug, "dose": self.number(p.get("daily_dose_mg"))}
            )
        if rule_id == "MED-ASPIRIN-DOSE-UNKNOWN":
            conditional = p.get("if_high_dose") or {}
            extra = (
                plan["aspirin_conditional"].format_map(
                    {
                        "last": self.day(conditional["last_dose_on"]),
                        "hold_from": self.day(conditional["hold_from"]),
                    }
                )
                if conditional.get("hold_from")
                else ""
            )
            return plan["aspirin_unknown"].format_map(
                {"drug": drug, "problems": self.dose_problems(p), "conditional": extra}
            )
        if rule_id == "MED-ASPIRIN-HIGH-DOSE":
            # The dose heads the hold sentence, which names the drug once.
            drug = plan["aspirin_high"].format_map(
                {"drug": drug, "dose": self.number(p.get("daily_dose_mg"))}
            )
        if rule_id == "MED-ANTITHROMBOTIC-UNLISTED" and hold is None:
            return plan["unlisted"].format_map({"drug": drug}) + plan["unlisted_none"]
        if hold is None:
            return ""
        line = self.hold_text(
            hold, drug, too_late, bool(p.get("time_assumed")), p.get("procedure_date")
        )
        if rule_id == "MED-ANTITHROMBOTIC-UNLISTED":
            line += plan["unlisted_configured"].format_map(
                {"days": self.days(p.get("configured_days"))}
            )
        if rule_id == "MED-LMWH":
            line += " " + plan["lmwh_reading"]
        return line

    def hold_text(
        self,
        hold: HoldStep,
        drug: str,
        too_late: bool,
        time_assumed: bool = False,
        procedure_day: str | None = None,
    ) -> str:
        plan = self.text["plan"]
        if hold.hours_before is not None:
            if hold.hold_from_at is None:
                return plan["hour_hold_nodate"].format_map({"drug": drug})
            hold_at = self.moment(hold.hold_from_at)
            text = plan["hour_hold"].format_map(
                {"drug": drug, "hold_at": hold_at, "last": self.day(hold.last_dose_on)}
            )
            if time_assumed and procedure_day:
                text += plan["hour_hold_assumed"].format_map({"date": self.day(procedure_day)})
            if too_late:
                text += plan["hour_hold_too_late"].format_map({"hold_at": hold_at})
            elif hold.starts_today:
                text += plan["starts_today"]
            return text
        days = hold.days_before or 0
        if hold.hold_from is None:
            return plan["day_hold_nodate"].format_map(
                {"drug": drug, "days": days, "last_days": days + 1, "n_days": self.days(days)}
            )
        text = plan["day_hold_one" if days == 1 else "day_hold"].format_map(
            {
                "drug": drug,
                "days": days,
                "n_days": self.days(days),
                "last": self.day(hold.last_dose_on),
                "hold_from": self.day(hold.hold_from),
            }
        )
        if too_late:
            text += plan["too_late"].format_map({"hold_from": self.day(hold.hold_from)})
        elif hold.starts_today:
            text += plan["starts_today"]
        return text

    def drug_suggestion(
        self, finding: Finding, description: str, too_late: bool
    ) -> Suggestion | None:
        """One suggestion per drug whose plan changes a medication (a hold, or a VKA relay)."""
        hold = finding.hold
        if hold is None:
            return None
        plan = self.text["plan"]
        p = finding.params
        drug = self.drug_name(p)
        is_vka = finding.rule_id == "MED-VKA"
        hold_start: date | datetime | None = hold.hold_from_at or hold.hold_from
        if hold_start is not None:
            when = (
                self.moment(hold_start)
                if isinstance(hold_start, datetime)
                else self.day(hold_start)
            )
        else:
            days = hold.days_before if hold.days_before is not None else 2
            when = plan["d_minus"].format_map({"days": days})
        urgent = too_late or hold.starts_today
        # A hold that should already have started is suggested from today, worded "now": a
        # suspension "from" a past date reads as if it were still to come.
        now_suffix = "_now" if too_late and not is_vka and hold_start is not None else ""
        if now_suffix:
            hold_start = self.now.date()
        procedure = self.procedure_moment()
        actions: list[Action] = []
        order_ids = list(p.get("order_ids", ()))
        statements = list(p.get("statements", ()))
        for order_id in order_ids:
            label_key = "suspend_label_vka" if is_vka else "suspend_label" + now_suffix
            label = plan[label_key].format_map({"drug": drug, "hold_from": when})
            task = resources.suspend_order_task(
                order_id,
                self.facts.patient_id,
                description,
                self.now,
                None if is_vka else hold_start,
                procedure,
                urgent,
            )
            actions.append(Action(ActionType.CREATE, label, task))
        if statements:
            label_key = "tell_label_vka" if is_vka else "tell_label" + now_suffix
            label = plan[label_key].format_map({"drug": drug, "hold_from": when})
            message = resources.patient_instruction(
                statements, self.facts.patient_id, description, self.now, urgent
            )
            actions.append(Action(ActionType.CREATE, label, message))
        if not actions:
            return None
        return Suggestion(label=actions[0].description, actions=tuple(actions))

    def procedure_moment(self) -> date | datetime | None:
        times = [p.scheduled_at for p in self.facts.procedures if p.scheduled_at]
        if times:
            return min(times)
        dates = [p.scheduled_date for p in self.facts.procedures if p.scheduled_date]
        return min(dates) if dates else None
