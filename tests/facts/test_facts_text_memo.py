"""Text results are remembered for short texts only, and remembering never changes a result."""

from __future__ import annotations

from service.valuesets.text import MEMO_MAX_CHARS, TextIndex, TextRule, normalise, remembered


def test_short_texts_are_computed_once_long_ones_every_time() -> None:
    calls: list[str] = []

    @remembered
    def upper(text: str) -> str:
        calls.append(text)
        return text.upper()

    short, long = "clopidogrel", "x" * (MEMO_MAX_CHARS + 1)
    assert [upper(short), upper(short)] == ["CLOPIDOGREL", "CLOPIDOGREL"]
    assert upper(long) == upper(long) == long.upper()
    assert calls == [short, long, long]


def test_a_remembered_match_is_the_same_match_and_cannot_be_altered() -> None:
    index = TextIndex([("aspirin", TextRule.build([["aspirin*"]]))])
    text = normalise("Aspirine 75 mg")
    first = index.matching(text)
    first.append("tampered")  # a caller's list is its own
    assert index.matching(text) == ["aspirin"]
    padded = normalise("aspirine " + "comprimé " * 60)
    assert len(padded) > MEMO_MAX_CHARS
    assert index.matching(padded) == ["aspirin"]
    assert index.matching(normalise("paracetamol")) == []
