"""The fast check of plain lab Observations (service/facts/plainly_valid.py) never accepts what
fhir.resources rejects, accepts the shape EHRs send, and leaves everything else to fhir.resources.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B.observation import Observation
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.fhir_builders import observation

from bench import distinct
from service.facts import validation
from service.facts.plainly_valid import plainly_valid_observation


def fhir_resources_accepts(resource: dict[str, Any]) -> bool:
    try:
        Observation.model_validate(resource)
    except Exception:
        return False
    return True


# Values near the edges of each R4 primitive: valid ones, and the mistakes a sender makes.
TEXTS = st.one_of(
    st.sampled_from(
        ["Platelets", "10*3/uL", " x", "x ", "a\tb", "", " ", "\x0b", "\u00a0", "é", "\ud800"]
    ),
    # Any code point (a lone surrogate only rarely: the sampled "\ud800" above, which json.loads
    # makes of "\\ud800", is what tries it every run).
    st.text(st.characters(), max_size=6),
)
CODES = st.one_of(st.sampled_from(["777-3", "a b", "a  b", " a", "a ", "a\nb", ""]), TEXTS)
IDS = st.one_of(st.sampled_from(["obs-1", "a.b", "x" * 64, "x" * 65, "a_b", "a b", ""]), TEXTS)
NUMBERS = st.one_of(
    st.sampled_from([0, -0.0, 81.08, 1e-7, 1e21, 10**30, True, False, "81", None, [], {}]),
    st.integers(),
    st.floats(),
)
DATE_TIMES = st.one_of(
    st.sampled_from(
        [
            "2026-12-03T08:00:00Z",
            "2026-12-03T08:00:00.123+01:00",
            "2026-12-03T08:00:00.1234567Z",  # 7 fraction digits
            "2026-12-03T08:00:00+14:00",
            "2026-12-03T08:00:00+14:30",
            "2026-12-03T08:00:00-13:59",
            "2026-12-03T08:00:00",  # no zone
            "2026-12-03T24:00:00Z",
            "2016-12-31T23:59:60Z",  # a leap second
            "2026-02-29T08:00:00Z",  # not a leap year
            "2024-02-29T08:00:00Z",
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "2026-12-03",
            "2026-12",
            "2026-12-03T08:00Z",
            "2026-12-03 08:00:00Z",
            "",
        ]
    ),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,8})?"
        r"(Z|[+\-][0-9]{2}:[0-9]{2})?",
        fullmatch=True,
    ),
    NUMBERS,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A key's value, or the key left out."""
    return st.one_of(st.just(MISSING), strategy)


MISSING = object()


def obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """An object of those keys (each maybe absent), sometimes with a stray key, or not an object."""
    entries = st.fixed_dictionaries({k: maybe(v) for k, v in fields.items()})
    stray = st.dictionaries(
        st.sampled_from(["extension", "id", "Code", "_code", "x"]), NUMBERS, max_size=1
    )
    built = st.builds(
        lambda e, s: {**{k: v for k, v in e.items() if v is not MISSING}, **s}, entries, stray
    )
    return st.one_of(built, st.sampled_from([None, [], "x", 5]))


def lists(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(strategy, max_size=2), strategy)


CODING = obj(system=st.one_of(st.just("http://loinc.org"), TEXTS), code=CODES, display=TEXTS)
QUANTITY = obj(
    value=NUMBERS,
    unit=TEXTS,
    system=st.one_of(st.just("http://unitsofmeasure.org"), TEXTS),
    code=CODES,
    comparator=st.sampled_from(["<", "<=", ">", ">=", "=", "", "ad"]),
)
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "resourceType": st.sampled_from(["Observation", "observation", "Patient"]),
    "id": IDS,
    "meta": obj(versionId=IDS, lastUpdated=DATE_TIMES),
    "status": st.one_of(st.sampled_from(["final", "amended", "FINAL", "done"]), CODES),
    "code": obj(coding=lists(CODING), text=TEXTS),
    "subject": obj(reference=TEXTS, display=TEXTS),
    "effectiveDateTime": DATE_TIMES,
    "effectivePeriod": obj(start=DATE_TIMES, end=DATE_TIMES),
    "issued": DATE_TIMES,
    "valueQuantity": QUANTITY,
    "valueString": TEXTS,
    "referenceRange": lists(obj(low=QUANTITY, high=QUANTITY, text=TEXTS)),
}
# Single values deep inside a plain Observation: most generated examples differ from a plain one
# by one to three such changes, so that both answers of the fast check are exercised.
DEEP: dict[tuple[str | int, ...], st.SearchStrategy[Any]] = {
    ("valueQuantity", "value"): NUMBERS,
    ("valueQuantity", "unit"): TEXTS,
    ("valueQuantity", "code"): CODES,
    ("valueQuantity", "comparator"): QUANTITY.map(
        lambda q: q.get("comparator") if isinstance(q, dict) else q
    ),
    ("code", "coding", 0, "code"): CODES,
    ("code", "coding", 0, "system"): TEXTS,
    ("code", "text"): TEXTS,
    ("subject", "reference"): TEXTS,
    ("meta", "versionId"): IDS,
    ("referenceRange", 0, "low", "value"): NUMBERS,
    ("referenceRange", 0, "high", "comparator"): st.sampled_from(["<", ">", "", 5]),
    ("referenceRange", 0, "text"): TEXTS,
}
PLAIN = observation("777-3", 81.08, "10*3/uL", issued="2026-12-03T10:24:00Z")
BASES = (
    PLAIN,
    {
        **PLAIN,
        "meta": {"versionId": "3"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "777-3"}], "text": "PLT"},
        "subject": {"reference": "Patient/p1", "display": "P"},
        "valueQuantity": {"value": 40, "comparator": "<", "unit": "G/L"},
        "referenceRange": [{"low": {"value": 150, "unit": "G/L"}, "high": {"value": 400}}],
    },
)


