"""The antithrombotic plan card: one line and at most one suggestion per medication record.

The procedure the plan is for is read from the findings (`params.procedure`, set by
service/rules/schedule.py through the rules): the card and every suggested resource use that one
procedure, never a date of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from cds_hooks.cards import (
    Action,
    ActionType,
    Suggestion,
)
from service.cards import resources
from service.cards.base import CardBuilder, RenderedCard
from service.cards.format import plain
from service.rules.catalog import CATALOG, Placement
from service.rules.finding import Finding, HoldStep
from service.rules.params import (
    AspirinParams,
    CardiacRiskParams,
    ClopidogrelParams,
    DoacParams,
    MedicationParams,
    ProcedureShown,
    TimeUnknownParams,
    UnlistedParams,
    VkaParams,
)

PLAN_SECTION = "§4"
LATE = ("MED-HOLD-TOO-LATE", "MED-VKA-TOO-LATE")


def placement(finding: Finding) -> Placement:
    return CATALOG[finding.rule_id].placement


def medication(finding: Finding) -> MedicationParams:
    """The params of a plan line or of a note on one record's line (typed per rule)."""
    assert isinstance(finding.params, MedicationParams), finding.rule_id
    return finding.params


class PlanCard(CardBuilder):
    def plan_parts(
        self, findings: Sequence[Finding]
    ) -> tuple[list[Finding], dict[str, dict[str, MedicationParams]], ProcedureShown | None]:
        """(one finding per medication record, what is attached to each record (too late, time
        unknown) by record, the one procedure the plan is for)."""
        attached: dict[str, dict[str, MedicationParams]] = {}
        for finding in findings:
            if placement(finding) is Placement.PLAN_RECORD_NOTE:
                params = medication(finding)
                attached.setdefault(params.record, {})[finding.rule_id] = params
        records = [f for f in findings if placement(f) is Placement.PLAN_LINE]
        procedure = next(
            (
                f.params.procedure
                for f in findings
                if isinstance(f.params, MedicationParams) and f.params.procedure
            ),
            None,
        )
        return records, attached, procedure

    def record_drug(self, finding: Finding) -> str:
        """The drug of a plan line, as the card names it."""
        params = medication(finding)
        return self.drug_name(params.drug, params.displays)

    def plan_card(self, findings: Sequence[Finding]) -> RenderedCard:
        plan = self.text["plan"]
        records, attached, procedure = self.plan_parts(findings)
        lines: list[str] = [plan["agreement"]]
        lines.extend(self.procedure_lines(procedure))
        suggestions: list[Suggestion] = []
        for finding in records:
            params = medication(finding)
            extra = attached.get(params.record, {})
            line = self.plan_line(finding, extra, procedure)
            kind = plan["kinds"].get(params.record_kind, "")
            sources = plan["sources"].format_map({"display": params.display, "kind": kind})
            lines.append(f"{line} {sources}")
            suggestion = self.record_suggestion(finding, plain(line), extra, procedure)
            if suggestion is not None:
                suggestions.append(suggestion)
        if any(medication(f).antiplatelet_hold for f in records):
            lines.append(plan["cardiac"])
        for finding in findings:
            if placement(finding) is Placement.PLAN_NOTE:
                assert isinstance(finding.params, CardiacRiskParams)
                lines.append(self.cardiac_line(finding.params))
        summary = self.plan_summary(records, attached, procedure)
        return self.card(findings, summary, "\n\n".join(lines), PLAN_SECTION, tuple(suggestions))

    # ------------------------------------------------------------------------------ the text

    def procedure_lines(self, procedure: ProcedureShown | None) -> list[str]:
        plan = self.text["plan"]
        if procedure is None:
            return [plan["no_date"]]
        if not procedure.several and not procedure.undated_orders:
            return []
        time = (
            plan["procedure_time"].format_map(
                {"time": datetime.fromisoformat(procedure.start).strftime("%H:%M")}
            )
            if procedure.time_given
            else plan["procedure_no_time"]
        )
        line = plan["procedure_line"].format_map(
            {
                "display": procedure.display,
                "date": self.day(procedure.day),
                "time": time,
            }
        )
        if procedure.undated_orders:
            line += plan["procedure_undated"]
        return [line]

    def plan_summary(
        self,
        records: Sequence[Finding],
        attached: Mapping[str, Mapping[str, MedicationParams]],
        procedure: ProcedureShown | None,
    ) -> str:
        plan = self.text["plan"]
        when = (
            plan["when_date"].format_map({"date": self.day(procedure.day)})
            if procedure
            else plan["when_none"]
        )

        def with_rule(*rule_ids: str) -> list[Finding]:
            return [
                f
                for f in records
                if any(r in attached.get(medication(f).record, {}) for r in rule_ids)
            ]

        key, named = "summary", list(records)
        if with_rule(*LATE):
            key, named = "summary_late", with_rule(*LATE)
        elif with_rule("MED-HOLD-TIME-UNKNOWN"):
            key, named = "summary_time", with_rule("MED-HOLD-TIME-UNKNOWN")
        names = list(dict.fromkeys(self.record_drug(f) for f in named))
        return self.fit_list(plan[key], names, {"when": when})

    def plan_line(
        self,
        finding: Finding,
        extra: Mapping[str, MedicationParams],
        procedure: ProcedureShown | None,
    ) -> str:
        plan = self.text["plan"]
        p = medication(finding)
        drug = self.drug_name(p.drug, p.displays)
        hold = finding.hold
        rule_id = finding.rule_id
        if isinstance(p, VkaParams):
            return self.vka_line(p, drug, "MED-VKA-TOO-LATE" in extra)
        if isinstance(p, AspirinParams) and rule_id == "MED-ASPIRIN-LOW-DOSE":
            total = p.total_mg
            shown_total = (
                plan["aspirin_total"].format_map({"total": self.number(total)})
                if total != p.daily_dose_mg
                else ""
            )
            return plan["aspirin_low"].format_map(
                {"drug": drug, "dose": self.number(p.daily_dose_mg), "total": shown_total}
            )
        if isinstance(p, AspirinParams) and rule_id == "MED-ASPIRIN-DOSE-UNKNOWN":
            return self.aspirin_unknown_line(p, drug)
        if isinstance(p, AspirinParams) and rule_id == "MED-ASPIRIN-HIGH-DOSE":
            limit = plan["aspirin_at_limit"] if p.at_limit else ""
            dose = self.number(p.daily_dose_mg)
            if p.continued:
                return (
                    plan["aspirin_continued"].format_map(
                        {
                            "drug": drug,
                            "dose": dose,
                            "remaining": self.number(p.remaining_mg),
                        }
                    )
                    + limit
                )
            # The dose heads the hold sentence, which names the drug once.
            fields = {"drug": drug, "dose": dose, "total": self.number(p.total_mg)}
            low = (p.daily_dose_mg or 0) < p.threshold_mg
            if p.as_needed:
                drug = plan["aspirin_as_needed"].format_map(fields)
            elif low:
                drug = plan["aspirin_low_held"].format_map(fields)
            else:
                drug = plan["aspirin_high"].format_map(fields)
            note = plan["aspirin_low_held_note"] if low and not p.as_needed else ""
            if hold is None:
                return drug
            return self.hold_text(hold, drug, rule_id, extra, p, procedure) + note + limit
        if isinstance(p, ClopidogrelParams) and {"clopidogrel", "aspirin"} <= set(p.ingredients):
            return self.combination_line(hold, p, extra)
        if isinstance(p, UnlistedParams) and hold is None:
            if p.drug == "antiplatelet-combination":
                return plan["unlisted_combination"].format_map({"drug": drug})
            return plan["unlisted"].format_map({"drug": drug}) + plan["unlisted_none"]
        if hold is None:
            return ""
        line = self.hold_text(hold, drug, rule_id, extra, p, procedure)
        if isinstance(p, UnlistedParams):
            line += plan["unlisted_configured"].format_map({"days": self.days(p.configured_days)})
        if rule_id == "MED-LMWH":
            line += " " + plan["lmwh_reading"]
        if isinstance(p, DoacParams) and p.not_in_guideline:
            line += plan["edoxaban_note"]
        if isinstance(p, DoacParams) and p.renal_caveat:
            line += plan["dabigatran_note"]
        if p.combination:
            names = [self.drug_name(i) for i in p.ingredients]
            line = plan["combination_other"].format_map(
                {"display": p.display, "drugs": self.join(names), "line": line}
            )
        return line

    def vka_line(self, p: VkaParams, drug: str, too_late: bool) -> str:
        plan = self.text["plan"]
        usual = (
            plan["vka_usual_dates"].format_map(
                {"hold_from": self.day(p.vka_hold_from), "last": self.day(p.vka_last_dose_on)}
            )
            if p.vka_hold_from
            else ""
        )
        lmwh = (
            plan["vka_lmwh_dates"].format_map(
                {
                    "last": self.day(p.lmwh_last_dose_on),
                    "hold_from": self.day(p.lmwh_hold_from),
                }
            )
            if p.lmwh_hold_from
            else plan["vka_lmwh_nodate"]
        )
        inr = plan["vka_inr_date"].format_map({"date": self.day(p.inr_day)}) if p.inr_day else ""
        n_days = self.days(p.vka_stop_days)
        text = plan["vka"].format_map(
            {"drug": drug, "n_days": n_days, "usual": usual, "lmwh": lmwh, "inr": inr}
        )
        if too_late:
            text += plan["vka_too_late"].format_map({"n_days": n_days, "inr": inr})
        return text

    def aspirin_unknown_line(self, p: AspirinParams, drug: str) -> str:
        plan = self.text["plan"]
        if p.daily_dose_mg is not None:
            return plan["aspirin_unknown_total"].format_map(
                {"drug": drug, "dose": self.number(p.daily_dose_mg)}
            )
        conditional = p.if_high_dose
        extra = (
            plan["aspirin_conditional"].format_map(
                {
                    "last": self.day(conditional.last_dose_on),
                    "hold_from": self.day(conditional.hold_from),
                }
            )
            if conditional is not None and conditional.hold_from
            else ""
        )
        return plan["aspirin_unknown"].format_map(
            {"drug": drug, "problems": self.dose_problems(p.dose_problems), "conditional": extra}
        )

    def combination_line(
        self, hold: HoldStep | None, p: ClopidogrelParams, extra: Mapping[str, Any]
    ) -> str:
        plan = self.text["plan"]
        dates = ""
        if hold is not None and hold.hold_from is not None:
            dates = plan["combination_dates"].format_map(
                {"hold_from": self.day(hold.hold_from), "last": self.day(hold.last_dose_on)}
            )
        already = list(p.aspirin_already)
        key = "combination_aspirin_already" if already else "combination"
        text = plan[key].format_map(
            {"display": p.display, "dates": dates, "aspirin": self.join(already)}
        )
        return text + self.day_suffix(hold, extra)

    def hold_text(
        self,
        hold: HoldStep,
        drug: str,
        rule_id: str,
        extra: Mapping[str, MedicationParams],
        p: MedicationParams,
        procedure: ProcedureShown | None,
    ) -> str:
        plan = self.text["plan"]
        if hold.hours_before is not None:
            if hold.hold_from_at is None:
                return plan["hour_hold_nodate"].format_map({"drug": drug})
            hold_at = self.moment(hold.hold_from_at)
            if isinstance(p, DoacParams) and p.time_assumed and procedure is not None:
                text = plan["hour_hold_assumed"].format_map(
                    {
                        "drug": drug,
                        "date": self.day(procedure.day),
                        "last": self.day(hold.last_dose_on),
                    }
                )
            else:
                text = plan["hour_hold"].format_map({"drug": drug, "hold_at": hold_at})
            if "MED-HOLD-TOO-LATE" in extra:
                text += plan["hour_hold_too_late"].format_map({"hold_at": hold_at})
            elif "MED-HOLD-TIME-UNKNOWN" in extra and procedure is not None:
                unknown = extra["MED-HOLD-TIME-UNKNOWN"]
                text += plan["time_unknown"].format_map(
                    {
                        "time": unknown.late_if_before
                        if isinstance(unknown, TimeUnknownParams)
                        else "?",
                        "date": self.day(procedure.day),
                    }
                )
            elif hold.starts_today:
                # A dose earlier today is allowed (before the hold instant): say until when.
                local = hold.hold_from_at.astimezone(self.now.tzinfo)
                text += plan["starts_today_at"].format_map({"time": local.strftime("%H:%M")})
            return text
        days = hold.days_before or 0
        if rule_id == "MED-LMWH":
            key = "lmwh_hold" if hold.hold_from is not None else "lmwh_nodate"
        else:
            key = "day_hold" if hold.hold_from is not None else "day_hold_nodate"
        text = plan[key].format_map(
            {
                "drug": drug,
                "days": days,
                "last_days": days + 1,
                "n_days": self.days(days),
                "last": self.day(hold.last_dose_on),
                "hold_from": self.day(hold.hold_from),
            }
        )
        return text + self.day_suffix(hold, extra)

    def day_suffix(self, hold: HoldStep | None, extra: Mapping[str, Any]) -> str:
        plan = self.text["plan"]
        if hold is None or hold.hold_from is None:
            return ""
        if "MED-HOLD-TOO-LATE" in extra:
            return plan["too_late"].format_map({"hold_from": self.day(hold.hold_from)})
        if hold.starts_today:
            return plan["starts_today"]
        return ""

    def cardiac_line(self, p: CardiacRiskParams) -> str:
        plan = self.text["plan"]
        shown = []
        for condition in p.conditions:
            key = "cardiac_condition" if condition.date else "cardiac_condition_undated"
            shown.append(
                plan[key].format_map(
                    {"display": condition.display, "date": self.day(condition.date)}
                )
            )
        drugs = [self.drug_name(d) for d in p.drugs]
        return plan["cardiac_documented"].format_map(
            {"conditions": "; ".join(shown), "drugs": self.join(drugs)}
        )

    # ------------------------------------------------------------------------------ suggestions

    def record_suggestion(
        self,
        finding: Finding,
        description: str,
        extra: Mapping[str, MedicationParams],
        procedure: ProcedureShown | None,
    ) -> Suggestion | None:
        """At most one suggestion, acting on the finding's one record."""
        plan = self.text["plan"]
        p = medication(finding)
        hold = finding.hold
        drug = self.drug_name(p.drug, p.displays)
        display = p.display
        record = p.record
        patient = self.case.patient_id
        late = any(rule in extra for rule in LATE)
        unsure = "MED-HOLD-TIME-UNKNOWN" in extra
        urgent = late or unsure or bool(hold is not None and hold.starts_today)
        team = [plan["recipients"]["prescriber"], plan["recipients"]["anaesthesia"]]
        if isinstance(p, VkaParams):
            label = plan["ask_label_vka"].format_map({"drug": drug})
            resource = resources.team_request(record, patient, description, team, self.now, urgent)
            return _one(label, resource)
        if hold is None:
            if p.drug != "antiplatelet-combination":
                return None
            # A combination tablet whose components the code does not name: the prescriber says.
            label = plan["ask_label_identify"].format_map({"display": display})
            resource = resources.team_request(record, patient, description, team, self.now, urgent)
            return _one(label, resource)
        hold_start: date | datetime | None = hold.hold_from_at or hold.hold_from
        if p.combination:
            key = (
                "ask_label_combination"
                if {"clopidogrel", "aspirin"} <= set(p.ingredients)
                else "ask_label_undated"
            )
            label = plan[key].format_map({"drug": drug, "display": display})
            resource = resources.team_request(record, patient, description, team, self.now, urgent)
            return _one(label, resource)
        if hold_start is None or procedure is None:
            label = plan["ask_label_undated"].format_map({"drug": drug, "display": display})
            resource = resources.team_request(record, patient, description, team, self.now, urgent)
            return _one(label, resource)
        # A hold that should already have started (or may have, time unknown) is suggested from
        # today, worded "now": a suspension "from" a past date reads as if it were still to come.
        now_case = late or unsure
        if now_case:
            hold_start = self.now.date()
        when = self.moment(hold_start) if isinstance(hold_start, datetime) else self.day(hold_start)
        suffix = "_now" if late else ("_check" if unsure else "")
        if p.record_kind == "order" and p.order_id:
            end = procedure.start if procedure.time_given else procedure.day
            label = plan["suspend_label" + suffix].format_map(
                {"drug": drug, "display": display, "hold_from": when}
            )
            task = resources.suspend_order_task(
                p.order_id,
                patient,
                description,
                self.now,
                hold_start,
                datetime.fromisoformat(end) if "T" in end else date.fromisoformat(end),
                urgent,
            )
            return _one(label, task)
        label = plan["tell_label" + suffix].format_map({"drug": drug, "hold_from": when})
        message = self.patient_message(finding, drug, now_case)
        return _one(
            label, resources.patient_instruction(record, patient, message, self.now, urgent)
        )

    def patient_message(self, finding: Finding, drug: str, now_case: bool) -> str:
        """The instruction for the patient: lay language, dates as people say them."""
        plan = self.text["plan"]
        hold = finding.hold
        assert hold is not None
        if now_case:
            text = plan["patient_now"].format_map({"drug": drug})
        elif hold.hold_from_at is not None:
            if isinstance(finding.params, DoacParams) and finding.params.time_assumed:
                text = plan["patient_assumed"].format_map(
                    {"drug": drug, "last": self.lay_day(hold.last_dose_on)}
                )
            else:
                local = hold.hold_from_at.astimezone(self.now.tzinfo)
                text = plan["patient_instant"].format_map(
                    {
                        "drug": drug,
                        "day": self.lay_day(local.date()),
                        "time": local.strftime("%H:%M"),
                    }
                )
        else:
            key = "patient_lmwh" if finding.rule_id == "MED-LMWH" else "patient_day"
            text = plan[key].format_map(
                {
                    "drug": drug,
                    "hold_from": self.lay_day(hold.hold_from),
                    "last": self.lay_day(hold.last_dose_on),
                }
            )
        return text + plan["patient_ask"]

    def lay_day(self, value: date | None) -> str:
        """'Tuesday 1 December' / 'mardi 1er décembre'."""
        if value is None:
            return "?"
        plan = self.text["plan"]
        fields = {
            "weekday": plan["weekdays"][value.weekday()],
            "day": value.day,
            "month": plan["months"][value.month - 1],
        }
        return plan["lay_first" if value.day == 1 else "lay_day"].format_map(fields)


def _one(label: str, resource: dict[str, Any]) -> Suggestion:
    return Suggestion(label=label, actions=(Action(ActionType.CREATE, label, resource),))
