"""The rule pages opened in a real browser (Debian's headless Chromium), as a clinician following a
card's source link would: the passage and the local-protocol values in force are on the page."""

from __future__ import annotations

import html
from pathlib import Path

import flask
from support.browser import dom, screenshot, serving

from service.rule_pages import create_rule_pages_blueprint
from service.rules.policy import Policy


def app_with(policy: Policy) -> flask.Flask:
    app = flask.Flask("pages")
    app.register_blueprint(create_rule_pages_blueprint(policy, "fr"))
    return app


def test_rule_page_in_chromium_shows_passage_and_configured_values(tmp_path: Path) -> None:
    with serving(app_with(Policy(lab_max_age_days=5, inr_max=1.8))) as base:
        url = f"{base}/rules/BLEED-PLATELETS-LOW,BLEED-INR-HIGH?lang=en"
        page = html.unescape(dom(url, tmp_path))
        shot = screenshot(url, tmp_path / "rule-page-en.png", tmp_path)
    assert "Plaquettes > 50 000/mm3 et le TP > 50" in page
    assert "from the last 5 days" in page
    assert "Highest INR accepted: 1.8" in page
    assert shot.stat().st_size > 10_000  # a rendered page, not an empty canvas


def test_index_in_chromium_links_to_french_pages(tmp_path: Path) -> None:
    with serving(app_with(Policy())) as base:
        page = html.unescape(dom(f"{base}/rules?lang=fr", tmp_path))
    assert "rules/MED-CLOPIDOGREL?lang=fr" in page
    assert "Vérifications de sécurité de la cimentoplastie" in page
