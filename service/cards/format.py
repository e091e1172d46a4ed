"""Formatting shared by every card: numbers, dates, instants, plurals, lab and record lines.

No card is assembled here: `CardText` only turns values into the card language's words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from service.rules.case import CaseSummary
from service.rules.params import (
    DocumentedCondition,
    InrHighParams,
    LabFindingParams,
    LabShown,
    RecordShown,
)

SUMMARY_MAX = 139
_SPACES = re.compile(r"[ \t\r\n]+")
_DISPLAY_MAX = 40
# A plain decimal as a lab wrote it ("1.5", "189.64223091570517"): shown rounded to at most
# ORIGINAL_DECIMALS decimals, with the card language's decimal mark (never a raw float).
_DECIMAL = re.compile(r"^(?P<comparator>[<>=≤≥]*)\s*(?P<number>-?\d+\.\d+)$")
ORIGINAL_DECIMALS = 2
# How a comparator is printed before a value ("< 20 000/mm³", "≤ 50 000/mm³").
_COMPARATORS = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def fit(summary: str) -> str:
    """Last guard on the spec's 140-character limit (templates are tested to stay below it)."""
    # Runs of ordinary white space only: a no-break space (French typography) stays.
    summary = _SPACES.sub(" ", summary).strip(" \t\r\n")
    return summary if len(summary) <= SUMMARY_MAX else summary[: SUMMARY_MAX - 1] + "…"


def short(value: str, limit: int = _DISPLAY_MAX) -> str:
    """A condition or site name inside a summary, cut to `limit` characters."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def plain(markdown: str) -> str:
    return markdown.replace("**", "").replace("`", "").strip()


class CardText:
    """The wording of one response: the card language's messages, the case (never the facts:
    cards render from the findings and this summary alone), and `now`."""

    def __init__(
        self, text: Mapping[str, Any], language: str, case: CaseSummary, now: datetime
    ) -> None:
        self.text = text
        self.language = language
        self.case = case
        self.now = now

    def number(self, value: float | None, kind: str = "") -> str:
        if value is None:
            return "?"
        if kind == "platelets":
            # Thousands apart; in French with a no-break space, so "210 000" never breaks.
            return f"{round(value):,}".replace(",", "\u00a0" if self.language == "fr" else " ")
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

    def original(self, lab: LabShown) -> str:
        """The result as the lab reported it, with its comparator; a decimal is rounded to a
        clinical number ("189.64223091570517" -> "189.64") in the card's decimal mark."""
        value = str(lab.original_value or "")
        match = _DECIMAL.match(value)
        if match:
            number = round(float(match["number"]), ORIGINAL_DECIMALS)
            value = match["comparator"] + self.number(number)
        comparator = _COMPARATORS.get(str(lab.comparator or ""), "")
        if comparator and not value.startswith(tuple("<>≤≥")):
            value = f"{comparator} {value}"
        return f"{value} {clinician_unit(lab.original_unit)}".strip()

    def shown_value(self, lab: LabShown) -> str:
        """The normalised value with its comparator, without unit ("< 20 000"): what a summary
        template's "{value}" should hold for a lab finding (RULES.md: the comparator is kept
        wherever the value is shown)."""
        value = self.number(lab.value, lab.kind)
        comparator = _COMPARATORS.get(str(lab.comparator or ""), "")
        return f"{comparator} {value}" if comparator else value

    def value_with_unit(self, lab: LabShown) -> str:
        """The normalised value with its unit and its comparator ("< 20 000/mm³")."""
        percent = "\u00a0%" if self.language == "fr" else " %"  # French: no break before %
        unit = {"platelets": "/mm³", "tp": percent, "pain": "/10"}.get(lab.kind, "")
        return f"{self.shown_value(lab)}{unit}"

    def test_name(self, key: str) -> str:
        return self.text["tests"].get(key, key)

    def join(self, items: Sequence[str]) -> str:
        items = list(dict.fromkeys(items))
        if not items:
            return self.text["none"]
        if len(items) == 1:
            return items[0]
        return f"{', '.join(items[:-1])} {self.text['and']} {items[-1]}"

    def lab_line(self, lab: LabShown) -> str:
        """A result's line, then what the card must say about it: preliminary, time zone
        assumed, older than the window; the results shown beside it (same instant, or the final
        one a preliminary result overrides); for an INR, the TP it was read with."""
        lines = [self._one_lab_line(lab)]
        beside = lab.also if isinstance(lab, LabFindingParams) else ()
        for other in beside:
            key = "lab_also_final" if lab.preliminary else "lab_also_same_time"
            lines.append(
                self.text["lab_notes"][key].format_map({"line": self._one_lab_line(other)})
            )
        if isinstance(lab, InrHighParams):
            lines.extend(self._inr_lines(lab))
        return "\n".join(lines)

    def _one_lab_line(self, lab: LabShown) -> str:
        original = self.original(lab)
        fields = {
            "test": self.test_name(lab.kind),
            "value": self.value_with_unit(lab),
            "original": original or "?",
            "date": self.day(lab.date),
            "problem": self.lab_problem(lab),
            "n_days": self.days(lab.max_age_days if lab.max_age_days is not None else ""),
        }
        usable = not fields["problem"] and lab.value is not None
        if lab.stale:
            template = "lab_stale_line" if usable else "lab_stale_problem_line"
        else:
            template = "lab_line" if usable else "lab_problem_line"
        line = self.text[template].format_map(fields)
        notes = self.text["lab_notes"]
        flags = (("preliminary", lab.preliminary), ("zone_assumed", lab.zone_assumed))
        marks = [notes[key] for key, on in flags if on]
        return f"{line} ({notes['separator'].join(marks)})" if marks else line

    def _inr_lines(self, lab: InrHighParams) -> list[str]:
        """BLEED-INR-HIGH: the TP that meets the guideline, or that the INR stands alone."""
        notes = self.text["lab_notes"]
        lines = []
        if lab.tp is not None:
            fields = {"tp": self.value_with_unit(lab.tp), "date": self.day(lab.tp.date)}
            lines.append(notes["inr_tp_met"].format_map(fields))
        if lab.inr_alone:
            lines.append(notes["inr_alone"])
        if lab.vka:
            lines.append(notes["inr_vka"])
        return lines

    def drug_name(self, drug: str, displays: Sequence[str] = ()) -> str:
        """The drug (an ingredient key) in the card's language; else what the record calls it
        (the name part of its first display)."""
        names: Mapping[str, str] = self.text["drugs"]
        if drug in names:
            return names[drug]
        return _drug_label(str(displays[0])) if displays else drug

    def dose_problems(self, dose_problems: Sequence[str]) -> str:
        """Why the daily dose is unknown. The facts word it in English only: other languages
        get their generic phrase (the reason is a record-keeping detail, not a clinical one)."""
        problems = "; ".join(dict.fromkeys(str(d) for d in dose_problems))
        if self.language != "en":
            return str(self.text["plan"]["dose_unknown"])
        return problems or str(self.text["plan"]["dose_unknown"])

    def days(self, count: Any) -> str:
        """'1 day', '7 days' in the card's language."""
        key = "days_one" if count == 1 else "days_many"
        return str(self.text[key]).format_map({"n": count})

    def record_line(self, record: RecordShown | DocumentedCondition) -> str:
        """A Condition or allergy behind a card: name and date (or that none is recorded)."""
        if not record.dated:
            key = "record_line_plain"
        else:
            key = "record_line" if record.date else "record_line_undated"
        return str(self.text[key]).format_map(
            {"display": record.display, "date": self.day(record.date)}
        )

    def lab_problem(self, lab: LabShown) -> str:
        """Why a result is unusable: worded here when the rules give a code, else as facts say."""
        if lab.problem_code:
            return str(self.text["lab_problems"][lab.problem_code])
        return str(lab.problem or "")

    def fit_list(self, template: str, names: list[str], fields: Mapping[str, Any]) -> str:
        """`template` with as many of `names` as fit in a summary, the rest counted ("+2")."""
        for shown in range(len(names), 0, -1):
            rest = len(names) - shown
            listed = self.join(names[:shown]) if not rest else f"{', '.join(names[:shown])} +{rest}"
            summary = template.format_map({**fields, "drugs": listed})
            if len(summary) <= SUMMARY_MAX:
                return summary
        return template.format_map({**fields, "drugs": f"+{len(names)}"})

    def policy_note(self, name: str, value: Any) -> str:
        """A local-protocol value, in words ("results of the last 7 days are read"), said to be
        the institution's local protocol, not guideline text: never its configuration key."""
        shown = self.number(value) if isinstance(value, (int, float)) else str(value)
        what = str(self.text["policy_values"][name]).format_map({"value": shown})
        return str(self.text["policy_note"]).format_map({"what": what})


