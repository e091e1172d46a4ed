"""FHIR R4 resources that card suggestions create: lab orders, suspension tasks, patient messages.

Choices (documented in the README "Clinical rules"):
* Missing lab: `create` a draft ServiceRequest (intent order), LOINC-coded, one per test.
* Antithrombotic from an order (MedicationRequest) with a dated hold: `create` a Task (status
  requested, intent proposal) with the HL7 task code `suspend` whose `focus` is that one
  MedicationRequest and whose `restriction.period` runs from the hold start to the procedure.
  We never `update` the order: we only hold facts, not the whole resource, and an update would
  overwrite it.
* Antithrombotic known from a MedicationStatement (patient-reported) with a dated hold: there
  is no order to suspend, so `create` a draft CommunicationRequest to the patient, `about` the
  statement, carrying the dated instruction in lay language.
* A VKA, an undated plan or a combination tablet: a CommunicationRequest to the prescriber and
  the anaesthesia team, `about` the record (never a Task without a start).
No resource carries a dose: the service never invents one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

LOINC_SYSTEM = "http://loinc.org"
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"

# Test key -> (LOINC code, LOINC long common name); TERMINOLOGY.md, verified = yes.
LAB_ORDER_CODES: dict[str, tuple[str, str]] = {
    "platelets": ("777-3", "Platelets [#/volume] in Blood by Automated count"),
    "tp": ("5894-1", "Prothrombin time (PT) actual/Normal"),
    "inr": ("6301-6", "INR in Platelet poor plasma by Coagulation assay"),
}


def _when(value: date | datetime) -> str:
    return value.isoformat()


def lab_service_request(test: str, patient_id: str, note: str, now: datetime) -> dict[str, Any]:
    code, display = LAB_ORDER_CODES[test]
    return {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": LOINC_SYSTEM, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": now.isoformat(),
        "note": [{"text": note}],
    }


def suspend_order_task(
    order_id: str,
    patient_id: str | None,
    description: str,
    now: datetime,
    hold_start: date | datetime,
    procedure: date | datetime,
    urgent: bool,
) -> dict[str, Any]:
    """A proposal to suspend one MedicationRequest from the hold start to the procedure.

    Only with a known hold start: a Task without `restriction.period.start` would read as "suspend
    now, indefinitely" (RULES.md: never a Task without a start).
    """
    task: dict[str, Any] = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "proposal",
        "priority": "urgent" if urgent else "routine",
        "code": {
            "coding": [
                {
                    "system": TASK_CODE_SYSTEM,
                    "code": "suspend",
                    "display": "Suspend the focal resource",
                }
            ]
        },
        "description": description,
        "focus": {"reference": f"MedicationRequest/{order_id}"},
        "authoredOn": now.isoformat(),
        "restriction": {"period": {"start": _when(hold_start), "end": _when(procedure)}},
    }
    if patient_id:
        task["for"] = {"reference": f"Patient/{patient_id}"}
    return task


def patient_instruction(
    record_ref: str,
    patient_id: str | None,
    text: str,
    now: datetime,
    urgent: bool,
) -> dict[str, Any]:
    """A message to the patient about one patient-reported medication (MedicationStatement)."""
    request: dict[str, Any] = {
        "resourceType": "CommunicationRequest",
        "status": "draft",  # R4 CommunicationRequest has no `intent` (added in R5)
        "priority": "urgent" if urgent else "routine",
        "about": [{"reference": record_ref}],
        "payload": [{"contentString": text}],
        "authoredOn": now.isoformat(),
    }
    if patient_id:
        request["subject"] = {"reference": f"Patient/{patient_id}"}
        request["recipient"] = [{"reference": f"Patient/{patient_id}"}]
    return request


def team_request(
    record_ref: str,
    patient_id: str | None,
    text: str,
    recipients: list[str],
    now: datetime,
    urgent: bool,
) -> dict[str, Any]:
    """A request to the prescriber and the anaesthesia team about one medication record (a VKA,
    an undated plan, a combination tablet): they decide, no resource suspends anything.

    The recipients are named by display only: the record does not say who they are.
    """
    request: dict[str, Any] = {
        "resourceType": "CommunicationRequest",
        "status": "draft",
        "priority": "urgent" if urgent else "routine",
        "about": [{"reference": record_ref}],
        "recipient": [{"display": name} for name in recipients],
        "payload": [{"contentString": text}],
        "authoredOn": now.isoformat(),
    }
    if patient_id:
        request["subject"] = {"reference": f"Patient/{patient_id}"}
    return request
