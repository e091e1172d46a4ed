"""Catalog v2 text matching of conditions and allergies: "documented" = coded or named in text,
never where negated, never defeated by invisible characters; suspicions marked as such; the new
acute-infection, fever, cement-component and drug-class value sets (groups 1, 7, 11, 14, 17)."""

from __future__ import annotations

import pytest

from service.facts.clinical import extract_allergies, extract_conditions
from service.valuesets import load_valuesets
from service.valuesets.text import clause_text, normalise
from service.vocabulary import DrugClass

ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def concepts(text: str) -> frozenset[str]:
    return load_valuesets().conditions.match([{"text": text}])


def coded(system: str, code: str) -> frozenset[str]:
    return load_valuesets().conditions.match([{"coding": [{"system": system, "code": code}]}])


@pytest.mark.parametrize(
    "text",
    [
        "Osteitis deformans (Paget's disease)",
        "Non-septic bursitis",
        "No evidence of sepsis",
        "Sepsis ruled out",
        "Absence de spondylodiscite",
        "Hémocultures négatives, pas de sepsis",
        "Patient denies fever",
        "Pneumopathie interstitielle diffuse",
        "Pneumopathie radique",
    ],
)
def test_negated_or_non_infectious_text_is_no_infection(text: str) -> None:
    assert not concepts(text) & {"systemic-infection", "fever"}


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Pas d'épidurite à l'IRM", "epidural-extension"),
        ("Tassement sans recul du mur postérieur", "posterior-wall"),
        ("Mur postérieur respecté", "posterior-wall"),
        ("Pas de douleurs diffuses", "diffuse-pain"),
        ("Fracture asymptomatique non stable", "asymptomatic-fracture"),
    ],
)
def test_negated_contraindications_are_not_documented(text: str, concept: str) -> None:
    assert concept not in concepts(text)


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Fracture asymptomatique non instable de T12", "asymptomatic-fracture"),
        ("Tassement asymptomatique et stable de L1", "asymptomatic-fracture"),
        ("Ostéomyélite du pubis", "systemic-infection"),
        ("Recul du mur postérieur de T12, canal normal", "posterior-wall"),
        ("Sepsis following radiation therapy", "systemic-infection"),
        ("Douleurs non localisées diffuses", "diffuse-pain"),
        ("Non-small cell carcinoma of lung, TNM stage 1", "lung-cancer"),
        ("Sepsis, pas de fièvre", "systemic-infection"),
        ("Pneumopathie infectieuse basale droite", "systemic-infection"),
        ("Neutropénie fébrile", "systemic-infection"),
        ("Abcès du psoas", "systemic-infection"),
        ("Fièvre", "fever"),
        ("Sepsis due to Gram-negative bacteria", "systemic-infection"),
        ("Sepsis à bacilles Gram négatif", "systemic-infection"),
        ("Pneumonie dont la recherche est restée négative", "systemic-infection"),
    ],
)
def test_affirmed_text_is_documented(text: str, concept: str) -> None:
    assert concept in concepts(text)


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"])
def test_invisible_characters_do_not_defeat_text(invisible: str) -> None:
    assert "systemic-infection" in concepts(f"Sep{invisible}sis")
    assert normalise(f"spondylo{invisible}discite") == "spondylodiscite"


def test_suspicion_is_marked_suspected_never_documented() -> None:
    found = concepts("Suspected sepsis")
    assert found == {"suspected:systemic-infection"}
    assert concepts("Suspicion de pneumopathie") == {"suspected:systemic-infection"}
    assert concepts("Sepsis non exclu") == {"suspected:systemic-infection"}
    assert concepts("HIV negative") == frozenset()
    # "Probable" hedges an infection only: a probable coagulopathy stays a contraindication.
    assert concepts("Coagulopathie probable") == {"coagulopathy"}
    assert concepts("Pneumonie probable") == {"suspected:systemic-infection"}


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (ICD10CM, "J18.9"),
        (ICD10, "J15.2"),
        (ICD10, "N10"),
        (ICD10CM, "N39.0"),
        (ICD10, "I33.0"),
        (ICD10CM, "M46.25"),
        (ICD10, "L02.2"),
        (ICD10CM, "T82.7XXA"),
        (SNOMED, "233604007"),
        (SNOMED, "409089005"),
    ],
)
def test_acute_infection_codes(system: str, code: str) -> None:
    assert "systemic-infection" in coded(system, code)


@pytest.mark.parametrize(("system", "code"), [(ICD10, "B20"), (ICD10CM, "B18.1")])
def test_chronic_carrier_states_are_not_ongoing_infections(system: str, code: str) -> None:
    assert "systemic-infection" not in coded(system, code)


def test_hiv_and_neutropenia_codes_are_immunocompromise() -> None:
    assert "immunocompromised" in coded(ICD10, "B24")
    assert "immunocompromised" in coded(ICD10CM, "D70.1")
    assert "fever" in coded(ICD10CM, "R50.9")


