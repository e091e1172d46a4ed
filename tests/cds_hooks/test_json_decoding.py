"""Request bodies decode through orjson when it gives what the standard decoder gives, and
through the standard decoder otherwise: same values (int stays int), same refusals."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from cds_hooks.errors import RequestError
from cds_hooks.json_body import parse_json_object

MAX_DOUBLE = 1.7976931348623157e308
# JSON values and near-misses: numbers at the edges of int64 and double, invalid literals,
# surrogates, control characters, odd whitespace.
_ATOMS_TEXT = (
    "0 -0 1 -1 1.0 -0.0 1e5 1E+5 1e-5 0.1 3.141592653589793 1e308 1.8e308 2e-324 01 1. - .5 "
    "+1 1e 9223372036854775808 18446744073709551615 NaN Infinity true false null [] {} [1,] "
    '[[[]]] "a" "\\u00e9" "\\ud800" "\\udc00\\ud800" "\\t" "\t" "\x01" "é" "\u2028" \u00a0 \x0c'
)
ATOMS = _ATOMS_TEXT.split(" ")


def reference(text: str) -> tuple[str, Any]:
    """What the service did before orjson: the standard decoder with its range checks."""

    def finite(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            raise ValueError("out of range")
        return value

    def bounded(literal: str) -> int:
        if len(literal) > 320 or abs(int(literal)) > MAX_DOUBLE:
            raise ValueError("out of range")
        return int(literal)

    def constant(name: str) -> Any:
        raise ValueError(name)

    try:
        value = json.loads(text, parse_constant=constant, parse_float=finite, parse_int=bounded)
    except (ValueError, RecursionError):
        return ("refused", None)
    if not isinstance(value, dict):
        return ("refused", None)
    return ("ok", value)


def decoded(text: str) -> tuple[str, Any]:
    try:
        return ("ok", parse_json_object(text.encode("utf-8", "surrogatepass")))
    except RequestError:
        return ("refused", None)


def typed(value: Any) -> Any:
    """Equal values with the same types all the way down (1 == 1.0, but not here)."""
    if isinstance(value, dict):
        return [(k, typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, repr(value))


@pytest.mark.parametrize(
    "literal",
    [
        "18446744073709551616",  # 2**64: orjson would give a float
        "-9223372036854775809",
        "9223372036854775807",
        "1" + "0" * 308,
        "123456789012345678",
        "1e5",
        "-0.0",
        "-0",
        "5e-324",
        "1e-400",
        "1.7976931348623157e308",
        '"\\ud800"',  # a lone surrogate escape: orjson refuses, the standard decoder accepts
        '"\\ud83d\\ude00"',
        '{"a": 1, "a": 2}',
    ],
)
def test_values_are_those_of_the_standard_decoder(literal: str) -> None:
    text = '{"x": ' + literal + "}"
    status, value = reference(text)
    assert status == "ok"
    assert typed(parse_json_object(text.encode("utf-8", "surrogatepass"))) == typed(value)


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("1e999", "out of the range of a double"),
        ("-1E400", "out of the range of a double"),
        ("1" + "0" * 309, "out of the range of a double"),
        ("NaN", "not valid JSON"),
        ("-Infinity", "not valid JSON"),
        ("[1,]", "not valid JSON"),
        ("01", "not valid JSON"),
    ],
)
def test_refusals_keep_their_messages(literal: str, message: str) -> None:
    with pytest.raises(RequestError, match=message):
        parse_json_object(('{"x": ' + literal + "}").encode())


def test_seeded_differential_against_the_standard_decoder() -> None:
    rnd = random.Random(20260101)
    atoms = ATOMS

    def number() -> str:
        digits = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(0, 24)))
        text = rnd.choice(["", "-"]) + str(rnd.randint(1, 9)) + digits
        if rnd.random() < 0.5:
            text += "." + str(rnd.randint(0, 10 ** rnd.randint(1, 20)))
        if rnd.random() < 0.4:
            text += rnd.choice("eE") + rnd.choice(["", "+", "-"]) + str(rnd.randint(0, 330))
        return text

    for _ in range(5000):
        if rnd.random() < 0.5:
            text = '{"x": [' + ",".join(number() for _ in range(rnd.randint(1, 5))) + "]}"
        else:
            members = (f'"k{rnd.randint(0, 3)}": {rnd.choice(atoms)}' for _ in range(4))
            text = "{" + ",".join(members) + "}"
        expected, got = reference(text), decoded(text)
        assert got[0] == expected[0], text
        assert typed(got[1]) == typed(expected[1]), text
