"""Deterministic benchmark requests for the `order-select` hook.

* typical: one patient, 200 Observations (30 platelet counts, 20 coagulation results, 5 pain
  scores, 145 other labs), 25 active MedicationRequests, 40 Conditions, 3 allergies, full
  prefetch; the draft order is a lumbosacral vertebroplasty (CPT 22511) in 10 days.
* small: the same shape with about a dozen resources.
* typical-no-prefetch: the typical request without `prefetch` (every key is fetched from the
  FHIR server named in `fhirServer`: the benchmark's stub).
* typical-partial-prefetch: patient, conditions and allergies prefetched, labs and medications
  not (a hanging FHIR server then yields the DATA-UNAVAILABLE card rather than a 412).

The same (seed, today, fhir_server) always gives byte-identical files. `today` defaults to the
current date so that results stay within the service's freshness window (lab_max_age_days) and
the procedure date stays in the future; pass --today to reproduce a file exactly.

Codes: platelets/INR/TP/pain/CPT from /work/shared/clinical/TERMINOLOGY.md; other labs,
medications, conditions and allergies are codes and displays that occur in the Synthea R4
test bundles (testdata/synthea-r4), so no code here is invented.

The resources are built by the project's FHIR builders (tests/support/fhir_builders.py), hence:

    PYTHONPATH=tests .venv/bin/python -m bench.make_requests --out bench/results/requests
        [--seed 1] [--today 2026-01-31]
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import support.fhir_builders as fhir
from support.fhir_builders import ATC, CPT, LOINC, RXNORM, SNOMED, Json, coding, concept

PATIENT_ID = "bench-patient-1"
DRAFT_ORDER_ID = "vp-1"
SERVICE_ID = "cementoplasty-order-select"
DEFAULT_SEED = 20260101
DEFAULT_FHIR_SERVER = "http://127.0.0.1:9"

PREFETCH_KEYS = (
    "patient",
    "platelets",
    "coagulation",
    "pain",
    "medicationStatements",
    "medicationRequests",
    "conditions",
    "allergies",
    "temperature",
    "neutrophils",
)

# (LOINC code, display, UCUM unit, low, high): laboratory results seen in the Synthea bundles,
# plus serum creatinine 2160-0.
OTHER_LABS: tuple[tuple[str, str, str, float, float], ...] = (
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 9.5, 14.5),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.3),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 3.5, 11.0),
    ("789-8", "Erythrocytes [#/volume] in Blood by Automated count", "10*6/uL", 3.5, 5.5),
    ("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", "%", 30.0, 45.0),
    ("787-2", "MCV [Entitic volume] by Automated count", "fL", 80.0, 100.0),
    ("785-6", "MCH [Entitic mass] by Automated count", "pg", 27.0, 33.0),
    ("786-4", "MCHC [Mass/volume] by Automated count", "g/dL", 32.0, 36.0),
    ("2339-0", "Glucose", "mg/dL", 70.0, 140.0),
    ("6299-2", "Urea Nitrogen", "mg/dL", 7.0, 25.0),
    ("2947-0", "Sodium", "mmol/L", 134.0, 145.0),
    ("6298-4", "Potassium", "mmol/L", 3.4, 5.1),
    ("2069-3", "Chloride", "mmol/L", 96.0, 108.0),
    ("49765-1", "Calcium", "mg/dL", 8.5, 11.5),
    ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", 2.8, 4.8),
    (
        "6768-6",
        "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        40,
        300,
    ),
    (
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        7,
        60,
    ),
    (
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        8,
        60,
    ),
    ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", 0.2, 1.2),
)

# (RxNorm code, display): active medications seen in the Synthea bundles, none antithrombotic.
OTHER_MEDICATIONS: tuple[tuple[str, str], ...] = (
    ("1736854", "Cisplatin 50 MG Injection"),
    ("583214", "PACLitaxel 100 MG Injection"),
    ("1734340", "Etoposide 100 MG Injection"),
    ("312961", "Simvastatin 20 MG Oral Tablet"),
    ("197604", "Digoxin 0.125 MG Oral Tablet"),
    ("313782", "Acetaminophen 325 MG Oral Tablet"),
    ("1049221", "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet"),
    ("705129", "Nitroglycerin 0.4 MG/ACTUAT Mucosal Spray"),
    ("197361", "Amlodipine 5 MG Oral Tablet"),
    ("833036", "Captopril 25 MG Oral Tablet"),
    ("259255", "Atorvastatin 80 MG Oral Tablet"),
    ("904419", "Alendronic acid 10 MG Oral Tablet"),
    ("310325", "ferrous sulfate 325 MG Oral Tablet"),
    ("895994", "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler"),
    ("745679", "200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"),
    ("966222", "Levothyroxine Sodium 0.075 MG Oral Tablet"),
    ("1049630", "diphenhydrAMINE Hydrochloride 25 MG Oral Tablet"),
    ("2001499", "Vitamin B 12 5 MG/ML Injectable Solution"),
    ("308192", "Amoxicillin 500 MG Oral Tablet"),
    ("310436", "Galantamine 4 MG Oral Tablet"),
    ("328670", "Sertraline 100MG"),
    ("309097", "Cefuroxime 250 MG Oral Tablet"),
    ("1860480", "1 ML DOCEtaxel 20 MG/ML Injection"),
)

# (SNOMED code, display): conditions seen in the Synthea bundles that no rule reads as a
# contraindication (the typical request must be a typical patient, not a blocked one).
OTHER_CONDITIONS: tuple[tuple[str, str], ...] = (
    ("444814009", "Viral sinusitis (disorder)"),
    ("162864005", "Body mass index 30+ - obesity (finding)"),
    ("195662009", "Acute viral pharyngitis (disorder)"),
    ("15777000", "Prediabetes"),
    ("271737000", "Anemia (disorder)"),
    ("53741008", "Coronary Heart Disease"),
    ("162573006", "Suspected lung cancer (situation)"),
    ("38341003", "Hypertension"),
    ("74400008", "Appendicitis"),
    ("428251008", "History of appendectomy"),
    ("424132000", "Non-small cell carcinoma of lung, TNM stage 1 (disorder)"),
    ("239873007", "Osteoarthritis of knee"),
    ("124171000119105", "Chronic intractable migraine without aura"),
    ("70704007", "Sprain of wrist"),
    ("43878008", "Streptococcal sore throat (disorder)"),
    ("10509002", "Acute bronchitis (disorder)"),
    ("68496003", "Polyp of colon"),
    ("40055000", "Chronic sinusitis (disorder)"),
    ("22298006", "Myocardial Infarction"),
    ("399211009", "History of myocardial infarction (situation)"),
    ("201834006", "Localized, primary osteoarthritis of the hand"),
    ("65363002", "Otitis media"),
    ("36971009", "Sinusitis (disorder)"),
    ("284551006", "Laceration of foot"),
    ("239872002", "Osteoarthritis of hip"),
    ("39848009", "Whiplash injury to neck"),
    ("62106007", "Concussion with no loss of consciousness"),
    ("24079001", "Atopic dermatitis"),
    ("446096008", "Perennial allergic rhinitis"),
    ("16114001", "Fracture of ankle"),
    ("65966004", "Fracture of forearm"),
    ("83664006", "Idiopathic atrophic hypothyroidism"),
    ("403190006", "First degree burn"),
    ("283371005", "Laceration of forearm"),
    ("185086009", "Chronic obstructive bronchitis (disorder)"),
    ("55822004", "Hyperlipidemia"),
    ("196416002", "Impacted molars"),
    ("370143000", "Major depression disorder"),
)

ALLERGIES: tuple[tuple[str, str], ...] = (
    ("424213003", "Allergy to bee venom"),
    ("232350006", "House dust mite allergy"),
    ("300913006", "Shellfish allergy"),
)

# The draft order (bench/distinct.py's too).
VERTEBROPLASTY = concept(
    CPT,
    "22511",
    "Percutaneous vertebroplasty, 1 vertebral body; lumbosacral",
    "Vertebroplasty L2",
)


class _Builder:
    """Builds the resources of one benchmark patient from one seeded random generator."""

    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        # Results are dated at 08:00 UTC on days before `today`.
        self.now = datetime(today.year, today.month, today.day, 8, 0, tzinfo=UTC)
        self.today = today

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def timestamp(self, days_ago: float) -> str:
        return (self.now - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")

    def patient(self) -> dict[str, Any]:
        return {
            "resourceType": "Patient",
            "id": PATIENT_ID,
            "active": True,
            "name": [{"family": "Bench", "given": ["Synthetic"]}],
            "gender": "male",
            "birthDate": "1958-04-12",
        }

    def result(
        self,
        ident: str,
        code: str,
        display: str,
        value: float,
        unit: str,
        days_ago: float,
        category: str = "laboratory",
    ) -> Json:
        """A result of the patient taken `days_ago` days ago, issued 0.1 day after."""
        return fhir.observation(
            concept(LOINC, code, display, display_as_text=False),
            value,
            unit,
            id=ident,
            category=category,
            patient_id=PATIENT_ID,
            effective=self.timestamp(days_ago),
            issued=self.timestamp(days_ago - 0.1),
        )

    def platelets(self, count: int) -> list[Json]:
        """`count` platelet counts over the last 6 weeks; the latest (yesterday) is 180."""
        out = []
        for index in range(count):
            days_ago = 1 + (count - 1 - index) * 42 / max(count, 1)
            value = 180 if index == count - 1 else self.rng.randint(150, 380)
            out.append(
                self.result(
                    f"plt-{index + 1:03d}",
                    "777-3",
                    "Platelets [#/volume] in Blood by Automated count",
                    value,
                    "10*3/uL",
                    round(days_ago, 2),
                )
            )
        return out

    def coagulation(self, count: int) -> list[Json]:
        """`count` results alternating INR and TP %, the latest two yesterday (INR 1.1, TP 85)."""
        out = []
        for index in range(count):
            pair = index // 2
            pairs = max((count + 1) // 2, 1)
            days_ago = round(1 + (pairs - 1 - pair) * 42 / pairs, 2)
            latest = pair == pairs - 1
            if index % 2 == 0:
                value = 1.1 if latest else round(self.rng.uniform(0.9, 1.3), 2)
                out.append(
                    self.result(
                        f"inr-{pair + 1:03d}",
                        "6301-6",
                        "INR in Platelet poor plasma by Coagulation assay",
                        value,
                        "{INR}",
                        days_ago,
                    )
                )
            else:
                value = 85 if latest else self.rng.randint(70, 100)
                out.append(
                    self.result(
                        f"tp-{pair + 1:03d}",
                        "5894-1",
                        "Prothrombin time (PT) actual/Normal",
                        value,
                        "%",
                        days_ago,
                    )
                )
        return out

    def pain(self, count: int) -> list[Json]:
        out = []
        for index in range(count):
            days_ago = round(1 + (count - 1 - index) * 7 / max(count, 1), 2)
            out.append(
                self.result(
                    f"pain-{index + 1:03d}",
                    "72514-3",
                    "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
                    self.rng.randint(5, 8),
                    "{score}",
                    days_ago,
                    category="survey",
                )
            )
        return out

    def other_labs(self, count: int) -> list[Json]:
        out = []
        for index in range(count):
            code, display, unit, low, high = OTHER_LABS[index % len(OTHER_LABS)]
            value = round(self.rng.uniform(low, high), 1)
            days_ago = round(self.rng.uniform(1, 60), 2)
            out.append(self.result(f"lab-{index + 1:03d}", code, display, value, unit, days_ago))
        return out

    def prescription(
        self, ident: str, medication: Json, dose_mg: float | None, frequency: int
    ) -> Json:
        """An active order, authored 20 to 200 days ago, its dosage text the medication's."""
        return fhir.medication_request(
            medication,
            id=ident,
            patient_id=PATIENT_ID,
            authored_on=self.timestamp(self.rng.uniform(20, 200)),
            dosage=[fhir.dosage(dose_mg, "mg", frequency, text=medication["text"], sequence=1)],
        )

    def antiplatelets(self) -> list[Json]:
        clopidogrel = self.prescription(
            "med-clopidogrel",
            concept(
                RXNORM,
                "309362",
                "Clopidogrel 75 MG Oral Tablet",
                "clopidogrel 75 mg, one tablet once daily",
                also=[coding(ATC, "B01AC04", "clopidogrel")],
            ),
            75,
            1,
        )
        aspirin = self.prescription(
            "med-aspirin",
            concept(
                RXNORM,
                "1191",
                "aspirin",
                "aspirin 75 mg once daily",
                also=[coding(ATC, "B01AC06", "acetylsalicylic acid")],
            ),
            75,
            1,
        )
        return [clopidogrel, aspirin]

    def other_medications(self, count: int) -> list[Json]:
        out = []
        for index in range(count):
            code, display = OTHER_MEDICATIONS[index % len(OTHER_MEDICATIONS)]
            out.append(
                self.prescription(
                    f"med-{index + 1:03d}",
                    concept(RXNORM, code, display),
                    None,
                    self.rng.choice((1, 2, 3)),
                )
            )
        return out

    def condition(self, ident: str, code: str, display: str, active: bool) -> Json:
        """A problem-list Condition, its onset 30 to 3000 days ago; resolved ones abated."""
        resource = fhir.condition(
            concept(SNOMED, code, display, display_as_text=False),
            "active" if active else "resolved",
            id=ident,
            verification="confirmed",
            category="problem-list-item",
            patient_id=PATIENT_ID,
            onsetDateTime=self.timestamp(self.rng.uniform(30, 3000)),
        )
        if not active:
            resource["abatementDateTime"] = self.timestamp(self.rng.uniform(1, 29))
        return resource

    def key_conditions(self) -> list[Json]:
        return [
            self.condition(
                "cond-bone-mets",
                "94222008",
                "Secondary malignant neoplasm of bone (disorder)",
                True,
            ),
            self.condition(
                "cond-nsclc", "254637007", "Non-small cell lung cancer (disorder)", True
            ),
        ]

    def other_conditions(self, count: int) -> list[Json]:
        out = []
        for index in range(count):
            code, display = OTHER_CONDITIONS[index % len(OTHER_CONDITIONS)]
            active = self.rng.random() < 0.4
            out.append(self.condition(f"cond-{index + 1:03d}", code, display, active))
        return out

    def allergies(self, count: int) -> list[Json]:
        out = []
        for index in range(count):
            code, display = ALLERGIES[index % len(ALLERGIES)]
            out.append(
                fhir.allergy(
                    concept(SNOMED, code, display, display_as_text=False),
                    id=f"allergy-{index + 1:03d}",
                    type="allergy",
                    category=["environment"],
                    criticality="low",
                    patient_id=PATIENT_ID,
                )
            )
        return out

    def draft_order(self) -> Json:
        occurrence = self.today + timedelta(days=10)
        return fhir.service_request(
            VERTEBROPLASTY,
            id=DRAFT_ORDER_ID,
            patient_id=PATIENT_ID,
            occurrenceDateTime=f"{occurrence.isoformat()}T09:00:00Z",
        )


