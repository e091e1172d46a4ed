"""The rule pages a card's source.url opens: content, language, the running configuration's
local-protocol values, and the guideline quoted as written."""

from __future__ import annotations

import re
from pathlib import Path

import flask
import pytest
from support.shared_data import shared_path

from service.config import parse_config
from service.rule_pages import catalog, create_rule_pages_blueprint, page_url, rule_ids
from service.rules.catalog import RULE_IDS
from service.rules.policy import Policy


def app_with(policy: Policy) -> flask.Flask:
    app = flask.Flask("pages")
    app.register_blueprint(create_rule_pages_blueprint(policy, "fr"))
    return app


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&gt;", ">")


def normalised(text: str) -> str:
    """The guideline's bullets and line breaks folded, as a quotation folds them."""
    return re.sub(r"\s+", " ", re.sub(r"[\u2013\uf0b7]", " ", text)).strip()


def test_every_catalog_rule_has_a_page_and_no_page_names_an_unknown_rule() -> None:
    assert set(rule_ids()) == set(RULE_IDS) | {"TRIGGER"}


def test_every_quoted_passage_is_in_the_guideline_as_written() -> None:
    guideline = normalised(shared_path("seed", "000_d82f6c62e22db0fe.txt").read_text("utf-8"))
    for key, passage in catalog()["passages"].items():
        for fragment in passage["fr"].split("[…]"):
            quoted = normalised(fragment).strip(" .")
            assert quoted in guideline, (key, quoted)


def test_a_page_shows_the_passage_the_check_and_the_running_policy_value() -> None:
    app = app_with(Policy(lab_max_age_days=5))
    page = app.test_client().get("/rules/BLEED-PLATELETS-LOW?lang=en")
    assert page.status_code == 200 and page.mimetype == "text/html"
    shown = text_of(page.get_data(as_text=True))
    assert "Plaquettes > 50 000/mm3 et le TP > 50" in shown  # French, as written
    assert "platelets > 50 000/mm³" in shown  # the English rendering on an English page
    assert "from the last 5 days" in shown  # the configured value, not the default 7
    assert "777-3" in shown  # a code it recognises


def test_french_page_has_no_english_rendering() -> None:
    shown = text_of(
        app_with(Policy()).test_client().get("/rules/BLEED-TP-LOW?lang=fr").get_data(True)
    )
    assert "Plaquettes > 50 000/mm3" in shown and "English rendering" not in shown
    assert "Le dernier TP utilisable" in shown


def test_a_rule_of_local_protocol_says_it_is_not_guideline_text() -> None:
    shown = text_of(
        app_with(Policy(inr_max=1.8))
        .test_client()
        .get("/rules/BLEED-INR-HIGH?lang=en")
        .get_data(True)
    )
    assert "Not guideline text" in shown and "Highest INR accepted: 1.8" in shown


def test_index_lists_every_rule_and_unknown_rules_are_404() -> None:
    client = app_with(Policy()).test_client()
    index = client.get("/rules?lang=en").get_data(as_text=True)
    assert all(f"rules/{rule_id}?lang=en" in index for rule_id in rule_ids())
    assert client.get("/rules/NOT-A-RULE").status_code == 404
    assert client.get("/rules/BLEED-TP-LOW,NOT-A-RULE").status_code == 404


def test_page_url_is_absolute_and_names_every_rule_of_the_card() -> None:
    url = page_url("https://cds.example.org/", ["MED-DOAC", "MED-HOLD-TOO-LATE"], "fr")
    assert url == "https://cds.example.org/rules/MED-DOAC,MED-HOLD-TOO-LATE?lang=fr"


def test_the_service_serves_the_pages_without_authentication(tmp_path: Path) -> None:
    from service.app import create_app

    config = parse_config(
        {"auth": {"required": False}, "store": {"url": f"sqlite:///{tmp_path}/store.sqlite3"}}
    )
    response = create_app(config).test_client().get("/rules/CHECKLIST?lang=en")
    assert response.status_code == 200


@pytest.mark.parametrize("language", ["en", "fr"])
def test_pages_escape_what_they_show(language: str) -> None:
    # The configured drug names are the only free text a page shows: they are escaped.
    policy = Policy(unlisted_hold_days={"<script>x</script>": 3})
    html = (
        app_with(policy)
        .test_client()
        .get(f"/rules/MED-ANTITHROMBOTIC-UNLISTED?lang={language}")
        .get_data(as_text=True)
    )
    assert "<script>x" not in html and "&lt;script&gt;" in html


def test_every_concept_a_page_names_is_in_the_value_sets() -> None:
    """A page lists the codes of the concepts its rule reads: a renamed concept would silently
    empty that list, so every name must exist in the value-set files."""
    from service.rule_pages.codes import _valueset

    known = {
        "conditions": set(_valueset("conditions")["concepts"]),
        "allergies": set(_valueset("allergies")["concepts"]),
        "labs": set(_valueset("labs")["kinds"]),
        "body_sites": set(_valueset("body_sites")["groups"]),
        "drug_classes": {
            c
            for entry in _valueset("drugs")["ingredients"].values()
            for c in entry.get("classes", ())
        }
        | {c for entry in _valueset("drugs")["atc_class_prefixes"] for c in entry["classes"]},
    }
    for rule_id, entry in catalog()["rules"].items():
        for kind, names in entry["codes"].items():
            if kind == "procedures":
                continue
            assert set(names) <= known[kind], (rule_id, kind, set(names) - known[kind])
