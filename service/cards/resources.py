"""FHIR R4 resources that card suggestions create: lab orders, suspension tasks, patient messages.

Choices (documented in the README "Clinical rules"):
* Missing lab: `create` a draft ServiceRequest (intent order), LOINC-coded, one per test.
* Antithrombotic from an order (MedicationRequest): `create` a draft Task (intent proposal) with
  the HL7 task code `suspend` whose `focus` is that MedicationRequest and whose
  `restriction.period` runs from the hold start to the procedure. We never `update` the order:
  we only hold facts, not the whole resource, and an update would overwrite it.
* Antithrombotic known from a MedicationStatement (patient-reported): there is no order to
  suspend, so `create` a draft CommunicationRequest to the patient, `about` the
  statement, carrying the dated instruction.
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
    hold_start: date | datetime | None,
    procedure: date | datetime | None,
    urgent: bool,
) -> dict[str, Any]:
    task: dict[str, Any] = {
        "resourceType": "Task",
        "status": "draft",
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
    }
    if patient_id:
        task["for"] = {"reference": f"Patient/{patient_id}"}
    period: dict[str, str] = {}
    if hold_start is not None:
        period["start"] = _when(hold_start)
    if procedure is not None:
        period["end"] = _when(procedure)
    if period:
        task["restriction"] = {"period": period}
    return task


def patient_instruction(
    statement_refs: list[str],
    patient_id: str | None,
    text: str,
    now: datetime,
    urgent: bool,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "resourceType": "CommunicationRequest",
        "status": "draft",  # R4 CommunicationRequest has no `intent` (added in R5)
        "priority": "urgent" if urgent else "routine",
        "payload": [{"contentString": text}],
        "authoredOn": now.isoformat(),
    }
    if statement_refs:
        request["about"] = [{"reference": ref} for ref in statement_refs]
    if patient_id:
        request["subject"] = {"reference": f"Patient/{patient_id}"}
        request["recipient"] = [{"reference": f"Patient/{patient_id}"}]
    return request
