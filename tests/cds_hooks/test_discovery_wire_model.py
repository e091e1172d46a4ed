"""Discovery has one wire model (cds_hooks/discovery.py): the blueprint writes the service's
answer with it and the OpenAPI document's schemas are generated from it."""

from __future__ import annotations

import jsonschema_rs

from service.app import create_app
from service.config import parse_config
from service.storage import Store


def test_the_served_discovery_matches_the_served_schema_and_uses_every_property() -> None:
    client = create_app(parse_config({"auth": {"required": False}}), store=Store("sqlite://"))
    client = client.test_client()
    document = client.get("/openapi.json").get_json()
    schema = {"$ref": "#/components/schemas/Discovery", "components": document["components"]}
    body = client.get("/cds-services").get_json()
    assert list(jsonschema_rs.Draft4Validator(schema).iter_errors(body)) == []
    written = {key for service in body["services"] for key in service}
    assert written == set(document["components"]["schemas"]["DiscoveredService"]["properties"])


def test_a_key_the_schema_does_not_know_fails_validation() -> None:
    """The generated schema is closed: a field written by hand beside the model would show."""
    client = create_app(parse_config({"auth": {"required": False}}), store=Store("sqlite://"))
    document = client.test_client().get("/openapi.json").get_json()
    schema = {"$ref": "#/components/schemas/Discovery", "components": document["components"]}
    service = {"hook": "patient-view", "id": "x", "description": "d", "version": "3.0.0"}
    validator = jsonschema_rs.Draft4Validator(schema)
    assert list(validator.iter_errors({"services": [service]})) == []
    assert list(validator.iter_errors({"services": [service | {"extra": 1}]})) != []
