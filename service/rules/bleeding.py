"""BLEED-*: haemorrhagic risk from the latest platelet count, TP and INR (§4).

Readings (see the report and the cards):
* The guideline requires platelets > 50 000/mm³ and TP > 50 %: a value exactly at the threshold
  fires. INR > `policy.inr_max` fires (local policy).
* "Latest" is the newest dated result of each kind; it must lie within `lab_max_age_days` of
  now, else the test counts as missing (stale). Undated results never count.
* A result reported as a bound ("<20 G/L") counts when the bound settles the threshold (it is
  certainly below, or certainly above); otherwise it cannot be compared.
* A newest result that cannot be compared fires BLEED-LAB-UNINTERPRETABLE; it is not usable,
  so the test counts as missing for BLEED-LAB-MISSING's condition.
* Coagulation is assessed when a usable TP or a usable INR exists (catalog). A prothrombin time
  in seconds is only reported (UNINTERPRETABLE) when neither TP nor INR is usable.
* A result dated in the future (past a small tolerance, see common.FUTURE_TOLERANCE) is never
  the latest: it is reported by BLEED-LAB-UNINTERPRETABLE and the real latest one is judged.
* A category the service could not obtain is not "missing": DATA-UNAVAILABLE reports it, and
  the rules here only fire on the results that were obtained.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from service.config import Policy
from service.facts.model import DataCategory, LabKind, LabResult, PatientFacts
from service.rules.common import (
    above,
    at_or_below,
    available,
    fire,
    future_dated,
    lab_params,
    latest_lab,
    rounded,
)
from service.rules.finding import Finding

PLATELETS_MIN_PER_MM3 = 50_000  # guideline: "Plaquettes > 50 000/mm3"
TP_MIN_PERCENT = 50  # guideline: "TP > 50"

# Test keys used in BLEED-LAB-MISSING params (the card maps them to LOINC codes).
PLATELETS, TP, INR = "platelets", "tp", "inr"


def evaluate(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    days = policy.lab_max_age_days
    findings: list[Finding] = []
    uninterpretable: list[LabResult] = []
    missing: list[str] = []
    stale: list[dict[str, Any]] = []

    platelets, platelets_newest = latest_lab(facts, LabKind.PLATELETS, now, days)
    tp, tp_newest = latest_lab(facts, LabKind.TP_PERCENT, now, days)
    inr, inr_newest = latest_lab(facts, LabKind.INR, now, days)
    pt_seconds, _ = latest_lab(facts, LabKind.PT_SECONDS, now, days)

    platelets_low = _verdict(platelets, lambda lab: at_or_below(lab, PLATELETS_MIN_PER_MM3))
    if platelets_low and platelets is not None:
        findings.append(
            fire(
                "BLEED-PLATELETS-LOW",
                {**lab_params(platelets, now), "threshold": PLATELETS_MIN_PER_MM3},
                [platelets.source],
            )
        )
    tp_low = _verdict(tp, lambda lab: at_or_below(lab, TP_MIN_PERCENT))
    if tp_low and tp is not None:
        findings.append(
            fire("BLEED-TP-LOW", {**lab_params(tp, now), "threshold": TP_MIN_PERCENT}, [tp.source])
        )
    inr_high = _verdict(inr, lambda lab: above(lab, rounded(policy.inr_max)))
    if inr_high and inr is not None:
        findings.append(
            fire(
                "BLEED-INR-HIGH",
                {**lab_params(inr, now), "threshold": policy.inr_max},
                [inr.source],
            )
        )
    for lab, verdict in ((platelets, platelets_low), (tp, tp_low), (inr, inr_high)):
        if lab is not None and verdict is None:
            uninterpretable.append(lab)
    for kind in (LabKind.PLATELETS, LabKind.TP_PERCENT, LabKind.INR):
        uninterpretable.extend(future_dated(facts, kind, now))

    platelets_usable = platelets_low is not None
    coagulation_usable = tp_low is not None or inr_high is not None
    if not coagulation_usable and pt_seconds is not None:
        uninterpretable.append(pt_seconds)

    if not platelets_usable and available(facts, DataCategory.PLATELETS):
        missing.append(PLATELETS)
        if platelets is None and platelets_newest is not None:
            stale.append(lab_params(platelets_newest, now))
    if not coagulation_usable and available(facts, DataCategory.COAGULATION):
        missing.extend([TP, INR])
        for recent, newest in ((tp, tp_newest), (inr, inr_newest)):
            if recent is None and newest is not None:
                stale.append(lab_params(newest, now))

    if uninterpretable:
        findings.append(
            fire(
                "BLEED-LAB-UNINTERPRETABLE",
                {"results": [lab_params(lab, now) for lab in uninterpretable]},
                [lab.source for lab in uninterpretable],
            )
        )
    if missing:
        findings.append(
            fire(
                "BLEED-LAB-MISSING",
                {
                    "missing": missing,
                    "stale": stale,
                    "unusable": [lab_params(lab, now) for lab in uninterpretable],
                    "max_age_days": days,
                },
                [lab.source for lab in uninterpretable],
            )
        )
    return findings


def _verdict(lab: LabResult | None, compare: Callable[[LabResult], bool | None]) -> bool | None:
    """The comparison for a usable result; None when absent, uninterpretable or undecidable."""
    if lab is None or not lab.interpretable:
        return None
    return compare(lab)