# UCUM codes as a laboratory system sends them, written as a clinician writes them.
_CLINICIAN_UNITS = {
    "10*9/L": "G/L",
    "10*3/uL": "×10³/µL",
    "10*3/mm3": "×10³/mm³",
    "/uL": "/µL",
    "/mm3": "/mm³",
    "{INR}": "",
    "{ratio}": "",
    "{score}": "",
    "Cel": "°C",
    "[degF]": "°F",
}
_UCUM_POWER = re.compile(r"10\*(\d+)")
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def clinician_unit(unit: Any) -> str:
    """A unit as written on a card: the lab's own spelling ("G/L", "K/µL"), except UCUM's
    machine notation ("10*9/L", "{INR}", "mm3"), rewritten as a clinician writes it."""
    if not isinstance(unit, str):
        return ""
    text = unit.strip()
    if text in _CLINICIAN_UNITS:
        return _CLINICIAN_UNITS[text]
    text = _UCUM_POWER.sub(lambda m: "×10" + m[1].translate(_SUPERSCRIPT), text)
    text = re.sub(r"\{[^}]*\}", "", text)  # UCUM annotations ("{cells}") say nothing more
    return text.replace("uL", "µL").replace("mm3", "mm³").strip()


def _drug_label(display: str) -> str:
    """The name part of a record's drug display ("Clopidogrel 75 MG Oral Tablet" -> "Clopidogrel"),
    cut to a summary-friendly length."""
    words: list[str] = []
    for word in display.split():
        if word[:1].isdigit():
            break
        words.append(word)
    return short(" ".join(words) or display.strip() or "?")