def test_condition_fact_keeps_the_text_it_was_read_from() -> None:
    resources = [
        {
            "resourceType": "Condition",
            "id": "c1",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "verificationStatus": {"coding": [{"code": "provisional"}]},
            "code": {"text": "Recul du mur postérieur de L2"},
        },
        {
            "resourceType": "Condition",
            "id": "c2",
            "code": {"coding": [{"system": ICD10CM, "code": "J18.9"}], "text": "Pneumonie"},
        },
    ]
    (wall, pneumonia), _ = extract_conditions(resources, load_valuesets())
    assert wall.matched_text == "Recul du mur postérieur de L2"
    assert wall.verification == "provisional"
    assert pneumonia.matched_text is None  # coded: nothing to quote


@pytest.mark.parametrize(
    ("substance", "concept"),
    [
        ("Peroxyde de benzoyle", "cement-allergy"),
        ("Acrylates", "cement-allergy"),
        ("Dermatite de contact aux acrylates", "cement-allergy"),
        ("Methyl methacrylate", "cement-allergy"),
        ("N,N-dimethyl-p-toluidine", "cement-allergy"),
        ("Hydroquinone", "cement-allergy"),
        ("Sulfate de baryum", "cement-allergy"),
        ("Zirconium dioxide", "cement-allergy"),
        ("Tobramycin", "cement-antibiotic-allergy"),
    ],
)
def test_cement_components(substance: str, concept: str) -> None:
    resource = {
        "resourceType": "AllergyIntolerance",
        "id": "a1",
        "code": {"text": substance},
        "recordedDate": "2024-05-02",
        "criticality": "high",
        "verificationStatus": {"coding": [{"code": "confirmed"}]},
        "reaction": [{"manifestation": [{"text": "Urticaire"}]}],
    }
    (fact,), _ = extract_allergies([resource], load_valuesets())
    assert concept in fact.concepts
    assert fact.criticality == "high" and fact.verification == "confirmed"
    assert fact.reactions == ("Urticaire",)
    assert fact.recorded is not None and fact.recorded.date().isoformat() == "2024-05-02"


def test_no_cement_allergy_is_negated() -> None:
    allergies = load_valuesets().allergies
    assert not allergies.match([{"text": "Pas d'allergie aux acrylates"}])


@pytest.mark.parametrize(
    ("medication", "drug_class"),
    [
        ({"coding": [{"system": RXNORM, "code": "1736776"}]}, DrugClass.CYTOTOXIC),
        ({"text": "oxaliplatin 5 MG/ML [Eloxatin]"}, DrugClass.CYTOTOXIC),
        ({"coding": [{"system": ATC, "code": "L01XA03"}]}, DrugClass.CYTOTOXIC),
        ({"coding": [{"system": ATC, "code": "L01BC02"}]}, DrugClass.CYTOTOXIC),
        ({"coding": [{"system": ATC, "code": "L04AX01"}]}, DrugClass.IMMUNOSUPPRESSANT),
        ({"coding": [{"system": ATC, "code": "H02AB06"}]}, DrugClass.CORTICOSTEROID),
        ({"text": "Prednisone 5 MG Oral Tablet"}, DrugClass.CORTICOSTEROID),
        ({"coding": [{"system": ATC, "code": "J01CR02"}]}, DrugClass.ANTIBACTERIAL),
        ({"text": "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet"}, DrugClass.ANTIBACTERIAL),
    ],
)
def test_v2_drug_classes(medication: dict, drug_class: DrugClass) -> None:
    matches = load_valuesets().drugs.match(medication)
    assert any(drug_class in m.classes for m in matches), matches


@pytest.mark.parametrize(
    "medication",
    [
        {"coding": [{"system": ATC, "code": "L01FF02"}]},  # pembrolizumab: checkpoint inhibitor
        {"text": "Hydrocortisone 10 MG/ML Topical Cream"},
        {"text": "Gentamicin 3 MG/ML Ophthalmic Solution"},
    ],
)
def test_not_immunosuppressive_nor_systemic(medication: dict) -> None:
    matches = load_valuesets().drugs.match(medication)
    wanted = {DrugClass.CYTOTOXIC, DrugClass.CORTICOSTEROID, DrugClass.ANTIBACTERIAL}
    assert not any(m.classes & wanted for m in matches), matches


def test_clauses_keep_negation_inside_their_clause() -> None:
    assert clause_text("Sepsis; pas de fièvre") == "sepsis | pas de fievre"


def test_r65_codes_read_in_their_own_icd_edition() -> None:
    """R65.2 is severe sepsis in ICD-10-CM but a SIRS of non-infectious origin in WHO ICD-10;
    R65.0/R65.1 are infectious SIRS in WHO ICD-10 (R65.1 is non-infectious in CM)."""
    assert "systemic-infection" in coded(ICD10CM, "R65.21")
    assert "systemic-infection" not in coded(ICD10, "R65.2")
    assert "systemic-infection" in coded(ICD10, "R65.1")
    assert "systemic-infection" not in coded(ICD10CM, "R65.10")
