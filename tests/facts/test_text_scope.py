"""Free text read as a clinician writes it (an independent review, catalog v2 group 17): an
exclusion phrase sets aside its own clause, not the whole text; a contrast word ("but",
"mais") ends a negation's scope. Both errors hid a documented infection."""

from __future__ import annotations

import pytest
from support.fhir_builders import concept, condition

from service.facts.clinical import extract_conditions
from service.valuesets import load_valuesets

VALUESETS = load_valuesets()


def concepts(text: str) -> set[str]:
    facts, _ = extract_conditions([condition(concept(text=text))], VALUESETS)
    return {c for fact in facts for c in fact.concepts}


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Sepsis; history of pneumonia", "systemic-infection"),
        ("Pyélonéphrite, antécédent de cystite", "systemic-infection"),
        ("Sepsis, situation palliative", "systemic-infection"),
        ("Spondylodiscitis (screening MRI)", "systemic-infection"),
        ("Sepsis. Risk of shock", "systemic-infection"),
        ("Bacteremia, family history of cancer", "systemic-infection"),
        ("Osteitis deformans; pneumonia", "systemic-infection"),
        ("No fever but pneumonia", "systemic-infection"),
        ("Sans fièvre mais pneumopathie", "systemic-infection"),
        ("Pas de compression médullaire mais épidurite", "epidural-extension"),
    ],
)
def test_a_documented_finding_beside_an_exclusion_or_a_negation_is_read(
    text: str, concept: str
) -> None:
    assert concept in concepts(text)


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("History of pneumonia", "systemic-infection"),
        ("Antécédent de sepsis", "systemic-infection"),
        ("No evidence of sepsis", "systemic-infection"),
        ("Pas d'épidurite à l'IRM", "epidural-extension"),
        ("Osteitis deformans (Paget's disease)", "systemic-infection"),
    ],
)
def test_what_is_excluded_or_negated_stays_so(text: str, concept: str) -> None:
    assert concept not in concepts(text)


@pytest.mark.parametrize("text", ["Sepsis: excluded", "Pneumonie : exclue"])
def test_a_negation_after_a_colon_applies_to_what_precedes_it(text: str) -> None:
    assert "systemic-infection" not in concepts(text)


@pytest.mark.parametrize("text", ["Sepsis (non confirmed)", "Pneumonie non confirmée"])
def test_an_unconfirmed_infection_is_only_suspected(text: str) -> None:
    found = concepts(text)
    assert "systemic-infection" not in found and "suspected:systemic-infection" in found


# Residuals of the review (catalog v2 group 17). "?" and "R/O" were clause separators read before
# matching, so a questioned pneumonia gave the critical card of a documented infection.
@pytest.mark.parametrize(
    "text",
    [
        "pneumonia?",
        "Pneumonia ?",
        "?pneumonia",
        "pneumopathie ?",
        "R/O pneumonia",
        "r/o sepsis",
        "rule out pneumonia",
        "query pneumonia",
    ],
)
def test_a_questioned_infection_is_suspected_not_documented(text: str) -> None:
    found = concepts(text)
    assert "systemic-infection" not in found and "suspected:systemic-infection" in found


@pytest.mark.parametrize(
    "text",
    [
        # An exclusion phrase sets aside its own words (and what it governs), not its clause.
        "Pneumonia in a patient at risk of falls",
        "Sepsis, patient at risk of falls and pressure sores",
        "Pneumopathie interstitielle et pneumopathie infectieuse",
        "Interstitial pneumonia and bacterial pneumonia",
        "Osteitis deformans with spondylodiscitis",
        # "et"/"and" followed by a new finding ends a negation's scope.
        "Pas de fièvre et pneumopathie",
        "No fever and pneumonia",
        "Sans fièvre et sepsis",
    ],
)
def test_an_infection_beside_an_exclusion_or_after_et_is_documented(text: str) -> None:
    assert "systemic-infection" in concepts(text)


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        # "ni"/"nor"/"or" continue the negation; "et de" continues a French "pas de" list.
        ("Pas de fièvre ni frissons", "fever"),
        ("pas de frissons ni fièvre", "fever"),
        ("No chills nor fever", "fever"),
        ("No chills or fever", "fever"),
        ("Pas de frissons et de fièvre", "fever"),
        ("Pas de toux et pas de pneumopathie", "systemic-infection"),
        # What an exclusion governs after it stays set aside.
        ("Risk of pneumonia", "systemic-infection"),
        ("Patient at risk of sepsis", "systemic-infection"),
        ("Pneumopathie interstitielle", "systemic-infection"),
    ],
)
def test_a_continued_negation_or_exclusion_still_sets_aside(text: str, concept: str) -> None:
    assert concept not in concepts(text)
