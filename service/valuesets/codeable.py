"""Defensive readers for raw FHIR CodeableConcept JSON (a malformed element yields nothing)."""

from __future__ import annotations

from typing import Any

from service.valuesets.text import normalise

# The `urn:oid:` form of each code system the value sets use, mapped to its FHIR URI, so that a
# coding written either way matches (RULES.md contract: code systems are compared after
# normalising known aliases). Sources, each OID checked:
# * LOINC 2.16.840.1.113883.6.1, SNOMED CT 2.16.840.1.113883.6.96, RxNorm 2.16.840.1.113883.6.88:
#   HL7 FHIR R4 "terminologies-systems" (known code systems, URI and OID columns), and the
#   OID-to-URI table of the C-CDA on FHIR mapping (both found with the search tool).
# * ICD-10 2.16.840.1.113883.6.3 and ICD-10-CM 2.16.840.1.113883.6.90: HL7 Terminology (THO)
#   CodeSystem-icd10 and CodeSystem-icd10CM (identifier urn:oid:...), NamingSystem-icd10.
# * WHO ATC 2.16.840.1.113883.6.73: HL7 Terminology (THO) CodeSystem-v3-WC ("Other
#   Identifiers: OID:2.16.840.1.113883.6.73", official URL http://www.whocc.no/atc).
SYSTEM_ALIASES: dict[str, str] = {
    "urn:oid:2.16.840.1.113883.6.1": "http://loinc.org",
    "urn:oid:2.16.840.1.113883.6.96": "http://snomed.info/sct",
    "urn:oid:2.16.840.1.113883.6.88": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "urn:oid:2.16.840.1.113883.6.3": "http://hl7.org/fhir/sid/icd-10",
    "urn:oid:2.16.840.1.113883.6.90": "http://hl7.org/fhir/sid/icd-10-cm",
    "urn:oid:2.16.840.1.113883.6.73": "http://www.whocc.no/atc",
}


def normalise_system(system: object) -> str:
    """A coding's system as the value sets write it: trimmed, without a trailing "/", and the
    `urn:oid:` form of a known code system replaced by its URI ('' when not a string).

    The one place every matcher (labs, drugs, conditions, allergies, procedures, body sites)
    compares systems through: `codings` below calls it."""
    if not isinstance(system, str):
        return ""
    system = system.strip().rstrip("/")
    return SYSTEM_ALIASES.get(system, system)


def codings(concept: Any) -> list[tuple[str, str, str]]:
    """(system, code, display) of each coding; absent parts are ''."""
    if not isinstance(concept, dict):
        return []
    coding_list = concept.get("coding")
    if not isinstance(coding_list, list):  # a number, a string, an object: no codings
        return []
    out = []
    for coding in coding_list:
        if not isinstance(coding, dict):
            continue
        system, code, display = coding.get("system"), coding.get("code"), coding.get("display")
        out.append(
            (
                normalise_system(system),
                code.strip() if isinstance(code, str) else "",
                display if isinstance(display, str) else "",
            )
        )
    return out


def texts(concept: Any) -> list[str]:
    """concept.text then each coding display: what a human reads."""
    if not isinstance(concept, dict):
        return []
    out = []
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        out.append(text)
    out.extend(display for _, _, display in codings(concept) if display.strip())
    return out


def display_of(concept: Any) -> str:
    """The best human-readable name of a concept ('' when it has none)."""
    for text in texts(concept):
        return text.strip()
    for _, code, _ in codings(concept):
        if code:
            return code
    return ""


def normalised_text(values: list[str]) -> str:
    """All texts normalised and joined by ' | ' (so a term never spans two texts)."""
    return " | ".join(normalise(value) for value in values if value)