def changed(base: dict[str, Any], changes: list[tuple[tuple[str | int, ...], Any]]) -> Any:
    resource = json.loads(json.dumps(base))
    for path, value in changes:
        holder: Any = resource
        for step in path[:-1]:
            holder = holder[step]
        if value is MISSING:
            holder.pop(path[-1], None)
        else:
            holder[path[-1]] = value
    return resource


def changes(
    strategies: dict[Any, st.SearchStrategy[Any]], max_size: int
) -> st.SearchStrategy[list[tuple[tuple[str | int, ...], Any]]]:
    """Up to `max_size` (path, new value or MISSING) pairs; a key of `strategies` is a path or a
    top-level key."""
    paths = sorted(strategies, key=str)
    one = st.sampled_from(paths).flatmap(
        lambda key: st.tuples(
            st.just(key if isinstance(key, tuple) else (key,)), maybe(strategies[key])
        )
    )
    return st.lists(one, max_size=max_size)


# The second base changed deep down, then perhaps at the top (which may replace a changed
# parent); or the first base changed at the top.
OBSERVATIONS = st.builds(
    lambda deep, top: changed(changed(BASES[1], deep), top), changes(DEEP, 3), changes(FIELDS, 2)
) | st.builds(changed, st.just(BASES[0]), changes(FIELDS, 3))


@settings(max_examples=2500, deadline=None, derandomize=True)
@given(OBSERVATIONS)
@example(PLAIN)
@example({**PLAIN, "valueQuantity": {"value": float("nan"), "unit": "10*3/uL"}})
@example({**PLAIN, "referenceRange": [{"low": {"value": 150, "comparator": ">"}}]})
@example({**PLAIN, "effectiveDateTime": "0000-01-01T00:00:00Z"})  # no year 0 in R4 or Python
@example({**PLAIN, "subject": {"reference": "Patient/p1", "display": "Dupont\ud800"}})
@example({**PLAIN, "valueQuantity": {"value": 10**4300, "unit": "10*3/uL"}})  # 4 301 digits
def test_what_the_fast_check_accepts_fhir_resources_accepts(resource: Any) -> None:
    if plainly_valid_observation(resource):
        assert fhir_resources_accepts(resource), json.dumps(resource, default=str)[:500]


def test_the_generated_examples_exercise_both_answers() -> None:
    """The property above is not vacuous: its strategy yields plainly valid Observations too."""
    seen = {True: 0, False: 0}

    @settings(max_examples=400, deadline=None, derandomize=True)
    @given(OBSERVATIONS)
    def count(resource: Any) -> None:
        seen[plainly_valid_observation(resource)] += 1

    count()
    assert seen[True] >= 20 and seen[False] >= 200, seen


def pool_observations(count: int) -> list[dict[str, Any]]:
    """The lab results of `count` distinct Synthea-based order-select calls (bench/distinct.py),
    reduced as validation.py reduces them."""
    found = []
    for number, line in enumerate(distinct.pool_lines("order-select", count)):
        body = json.loads(distinct.materialise(line.split("\t", 1)[1], number))
        for bundle in body["prefetch"].values():
            for entry in (bundle or {}).get("entry", []) if isinstance(bundle, dict) else []:
                if entry.get("resource", {}).get("resourceType") == "Observation":
                    found.append(validation._read_elements(entry["resource"]))
    return found


def test_the_lab_results_ehrs_send_take_the_fast_path() -> None:
    resources = pool_observations(40)
    assert len(resources) >= 100
    plain = [r for r in resources if plainly_valid_observation(r)]
    assert len(plain) == len(resources)
    assert all(fhir_resources_accepts(r) for r in plain)


@pytest.mark.parametrize(
    "change",
    [
        {"effectiveDateTime": "2026-12"},  # a partial date: valid R4, not the plain shape
        {"effectiveDateTime": "2016-12-31T23:59:60Z"},  # a leap second
        {"effectivePeriod": {"end": "2026-12-03T08:00:00Z"}, "effectiveDateTime": None},
        {"valueQuantity": {"value": 81.08, "unit": "10*3/uL", "extension": []}},
        {"subject": {"reference": "Patient/p1", "display": "Dupont\ud800"}},  # lone surrogate
        {"_status": {"extension": [{"url": "http://example.org/x", "valueString": "x"}]}},
    ],
)
def test_any_other_shape_is_left_to_fhir_resources(change: dict[str, Any], monkeypatch) -> None:
    resource = {k: v for k, v in {**PLAIN, **change}.items() if v is not None}
    asked: list[str] = []
    real = validation._model

    class Watching:
        @staticmethod
        def model_validate(content: dict[str, Any]) -> Any:
            asked.append(content["id"])
            return real("Observation").model_validate(content)

    monkeypatch.setattr(validation, "_model", lambda resource_type: Watching)
    monkeypatch.setattr(validation, "_memo", validation.ValidationMemo(entries=8))
    assert not plainly_valid_observation(resource)
    validation.validation_error(resource)
    assert asked == [resource["id"]]


def test_a_plain_observation_is_not_given_to_fhir_resources(monkeypatch) -> None:
    def refuse(resource_type: str) -> Any:
        raise AssertionError("fhir.resources asked for a plain Observation")

    monkeypatch.setattr(validation, "_model", refuse)
    assert validation.validation_error(dict(PLAIN)) is None
