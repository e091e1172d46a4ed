"""Last-resort matching on display/text: accent- and case-insensitive, whole words.

A term is one or more words; a trailing `*` makes a word a prefix ("vertebroplast*" matches
"vertébroplastie", "metasta* osseuse*" matches "métastases osseuses"). Text and terms are
normalised the same way: accents stripped, case folded, ligatures expanded, every run of
non-alphanumeric characters turned into one space. Invisible format characters (zero-width space
U+200B, joiners, soft hyphen, BOM: Unicode category Cf) are removed first, so that "sep\u200bsis"
still reads "sepsis".

Conditions and allergies are also read with negation (RULES.md "Documented"): their text is cut
into clauses (`clause_text`), and a term found where a negation cue governs it does not count
(`negated_starts`): "pas de", "sans", "absence de", "aucun", "no", "not", "without", "absence
of", "negative for", "denies" negate the rest of their clause; "non" negates the one word after it
("non septique", while "non instable" as a whole term is a term, not a negated "instable");
"négatif" and "ruled out" negate what precedes them in the clause. A contrast word ("but", "mais")
or a coordinated new finding ("et", "and"; not "ni", "nor", "or", "et de") ends a negation's scope.
"?" is read as the word "query" and "R/O" as "rule out" (hedges: the finding is suspected).
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})
_NON_ALNUM = re.compile(r"[^a-z0-9*]+")
# Clause boundaries for negation: sentence and list punctuation, brackets, line breaks.
_CLAUSE = re.compile(r"[.;:!?,()\[\]{}\n\r|/]+|\s[-–—]\s")
# Read before the clauses are cut, as the words they stand for, since both are clause separators
# and were lost: "R/O pneumonia" is "rule out pneumonia"; a question mark questions its clause
# ("pneumonia?", "?pneumonia" - the clinician's "query pneumonia"), so it is kept as the word
# "query" inside that clause.
_RULE_OUT = re.compile(r"(?<![A-Za-z0-9])[Rr]\s?/\s?[Oo](?![A-Za-z0-9])")
_QUESTION = re.compile(r"\s*\?+")
CLAUSE_SEPARATOR = " | "

# Displays repeat from one call to the next (the same drug and condition names across
# patients), so results are remembered by text; only short texts, so that the memory is bounded
# (entries x length) whatever a request holds.
MEMO_ENTRIES = 4096
MEMO_MAX_CHARS = 300


# Lookups and misses of the remembered functions, by name (one per text index: several caches
# under one name): counted here, not read from the caches, so that the totals only grow when an
# index goes (the caches are held weakly, for their size only). For /metrics (memo_stats).
@dataclass
class _Counts:
    lookups: int = 0
    misses: int = 0


_COUNTS: dict[str, _Counts] = {}
_CACHES: dict[str, weakref.WeakSet[Any]] = {}


@dataclass(frozen=True)
class MemoStats:
    hits: int
    misses: int
    entries: int
    bound: int  # the most entries it can hold


def memo_stats() -> dict[str, MemoStats]:
    """Lookups (cumulative) and size of each text memo in this process."""
    stats = {}
    for name, counts in _COUNTS.items():
        caches = list(_CACHES[name])
        stats[name] = MemoStats(
            hits=counts.lookups - counts.misses,
            misses=counts.misses,
            entries=sum(cached.cache_info().currsize for cached in caches),
            bound=MEMO_ENTRIES * len(caches),
        )
    return stats


def remembered(function: Callable[[str], R], name: str | None = None) -> Callable[[str], R]:
    """`function` (pure, of one string) with its results for short strings remembered."""
    key = f"text.{name or function.__name__}"
    counts = _COUNTS.setdefault(key, _Counts())

    def miss(text: str) -> R:
        counts.misses += 1
        return function(text)

    cached = lru_cache(maxsize=MEMO_ENTRIES)(miss)
    _CACHES.setdefault(key, weakref.WeakSet()).add(cached)

    def lookup(text: str) -> R:
        if len(text) > MEMO_MAX_CHARS:
            return function(text)
        counts.lookups += 1  # under threads a count may be lost now and then: a metric only
        return cached(text)

    return lookup


@remembered
def normalise(text: str) -> str:
    """'Vertébroplastie  L2/L3' -> 'vertebroplastie l2 l3'."""
    if not text.isascii():
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    if text.isascii():  # most displays: no ligature, no accent, NFKD leaves them as they are
        stripped = text
    else:
        decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
        stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", stripped.casefold().replace("*", " ")).strip()


def clause_text(text: str) -> str:
    """`text` normalised clause by clause, the clauses joined by " | " (never inside a term)."""
    text = _QUESTION.sub(" query. ", _RULE_OUT.sub(" rule out ", text))
    clauses = (normalise(part) for part in _CLAUSE.split(text))
    return CLAUSE_SEPARATOR.join(clause for clause in clauses if clause)


# Negation cues, normalised. Before: the cue governs the rest of its clause.
_NEGATE_AFTER = (
    "pas de",
    "pas d",
    "sans",
    "absence de",
    "absence d",
    "aucun",
    "aucune",
    "ni",
    "no",
    "not",
    "without",
    "absence of",
    "negative for",
    "negatif pour",
    "negative pour",
    "denies",
    "denied",
    "free of",
    "ruled out",
    "exclusion of",
)
# After: the cue governs what precedes it in its clause ("hémocultures négatives").
_NEGATE_BEFORE = (
    "negatif",
    "negative",
    "negatifs",
    "negatives",
    "ruled out",
    "excluded",
    "exclu",
    "exclue",
    # Not a negation but read as one: a screening is no diagnosis ("Lung cancer screening");
    # the text exclusions set aside what follows "screening", this what precedes it.
    "screening",
)


def _cues(cues: Sequence[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, cues)) + r")(?![a-z0-9])")


_NEGATE_AFTER_RE = _cues(_NEGATE_AFTER)
_NEGATE_BEFORE_RE = _cues(_NEGATE_BEFORE)
# A post-positioned cue preceded by one of these words is no negation ("gram negative",
# "non exclue", "not excluded", "pas exclu").
_NOT_A_POST_CUE_AFTER = frozenset({"gram", "non", "not", "pas", "never", "jamais", "triple"})
_POST_CUE_WORDS = 4
_NON = re.compile(r"(?<![a-z0-9])non\s([a-z0-9]+)")
_CLAUSE_END = re.compile(r"\|")
# Words after which a negation no longer applies ("no fever but pneumonia", "sans fièvre mais
# pneumopathie"): the scope terminators of NegEx, in English and French (normalised).
_SCOPE_END = (
    "but",
    "however",
    "although",
    "except",
    "yet",
    "whereas",
    "mais",
    "cependant",
    "toutefois",
    "sauf",
    "neanmoins",
    "pourtant",
    # "Pas de fièvre et pneumopathie": a coordinated new finding. Read as affirmed, the safer
    # reading for the patient ("No fever and chills" may then read the chills); "ni", "nor",
    # "or" continue the negation, and so does a French list going on with its partitive
    # ("pas de frissons et de fièvre").
    r"et(?!\s(?:de|d|des|du)(?![a-z0-9]))",
    "and",
)
_SCOPE_END_RE = re.compile(r"(?<![a-z0-9])(?:" + "|".join(_SCOPE_END) + r")(?![a-z0-9])")


def excluded_spans(
    exclusions: re.Pattern[str] | None, namesakes: re.Pattern[str] | None, text: str
) -> tuple[tuple[int, int], ...]:
    """The spans of `text` (normalised by `clause_text`) set aside by an exclusion, never the
    whole text nor the whole clause ("Sepsis; history of pneumonia" and "Pneumonia in a patient
    at risk of falls" are infections). A qualifier ("history of", "risk of", "screening") sets
    aside itself and what it governs after it, as a negation cue does ("risk of pneumonia"); a
    namesake ("osteitis deformans", "pneumopathie interstitielle") sets aside its own words only
    ("Pneumopathie interstitielle et pneumopathie infectieuse" is an infection)."""
    spans = []
    if exclusions is not None:
        for match in exclusions.finditer(text):
            spans.append((match.start(), _scope_end(text, match.end())))
    if namesakes is not None:
        spans.extend(match.span() for match in namesakes.finditer(text))
    return tuple(spans)


def _scope_end(text: str, start: int) -> int:
    """Where a cue ending at `start` stops governing: its clause's end or a scope terminator."""
    clause_end = _CLAUSE_END.search(text, start)
    end = clause_end.start() if clause_end else len(text)
    # "No fever but pneumonia": a contrast word ends the negation's scope (NegEx).
    stop = _SCOPE_END_RE.search(text, start, end)
    return stop.start() if stop else end


@remembered
def negated_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Character spans of `text` (normalised by `clause_text`) governed by a negation cue."""
    spans: list[tuple[int, int]] = []
    bounds = [0, *(m.start() for m in _CLAUSE_END.finditer(text)), len(text)]
    for match in _NEGATE_AFTER_RE.finditer(text):
        spans.append((match.end(), _scope_end(text, match.end())))
    for match in _NEGATE_BEFORE_RE.finditer(text):
        before = text[: match.start()].split()
        # "Gram-negative sepsis" is a sepsis; "infection non exclue" is not a negation.
        if before and before[-1] in _NOT_A_POST_CUE_AFTER:
            continue
        start = max((b for b in bounds if b <= match.start()), default=0)
        end = next((b for b in bounds if b > match.start()), len(text))
        alone = not re.search(r"[a-z0-9]", text[start : match.start()] + text[match.end() : end])
        if alone and start > 0:
            # The cue is its whole clause ("Sepsis: excluded"): it is about the clause before it
            # ("Spondylodiscitis (screening MRI)" is not: the MRI is the screening).
            start = max((b for b in bounds if b < start), default=0)
        # What precedes the cue within a few words ("VIH : recherche négative"), not a whole
        # clause ("sepsis à bacilles à Gram négatif" stays a sepsis).
        words = [m.start() for m in re.finditer(r"[a-z0-9]+", text[start : match.start()])]
        if len(words) > _POST_CUE_WORDS:
            start += words[-_POST_CUE_WORDS]
        spans.append((start, match.start()))
    for match in _NON.finditer(text):
        spans.append((match.start(1), match.end(1)))
    return tuple(spans)


def _affirmed(pattern: re.Pattern[str], text: str, spans: tuple[tuple[int, int], ...]) -> bool:
    """`pattern` occurs in `text` at least once where no negation governs its first word."""
    for match in pattern.finditer(text):
        if not any(start <= match.start() < end for start, end in spans):
            return True
    return False


def _term_words(term: str) -> list[tuple[str, bool]]:
    """The normalised words of a term, each with whether it is a prefix ("metasta*")."""
    words: list[tuple[str, bool]] = []
    for raw_word in term.split():
        pieces = normalise(raw_word.rstrip("*")).split()  # "l'os" -> "l", "os"
        words.extend((piece, False) for piece in pieces)
        if pieces and raw_word.endswith("*"):
            words[-1] = (words[-1][0], True)
    return words


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
    # Non-matching namesakes of a term ("osteitis deformans"), set aside word for word; read
    # only with negation.
    namesakes: re.Pattern[str] | None = None
    # Read with negation (conditions, allergies): every term of a group must occur affirmed.
    negation: bool = False
    # The first word of the first term of each group: a text can only match the rule if one of
    # them is a word of the text (see TextIndex).
    first_words: frozenset[tuple[str, bool]] = frozenset()

    @classmethod
    def build(
        cls,
        any_of: Sequence[Sequence[str]],
        exclusions: Iterable[str] = (),
        negation: bool = False,
        namesakes: Iterable[str] = (),
    ) -> TextRule:
        groups = []
        first_words = set()
        for group in any_of:
            compiled = tuple(p for p in (compile_terms([term]) for term in group) if p is not None)
            if compiled:
                groups.append(compiled)
                first_words.add(_term_words(group[0])[0])
        return cls(
            groups=tuple(groups),
            exclusions=compile_terms(list(exclusions)),
            namesakes=compile_terms(list(namesakes)),
            first_words=frozenset(first_words),
            negation=negation,
        )

    def matches(self, normalised_text: str) -> bool:
        if not normalised_text or not self.groups:
            return False
        if self.negation:
            spans = negated_spans(normalised_text) + excluded_spans(
                self.exclusions, self.namesakes, normalised_text
            )
            return any(
                all(_affirmed(p, normalised_text, spans) for p in group) for group in self.groups
            )
        if self.exclusions is not None and self.exclusions.search(normalised_text):
            return False
        return any(all(p.search(normalised_text) for p in group) for group in self.groups)


class TextIndex(Generic[K]):
    """Many (key, TextRule) pairs matched against one text with a few dict look-ups, not one
    regex per rule: the rules whose first words are words of the text are the only candidates,
    and only those run. Exactly the keys whose rule matches, in the order given.

    Why this is exact: a term matches at a word start of the normalised text (whole words of
    [a-z0-9]), so the first word of the first term of a matching group is a word of the text
    (or, for a prefix word, the start of one).
    """

    def __init__(self, rules: Sequence[tuple[K, TextRule]]) -> None:
        self._rules = tuple(rules)
        self._exact: dict[str, set[int]] = {}
        self._prefixes: dict[str, set[int]] = {}
        for position, (_, rule) in enumerate(self._rules):
            for word, is_prefix in rule.first_words:
                table = self._prefixes if is_prefix else self._exact
                table.setdefault(word, set()).add(position)
        self._prefix_lengths = sorted({len(prefix) for prefix in self._prefixes})
        self._remembered = remembered(self._matching, name="index")

    def matching(self, normalised_text: str) -> list[K]:
        return list(self._remembered(normalised_text))

    def _matching(self, normalised_text: str) -> tuple[K, ...]:
        if not normalised_text:
            return ()
        candidates: set[int] = set()
        for word in set(normalised_text.split()):
            candidates |= self._exact.get(word, set())
            for length in self._prefix_lengths:
                if length > len(word):
                    break
                candidates |= self._prefixes.get(word[:length], set())
        return tuple(
            self._rules[position][0]
            for position in sorted(candidates)
            if self._rules[position][1].matches(normalised_text)
        )


_LEVEL = re.compile(r"(?<![a-z0-9])([ctdls])([0-9]{1,2})(?![a-z0-9])")
_LEVEL_MAX = {"c": 7, "t": 12, "l": 5, "s": 5}


def vertebral_levels(normalised_text: str) -> set[str]:
    """The vertebral levels a normalised text names ("t12", "l2"; French "D12" is "t12")."""
    levels = set()
    for letter, number in _LEVEL.findall(normalised_text):
        letter = "t" if letter == "d" else letter
        if 1 <= int(number) <= _LEVEL_MAX[letter]:
            levels.add(f"{letter}{int(number)}")
    return levels