def _prefetch(patient: Json, searches: dict[str, list[Json]], fhir_server: str) -> Json:
    """The full prefetch: the Patient, and each search key answered in one searchset page."""
    prefetch: Json = {"patient": patient}
    for key, found in searches.items():
        prefetch[key] = fhir.searchset(*found, base=fhir_server, total=len(found))
    return prefetch


def _hook_request(builder: _Builder, fhir_server: str, prefetch: Json) -> Json:
    context = fhir.order_context(
        [builder.draft_order()],
        user="Practitioner/bench-practitioner-1",
        patient_id=PATIENT_ID,
        encounter="bench-encounter-1",
        selections=[f"ServiceRequest/{DRAFT_ORDER_ID}"],
    )
    return fhir.hook_request(
        "order-select",
        context,
        prefetch,
        instance=builder.uuid(),
        fhir_server=fhir_server,
        fhir_authorization={
            "access_token": "bench-placeholder-not-a-secret",
            "token_type": "Bearer",
            "expires_in": 300,
            # Every type the fallback reads: the service never asks for what a token's scope
            # does not cover (CDS Hooks 3.0, SMART scopes), so a narrower scope would leave the
            # medications, conditions and allergies unfetched in the fallback benchmark.
            "scope": "patient/*.read",
            "subject": "cementoplasty-cds",
        },
    )


