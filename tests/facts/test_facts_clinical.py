"""Conditions and allergies: statuses, SNOMED / ICD codes, text fallback, opioid allergy."""

from __future__ import annotations

import pytest
from support.fhir_builders import ICD10, ICD10CM, RXNORM, SNOMED, allergy, concept, condition

from service.facts.clinical import extract_allergies, extract_conditions


def concepts_of(valuesets, *resources):
    facts, _ = extract_conditions(list(resources), valuesets)
    return [f.concepts for f in facts]


@pytest.mark.parametrize(
    ("concept", "expected"),
    [
        (concept(SNOMED, "94222008"), "bone-metastasis"),
        (concept(ICD10, "C79.5"), "bone-metastasis"),
        (concept(ICD10CM, "C79.51"), "bone-metastasis"),
        (concept("https://smt.esante.gouv.fr/terminologie-cim-10", "C795"), "bone-metastasis"),
        (concept(SNOMED, "254637007"), "lung-cancer"),
        (concept(ICD10CM, "C34.90"), "lung-cancer"),
        (concept(SNOMED, "91302008"), "systemic-infection"),
        (concept(ICD10, "A41.9"), "systemic-infection"),
        (concept(ICD10CM, "R65.21"), "systemic-infection"),
        (concept(ICD10CM, "L03.312"), "skin-infection"),
        (concept(ICD10, "D65"), "coagulopathy"),
        (concept(ICD10CM, "D69.6"), "coagulopathy"),
        (concept(SNOMED, "302215000"), "coagulopathy"),
        (concept(ICD10CM, "M54.16"), "radiculopathy"),
        (concept(ICD10CM, "G95.20"), {"epidural-extension", "cord-compression"}),
        (concept(SNOMED, "370388006"), "immunocompromised"),
        (concept(ICD10CM, "D84.821"), "immunocompromised"),
    ],
)
def test_codes(valuesets, concept, expected):
    wanted = expected if isinstance(expected, set) else {expected}
    assert concepts_of(valuesets, condition(concept)) == [wanted]


def test_thrombophilia_is_not_a_bleeding_disorder(valuesets):
    assert concepts_of(valuesets, condition(concept(ICD10CM, "D68.51"))) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Métastases osseuses multiples", "bone-metastasis"),
        ("Small cell carcinoma of lung (disorder)", "lung-cancer"),  # Synthea 254632001
        ("Adénocarcinome pulmonaire lobe supérieur droit", "lung-cancer"),
        ("Épidurite métastatique T8", "epidural-extension"),
        ("Compression médullaire lente", {"epidural-extension", "cord-compression"}),
        ("Sepsis à staphylocoque", "systemic-infection"),
        ("Dermohypodermite du dos", "skin-infection"),
        ("Constipation sous opioïdes", "constipation"),
        ("Rétention aiguë d'urine", "urinary-retention"),
        ("Syndrome confusionnel", "confusion"),
        ("Douleurs diffuses", "diffuse-pain"),
        ("Allergie au ciment (PMMA)", "cement-allergy"),
        ("Radiculalgie L5 gauche", "radiculopathy"),
        ("Neutropénie fébrile", {"immunocompromised", "fever", "systemic-infection"}),
    ],
)
def test_text_fallback(valuesets, text, expected):
    wanted = expected if isinstance(expected, set) else {expected}
    assert concepts_of(valuesets, condition(concept(text=text))) == [wanted]


@pytest.mark.parametrize(
    "text",
    [
        "Suspected lung cancer (situation)",
        "Antécédent de sepsis",
        "History of cord compression",
        "Lung cancer screening",
    ],
)
def test_suspected_or_past_text_does_not_match(valuesets, text):
    # A hedged text may leave a "suspected:<concept>" mark (read only for infections), never the
    # documented concept itself.
    found = concepts_of(valuesets, condition(concept(text=text)))
    documented = {c for concepts in found for c in concepts if not c.startswith("suspected:")}
    assert documented == set()


def test_text_is_not_read_when_a_code_matched(valuesets):
    code = concept(SNOMED, "94222008", text="Bone metastasis with cord compression")
    assert concepts_of(valuesets, condition(code)) == [{"bone-metastasis"}]


