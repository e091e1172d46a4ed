"""MedicationRequest / MedicationStatement -> MedicationFact.

Choices:
* Only status `active` counts, for both (the prefetch asks for status=active too). `on-hold` is
  NOT read as active: a held drug would otherwise raise MED-HOLD-TOO-LATE for a hold that is
  already in place. A MedicationRequest with doNotPerform = true is not a medication taken.
* A MedicationRequest whose intent is `proposal` or `plan` is a suggestion, not a drug the
  patient takes: it does not count. Every other intent (order, original-order, reflex-order,
  filler-order, instance-order, option) counts, and so does an absent or malformed intent (the
  safer reading: an anticoagulant is reported rather than missed).
* The medication is `medicationCodeableConcept`, or `medicationReference` resolved from the
  resource's contained resources ("#id"), from any prefetched Medication, or from
  `ResolvedPrefetch.referenced`; then its code, else its ingredients' codes.
* Matching: RxNorm (ingredient codes, and the product codes listed in drugs.json), ATC (exact,
  then class prefixes), then display/text (names and brands) only when no code matched.
  A product whose RxNorm code is not listed is therefore matched by the ingredient name in its
  display ("Warfarin Sodium 5 MG Oral Tablet" -> warfarin), a deliberate, documented fallback.
* A combination (two ingredients matched) yields one fact per ingredient, without a daily dose
  (dose_problem says so): the dose of each ingredient is not in the Dosage.
* A reference that cannot be resolved is reported as an InvalidResource (category medications,
  unavailable), never silently dropped.
* MedicationRequest, MedicationStatement and Medication are not validated as whole resources:
  the fields read here (status, doNotPerform, medication, dosage) are type-checked as they are
  read, and an anticoagulant in the record is reported even if the rest of the resource is not
  valid R4 (no `intent`, a time without a time zone...).
* The one value the rules compare, the aspirin daily dose (>= 160 mg/day), is read only from
  Dosage elements that are valid R4 (fhir.resources): otherwise the dose is unknown, with the
  reason in `dose_problem` (-> MED-ASPIRIN-DOSE-UNKNOWN, never an assumed low dose).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.facts.dosage import as_needed, daily_dose_mg
from service.facts.model import InvalidResource, MedicationFact, MedicationSourceKind
from service.facts.refs import as_list, is_one_of, resource_ref, unreadable
from service.facts.validation import dosage_error
from service.valuesets import DrugMatch, ValueSets
from service.valuesets.codeable import display_of
from service.vocabulary import DataCategory, DrugClass

ACTIVE_STATUSES = frozenset({"active"})
NOT_TAKEN_INTENTS = frozenset({"proposal", "plan"})


class MedicationIndex:
    """Medications that a medicationReference may point to, by "Medication/id" (one request)."""

    def __init__(
        self, medications: list[dict[str, Any]], referenced: Mapping[str, dict[str, Any]]
    ) -> None:
        self._by_ref: dict[str, dict[str, Any]] = {}
        for key, resource in referenced.items():
            if isinstance(resource, dict) and resource.get("resourceType") == "Medication":
                self._by_ref[_canonical(key)] = resource
        for resource in medications:
            if isinstance(resource.get("id"), str):
                self._by_ref.setdefault(f"Medication/{resource['id']}", resource)

    def resolve(self, owner: dict[str, Any], reference: str) -> dict[str, Any] | None:
        if reference.startswith("#"):
            wanted = reference[1:]
            for contained in as_list(owner.get("contained")):
                if (
                    isinstance(contained, dict)
                    and contained.get("resourceType") == "Medication"
                    and contained.get("id") == wanted
                ):
                    return contained
            return None
        return self._by_ref.get(_canonical(reference))


def _canonical(reference: str) -> str:
    """'https://x/fhir/Medication/12/_history/3' -> 'Medication/12'; 'urn:uuid:u' likewise."""
    reference = reference.strip()
    if reference.startswith("urn:uuid:"):
        return f"Medication/{reference[len('urn:uuid:') :]}"
    parts = [p for p in reference.split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:])


def extract_medications(
    requests: list[dict[str, Any]],
    statements: list[dict[str, Any]],
    index: MedicationIndex,
    valuesets: ValueSets,
) -> tuple[list[MedicationFact], list[InvalidResource]]:
    facts: list[MedicationFact] = []
    invalid: list[InvalidResource] = []
    # (resources, kind, dosage element); only an order can say "do not perform".
    sources = (
        (requests, MedicationSourceKind.ORDER, "dosageInstruction"),
        (statements, MedicationSourceKind.STATEMENT, "dosage"),
    )
    for resources, kind, dosage_key in sources:
        for resource in resources:
            try:
                if not is_one_of(resource.get("status"), ACTIVE_STATUSES):
                    continue
                if kind is MedicationSourceKind.ORDER and (
                    resource.get("doNotPerform") is True
                    or is_one_of(resource.get("intent"), NOT_TAKEN_INTENTS)
                ):
                    continue
                _one(resource, kind, dosage_key, index, valuesets, facts, invalid)
            except Exception as exc:  # this resource only; logged without content
                invalid.append(unreadable(resource, exc, DataCategory.MEDICATIONS))
    return facts, invalid


def _one(
    resource: dict[str, Any],
    kind: MedicationSourceKind,
    dosage_key: str,
    index: MedicationIndex,
    valuesets: ValueSets,
    facts: list[MedicationFact],
    invalid: list[InvalidResource],
) -> None:
    source = resource_ref(resource)
    concept: Any = resource.get("medicationCodeableConcept")
    medication: dict[str, Any] | None = None
    extra_texts: list[str] = []
    unresolved: str | None = None
    reference = resource.get("medicationReference")
    if concept is None and isinstance(reference, dict):
        if isinstance(reference.get("display"), str):
            extra_texts.append(reference["display"])
        target = reference.get("reference")
        if isinstance(target, str) and target:
            medication = index.resolve(resource, target)
        if medication is None:
            unresolved = "medicationReference could not be resolved"
        else:
            concept = medication.get("code")
    elif concept is None:
        unresolved = "no medication[x]"
    elif not isinstance(concept, dict):
        # A medication element that is not a CodeableConcept cannot be read: reported, never a
        # silently missing drug (an antithrombotic may be behind it).
        unresolved = "medicationCodeableConcept is not an object"
    no_code = medication is not None and not isinstance(medication.get("code"), dict)
    if no_code and not as_list(medication.get("ingredient")):  # type: ignore[union-attr]
        unresolved = "the referenced Medication has no code and no ingredient"

    matches = valuesets.drugs.match(concept, extra_texts)
    if not matches and medication is not None:
        matches = _match_ingredients(medication, valuesets)
    if not matches:
        if unresolved is not None:
            invalid.append(InvalidResource(DataCategory.MEDICATIONS, source, unresolved))
        return

    display = display_of(concept) or (extra_texts[0] if extra_texts else "") or "medication"
    if len(matches) == 1:
        dose, dose_problem = _daily_dose(matches[0], resource.get(dosage_key))
    else:
        dose, dose_problem = None, "combination product: the dose of each ingredient is not given"
    for match in matches:
        facts.append(
            MedicationFact(
                ingredient=match.ingredient,
                classes=match.classes,
                display=display,
                source=source,
                source_kind=kind,
                daily_dose_mg=dose,
                dose_problem=dose_problem,
                code=match.code,
                as_needed=as_needed(resource.get(dosage_key)),
            )
        )


def _match_ingredients(medication: dict[str, Any], valuesets: ValueSets) -> list[DrugMatch]:
    found: dict[str, DrugMatch] = {}
    for ingredient in as_list(medication.get("ingredient")):
        if not isinstance(ingredient, dict):
            continue
        item = ingredient.get("itemCodeableConcept")
        if isinstance(item, dict):
            for match in valuesets.drugs.match(item):
                found.setdefault(match.ingredient, match)
    return list(found.values())


def _daily_dose(match: DrugMatch, dosages: Any) -> tuple[float | None, str | None]:
    """The daily dose; for aspirin (compared to a threshold) only from valid R4 Dosage elements."""
    if DrugClass.ASPIRIN in match.classes:
        problem = dosage_error(dosages)
        if problem is not None:
            return None, problem
    return daily_dose_mg(dosages)