def build_typical(
    seed: int = DEFAULT_SEED, today: date | None = None, fhir_server: str = DEFAULT_FHIR_SERVER
) -> dict[str, Any]:
    """The typical request: 200 Observations, 25 medications, 40 conditions, 3 allergies.

    The platelet and coagulation keys also carry the other labs, as an EHR does when its lab
    prefetch is a `category=laboratory` search: the service must pick the right codes itself.
    """
    builder = _Builder(seed, today or datetime.now(UTC).date())
    other_labs = builder.other_labs(145)
    patient = builder.patient()
    searches = {  # built in this order: the random draws follow it
        "platelets": builder.platelets(30) + other_labs[:73],
        "coagulation": builder.coagulation(20) + other_labs[73:],
        "pain": builder.pain(5),
        "medicationStatements": [],
        "medicationRequests": builder.antiplatelets() + builder.other_medications(23),
        "conditions": builder.key_conditions() + builder.other_conditions(38),
        "allergies": builder.allergies(3),
        "temperature": [],
        "neutrophils": [],
    }
    return _hook_request(builder, fhir_server, _prefetch(patient, searches, fhir_server))


def build_small(
    seed: int = DEFAULT_SEED, today: date | None = None, fhir_server: str = DEFAULT_FHIR_SERVER
) -> dict[str, Any]:
    """The small request: a dozen resources, same keys, same draft order."""
    builder = _Builder(seed + 1, today or datetime.now(UTC).date())
    patient = builder.patient()
    searches = {
        "platelets": builder.platelets(2),
        "coagulation": builder.coagulation(2),
        "pain": builder.pain(1),
        "medicationStatements": [],
        "medicationRequests": builder.antiplatelets(),
        "conditions": builder.key_conditions(),
        "allergies": builder.allergies(1),
        "temperature": [],
        "neutrophils": [],
    }
    return _hook_request(builder, fhir_server, _prefetch(patient, searches, fhir_server))


