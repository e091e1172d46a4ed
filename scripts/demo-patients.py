"""The demo patients of `make demo` (scripts/demo-run.py): one FHIR R4 transaction Bundle.

Built at load time (never a committed data dump), so the planned procedures are always a few
days ahead, with the project's FHIR builders (tests/support/fhir_builders.py) and the fixture
patient's record conventions (fixtures/build.py):

* cemento-demo-1: vertebroplasty of T12 in 7 days, on clopidogrel, platelets 42 000/mm³.
* cemento-demo-2: kyphoplasty of L1 in 10 days, on warfarin (VKA), INR 2.4, TP 35 %.
* cemento-demo-3: vertebroplasty of L3 in 14 days, nothing to report (the clean case).
* cemento-demo-4: radiofrequency ablation of the right femur, its appointment booked in 8 days
  at 09:00, on apixaban (the 48-hour hold is counted from the appointment).
* cemento-demo-5: nothing planned (patient-view and a prescription give no card).

Prints the Bundle (dated from today by default); the two folders are on the import path:

    PYTHONPATH=tests:fixtures .venv/bin/python scripts/demo-patients.py [YYYY-MM-DD]

The demo data is not under fixtures/: build.py regenerates that folder and removes any directory
it did not write.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from build import (
    BONE_METASTASIS,
    FEMUR,
    INR_CODE,
    LUNG_CANCER,
    PLATELETS_777,
    T12,
    TP_CODE,
    VERTEBROPLASTY,
    condition,
    daily,
    med_request,
    med_statement,
    result,
    service_request,
)
from support.fhir_builders import CPT, RXNORM, Json, concept

ZONE = ZoneInfo("Europe/Paris")  # the service's default site time zone
PATIENT_IDS = tuple(f"cemento-demo-{n}" for n in range(1, 6))

KYPHOPLASTY = concept(
    CPT, "22513", "Percutaneous vertebral augmentation (eg kyphoplasty); thoracic"
)
LUMBAR_VERTEBROPLASTY = concept(CPT, "22511", "Percutaneous vertebroplasty; lumbosacral")
RFA = concept(
    CPT, "20982", "Ablation therapy of 1 or more bone tumors, percutaneous; radiofrequency"
)
L1 = concept(None, None, "Vertèbre L1")
L3 = concept(None, None, "Vertèbre L3")
PLAVIX = concept(RXNORM, "309362", "Clopidogrel 75 MG Oral Tablet", "Plavix 75 mg")
WARFARIN = concept(RXNORM, "855332", "Warfarin Sodium 5 MG Oral Tablet", "Coumadine 5 mg")
ELIQUIS = concept(RXNORM, "1364430", "apixaban", "Eliquis 5 mg")
PARACETAMOL = concept(None, None, "Doliprane 1 g (paracétamol)")


def owned(resource: Json, patient_id: str) -> Json:
    """The builders' resource, given to `patient_id` (the builders use one fixed patient)."""
    resource = json.loads(json.dumps(resource))
    for key in ("subject", "patient", "informationSource"):
        if key in resource:
            resource[key] = {"reference": f"Patient/{patient_id}"}
    resource["id"] = f"{patient_id}-{resource['id']}"
    return resource


def patient(patient_id: str, family: str, given: str, gender: str, born: str) -> Json:
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "active": True,
        "name": [{"family": family, "given": [given]}],
        "gender": gender,
        "birthDate": born,
    }


def labs(today: date, plt: float, tp_value: float, inr_value: float) -> list[Json]:
    drawn = datetime.combine(today - timedelta(days=1), datetime.min.time(), ZONE)
    when = drawn.replace(hour=8).isoformat()
    return [
        result("obs-plt", PLATELETS_777, plt, "/mm3", when),
        result("obs-tp", TP_CODE, tp_value, "%", when),
        result("obs-inr", INR_CODE, inr_value, "{INR}", when),
    ]


def cancer() -> list[Json]:
    return [condition("cond-bone-mets", BONE_METASTASIS), condition("cond-lung", LUNG_CANCER)]


def demo_resources(today: date) -> list[Json]:
    """Every resource of the demo patients, ids prefixed by the patient's."""
    day = lambda n: (today + timedelta(days=n)).isoformat()  # noqa: E731
    records: dict[str, list[Json]] = {
        "cemento-demo-1": [
            service_request("sr-vp", VERTEBROPLASTY, T12, day(7), status="active"),
            med_statement("ms-clopidogrel", PLAVIX, [daily(75)]),
            *labs(today, 42_000, 85, 1.1),
            *cancer(),
        ],
        "cemento-demo-2": [
            service_request("sr-kp", KYPHOPLASTY, L1, day(10), status="active"),
            med_request("mr-warfarin", WARFARIN, [daily(5)]),
            *labs(today, 230_000, 35, 2.4),
            *cancer(),
        ],
        "cemento-demo-3": [
            service_request("sr-vp", LUMBAR_VERTEBROPLASTY, L3, day(14), status="active"),
            med_request("mr-paracetamol", PARACETAMOL, [daily(1000, times=3)]),
            *labs(today, 240_000, 92, 1.0),
            *cancer(),
        ],
        "cemento-demo-4": [
            service_request("sr-rfa", RFA, FEMUR, None, status="active"),
            med_statement("ms-apixaban", ELIQUIS, [daily(5, times=2)]),
            *labs(today, 190_000, 88, 1.1),
            *cancer(),
        ],
        "cemento-demo-5": [*labs(today, 250_000, 95, 1.0), *cancer()],
    }
    people = {
        "cemento-demo-1": ("Martin", "Jacques", "male", "1952-04-17"),
        "cemento-demo-2": ("Bernard", "Monique", "female", "1948-09-02"),
        "cemento-demo-3": ("Petit", "Alain", "male", "1960-01-25"),
        "cemento-demo-4": ("Durand", "Sylvie", "female", "1957-06-11"),
        "cemento-demo-5": ("Moreau", "Henri", "male", "1955-12-30"),
    }
    resources: list[Json] = []
    for patient_id, record in records.items():
        resources.append(patient(patient_id, *people[patient_id]))
        resources.extend(owned(resource, patient_id) for resource in record)
    start = datetime.combine(today + timedelta(days=8), datetime.min.time(), ZONE).replace(hour=9)
    resources.append(
        {
            "resourceType": "Appointment",
            "id": "cemento-demo-4-appt-rfa",
            "status": "booked",
            "basedOn": [{"reference": "ServiceRequest/cemento-demo-4-sr-rfa"}],
            "serviceType": [concept(None, None, "Radiologie interventionnelle")],
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "participant": [
                {"actor": {"reference": "Patient/cemento-demo-4"}, "status": "accepted"}
            ],
        }
    )
    return resources


def demo_bundle(today: date) -> Json:
    """A transaction Bundle: PUT each resource under its own id (loading twice is harmless)."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": resource,
                "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
            }
            for resource in demo_resources(today)
        ],
    }


if __name__ == "__main__":
    when = date.fromisoformat(sys.argv[1]) if len(sys.argv) > 1 else datetime.now(ZONE).date()
    json.dump(demo_bundle(when), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
