"""Distinct patients: hook requests of realistic shape and size, none sent twice.

Each request is built from one of the Synthea R4 bundles of `../shared/testdata/synthea-r4/`,
converted as an EHR fills the prefetch: every key of the service's own prefetch templates
(service/prefetch_templates.py) is answered as its FHIR search would be (the patient's
Observations of the template's codes, newest first, `_count` of them; active
MedicationRequests; every Condition and AllergyIntolerance), references made relative
(`Patient/<id>`, not `urn:uuid:`). Patient `index` is bundle `index % 20` with deterministic
variations drawn from `(seed, index)`: ids, name, dates (the record is moved so its latest
result is a few days old), lab values (scaled), a subset of the medications and conditions,
coagulation results, temperatures, an antithrombotic for some, and the bone metastasis and lung
cancer that bring a patient to a cementoplasty. The Synthea bundles hold no TP/INR, body
temperature (8310-5) or neutrophils; those results are generated with the codes the service's
value sets list (labs.json), so no code here is invented.

The moments (`MOMENTS`): order-select of a vertebroplasty; patient-view with the procedure
planned (a ServiceRequest and its booked Appointment in the prefetch); an antithrombotic
ordered (order-select of a MedicationRequest) while the procedure is planned; appointment-book
of the procedure's appointment.

Every id that must differ between two requests of the same pool entry carries `MARKER`; the
load script (bench/pool.lua) replaces it with a number unique to each request, so a pool of a
few hundred shapes gives as many distinct requests as the run sends (content-keyed memos never
see the same resource twice). `materialise` does the same in Python.

The resources are built by the project's FHIR builders (tests/support/fhir_builders.py), hence:

    PYTHONPATH=tests .venv/bin/python -m bench.distinct --count 600 [--moment order-select]

(prints the sizes).
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import random
import statistics
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import support.fhir_builders as fhir
from support.fhir_builders import (
    ALLERGY_CLINICAL,
    LOINC,
    OBSERVATION_CATEGORY,
    RXNORM,
    SNOMED,
    Json,
    coding,
    concept,
    order_context,
    searchset,
)

from bench.make_requests import VERTEBROPLASTY

SYNTHEA_DIR = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "synthea-r4"
MARKER = "~V~"
DEFAULT_SEED = 15
MOMENTS = ("order-select", "patient-view", "medication-order", "appointment-book")
SERVICE_PATHS = {
    "order-select": "/cds-services/cementoplasty-order-select",
    "order-sign": "/cds-services/cementoplasty-order-sign",
    "patient-view": "/cds-services/cementoplasty-patient-view",
    "medication-order": "/cds-services/cementoplasty-order-select",
    "appointment-book": "/cds-services/cementoplasty-appointment-book",
}
FHIR_SERVER = "http://127.0.0.1:9/fhir"

FAMILY = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand")
GIVEN = ("Claude", "Dominique", "Camille", "Alex", "Jean", "Marie", "Michel", "Anne")

# Generated results, with codes the service's labs.json lists (and TERMINOLOGY.md names).
INR = ("6301-6", "INR in Platelet poor plasma by Coagulation assay", "{INR}", 0.9, 1.6)
TP = ("5894-1", "Prothrombin time (PT) actual/Normal", "%", 60, 105)
TEMPERATURE = ("8310-5", "Body temperature", "Cel", 36.2, 38.4)
NEUTROPHILS = ("751-8", "Neutrophils [#/volume] in Blood by Automated count", "10*3/uL", 0.8, 7)
PLATELETS = ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 40, 380)

# (medication, dose mg): antithrombotics, as make_requests and the moment tests name them; the
# medication's text is the dosage's too.
ANTITHROMBOTICS: tuple[tuple[Json, float], ...] = (
    (
        concept(RXNORM, "309362", "Clopidogrel 75 MG Oral Tablet", "clopidogrel 75 mg once daily"),
        75,
    ),
    (concept(RXNORM, "1191", "aspirin", "aspirin 75 mg once daily"), 75),
    (concept(RXNORM, "1364430", "apixaban 5 MG Oral Tablet", "apixaban 5 mg twice daily"), 5),
)
BONE_METASTASIS = ("94222008", "Secondary malignant neoplasm of bone (disorder)")
LUNG_CANCER = ("254637007", "Non-small cell lung cancer (disorder)")
LABORATORY = concept(OBSERVATION_CATEGORY, "laboratory", "laboratory", display_as_text=False)
SURGICAL_PROCEDURE = concept(SNOMED, "387713003", "Surgical procedure", display_as_text=False)
USER = "Practitioner/bench-practitioner-1"


# The resource types the prefetch templates ask for (the rest of a Synthea record is not copied).
_READ = {"Patient", "Observation", "Condition", "MedicationRequest", "AllergyIntolerance"}


@cache
def _bundles() -> tuple[tuple[Json, ...], ...]:
    """The resources of each Synthea bundle (sorted by file name: a stable order)."""
    paths = sorted(SYNTHEA_DIR.glob("*.json.gz"))
    if not paths:
        raise SystemExit(f"bench: no Synthea bundle in {SYNTHEA_DIR}")
    out = []
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            bundle = json.load(handle)
        out.append(tuple(entry["resource"] for entry in bundle["entry"]))
    return tuple(out)


@cache
def _templates() -> dict[str, str]:
    from service.prefetch_templates import prefetch_templates
    from service.valuesets import load_valuesets

    return prefetch_templates(load_valuesets())


def _search(template: str) -> tuple[str, dict[str, str]]:
    resource_type, _, query = template.partition("?")
    return resource_type, {k: v[0] for k, v in parse_qs(query).items()}


def _relative(value: Any, ids: dict[str, str]) -> Any:
    """References made relative as a FHIR server returns them (`Patient/x`, not `urn:uuid:x`)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item.startswith("urn:uuid:"):
                out[key] = ids.get(item[9:], f"Encounter/{item[9:]}")
            else:
                out[key] = _relative(item, ids)
        return out
    if isinstance(value, list):
        return [_relative(item, ids) for item in value]
    return value


