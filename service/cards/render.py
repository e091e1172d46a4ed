"""render_cards: findings -> localised CDS Hooks cards, following RULES.md's card contract.

* Every fired rule ID is listed in exactly one card, in `extension["cementoplasty-cds/rules"]`.
* A card's indicator is the most severe of its findings.
* Cards: one per contraindication, bleeding or procedure finding; ONE antithrombotic plan card
  (all MED-* findings, a suggestion per drug with a hold); ONE summary card (TUMOR-CONTROL,
  CHECKLIST, and the info rules SCOPE-* and IND-*); DATA-UNAVAILABLE its own card.
* Every critical or warning card carries coded, localised override reasons.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from cds_hooks.cards import (
    Action,
    ActionType,
    Card,
    Indicator,
    OverrideReason,
    SelectionBehavior,
    Source,
    Suggestion,
)
from service.cards import resources
from service.cards.messages import messages, normalise_locale
from service.facts.model import PatientFacts
from service.rules.catalog import CATALOG, RULE_IDS, RuleGroup
from service.rules.finding import Finding, HoldStep

RULES_EXTENSION = "cementoplasty-cds/rules"
OVERRIDE_REASON_SYSTEM = "https://cementoplasty-cds.example/fhir/CodeSystem/override-reason"
OVERRIDE_REASON_CODES: tuple[str, ...] = (
    "already-resolved",
    "not-applicable",
    "mdt-benefit",
    "agreed-with-team",
)
SUMMARY_CARD_RULES = frozenset(
    {
        "TUMOR-CONTROL",
        "CHECKLIST",
        "SCOPE-NO-BONE-METASTASIS",
        "SCOPE-NOT-LUNG-PRIMARY",
        "IND-PAIN-UNCONTROLLED",
        "IND-OPIOID-INTOLERANCE",
    }
)
SUMMARY_SECTION = "§1, §3, §6, Tableau 8"
PLAN_SECTION = "§4"
_SUMMARY_MAX = 139
_DISPLAY_MAX = 40
_DECIMAL = re.compile(
    r"^[<>=≤≥]*\s*-?\d+\.\d+$"
)  # a condition or site name inside a summary is cut to this length


def render_cards(
    findings: Sequence[Finding], facts: PatientFacts, locale: str, now: datetime
) -> tuple[Card, ...]:
    """The cards for `findings`, in `locale` ('en' or 'fr'; 'fr-FR' accepted), most severe first."""
    text = messages(normalise_locale(locale))
    language = normalise_locale(locale)
    renderer = _Renderer(text, language, facts, now)
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(_card_key(finding.rule_id), []).append(finding)
    cards: list[tuple[int, int, Card]] = []
    for index, (key, group) in enumerate(groups.items()):
        if key == "plan":
            card = renderer.plan_card(group)
        elif key == "summary":
            card = renderer.summary_card(group)
        else:
            card = renderer.single_card(group)
        cards.append((-card.indicator.rank, index, card))
    return tuple(card for _, _, card in sorted(cards, key=lambda item: item[:2]))


def _card_key(rule_id: str) -> str:
    if CATALOG[rule_id].group is RuleGroup.ANTITHROMBOTIC:
        return "plan"
    if rule_id in SUMMARY_CARD_RULES:
        return "summary"
    return rule_id


def _fit(summary: str) -> str:
    """Last guard on the spec's 140-character limit (templates are tested to stay below it)."""
    summary = " ".join(summary.split())
    return summary if len(summary) <= _SUMMARY_MAX else summary[: _SUMMARY_MAX - 1] + "…"


def _short(value: str, limit: int = _DISPLAY_MAX) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _plain(markdown: str) -> str:
    return markdown.replace("**", "").replace("`", "").strip()


