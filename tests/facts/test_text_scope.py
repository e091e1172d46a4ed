"""Free text read as a clinician writes it (an independent review, catalog v2 group 17): an
exclusion phrase sets aside its own clause, not the whole text; a contrast word ("but",
"mais") ends a negation's scope. Both errors hid a documented infection."""

from __future__ import annotations

import pytest
from fhir_builders import codeable, condition

from service.facts.clinical import extract_conditions
from service.valuesets import load_valuesets

VALUESETS = load_valuesets()


def concepts(text: str) -> set[str]:
    facts, _ = extract_conditions([condition(codeable(text=text))], VALUESETS)
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
