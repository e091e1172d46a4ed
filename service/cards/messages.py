"""Card wording per language, loaded once from `messages/<locale>/*.json`.

The wording of one language is split by card area (common formatting, bleeding, clinical
findings, antithrombotic plan) so that each area's text sits in one small file; the files are
merged one level deep, and a key written twice is an error (one wording per key).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from service.vocabulary import SUPPORTED_LOCALES

MESSAGES_DIR = Path(__file__).parent / "messages"


class UnsupportedLocale(ValueError):
    """A locale the service has no wording for."""


def normalise_locale(locale: str) -> str:
    """'fr-FR', 'FR' -> 'fr'. Raises UnsupportedLocale for a language without wording."""
    language = locale.strip().replace("_", "-").split("-")[0].lower()
    if language not in SUPPORTED_LOCALES:
        raise UnsupportedLocale(f"no card wording for locale {locale!r}")
    return language


@cache
def messages(locale: str) -> dict[str, Any]:
    """The wording of `locale` (normalised), read once per process."""
    language = normalise_locale(locale)
    merged: dict[str, Any] = {}
    for path in sorted((MESSAGES_DIR / language).glob("*.json")):
        with path.open(encoding="utf-8") as file:
            part: dict[str, Any] = json.load(file)
        for key, value in part.items():
            if key not in merged:
                merged[key] = value
            elif isinstance(value, dict) and isinstance(merged[key], dict):
                twice = merged[key].keys() & value.keys()
                if twice:
                    raise ValueError(f"{path.name}: {key}.{sorted(twice)[0]} is worded twice")
                merged[key] = {**merged[key], **value}
            else:
                raise ValueError(f"{path.name}: {key!r} is worded twice")
    return merged