class _Renderer:
    def __init__(
        self, text: Mapping[str, Any], language: str, facts: PatientFacts, now: datetime
    ) -> None:
        self.text = text
        self.language = language
        self.facts = facts
        self.now = now

    # ---- formatting -------------------------------------------------------------------------

    def number(self, value: float | None, kind: str = "") -> str:
        if value is None:
            return "?"
        if kind == "platelets":
            return f"{round(value):,}".replace(",", " ")
        formatted = f"{value:.2f}".rstrip("0").rstrip(".")
        return formatted.replace(".", ",") if self.language == "fr" else formatted

    def moment(self, value: datetime) -> str:
        """An instant as the site's local date and time (the zone of `now`), "HH:MM"."""
        local = value if value.tzinfo is not None else value.replace(tzinfo=self.now.tzinfo)
        return local.astimezone(self.now.tzinfo).strftime(self.text["moment_format"])

    def day(self, value: date | str | None) -> str:
        """A calendar date in the card's format (ISO in English, dd/mm/yyyy in French)."""
        if value is None or value == "":
            return "?"
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                return value
        return value.strftime(self.text["date_format"])

    def original(self, lab: Mapping[str, Any]) -> str:
        """The result as the lab reported it; a plain decimal takes the card's decimal mark."""
        value = str(lab.get("original_value", ""))
        if self.language == "fr" and _DECIMAL.match(value):
            value = value.replace(".", ",")
        return f"{value} {lab.get('original_unit') or ''}".strip()

    def value_with_unit(self, lab: Mapping[str, Any]) -> str:
        value = self.number(lab.get("value"), lab.get("kind", ""))
        unit = {"platelets": "/mm³", "tp": " %", "pain": "/10"}.get(lab.get("kind", ""), "")
        comparator = {"<=": "≤", ">=": "≥"}.get(lab.get("comparator") or "", lab.get("comparator"))
        return f"{comparator or ''}{value}{unit}"

    def test_name(self, key: str) -> str:
        return self.text["tests"].get(key, key)

    def join(self, items: Sequence[str]) -> str:
        items = list(dict.fromkeys(items))
        if not items:
            return self.text["none"]
        if len(items) == 1:
            return items[0]
        return f"{', '.join(items[:-1])} {self.text['and']} {items[-1]}"

    def lab_line(self, lab: Mapping[str, Any]) -> str:
        original = self.original(lab)
        fields = {
            "test": self.test_name(lab.get("kind", "")),
            "value": self.value_with_unit(lab),
            "original": original or "?",
            "date": self.day(lab.get("date")),
            "reference": lab.get("reference", "?"),
            "problem": self.lab_problem(lab),
        }
        usable = not fields["problem"] and lab.get("value") is not None
        template = "lab_line" if usable else "lab_problem_line"
        return self.text[template].format_map(fields)

    def drug_name(self, params: Mapping[str, Any]) -> str:
        """The drug in the card's language; else what the record calls it (its name part)."""
        key = str(params.get("drug"))
        names: Mapping[str, str] = self.text["drugs"]
        if key in names:
            return names[key]
        displays = [str(d) for d in params.get("displays", ())]
        return _drug_label(displays[0]) if displays else key

    def dose_problems(self, params: Mapping[str, Any]) -> str:
        """Why the daily dose is unknown. The facts word it in English only: other languages
        get their generic phrase (the reason is a record-keeping detail, not a clinical one)."""
        problems = "; ".join(dict.fromkeys(str(d) for d in params.get("dose_problems", ())))
        if self.language != "en":
            return str(self.text["plan"]["dose_unknown"])
        return problems or str(self.text["plan"]["dose_unknown"])

    def days(self, count: Any) -> str:
        """'1 day', '7 days' in the card's language."""
        key = "days_one" if count == 1 else "days_many"
        return str(self.text[key]).format_map({"n": count})

    def record_line(self, record: Mapping[str, Any]) -> str:
        """A Condition or allergy behind a card: name, date (or that none is recorded), resource."""
        if not record.get("dated"):
            key = "record_line_plain"
        else:
            key = "record_line" if record.get("date") else "record_line_undated"
        return str(self.text[key]).format_map(
            {
                "display": record.get("display", "?"),
                "date": self.day(record.get("date")),
                "reference": record.get("reference", "?"),
            }
        )

    def lab_problem(self, lab: Mapping[str, Any]) -> str:
        """Why a result is unusable: worded here when the rules give a code, else as facts say."""
        code = lab.get("problem_code")
        if code:
            return str(self.text["lab_problems"][code])
        return str(lab.get("problem") or "")

    def fit_list(self, template: str, names: list[str], fields: Mapping[str, Any]) -> str:
        """`template` with as many of `names` as fit in a summary, the rest counted ("+2")."""
        for shown in range(len(names), 0, -1):
            rest = len(names) - shown
            listed = self.join(names[:shown]) if not rest else f"{', '.join(names[:shown])} +{rest}"
            summary = template.format_map({**fields, "drugs": listed})
            if len(summary) <= _SUMMARY_MAX:
                return summary
        return template.format_map({**fields, "drugs": f"+{len(names)}"})

    def policy_note(self, name: str, value: Any) -> str:
        shown = self.number(value) if isinstance(value, (int, float)) else str(value)
        return self.text["policy_note"].format_map({"name": name, "value": shown})

    def source(self, section: str) -> Source:
        if not section:
            return Source(label=self.text["service_label"])
        return Source(label=f"{self.text['guideline']} — {section}")

    def override_reasons(self) -> tuple[OverrideReason, ...]:
        return tuple(
            OverrideReason(
                code=code, system=OVERRIDE_REASON_SYSTEM, display=self.text["override"][code]
            )
            for code in OVERRIDE_REASON_CODES
        )

    def card(
        self,
        findings: Sequence[Finding],
        summary: str,
        detail: str,
        section: str,
        suggestions: tuple[Suggestion, ...] = (),
    ) -> Card:
        indicator = Indicator.most_severe([f.indicator for f in findings])
        fired = {f.rule_id for f in findings}
        rule_ids = [rule_id for rule_id in RULE_IDS if rule_id in fired]
        return Card(
            summary=_fit(summary),
            indicator=indicator,
            source=self.source(section),
            detail=detail.strip() or None,
            suggestions=suggestions,
            selection_behavior=SelectionBehavior.ANY if suggestions else None,
            override_reasons=(self.override_reasons() if indicator is not Indicator.INFO else ()),
            extension={RULES_EXTENSION: rule_ids},
        )

    # ---- one-rule cards ---------------------------------------------------------------------

    def fields(self, finding: Finding) -> dict[str, Any]:
        """The template fields of one finding, formatted for the card language."""
        p = finding.params
        conditions = [str(c) for c in p.get("conditions", ())]
        fields: dict[str, Any] = {
            "value": self.number(p.get("value"), p.get("kind", "")),
            "date": self.day(p.get("date")),
            "reference": p.get("reference", "?"),
            "threshold": self.number(p.get("threshold"), p.get("kind", "")),
            "conditions": self.join(conditions),
            "condition": _short(conditions[0]) if conditions else "",
            "metastasis": p.get("metastasis", ""),
            "analgesics": self.join(list(p.get("analgesics", ()))),
            "opioids": self.join(list(p.get("opioids", ()))),
            "effects": self.join(list(p.get("effects", ()))),
            "sites": self.join(list(p.get("sites", ()))),
            "site": _short(str(p.get("sites", ["?"])[0])) if p.get("sites") else "?",
            "procedures": self.join(list(p.get("procedures", ()))),
            "reasons": self.join(list(p.get("reasons", ()))),
            "cryo": self.text["cryo_margin"] if p.get("cryoablation") else "",
            "days": p.get("max_age_days", ""),
            "n_days": self.days(p.get("max_age_days", "")),
        }
        if finding.rule_id == "BLEED-LAB-MISSING":
            fields["tests"] = self.join([self.test_name(t) for t in p.get("missing", ())])
        if finding.rule_id == "BLEED-LAB-UNINTERPRETABLE":
            fields["tests"] = self.join([self.test_name(r["kind"]) for r in p.get("results", ())])
        if finding.rule_id == "DATA-UNAVAILABLE":
            fields["categories"] = self.join(
                [self.text["categories"].get(c, c) for c in p.get("categories", ())]
            )
            fields["rules"] = ", ".join(p.get("rules", ())) or self.text["none"]
        return fields

    def rule_text(self, finding: Finding) -> tuple[str, str]:
        wording = self.text["rules"][finding.rule_id]
        fields = self.fields(finding)
        return wording["summary"].format_map(fields), wording["detail"].format_map(fields)

    def single_card(self, findings: Sequence[Finding]) -> Card:
        finding = findings[0]
        summary, detail = self.rule_text(finding)
        lines = [detail]
        p = finding.params
        if "value" in p and "kind" in p:
            lines.append(self.lab_line(p))
        if finding.rule_id == "BLEED-LAB-UNINTERPRETABLE":
            lines.extend(self.lab_line(r) for r in p.get("results", ()))
        if finding.rule_id == "BLEED-LAB-MISSING":
            lines.extend(self.lab_line(r) for r in p.get("unusable", ()))
            for stale in p.get("stale", ()):
                lines.append(
                    self.text["stale_line"].format_map(
                        {
                            "test": self.test_name(stale.get("kind", "")),
                            "date": self.day(stale.get("date")),
                            "reference": stale.get("reference", "?"),
                            "days": p.get("max_age_days", ""),
                            "n_days": self.days(p.get("max_age_days", "")),
                        }
                    )
                )
            lines.append(self.policy_note("lab_max_age_days", p.get("max_age_days")))
        if finding.rule_id == "BLEED-INR-HIGH":
            lines.append(self.policy_note("inr_max", p.get("threshold")))
        records = list(p.get("records", ()))
        lines.extend(self.record_line(record) for record in records)
        shown = {str(record.get("reference")) for record in records}
        references = sorted({ref.reference for f in findings for ref in f.evidence} - shown)
        if references and not ("value" in p and "kind" in p):
            lines.append(self.text["evidence"].format_map({"references": ", ".join(references)}))
        suggestions: tuple[Suggestion, ...] = ()
        if finding.rule_id == "BLEED-LAB-MISSING":
            suggestions = self.lab_order_suggestions(list(p.get("missing", ())))
        return self.card(
            findings,
            summary,
            "\n\n".join(lines),
            CATALOG[finding.rule_id].section,
            suggestions,
        )

    def lab_order_suggestions(self, tests: list[str]) -> tuple[Suggestion, ...]:
        if not self.facts.patient_id:
            return ()
        suggestions = []
        for test in tests:
            code, _ = resources.LAB_ORDER_CODES[test]
            label = self.text["order_label"].format_map(
                {"test": self.test_name(test), "code": code}
            )
            resource = resources.lab_service_request(
                test, self.facts.patient_id, self.text["order_note"], self.now
            )
            suggestions.append(
                Suggestion(
                    label=label,
                    actions=(Action(ActionType.CREATE, label, resource),),
                    is_recommended=True,
                )
            )
        return tuple(suggestions)

    # ---- summary / checklist card -----------------------------------------------------------

    def summary_card(self, findings: Sequence[Finding]) -> Card:
        by_id = {f.rule_id: f for f in findings}
        parts: list[str] = []
        for rule_id in ("SCOPE-NO-BONE-METASTASIS", "SCOPE-NOT-LUNG-PRIMARY"):
            if rule_id in by_id:
                parts.append(f"**{rule_id}** — {self.rule_text(by_id[rule_id])[1]}")
        for rule_id in ("IND-PAIN-UNCONTROLLED", "IND-OPIOID-INTOLERANCE"):
            if rule_id in by_id:
                parts.append(f"**{rule_id}** — {self.rule_text(by_id[rule_id])[1]}")
                if rule_id == "IND-PAIN-UNCONTROLLED":
                    minimum = by_id[rule_id].params.get("uncontrolled_min")
                    parts.append(self.policy_note("pain_uncontrolled_min", minimum))
        if "TUMOR-CONTROL" in by_id:
            parts.append(self.text["rules"]["TUMOR-CONTROL"]["detail"])
        items = list(by_id["CHECKLIST"].params.get("items", ())) if "CHECKLIST" in by_id else []
        if items:
            bullets = "\n".join(f"- [ ] {self.text['checklist'][item]}" for item in items)
            parts.append(f"{self.text['rules']['CHECKLIST']['detail']}\n\n{bullets}")
        if "CHECKLIST" in by_id:
            # Worded by the ordered procedure: a pure thermal ablation puts in no cement.
            ablation_only = bool(self.facts.procedures) and all(
                p.kind.is_thermal_ablation for p in self.facts.procedures
            )
            key = "summary_ablation" if ablation_only else "summary"
            key += "_one" if len(items) == 1 else ""
            summary = self.text["rules"]["CHECKLIST"][key].format_map({"n": len(items)})
        else:
            summary = (
                self.rule_text(findings[0])[0] or self.text["rules"]["TUMOR-CONTROL"]["detail"]
            )
        return self.card(findings, summary, "\n\n".join(parts), SUMMARY_SECTION)

    # ---- antithrombotic plan card -----------------------------------------------------------

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
                finding, _plain(line), finding.params.get("drug") in late
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


def _drug_label(display: str) -> str:
    """The name part of a record's drug display ("Clopidogrel 75 MG Oral Tablet" -> "Clopidogrel"),
    cut to a summary-friendly length."""
    words: list[str] = []
    for word in display.split():
        if word[:1].isdigit():
            break
        words.append(word)
    return _short(" ".join(words) or display.strip() or "?")
