"""`cementoplasty-cds report`: per rule, how often it fired and what clinicians did with it.

The loop that tells a team which rules clinicians disagree with: a rule often overridden,
for the same reason, is a rule to review.
"""

from __future__ import annotations

from typing import Protocol

from service.cards.base import HL7_OVERRIDE_SYSTEM, OVERRIDE_REASON_SYSTEM, OVERRIDE_REASONS
from service.cards.messages import messages
from service.storage import OverrideReasonCount, ReportRows

# Which terminology a reason comes from, as the report names it.
_TERMINOLOGIES = {HL7_OVERRIDE_SYSTEM: "HL7", OVERRIDE_REASON_SYSTEM: "service"}


class ReportSource(Protocol):
    def report_rows(self) -> ReportRows: ...


def render_report(store: ReportSource) -> str:
    rows = store.report_rows()
    lines = [
        f"Evaluations: {rows.evaluations}   Feedback items: {rows.feedback_items}"
        f" ({rows.feedback_unmatched} on cards no audit record knows)",
        "",
    ]
    if not rows.rules:
        lines.append("No rule has fired yet.")
        return "\n".join(lines)
    width = max(len("Rule"), *(len(rule.rule_id) for rule in rows.rules))
    lines.append(
        f"{'Rule':<{width}}  {'Fired':>7}  {'Accepted':>8}  {'Overridden':>10}  {'Override %':>10}"
    )
    for rule in rows.rules:
        answered = rule.accepted + rule.overridden
        rate = f"{100 * rule.overridden / answered:.0f}%" if answered else "-"
        lines.append(
            f"{rule.rule_id:<{width}}  {rule.fired:>7}  {rule.accepted:>8}"
            f"  {rule.overridden:>10}  {rate:>10}"
        )
        for reason in rule.override_reasons:
            lines.append(f"{'':<{width}}    {reason.count:>5} x {_reason_text(reason)}")
    return "\n".join(lines)


def _reason_text(reason: OverrideReasonCount) -> str:
    """The reason's words and its code, named by terminology: the specification's (HL7), the
    service's own, or another system an EHR sent. An EHR may send a code without its display
    (the CDS Hooks sandbox does): the service's own wording of a code it offered is shown then."""
    if reason.code is None and reason.display is None:
        return "(no reason given)"
    offered = (reason.system, reason.code) in OVERRIDE_REASONS
    display = reason.display or (messages("en")["override"][reason.code] if offered else None)
    if not reason.code:
        return _printable(display or "")
    terminology = _TERMINOLOGIES.get(reason.system or "", reason.system or "no system")
    code = f"[{terminology} {reason.code}]"
    return _printable(f"{display} {code}" if display else code)


def _printable(text: str) -> str:
    # Clients send these strings: keep the terminal safe from control characters.
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:200]
