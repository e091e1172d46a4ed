"""`cementoplasty-cds evaluate`: a fixture run on the manifest's day fires what the manifest says,
whatever day the test runs (the fixtures' lab results would otherwise age out of the window)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.cli import main

REPO = Path(__file__).resolve().parents[1]
MANIFEST = json.loads((REPO / "fixtures" / "manifest.json").read_text("utf-8"))
RULES = "cementoplasty-cds/rules"
# A fixture whose answer depends on the day: a low platelet count dated shortly before "now".
LOW_PLATELETS = "BLEED-PLATELETS-LOW/platelets-26515-7-low.json"


def evaluate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    status = main(["evaluate", *args])
    out = capsys.readouterr().out
    return status, json.loads(out) if out.strip() else {}


def fired(response: dict[str, Any]) -> set[str]:
    return {rule for card in response["cards"] for rule in card["extension"][RULES]}


@pytest.fixture(autouse=True)
def no_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDS_CONFIG", raising=False)


@pytest.mark.parametrize(
    "fixture",
    [
        LOW_PLATELETS,
        "TRIGGER/vertebroplasty-order-select.json",
        "BLEED-LAB-MISSING/coagulation-stale.json",
    ],
)
def test_evaluate_on_the_manifest_day_fires_the_manifest_rules(
    capsys: pytest.CaptureFixture[str], fixture: str
) -> None:
    if fixture not in MANIFEST["fixtures"]:
        pytest.fail(f"{fixture} is not in fixtures/manifest.json")
    status, response = evaluate(capsys, "--now", MANIFEST["now"], str(REPO / "fixtures" / fixture))
    assert status == 0
    assert fired(response) == set(MANIFEST["fixtures"][fixture]["expected"])


def test_the_day_matters_so_the_clock_is_what_makes_it_repeatable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A month after the manifest's day the same count is too old to decide (it is shown as
    stale): without `--now`, the fixture's answer would depend on the day it is run."""
    later = (datetime.fromisoformat(MANIFEST["now"]) + timedelta(days=30)).isoformat()
    _, response = evaluate(capsys, "--now", later, str(REPO / "fixtures" / LOW_PLATELETS))
    assert "BLEED-PLATELETS-LOW" not in fired(response)
    assert "BLEED-LAB-MISSING" in fired(response)


def test_evaluate_in_french(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(REPO / "fixtures" / LOW_PLATELETS)
    _, response = evaluate(capsys, "--now", MANIFEST["now"], "--locale", "fr", path)
    summaries = " ".join(card["summary"] for card in response["cards"])
    assert "Plaquettes" in summaries


@pytest.mark.parametrize("now", ["2026-11-26", "2026-11-26T09:00:00", "tomorrow"])
def test_now_needs_a_date_time_with_its_offset(
    capsys: pytest.CaptureFixture[str], now: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--now", now, str(REPO / "fixtures" / LOW_PLATELETS)])
    assert exit_info.value.code == 2
    assert "--now" in capsys.readouterr().err
