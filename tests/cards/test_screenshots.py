"""Screenshots of one card of each kind, in both languages, taken by Debian's headless Chromium
from a page that draws the service's own response (tests/cards/card_preview.py).

The README's "What the clinician sees" shows them. `make screenshots` writes them to
docs/screenshots/ (CARD_SCREENSHOTS_DIR); a plain test run keeps them under the test's
temporary folder. Each is checked: the PNG was made at 900 px wide, and the card's summary is in
the DOM the browser built.
"""

from __future__ import annotations

import html
import json
import os
import re
import struct
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from build import med_statement
from support.browser import dom, screenshot
from support.card_preview import page
from support.moment_support import CLOPIDOGREL, patient_view, planned, record_prefetch

from service.config import Config
from service.offline import evaluate_offline

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
FIXTURES_NOW = datetime.fromisoformat("2026-11-26T09:00:00+01:00")  # fixtures/manifest.json
MOMENT_NOW = datetime.fromisoformat("2026-12-02T09:00:00+01:00")  # tests/moments' "now"
WIDTH = 900


def fixture(name: str) -> Callable[[], bytes]:
    return lambda: (FIXTURES / name).read_bytes()


def chart_opened() -> bytes:
    """patient-view: a vertebroplasty planned in 7 days, clopidogrel taken at home."""
    prefetch = record_prefetch(
        [planned()], medicationStatements=[med_statement("ms-clopi", CLOPIDOGREL)]
    )
    return json.dumps(patient_view(prefetch)).encode()


# (file name, the rule whose card is shown, the request, "now", page title en / fr)
CASES: tuple[tuple[str, str, Callable[[], bytes], datetime, str, str], ...] = (
    (
        "critical-contraindication",
        "CI-ABS-SYSTEMIC-INFECTION",
        fixture("CI-ABS-SYSTEMIC-INFECTION/sepsis-snomed.json"),
        FIXTURES_NOW,
        "Order a vertebroplasty: a critical contraindication",
        "Prescription d'une vertébroplastie : contre-indication critique",
    ),
    (
        "warning",
        "BLEED-INR-HIGH",
        fixture("BLEED-INR-HIGH/inr-high-tp-normal-no-vka-warning.json"),
        FIXTURES_NOW,
        "A warning: INR above the local protocol, TP meeting the guideline",
        "Avertissement : INR au-dessus du protocole local, TP conforme",
    ),
    (
        "summary-with-passes",
        "CHECKLIST",
        fixture("CI-REL-RADICULOPATHY/radiculopathy-inactive.json"),
        FIXTURES_NOW,
        "The summary: checks that passed, and what the record cannot show",
        "La synthèse : vérifications satisfaites et points à confirmer",
    ),
    (
        "hold-plan",
        "MED-CLOPIDOGREL",
        fixture("MED-CARDIAC-RISK/clopidogrel-coronary-stent-icd10.json"),
        FIXTURES_NOW,
        "The antithrombotic hold plan, dated, with its suggestions",
        "Le plan d'arrêt des antithrombotiques, daté, avec ses suggestions",
    ),
    (
        "data-unavailable",
        "DATA-UNAVAILABLE",
        fixture("DATA-UNAVAILABLE/platelets-operation-outcome.json"),
        FIXTURES_NOW,
        "Data that could not be obtained: never a silent pass",
        "Données non obtenues : jamais un contrôle passé sous silence",
    ),
    (
        "patient-view",
        "MED-CLOPIDOGREL",
        chart_opened,
        MOMENT_NOW,
        "The chart opened 7 days before the procedure (patient-view)",
        "Dossier ouvert 7 jours avant le geste (patient-view)",
    ),
)


def card_of(response: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(
        c for c in response["cards"] if rule_id in c["extension"]["cementoplasty-cds/rules"]
    )


def png_width(path: Path) -> int:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int(struct.unpack(">I", header[16:20])[0])


def out_dir(tmp_path: Path) -> Path:
    configured = os.environ.get("CARD_SCREENSHOTS_DIR")
    folder = (ROOT / configured) if configured else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_screenshot_of_a_card(case: tuple[Any, ...], language: str, tmp_path: Path) -> None:
    name, rule_id, request, now, title_en, title_fr = case
    status, response = evaluate_offline(Config(), request(), locale=language, now=now)
    assert status == 200
    card = card_of(response, rule_id)
    title = title_en if language == "en" else title_fr
    preview = tmp_path / f"{name}-{language}.html"
    preview.write_text(page(title, [card], language), encoding="utf-8")
    built = html.unescape(dom(preview.as_uri(), tmp_path))
    assert card["summary"] in built
    height = re.search(r'data-height="(\d+)"', built)
    assert height is not None, "the page did not lay out"
    shot = out_dir(tmp_path) / f"{name}-{language}.png"
    screenshot(preview.as_uri(), shot, tmp_path, size=f"{WIDTH},{height[1]}")
    assert png_width(shot) == WIDTH
    assert shot.stat().st_size > 5_000  # a drawn card, not an empty canvas
