"""The rule pages: `GET /rules` (index) and `GET /rules/<RULE-ID>[,<RULE-ID>…]?lang=fr|en`.

Every card's `source.url` opens the page of its rules (RULES.md, "Cards: what a clinician
expects"): the guideline passage quoted in French as written (with the service's English
rendering on English pages), what the rule checks in words, the local-protocol values in force
in this running service, and the codes it recognises. Public like /healthz: it holds no patient
data. The content is data (`rules.json`); the wording of the page itself is in `page_text`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, render_template, request

from service.rule_pages.codes import CodeLine, codes_for

HERE = Path(__file__).resolve().parent
LANGUAGES = ("en", "fr")
MAX_RULES_PER_PAGE = 20

# The guideline, named as precisely as its text allows (its title; it is a chapter of a French
# guideline on bone metastases of broncho-pulmonary cancer).
GUIDELINE_TITLE = "Traitement local de la métastase osseuse en radiologie interventionnelle"

# How each local-protocol value is named on a page (never its configuration key), and its unit.
POLICY_LABELS: dict[str, dict[str, str]] = {
    "lab_max_age_days": {
        "en": "Most recent results read: from the last {value} days",
        "fr": "Résultats lus\u00a0: ceux des {value} derniers jours",
    },
    "inr_max": {"en": "Highest INR accepted: {value}", "fr": "INR maximal accepté\u00a0: {value}"},
    "pain_uncontrolled_min": {
        "en": "Pain score counted as uncontrolled: {value}/10 or more",
        "fr": "Score de douleur considéré non contrôlé\u00a0: {value}/10 ou plus",
    },
    "pain_controlled_max": {
        "en": "Pain score counted as controlled: {value}/10 or less",
        "fr": "Score de douleur considéré contrôlé\u00a0: {value}/10 ou moins",
    },
    "vka_stop_days": {
        "en": "Usual interruption of a vitamin K antagonist: {value} days",
        "fr": "Interruption habituelle d’un AVK\u00a0: {value}\u00a0jours",
    },
    "unlisted_hold_days": {
        "en": "Hold delays set for drugs the guideline does not name: {value}",
        "fr": "Délais d’arrêt fixés pour les médicaments non cités par la recommandation"
        "\u00a0: {value}",
    },
}

PAGE_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "index_title": "Cementoplasty safety checks: the rules",
        "guideline": "Guideline:",
        "passage": "What the guideline says",
        "rendering": "English rendering (the service's, not an official translation)",
        "checks": "What the service checks",
        "policy": "Local protocol of the institution, in force in this service",
        "no_policy": "This rule reads no local-protocol value.",
        "not_guideline": "Not guideline text: a safety rule of the service.",
        "codes": "Codes recognised",
        "no_codes": "This rule reads no coded data.",
        "text_note": "Records without a recognised code are also read by their text, in French "
        "and English, never when the text is negated.",
        "all_rules": "All rules",
        "other_language": "Version française",
        "none_configured": "none",
    },
    "fr": {
        "index_title": "Vérifications de sécurité de la cimentoplastie\u00a0: les règles",
        "guideline": "Recommandation\u00a0:",
        "passage": "Ce que dit la recommandation",
        "rendering": "",
        "checks": "Ce que vérifie le service",
        "policy": "Protocole local de l’établissement, en vigueur dans ce service",
        "no_policy": "Cette règle ne lit aucune valeur du protocole local.",
        "not_guideline": "Hors texte de la recommandation\u00a0: règle de sécurité du service.",
        "codes": "Codes reconnus",
        "no_codes": "Cette règle ne lit aucune donnée codée.",
        "text_note": "Les enregistrements sans code reconnu sont aussi lus par leur texte, en "
        "français et en anglais, jamais quand le texte est une négation.",
        "all_rules": "Toutes les règles",
        "other_language": "English version",
        "none_configured": "aucun",
    },
}


@dataclass(frozen=True)
class Passage:
    section: str
    french: str
    english: str


@dataclass(frozen=True)
class RulePage:
    rule_id: str
    passages: tuple[Passage, ...]
    checks: str
    policy: tuple[str, ...]  # shown as "label: value" lines
    codes: tuple[CodeLine, ...]


@cache
def catalog() -> dict[str, Any]:
    with (HERE / "rules.json").open(encoding="utf-8") as file:
        data: dict[str, Any] = json.load(file)
    return data


def rule_ids() -> tuple[str, ...]:
    return tuple(catalog()["rules"])


def page_url(base_url: str, rule_ids_on_card: list[str], language: str) -> str:
    """The page of a card's rules: absolute, as CDS Hooks requires of `source.url`."""
    ids = ",".join(rule_ids_on_card)
    return f"{base_url.rstrip('/')}/rules/{quote(ids, safe=',')}?lang={language}"


def _policy_value(value: Any, language: str) -> str:
    if isinstance(value, Mapping):
        if not value:
            return PAGE_TEXT[language]["none_configured"]
        return ", ".join(
            f"{drug} {days} j" if language == "fr" else f"{drug} {days} d"
            for drug, days in sorted(value.items())
        )
    if isinstance(value, float):
        shown = f"{value:g}"
        return shown.replace(".", ",") if language == "fr" else shown
    return str(value)


def rule_page(rule_id: str, language: str, policy: Any) -> RulePage:
    entry = catalog()["rules"][rule_id]
    passages = tuple(
        Passage(p["section"], p["fr"], p["en"])
        for p in (catalog()["passages"][key] for key in entry["passages"])
    )
    lines = []
    for key in entry["policy"]:
        if hasattr(policy, key):  # a value this running version has
            value = _policy_value(getattr(policy, key), language)
            lines.append(POLICY_LABELS[key][language].format(value=value))
    return RulePage(
        rule_id, passages, entry["checks"][language], tuple(lines), tuple(codes_for(entry["codes"]))
    )


def create_rule_pages_blueprint(policy: Any, default_language: str) -> Blueprint:
    """The pages, reading the local-protocol values of the running configuration (`policy`)."""
    pages = Blueprint("rule_pages", __name__, template_folder="templates")

    def language() -> str:
        asked = (request.args.get("lang") or default_language).lower()
        return asked if asked in LANGUAGES else default_language

    @pages.get("/rules")
    def index() -> Response:
        lang = language()
        entries = [(rid, catalog()["rules"][rid]["checks"][lang]) for rid in rule_ids()]
        html = render_template(
            "rule_index.html",
            lang=lang,
            text=PAGE_TEXT[lang],
            entries=entries,
            guideline=GUIDELINE_TITLE,
            other="fr" if lang == "en" else "en",
        )
        return Response(html, mimetype="text/html")

    @pages.get("/rules/<ids>")
    def show(ids: str) -> Response:
        lang = language()
        wanted = [rid.strip() for rid in ids.split(",") if rid.strip()]
        if not wanted or len(wanted) > MAX_RULES_PER_PAGE:
            abort(404)
        if any(rid not in catalog()["rules"] for rid in wanted):
            abort(404)
        html = render_template(
            "rule_page.html",
            lang=lang,
            text=PAGE_TEXT[lang],
            pages=[rule_page(rid, lang, policy) for rid in wanted],
            guideline=GUIDELINE_TITLE,
            other="fr" if lang == "en" else "en",
            ids=",".join(wanted),
        )
        return Response(html, mimetype="text/html")

    return pages
