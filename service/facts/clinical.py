"""Condition -> ConditionFact and AllergyIntolerance -> AllergyFact.

Choices:
* Condition: clinicalStatus active, recurrence or relapse. A Condition WITHOUT clinicalStatus
  (invalid in R4 unless entered-in-error) counts as active unless it has an abatement[x]: the
  concepts read here are contraindications, and a card the clinician can dismiss is safer than a
  silent pass. verificationStatus entered-in-error or refuted never counts (unconfirmed,
  provisional and differential do: a suspected sepsis is still a reason to stop and look).
* AllergyIntolerance: clinicalStatus active, or absent; never inactive/resolved, never
  entered-in-error/refuted.
* Neither is validated as a whole FHIR resource: the rules compare no value from them, and the
  fields read here (statuses, code, reaction substances, recordedDate) are type-checked as they
  are read. A matched concept is a contraindication whether or not the rest of the resource is
  valid R4 (dropping it would be a silent pass).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from service.facts.dates import parse_fhir_datetime
from service.facts.model import AllergyFact, ConditionFact, InvalidResource
from service.facts.refs import as_list, read_each, resource_ref, status_codes
from service.valuesets import ValueSets
from service.valuesets.codeable import display_of
from service.vocabulary import DataCategory

CONDITION_ACTIVE = frozenset({"active", "recurrence", "relapse"})
ALLERGY_ACTIVE = frozenset({"active"})
EXCLUDED_VERIFICATION = frozenset({"entered-in-error", "refuted"})
_ABATEMENT = (
    "abatementDateTime",
    "abatementAge",
    "abatementPeriod",
    "abatementRange",
    "abatementString",
)


def condition_is_active(resource: dict[str, Any]) -> bool:
    if status_codes(resource.get("verificationStatus")) & EXCLUDED_VERIFICATION:
        return False
    clinical = status_codes(resource.get("clinicalStatus"))
    if clinical:
        return bool(clinical & CONDITION_ACTIVE)
    return not any(key in resource for key in _ABATEMENT)


def allergy_is_active(resource: dict[str, Any]) -> bool:
    if status_codes(resource.get("verificationStatus")) & EXCLUDED_VERIFICATION:
        return False
    clinical = status_codes(resource.get("clinicalStatus"))
    return not clinical or bool(clinical & ALLERGY_ACTIVE)


def extract_conditions(
    conditions: list[dict[str, Any]], valuesets: ValueSets
) -> tuple[list[ConditionFact], list[InvalidResource]]:
    return read_each(conditions, partial(_one_condition, valuesets), DataCategory.CONDITIONS)


def _one_condition(valuesets: ValueSets, resource: dict[str, Any]) -> ConditionFact | None:
    if not condition_is_active(resource):
        return None
    concepts, matched_text = valuesets.conditions.match_detail([resource.get("code")])
    if not concepts:
        return None
    recorded = parse_fhir_datetime(resource.get("recordedDate"))
    onset = parse_fhir_datetime(resource.get("onsetDateTime"))
    return ConditionFact(
        concepts=concepts,
        display=display_of(resource.get("code")) or "condition",
        source=resource_ref(resource),
        recorded=recorded.instant if recorded is not None else None,
        onset=onset.instant if onset is not None else None,
        matched_text=matched_text,
        verification=_first_code(resource.get("verificationStatus")),
        # Where the text says the finding is, to compare with the order's target.
        text_sites=valuesets.body_sites.match([{"text": matched_text}])
        if matched_text
        else frozenset(),
    )


def _first_code(concept: Any) -> str | None:
    codes = sorted(status_codes(concept))
    return codes[0] if codes else None


def _reaction_texts(reactions: list[Any]) -> tuple[str, ...]:
    """The manifestations of every reaction, as the record words them."""
    found: list[str] = []
    for reaction in reactions:
        if not isinstance(reaction, dict):
            continue
        for manifestation in as_list(reaction.get("manifestation")):
            shown = display_of(manifestation)
            if shown and shown not in found:
                found.append(shown)
        description = reaction.get("description")
        if isinstance(description, str) and description.strip() and description not in found:
            found.append(description.strip())
    return tuple(found)


def extract_allergies(
    allergies: list[dict[str, Any]], valuesets: ValueSets
) -> tuple[list[AllergyFact], list[InvalidResource]]:
    return read_each(allergies, partial(_one_allergy, valuesets), DataCategory.ALLERGIES)


def _one_allergy(valuesets: ValueSets, resource: dict[str, Any]) -> AllergyFact | None:
    if not allergy_is_active(resource):
        return None
    substances = [resource.get("code")]
    for reaction in as_list(resource.get("reaction")):
        if isinstance(reaction, dict):
            substances.append(reaction.get("substance"))
    concepts, matched_text = valuesets.allergies.match_detail(substances, drugs=valuesets.drugs)
    if not concepts:
        return None
    display = next((d for d in map(display_of, substances) if d), "allergy")
    recorded = parse_fhir_datetime(resource.get("recordedDate") or resource.get("onsetDateTime"))
    criticality = resource.get("criticality")
    return AllergyFact(
        concepts=concepts,
        display=display,
        source=resource_ref(resource),
        recorded=recorded.instant if recorded is not None else None,
        verification=_first_code(resource.get("verificationStatus")),
        criticality=criticality if isinstance(criticality, str) else None,
        reactions=_reaction_texts(as_list(resource.get("reaction"))),
        matched_text=matched_text,
    )
