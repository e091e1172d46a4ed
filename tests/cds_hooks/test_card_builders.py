"""Card invariants of CDS Hooks 2.0, enforced by the builders in cds_hooks.cards."""

from __future__ import annotations

from typing import Any

import pytest

from cds_hooks.cards import (
    Action,
    ActionType,
    Card,
    CdsResponse,
    Coding,
    Indicator,
    InvalidCard,
    Link,
    OverrideReason,
    SelectionBehavior,
    Source,
    Suggestion,
)

SOURCE = Source(label="Guideline", url="https://example.org/guideline")
REASON = OverrideReason(code="risk-accepted", system="https://example.org/r", display="Accepted")


def full_card() -> Card:
    suggestion = Suggestion(
        label="Cancel the order",
        actions=(Action(ActionType.DELETE, "Remove the draft", resource_id="ServiceRequest/1"),),
        is_recommended=True,
    )
    return Card(
        summary="Platelets below threshold",
        indicator=Indicator.CRITICAL,
        source=SOURCE,
        detail="**Detail** in markdown",
        suggestions=(suggestion,),
        selection_behavior=SelectionBehavior.AT_MOST_ONE,
        override_reasons=(REASON,),
        links=(Link(label="Guideline", url="https://example.org/g"),),
    )


def walk(value: Any) -> list[Any]:
    found = [value]
    if isinstance(value, dict):
        for child in value.values():
            found.extend(walk(child))
    elif isinstance(value, list):
        for child in value:
            found.extend(walk(child))
    return found


def test_serialised_response_has_no_null_or_empty_values() -> None:
    body = CdsResponse(cards=(full_card(), Card("Info", Indicator.INFO, Source("X")))).to_json()
    for value in walk(body["cards"]):
        assert value is not None
        if isinstance(value, (str, list, dict)):
            assert len(value) > 0, body
    assert CdsResponse().to_json() == {"cards": []}  # the one empty array the spec allows


def test_full_card_wire_form() -> None:
    card = full_card().to_json()
    assert card["selectionBehavior"] == "at-most-one"
    assert card["overrideReasons"] == [
        {"system": "https://example.org/r", "code": "risk-accepted", "display": "Accepted"}
    ]
    assert card["suggestions"][0]["actions"][0] == {
        "type": "delete",
        "description": "Remove the draft",
        "resourceId": "ServiceRequest/1",
    }
    assert card["uuid"] != card["suggestions"][0]["uuid"]


def test_summary_must_be_under_140_characters() -> None:
    assert Card("x" * 139, Indicator.INFO, SOURCE).summary
    with pytest.raises(InvalidCard):
        Card("x" * 140, Indicator.INFO, SOURCE)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Card("", Indicator.INFO, SOURCE),
        lambda: Card("   ", Indicator.INFO, SOURCE),
        lambda: Card("ok", Indicator.INFO, SOURCE, detail=""),
        lambda: Card("ok", Indicator.INFO, Source(label="")),
        lambda: Card("ok", Indicator.INFO, SOURCE, extension={}),
        lambda: Source(label="x", url=""),
        lambda: Suggestion(label=""),
        lambda: Coding(code="", system="s"),
        lambda: Link(label="x", url="https://e", type="relative"),
        lambda: Action(ActionType.CREATE, "create nothing"),
        lambda: Action(ActionType.DELETE, "delete what"),
        lambda: Action(ActionType.UPDATE, "", resource={"resourceType": "X"}),
        lambda: Action(ActionType.CREATE, "no type", resource={"id": "1"}),
    ],
)
def test_empty_or_incomplete_parts_are_refused(build: Any) -> None:
    with pytest.raises(InvalidCard):
        build()


def test_selection_behavior_exactly_when_there_are_suggestions() -> None:
    with pytest.raises(InvalidCard):
        Card("ok", Indicator.INFO, SOURCE, suggestions=(Suggestion("Do it"),))
    with pytest.raises(InvalidCard):
        Card("ok", Indicator.INFO, SOURCE, selection_behavior=SelectionBehavior.ANY)


def test_override_reasons_need_a_display() -> None:
    with pytest.raises(InvalidCard):
        OverrideReason(code="c", system="s")
    with pytest.raises(InvalidCard):
        OverrideReason(code="c", system="s", display=" ")


def test_most_severe_indicator() -> None:
    assert Indicator.most_severe([Indicator.INFO, Indicator.CRITICAL]) is Indicator.CRITICAL
    with pytest.raises(InvalidCard):
        Indicator.most_severe([])
