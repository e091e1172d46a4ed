"""TextIndex (one dict look-up per word) gives exactly what running every TextRule gives.

Texts: every term of the value sets (alone, inside a sentence, with a longer last word), every
display and text of the Synthea bundles, and seeded random word salads of term words.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from typing import Any

from support.shared_data import shared_path

from service.valuesets.codeable import normalised_text
from service.valuesets.common import read_data_file as _read
from service.valuesets.text import TextIndex, TextRule, normalise


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _synthea_texts() -> set[str]:
    texts = set()
    for path in sorted(shared_path("testdata", "synthea-r4").glob("*.json.gz")):
        bundle = json.loads(gzip.decompress(path.read_bytes()))
        for entry in bundle.get("entry", ()):
            resource = entry.get("resource", {})
            for key in ("code", "medicationCodeableConcept", "bodySite", "reaction"):
                texts.update(s for s in _strings(resource.get(key)) if " " in s or s.isalpha())
    return texts


def _term_texts() -> set[str]:
    terms = set()
    for name in ("drugs.json", "conditions.json", "allergies.json", "procedures.json"):
        terms.update(s for s in _strings(_read(name)) if len(s) < 60 and not s.startswith("http"))
    texts = set()
    for term in terms:
        plain = term.replace("*", "")
        texts |= {plain, f"{plain}s", f"Post {plain} (finding)", f"{plain}ique 10 mg", f"x{plain}"}
    return texts


def _word_salads(texts: set[str], count: int) -> list[str]:
    words = sorted({word for text in texts for word in normalise(text).split()})
    rng = random.Random(20261126)
    return [" ".join(rng.choices(words, k=rng.randint(1, 6))) for _ in range(count)]


def test_index_matches_exactly_like_every_rule(valuesets) -> None:
    rule_sets: list[list[tuple[Any, TextRule]]] = [
        [*valuesets.drugs.combination_brands, *valuesets.drugs.text_rules],
        list(valuesets.conditions.text_rules),
        list(valuesets.allergies.text_rules),
        [(str(kind), rule) for kind, rule, _ in valuesets.procedures.text_rules],
        list(valuesets.body_sites.text_rules),
    ]
    texts = _term_texts() | _synthea_texts()
    texts |= set(_word_salads(texts, 3000))
    checked = matched = 0
    for rules in rule_sets:
        index = TextIndex(rules)
        for text in sorted(texts):
            normalised = normalised_text([text])
            expected = [key for key, rule in rules if rule.matches(normalised)]
            assert index.matching(normalised) == expected, text
            checked += 1
            matched += bool(expected)
    assert matched > 1000, (checked, matched)  # the texts do exercise the rules
