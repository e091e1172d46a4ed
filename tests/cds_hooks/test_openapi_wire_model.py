"""The response's OpenAPI schemas are generated from the card classes that write it: one wire
model. A field added to a class appears in the document; a key `to_json` writes that the schema
does not know fails validation."""

from __future__ import annotations

from dataclasses import fields

import jsonschema_rs
import pytest

from cds_hooks.cards import (
    Action,
    ActionType,
    Card,
    CdsResponse,
    Coding,
    Indicator,
    Link,
    OverrideReason,
    SelectionBehavior,
    Source,
    Suggestion,
)
from cds_hooks.openapi import openapi_document

DOCUMENT = openapi_document(["svc"])


def validator() -> jsonschema_rs.Draft4Validator:
    schema = {"$ref": "#/components/schemas/CdsResponse", "components": DOCUMENT["components"]}
    return jsonschema_rs.Draft4Validator(schema)


def every_field_card() -> Card:
    action = Action(ActionType.CREATE, "Create", resource={"resourceType": "Task"})
    return Card(
        summary="Platelets 30 G/L",
        indicator=Indicator.CRITICAL,
        source=Source("Guideline", url="https://x/rules/A", topic=Coding("t", "https://x")),
        detail="Detail",
        suggestions=(Suggestion("Do it", actions=(action,), is_recommended=True),),
        selection_behavior=SelectionBehavior.AT_MOST_ONE,
        override_reasons=(OverrideReason("c", "https://x", "Reason"),),
        links=(Link("Page", "https://x", app_context="ctx"),),
        extension={"cementoplasty-cds/rules": ["A"]},
    )


def test_a_card_with_every_field_is_valid_and_uses_every_property() -> None:
    response = CdsResponse(cards=(every_field_card(),)).to_json()
    assert list(validator().iter_errors(response)) == []
    card_schema = DOCUMENT["components"]["schemas"]["Card"]
    assert set(response["cards"][0]) == set(card_schema["properties"])


@pytest.mark.parametrize("wire_class", [Card, Suggestion, Action, Link, Source, Coding])
def test_each_class_field_is_a_schema_property(wire_class: type) -> None:
    properties = DOCUMENT["components"]["schemas"][wire_class.__name__]["properties"]
    camel = {
        "".join(w.capitalize() if i else w for i, w in enumerate(f.name.split("_")))
        for f in fields(wire_class)
    }
    assert set(properties) == camel


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda card: card | {"colour": "red"}, "colour"),
        (lambda card: card | {"summary": "x" * 140}, "longer than 139"),
        (lambda card: card | {"indicator": "urgent"}, "urgent"),
        (lambda card: {k: v for k, v in card.items() if k != "source"}, "source"),
    ],
)
def test_a_response_the_classes_cannot_write_is_refused(change, expected: str) -> None:
    card = change(every_field_card().to_json())
    errors = [str(error) for error in validator().iter_errors({"cards": [card]})]
    assert errors and any(expected in error for error in errors), errors


@pytest.mark.parametrize(
    ("response", "missing"),
    [
        ({}, "cards"),  # CDS Hooks 2.0: `cards` is required, even empty
        (
            {"cards": [every_field_card().to_json() | {"links": [{"label": "a", "url": "b"}]}]},
            "type",
        ),
        (
            {
                "cards": [
                    every_field_card().to_json()
                    | {"overrideReasons": [{"code": "c", "system": "https://x"}]}
                ]
            },
            "display",
        ),
    ],
)
def test_what_the_classes_always_write_is_required(response: dict, missing: str) -> None:
    errors = [str(error) for error in validator().iter_errors(response)]
    assert any(f'"{missing}" is a required property' in error for error in errors), errors


def test_a_property_named_like_a_schema_keyword_is_kept() -> None:
    from cds_hooks.openapi import _openapi_3_0

    schema = {"properties": {"title": {"type": "string", "title": "Title"}}, "title": "X"}
    assert _openapi_3_0(schema) == {"properties": {"title": {"type": "string"}}}