class _Patient:
    """One distinct patient: a Synthea record moved in time, renamed and varied."""

    def __init__(self, index: int, seed: int, today: date) -> None:
        bundles = _bundles()
        self.rng = random.Random(seed * 1_000_003 + index)
        self.index = index
        self.today = today
        self.now = datetime(today.year, today.month, today.day, 8, 0, tzinfo=UTC)
        resources = bundles[index % len(bundles)]
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        self.patient_id = f"p{index}-{MARKER}"
        ids = {r["id"]: f"{r['resourceType']}/{r['id']}" for r in resources}
        ids[patient["id"]] = f"Patient/{self.patient_id}"
        self.resources = [
            _relative(copy.deepcopy(r), ids) for r in resources if r["resourceType"] in _READ
        ]
        self.scale = self.rng.uniform(0.85, 1.15)
        self.seq = 0
        # Move the record: its latest result 1-5 days before today.
        dated = [
            _parse(r["effectiveDateTime"])
            for r in self.resources
            if r["resourceType"] == "Observation" and "effectiveDateTime" in r
        ]
        latest = max(dated) if dated else self.now
        self.shift = (self.now - timedelta(days=self.rng.uniform(1, 5))) - latest
        self.by_type: dict[str, list[Json]] = {}
        for resource in self.resources:
            self._vary(resource)
            self.by_type.setdefault(resource["resourceType"], []).append(resource)

    # --- variations ------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}{self.index}-{self.seq}-{MARKER}"

    def _vary(self, resource: Json) -> None:
        resource["id"] = self._id(resource["resourceType"][:3].lower())
        # Synthea's narrative and tags: no EHR sends them.
        resource.pop("text", None)
        resource.pop("meta", None)
        for key in ("effectiveDateTime", "issued", "onsetDateTime", "recordedDate"):
            if key in resource:
                resource[key] = self._moved(resource[key])
        if "abatementDateTime" in resource:
            resource["abatementDateTime"] = self._moved(resource["abatementDateTime"])
        if "authoredOn" in resource:
            resource["authoredOn"] = self._moved(resource["authoredOn"])
        quantity = resource.get("valueQuantity")
        if (
            isinstance(quantity, dict)
            and isinstance(quantity.get("value"), int | float)
            and quantity.get("code") != "{score}"  # a pain score stays a whole 0-10
        ):
            quantity["value"] = round(quantity["value"] * self.scale, 2)
        if resource["resourceType"] == "Patient":
            resource["id"] = self.patient_id
            resource["name"] = [
                {
                    "use": "official",
                    "family": self.rng.choice(FAMILY),
                    "given": [self.rng.choice(GIVEN)],
                }
            ]
            resource.pop("deceasedDateTime", None)
            # US Core race, ethnicity, birth sex stay; Synthea's own (life years...) do not.
            resource["extension"] = [
                e for e in resource.get("extension", []) if "us-core" in e.get("url", "")
            ]
            resource.pop("identifier", None)

    def _moved(self, text: str) -> str:
        return _iso(_parse(text) + self.shift)

    def _timestamp(self, days_ago: float) -> str:
        return _iso(self.now - timedelta(days=days_ago))

    # --- generated resources ---------------------------------------------------------------

    def observation(
        self, spec: tuple[str, str, str, float, float], days_ago: float, value: float | None = None
    ) -> Json:
        code, display, unit, low, high = spec
        number = value if value is not None else self.rng.uniform(low, high)
        return fhir.observation(
            concept(LOINC, code, display, display_as_text=False),
            round(number, 2),
            unit,
            id=self._id("obs"),
            category=LABORATORY,
            patient_id=self.patient_id,
            effective=self._timestamp(days_ago),
            issued=self._timestamp(days_ago - 0.1),
        )

    def condition(self, code: str, display: str, onset_days: float) -> Json:
        return fhir.condition(
            concept(SNOMED, code, display, display_as_text=False),
            id=self._id("con"),
            verification="confirmed",
            patient_id=self.patient_id,
            onsetDateTime=self._timestamp(onset_days),
        )

    def antithrombotic(self) -> Json:
        medication, dose = self.rng.choice(ANTITHROMBOTICS)
        return fhir.medication_request(
            medication,
            id=self._id("med"),
            patient_id=self.patient_id,
            authored_on=self._timestamp(self.rng.uniform(20, 400)),
            dosage=[fhir.dosage(dose, "mg", 1, text=medication["text"], sequence=1)],
        )

    def planned_request(self, when: date, status: str = "active") -> Json:
        return fhir.service_request(
            VERTEBROPLASTY,
            id=self._id("sr"),
            status=status,
            category=SURGICAL_PROCEDURE,
            patient_id=self.patient_id,
            occurrenceDateTime=f"{when.isoformat()}T09:00:00Z",
            requester={"reference": USER},
        )

    def appointment(self, request: Json, when: date) -> Json:
        return {
            "resourceType": "Appointment",
            "id": self._id("appt"),
            "status": "booked",
            "start": f"{when.isoformat()}T08:30:00Z",
            "end": f"{when.isoformat()}T10:00:00Z",
            "basedOn": [{"reference": f"ServiceRequest/{request['id']}"}],
            "participant": [
                {"actor": {"reference": f"Patient/{self.patient_id}"}, "status": "accepted"}
            ],
        }

    # --- the prefetch ----------------------------------------------------------------------

    def prefetch(self) -> Json:
        """Every key of the templates, answered as the template's search would be."""
        rng = self.rng
        # A shorter or longer record in this EHR: a share of the Synthea results and conditions.
        kept = rng.uniform(0.2, 0.9)
        observations = [o for o in self.by_type.get("Observation", []) if rng.random() < kept]
        # Results the Synthea records lack (see the module docstring), a varying number of each.
        for index in range(rng.randint(0, 4)):
            observations.append(self.observation(PLATELETS, 2 + index * rng.uniform(3, 9)))
        for index in range(rng.randint(1, 5)):
            days = 1 + index * rng.uniform(2, 6)
            observations.append(self.observation(INR, days))
            observations.append(self.observation(TP, days))
        for index in range(rng.randint(0, 6)):
            observations.append(self.observation(TEMPERATURE, 0.2 + index * 0.25))
        for index in range(rng.randint(0, 2)):
            observations.append(self.observation(NEUTROPHILS, 1 + index * 4))
        conditions = [c for c in self.by_type.get("Condition", []) if rng.random() < kept]
        conditions.append(self.condition(*BONE_METASTASIS, rng.uniform(20, 200)))
        if rng.random() < 0.8:
            conditions.append(self.condition(*LUNG_CANCER, rng.uniform(200, 900)))
        medications = [
            m
            for m in self.by_type.get("MedicationRequest", [])
            if m.get("status") == "active" or rng.random() < 0.03
        ]
        for medication in medications:
            medication["status"] = "active"
        if rng.random() < 0.3:
            medications.append(self.antithrombotic())
        allergies = self.by_type.get("AllergyIntolerance", [])
        for allergy in allergies:
            allergy.setdefault("clinicalStatus", {"coding": [coding(ALLERGY_CLINICAL, "active")]})
        prefetch: Json = {}
        for key, template in _templates().items():
            resource_type, params = _search(template)
            if resource_type.startswith("Patient/"):
                prefetch[key] = next(iter(self.by_type["Patient"]))
                continue
            if resource_type == "Observation":
                codes = {c.split("|", 1)[1] for c in params["code"].split(",")}
                found = [
                    o
                    for o in observations
                    if any(c.get("code") in codes for c in o["code"].get("coding", []))
                ]
                found.sort(key=lambda o: o.get("effectiveDateTime", ""), reverse=True)
                found = found[: int(params.get("_count", "100"))]
            elif resource_type == "MedicationRequest":
                found = medications
            elif resource_type == "Condition":
                found = conditions
            elif resource_type == "AllergyIntolerance":
                found = allergies
            else:  # MedicationStatement, planned ServiceRequest and Appointment: none recorded
                found = []
            prefetch[key] = _searchset(found)
        return prefetch


