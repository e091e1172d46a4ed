"""Last-resort matching on display/text: accent- and case-insensitive, whole words.

A term is one or more words; a trailing `*` makes a word a prefix ("vertebroplast*" matches
"vertébroplastie", "metasta* osseuse*" matches "métastases osseuses"). Text and terms are
normalised the same way: accents stripped, case folded, ligatures expanded, every run of
non-alphanumeric characters turned into one space.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})
_NON_ALNUM = re.compile(r"[^a-z0-9*]+")


def normalise(text: str) -> str:
    """'Vertébroplastie  L2/L3' -> 'vertebroplastie l2 l3'."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", stripped.casefold().replace("*", " ")).strip()


def _term_pattern(term: str) -> str:
    """Whole words separated by single spaces; a word ending in * also matches a longer word."""
    words: list[str] = []
    for raw_word in term.split():
        pieces = normalise(raw_word.rstrip("*")).split()  # "l'os" -> "l", "os"
        if not pieces:
            continue
        words.extend(re.escape(piece) for piece in pieces)
        if raw_word.endswith("*"):
            words[-1] += "[a-z0-9]*"
    if not words:
        raise ValueError(f"empty text term {term!r}")
    return r"(?<![a-z0-9])" + r"\s".join(words) + r"(?![a-z0-9])"


def compile_terms(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching any of `terms` in normalised text; None when there are no terms."""
    patterns = [_term_pattern(term) for term in terms]
    return re.compile("|".join(patterns)) if patterns else None


@dataclass(frozen=True)
class TextRule:
    """Matches when, for at least one group, every term of the group appears (and no exclusion)."""

    groups: tuple[tuple[re.Pattern[str], ...], ...]
    exclusions: re.Pattern[str] | None = None

    @classmethod
    def build(cls, any_of: Sequence[Sequence[str]], exclusions: Iterable[str] = ()) -> TextRule:
        groups = []
        for group in any_of:
            compiled = tuple(p for p in (compile_terms([term]) for term in group) if p is not None)
            if compiled:
                groups.append(compiled)
        return cls(tuple(groups), compile_terms(list(exclusions)))

    def matches(self, normalised_text: str) -> bool:
        if not normalised_text or not self.groups:
            return False
        if self.exclusions is not None and self.exclusions.search(normalised_text):
            return False
        return any(all(p.search(normalised_text) for p in group) for group in self.groups)
