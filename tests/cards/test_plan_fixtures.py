"""The plan card on the MED-* fixtures through the HTTP endpoint: every suggestion acts on one
record, a Task only with a known start, and the v2 reported cases read as RULES.md says."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache

import flask
import pytest
from support.fixture_http import FIXTURES, load_manifest, make_app, post_hook

MANIFEST = load_manifest()
NOW = datetime.fromisoformat(MANIFEST["now"])
MED_FIXTURES = sorted(
    path
    for path, entry in MANIFEST["fixtures"].items()
    if any(rule.startswith("MED-") for rule in entry["expected"])
)


@cache
def app_for(policy_json: str) -> flask.Flask:
    return make_app(NOW, json.loads(policy_json))


def plan_card(path: str, locale: str = "en") -> dict:
    entry = MANIFEST["fixtures"][path]
    request = json.loads((FIXTURES / path).read_text("utf-8"))
    status, response = post_hook(
        app_for(json.dumps(entry.get("policy", {}), sort_keys=True)), request, locale
    )
    assert status == 200
    (card,) = [
        c
        for c in response["cards"]
        if any(r.startswith("MED-") for r in c["extension"]["cementoplasty-cds/rules"])
    ]
    return card


def suggested(card: dict) -> list[dict]:
    return [a["resource"] for s in card.get("suggestions", ()) for a in s["actions"]]


@pytest.mark.parametrize("path", MED_FIXTURES)
def test_every_suggestion_acts_on_one_record(path: str) -> None:
    card = plan_card(path)
    for suggestion in card.get("suggestions", ()):
        assert len(suggestion["actions"]) == 1
    for resource in suggested(card):
        if resource["resourceType"] == "Task":
            assert resource["status"] == "requested" and resource["intent"] == "proposal"
            assert resource["focus"]["reference"].startswith("MedicationRequest/")
            assert resource["restriction"]["period"]["start"]
            assert resource["restriction"]["period"]["end"]
        else:
            assert resource["resourceType"] == "CommunicationRequest"
            assert len(resource["about"]) == 1


def test_kardegic_and_aspegic_one_suggestion_on_aspegic() -> None:
    card = plan_card("MED-ASPIRIN-HIGH-DOSE/kardegic-and-aspegic-3g.json")
    (task,) = suggested(card)
    assert task["focus"] == {"reference": "MedicationRequest/mr-aspegic"}


def test_duoplavin_request_to_the_prescriber() -> None:
    card = plan_card("MED-CLOPIDOGREL/duoplavin-and-kardegic.json", "fr")
    (request,) = suggested(card)
    assert request["resourceType"] == "CommunicationRequest"
    assert request["about"] == [{"reference": "MedicationRequest/mr-duoplavin"}]
    # Kardégic is already taken: it replaces the combination, no new aspirin on top.
    assert "prend déjà de l'aspirine" in card["detail"]


def test_two_orders_task_ends_on_the_day_its_hold_is_for() -> None:
    card = plan_card("MED-HOLD-TOO-LATE/two-orders-earliest-date-only.json")
    (task,) = suggested(card)
    assert task["restriction"]["period"] == {"start": "2026-11-30", "end": "2026-12-05"}


def test_rivaroxaban_instant_from_the_fixture() -> None:
    card = plan_card("MED-DOAC/rivaroxaban-timed-procedure.json")
    assert "no dose after **2026-11-27 14:00**" in card["detail"]
    (message,) = suggested(card)
    assert "Friday 27 November at 14:00" in message["payload"][0]["contentString"]


def test_an_antiplatelet_combination_named_by_b01ac30_only_asks_the_prescriber() -> None:
    card = plan_card("MED-ANTITHROMBOTIC-UNLISTED/antiplatelet-combination-b01ac30.json")
    (request,) = suggested(card)
    assert request["resourceType"] == "CommunicationRequest"
    assert request["about"] == [{"reference": "MedicationRequest/mr-combination"}]
    assert "components" in card["detail"]