def _parse(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _searchset(resources: list[Json]) -> Json:
    """A searchset of this EHR: every match in one page, fullUrls under its base."""
    return searchset(*resources, base=FHIR_SERVER, total=len(resources))


def build(moment: str, index: int, seed: int = DEFAULT_SEED, today: date | None = None) -> Json:
    """The hook request of patient `index` at `moment` (deterministic; ids carry MARKER)."""
    patient = _Patient(index, seed, today or datetime.now(UTC).date())
    prefetch = patient.prefetch()
    procedure_day = patient.today + timedelta(days=patient.rng.randint(5, 20))
    context: Json = {"userId": USER, "patientId": patient.patient_id}
    if moment in ("order-select", "order-sign"):
        draft = patient.planned_request(procedure_day, status="draft")
        context = order_context(
            [draft],
            user=USER,
            patient_id=patient.patient_id,
            encounter=f"enc-{MARKER}",
            selections=[f"ServiceRequest/{draft['id']}"],
        )
        for key in ("plannedServiceRequests", "plannedAppointments"):
            prefetch.pop(key, None)  # an order-select does not ask for them
    else:
        planned = patient.planned_request(procedure_day)
        booked = patient.appointment(planned, procedure_day)
        prefetch["plannedServiceRequests"] = _searchset([planned])
        prefetch["plannedAppointments"] = _searchset([booked])
        if moment == "medication-order":
            draft = patient.antithrombotic()
            draft["status"] = "draft"
            context = order_context(
                [draft],
                user=USER,
                patient_id=patient.patient_id,
                selections=[f"MedicationRequest/{draft['id']}"],
            )
        elif moment == "appointment-book":
            context["appointments"] = fhir.collection(booked)
            prefetch["plannedAppointments"] = _searchset([])
    hook = {"medication-order": "order-select"}.get(moment, moment)
    return fhir.hook_request(
        hook,
        context,
        prefetch,
        instance=f"00000000-0000-4000-8000-{index:06d}{MARKER}",
        fhir_server=FHIR_SERVER,
    )


def materialise(body: str, unique: int) -> str:
    """`body` with MARKER replaced as bench/pool.lua replaces it (hex, as in a uuid)."""
    return body.replace(MARKER, f"{unique:06x}")


def pool_lines(
    moment: str, count: int, seed: int = DEFAULT_SEED, today: date | None = None
) -> Iterator[str]:
    """`path<TAB>compact JSON` of patients 0..count-1 at `moment` (the pool file's lines)."""
    for index in range(count):
        body = json.dumps(build(moment, index, seed, today), separators=(",", ":"))
        yield f"{SERVICE_PATHS[moment]}\t{body}"


def hook_sequence_lines(
    count: int, seed: int = DEFAULT_SEED, today: date | None = None
) -> Iterator[str]:
    """order-select then order-sign for the same patient (the same body, the other hook)."""
    for index in range(count):
        request = build("order-select", index, seed, today)
        for hook in ("order-select", "order-sign"):
            request["hook"] = hook
            yield f"{SERVICE_PATHS[hook]}\t{json.dumps(request, separators=(',', ':'))}"


def write_pool(path: Path, lines: Iterator[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--moment", choices=MOMENTS, default="order-select")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=None, help="write the pool file here")
    args = parser.parse_args(argv)
    lines = list(pool_lines(args.moment, args.count, args.seed))
    sizes = sorted(len(line.split("\t", 1)[1].encode()) for line in lines)
    print(
        f"{len(lines)} requests ({args.moment}): median {statistics.median(sizes) / 1024:.1f} KiB, "
        f"min {sizes[0] / 1024:.1f}, p90 {sizes[int(len(sizes) * 0.9)] / 1024:.1f}, "
        f"max {sizes[-1] / 1024:.1f} KiB; distinct bodies: {len(set(lines))}"
    )
    if args.out:
        write_pool(args.out, iter(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