@pytest.mark.parametrize("status", ["active", "recurrence", "relapse"])
def test_active_statuses(valuesets, status):
    assert concepts_of(valuesets, condition(concept(SNOMED, "91302008"), status))


@pytest.mark.parametrize("status", ["inactive", "remission", "resolved"])
def test_inactive_statuses(valuesets, status):
    assert concepts_of(valuesets, condition(concept(SNOMED, "91302008"), status)) == []


def test_absent_clinical_status_counts_unless_abated(valuesets):
    active = condition(concept(SNOMED, "91302008"), None)
    abated = condition(concept(SNOMED, "91302008"), None, abatementDateTime="2020-01-01")
    facts, invalid = extract_conditions([active, abated], valuesets)
    assert [f.source.id for f in facts] == [active["id"]]
    assert invalid == []


@pytest.mark.parametrize("verification", ["entered-in-error", "refuted"])
def test_refuted_or_in_error_never_counts(valuesets, verification):
    resource = condition(
        concept(SNOMED, "91302008"),
        verificationStatus={
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": verification,
                }
            ]
        },
    )
    assert concepts_of(valuesets, resource) == []


def test_unrelated_conditions_are_not_facts_and_not_validated(valuesets):
    broken = {"resourceType": "Condition", "id": "x", "code": concept(SNOMED, "38341003")}
    facts, invalid = extract_conditions([broken], valuesets)
    assert facts == [] and invalid == []


def test_matching_condition_that_is_not_valid_r4_is_a_fact(valuesets):
    """A sepsis with a malformed subject is still a contraindication, and nothing is missing."""
    resource = condition(concept(SNOMED, "91302008"))
    resource["subject"] = ["not", "a", "reference"]
    facts, invalid = extract_conditions([resource], valuesets)
    assert [f.source.id for f in facts] == [resource["id"]]
    assert invalid == []


# ------------------------------------------------------------------------------- allergies


@pytest.mark.parametrize(
    ("concept", "expected"),
    [
        (concept(SNOMED, "427811002"), {"cement-allergy"}),
        (concept(SNOMED, "261712009"), {"cement-allergy"}),
        (concept(text="Méthacrylate de méthyle"), {"cement-allergy"}),
        (concept(text="Ciment osseux"), {"cement-allergy"}),
        (concept(RXNORM, "7052"), {"opioid-allergy"}),
        (concept(text="Morphine"), {"opioid-allergy"}),
        (concept(text="Tramadol (intolérance)"), {"opioid-allergy"}),
        (concept(text="Opiacés"), {"opioid-allergy"}),
    ],
)
def test_allergy_concepts(valuesets, concept, expected):
    facts, invalid = extract_allergies([allergy(concept)], valuesets)
    assert [f.concepts for f in facts] == [expected]
    assert invalid == []


def test_allergy_by_reaction_substance(valuesets):
    resource = allergy(concept(text="Allergie médicamenteuse"))
    resource["reaction"] = [
        {"substance": concept(SNOMED, "427811002"), "manifestation": [concept(text="Urticaire")]}
    ]
    facts, _ = extract_allergies([resource], valuesets)
    assert [f.concepts for f in facts] == [{"cement-allergy"}]


@pytest.mark.parametrize("status", ["inactive", "resolved"])
def test_inactive_allergy(valuesets, status):
    facts, _ = extract_allergies([allergy(concept(SNOMED, "427811002"), status)], valuesets)
    assert facts == []


def test_allergy_without_clinical_status_counts(valuesets):
    facts, _ = extract_allergies([allergy(concept(SNOMED, "427811002"), None)], valuesets)
    assert len(facts) == 1


def test_refuted_allergy(valuesets):
    resource = allergy(
        concept(SNOMED, "427811002"),
        verificationStatus={
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "code": "refuted",
                }
            ]
        },
    )
    assert extract_allergies([resource], valuesets)[0] == []


def test_food_allergy_is_not_a_fact(valuesets):
    facts, _ = extract_allergies(
        [allergy(concept(SNOMED, "300913006", text="Shellfish"))], valuesets
    )
    assert facts == []
