"""The per-rule report, from a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from support.feedback_items import card, items

from service.audit_record import AuditCard, AuditRecord
from service.report import render_report
from service.storage import Store


def test_empty_store_report(store_url: str):
    text = render_report(Store(store_url))
    assert "Evaluations: 0" in text
    assert "No rule has fired yet." in text


def test_report_shows_fired_accepted_overridden_and_reasons(store_url: str):
    store = Store(store_url)
    for index in range(4):
        store.record_audit(
            AuditRecord(
                service="svc",
                hook_instance=f"h{index}",
                rules_fired=("R-INR-HIGH",),
                cards=(AuditCard(card(f"c{index}"), "critical", ("R-INR-HIGH",)),),
            )
        )
    reason = {"code": "recent-lab", "system": "https://example.org", "display": "Recent INR\x1b"}
    store.record_feedback(
        "svc",
        items(
            *[
                {
                    "card": card("c0"),
                    "outcome": "accepted",
                    "outcomeTimestamp": "2026-01-05T10:00:00Z",
                    "acceptedSuggestions": [{"id": "s"}],
                },
                {
                    "card": card("c1"),
                    "outcome": "overridden",
                    "outcomeTimestamp": "2026-01-05T10:00:00Z",
                    "overrideReason": {"reason": reason},
                },
                {
                    "card": card("c2"),
                    "outcome": "overridden",
                    "outcomeTimestamp": "2026-01-05T10:00:00Z",
                    "overrideReason": {"reason": reason},
                },
                {
                    "card": card("c3"),
                    "outcome": "overridden",
                    "outcomeTimestamp": "2026-01-05T10:00:00Z",
                },
                {
                    "card": card("stranger"),
                    "outcome": "overridden",
                    "outcomeTimestamp": "2026-01-05T10:00Z",
                },
            ]
        ),
    )
    lines = render_report(store).splitlines()
    assert lines[0] == "Evaluations: 4   Feedback items: 5 (1 on cards no audit record knows)"
    [row] = [line for line in lines if line.startswith("R-INR-HIGH")]
    assert row.split() == ["R-INR-HIGH", "4", "1", "3", "75%"]
    assert any(
        line.split() == ["2", "x", "Recent", "INR?", "[https://example.org", "recent-lab]"]
        for line in lines
    )
    assert any(line.split() == ["1", "x", "(no", "reason", "given)"] for line in lines)


def test_report_names_the_terminology_of_each_reason(store_url: str) -> None:
    """HL7's override-reason codes and the service's own are grouped apart, each with words."""
    store = Store(store_url)
    store.record_audit(
        AuditRecord(
            service="svc",
            hook_instance="h-terminology",
            rules_fired=("MED-VKA",),
            cards=tuple(AuditCard(card(f"t{i}"), "warning", ("MED-VKA",)) for i in range(3)),
        )
    )
    hl7 = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
    own = "https://cementoplasty-cds.example/fhir/CodeSystem/override-reason"
    store.record_feedback(
        "svc",
        items(
            *[
                {
                    "card": card(name),
                    "outcome": "overridden",
                    "outcomeTimestamp": "2026-01-05T10:00:00Z",
                    # As the CDS Hooks sandbox sends it: code and system, no display.
                    "overrideReason": {"reason": {"code": code, "system": system}},
                }
                for name, code, system in (
                    ("t0", "cds-not-applicable", hl7),
                    ("t1", "mdt-decided", own),
                    ("t2", "mdt-decided", hl7),  # not an HL7 code: kept apart, no words invented
                )
            ]
        ),
    )
    lines = [" ".join(line.split()) for line in render_report(store).splitlines()]
    assert any(
        line.endswith("[HL7 cds-not-applicable]") and "Does not apply" in line for line in lines
    )
    assert any(
        line.endswith("[service mdt-decided]") and "multidisciplinary" in line for line in lines
    )
    assert "1 x [HL7 mdt-decided]" in lines
