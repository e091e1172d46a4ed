"""Card wording per language, loaded once from `messages/<locale>.json`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

MESSAGES_DIR = Path(__file__).parent / "messages"
SUPPORTED_LOCALES: tuple[str, ...] = ("en", "fr")


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
    with (MESSAGES_DIR / f"{language}.json").open(encoding="utf-8") as file:
        return json.load(file)