def without_prefetch(request: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """A copy of `request` whose prefetch holds only the `keep` keys (none: no `prefetch`)."""
    out = dict(request)
    prefetch = out.pop("prefetch", {})
    if keep:
        out["prefetch"] = {key: prefetch[key] for key in keep if key in prefetch}
    return out


def prefetched_resources(request: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource of the request's prefetch, once each (the FHIR stub serves these)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for value in request.get("prefetch", {}).values():
        if value is None:
            continue
        if value.get("resourceType") == "Bundle":
            resources = [entry["resource"] for entry in value.get("entry", [])]
        else:
            resources = [value]
        for resource in resources:
            seen[(resource["resourceType"], resource["id"])] = resource
    return list(seen.values())


def write_requests(
    out_dir: Path,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
    fhir_server: str = DEFAULT_FHIR_SERVER,
) -> dict[str, Path]:
    """Write every benchmark body to `out_dir`; return {name: path}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    typical = build_typical(seed, today, fhir_server)
    bodies = {
        "typical": typical,
        "small": build_small(seed, today, fhir_server),
        "typical-no-prefetch": without_prefetch(typical),
        "typical-partial-prefetch": without_prefetch(
            typical, keep=("patient", "conditions", "allergies")
        ),
        "fhir-data": {"resources": prefetched_resources(typical)},
    }
    paths = {}
    for name, body in bodies.items():
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(body, separators=(",", ":"), sort_keys=True), encoding="utf-8")
        paths[name] = path
    return paths


def _count(request: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for resource in prefetched_resources(request):
        counts[resource["resourceType"]] = counts.get(resource["resourceType"], 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/requests"))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    parser.add_argument("--fhir-server", default=DEFAULT_FHIR_SERVER)
    args = parser.parse_args(argv)
    paths = write_requests(args.out, args.seed, args.today, args.fhir_server)
    for _name, path in paths.items():
        body = json.loads(path.read_text(encoding="utf-8"))
        print(f"{path}  {path.stat().st_size:>8} bytes  {_count(body) if 'hook' in body else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
