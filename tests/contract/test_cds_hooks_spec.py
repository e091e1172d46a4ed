"""The spec checker of the contract tests finds what it claims to find (else a green contract
test would prove nothing)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support.cds_hooks_spec import discovery_violations, response_violations

CARD: dict[str, Any] = {
    "uuid": "a1",
    "summary": "Platelets 40 000/mm³",
    "indicator": "critical",
    "source": {"label": "Guideline", "url": "https://example.org/guideline"},
    "suggestions": [
        {
            "label": "Order a platelet count",
            "uuid": "s1",
            "actions": [
                {
                    "type": "create",
                    "description": "Platelet count",
                    "resource": {"resourceType": "ServiceRequest", "status": "draft"},
                }
            ],
        }
    ],
    "selectionBehavior": "at-most-one",
    "overrideReasons": [{"system": "https://x.example", "code": "c", "display": "Reason"}],
    "links": [{"label": "Guideline", "url": "https://example.org/g", "type": "absolute"}],
}
SERVICE = {"hook": "order-sign", "id": "s", "description": "d", "prefetch": {"p": "Patient/1"}}


def test_valid_documents_pass() -> None:
    assert response_violations({"cards": [CARD]}) == []
    assert response_violations({"cards": []}) == []
    assert discovery_violations({"services": [SERVICE]}) == []


def _set(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(document)
    target = document
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("summary",), "x" * 140, "summary"),
        (("summary",), _DELETE, "summary"),
        (("indicator",), "hard-stop", "indicator"),
        (("source",), _DELETE, "source"),
        (("source", "label"), _DELETE, "source.label"),
        (("source", "url"), "/relative", "source.url"),
        (("selectionBehavior",), _DELETE, "selectionBehavior"),
        (("suggestions", 0, "label"), _DELETE, "suggestions[0].label"),
        (("suggestions", 0, "actions", 0, "type"), "replace", "type"),
        (("suggestions", 0, "actions", 0, "description"), _DELETE, "description"),
        (("suggestions", 0, "actions", 0, "resource"), _DELETE, "resource"),
        (("overrideReasons", 0, "display"), _DELETE, "display"),
        (("links", 0, "type"), "relative", "links[0].type"),
        (("detail",), None, "detail"),
        (("detail",), "", "detail"),
        (("links",), [], "links"),
    ],
)
def test_each_violation_is_found(path: tuple[Any, ...], value: Any, expected: str) -> None:
    problems = response_violations({"cards": [_set(CARD, path, value)]})
    assert any(expected in problem for problem in problems), problems


def test_duplicate_card_uuids_are_found() -> None:
    assert response_violations({"cards": [CARD, CARD]}) != []


@pytest.mark.parametrize("missing", ["hook", "id", "description"])
def test_a_service_without_a_required_field_is_found(missing: str) -> None:
    service = {key: value for key, value in SERVICE.items() if key != missing}
    assert any(missing in p for p in discovery_violations({"services": [service]}))


def test_a_document_that_is_not_an_answer_is_found() -> None:
    assert response_violations({"services": []}) != []
    assert discovery_violations({"cards": []}) != []
