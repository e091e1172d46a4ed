"""Defensive readers for raw FHIR CodeableConcept JSON (a malformed element yields nothing)."""

from __future__ import annotations

from typing import Any

from service.valuesets.text import normalise


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
                system.strip() if isinstance(system, str) else "",
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
