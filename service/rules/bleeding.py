"""BLEED-*: haemorrhagic risk from the latest platelet count, TP and INR (§4; INR: local protocol).

Readings (see the report and the cards):
* The guideline requires platelets > 50 000/mm³ and TP > 50 %: a value exactly at the threshold
  fires. INR > `policy.inr_max` fires (the institution's local protocol, SIR 2019).
* "Latest" is the most recent USABLE result of each kind within `lab_max_age_days` (RULES.md v2,
  `common.choose_lab`): a newer result that cannot be compared never hides it, it is reported by
  BLEED-LAB-UNINTERPRETABLE. Two usable results at the same instant: the less favourable decides
  and the card shows both. A newer preliminary result counts when less favourable (the card says
  "preliminary"). With nothing usable in the window, the newest older result is shown with its
  value and date in BLEED-LAB-MISSING ("older than 7 days"), never as "no result".
* A result reported as a bound ("<20 G/L") counts when the bound settles the threshold (it is
  certainly below, or certainly above); otherwise it cannot be compared.
* Coagulation is assessed when a usable TP or a usable INR exists (catalog). A prothrombin time
  in seconds is only reported (UNINTERPRETABLE) when neither TP nor INR is usable.
* BLEED-INR-HIGH is critical when a VKA is active, or when no usable TP > 50 % exists (the INR
  alone then stands for the coagulation requirement: the card says so), and also when the
  medications could not be obtained (a VKA cannot be excluded: the safer reading). It is a warning
  when a usable TP > 50 % exists and no VKA is active: the card shows that TP (the guideline's
  criterion is met, the institution's INR limit is not).
* A result dated in the future (past a small tolerance, see common.FUTURE_TOLERANCE) is never
  the latest: it is reported by BLEED-LAB-UNINTERPRETABLE and the real latest one is judged.
* A category the service could not obtain is not "missing": DATA-UNAVAILABLE reports it, and
  the rules here only fire on the results that were obtained.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from cds_hooks.cards import Indicator
from service.facts.model import LabResult, PatientFacts
from service.rules.common import (
    LabChoice,
    above,
    at_or_below,
    available,
    choose_lab,
    fire,
    future_dated,
    lab_params,
    latest_lab,
    medications_in,
    rounded,
)
from service.rules.finding import Finding
from service.rules.params import LabShown
from service.rules.policy import Policy
from service.vocabulary import DataCategory, DrugClass, LabKind

PLATELETS_MIN_PER_MM3 = 50_000  # guideline: "Plaquettes > 50 000/mm3"
TP_MIN_PERCENT = 50  # guideline: "TP > 50"

UNDECIDED_BOUND = "bound-undecided"  # `problem_code`: the card words it

# Test keys used in BLEED-LAB-MISSING params (the card maps them to LOINC codes).
PLATELETS, TP, INR = "platelets", "tp", "inr"


def evaluate(facts: PatientFacts, policy: Policy, now: datetime) -> list[Finding]:
    days = policy.lab_max_age_days
    inr_max = rounded(policy.inr_max)
    findings: list[Finding] = []

    platelets = choose_lab(
        facts,
        LabKind.PLATELETS,
        now,
        days,
        lambda lab: at_or_below(lab, PLATELETS_MIN_PER_MM3),
        higher_is_worse=False,
    )
    tp = choose_lab(
        facts,
        LabKind.TP_PERCENT,
        now,
        days,
        lambda lab: at_or_below(lab, TP_MIN_PERCENT),
        higher_is_worse=False,
    )
    inr = choose_lab(
        facts, LabKind.INR, now, days, lambda lab: above(lab, inr_max), higher_is_worse=True
    )
    pt_seconds, _ = latest_lab(facts, LabKind.PT_SECONDS, now, days)

    if platelets.verdict and platelets.deciding is not None:
        findings.append(
            fire(
                "BLEED-PLATELETS-LOW",
                {**_shown(platelets, now), "threshold": PLATELETS_MIN_PER_MM3},
                _evidence(platelets),
            )
        )
    if tp.verdict and tp.deciding is not None:
        findings.append(
            fire(
                "BLEED-TP-LOW",
                {**_shown(tp, now), "threshold": TP_MIN_PERCENT},
                _evidence(tp),
            )
        )
    if inr.verdict and inr.deciding is not None:
        findings.append(_inr_high(facts, inr, tp, policy, now))

    uninterpretable: list[LabResult] = [*platelets.unusable, *tp.unusable, *inr.unusable]
    for kind in (LabKind.PLATELETS, LabKind.TP_PERCENT, LabKind.INR):
        uninterpretable.extend(future_dated(facts, kind, now))
    platelets_usable = platelets.verdict is not None
    coagulation_usable = tp.verdict is not None or inr.verdict is not None
    if not coagulation_usable and pt_seconds is not None:
        uninterpretable.append(pt_seconds)

    missing: list[str] = []
    stale: list[LabResult] = []
    if not platelets_usable and available(facts, DataCategory.PLATELETS):
        missing.append(PLATELETS)
        stale.extend(c.stale for c in (platelets,) if c.stale is not None)
    if not coagulation_usable and available(facts, DataCategory.COAGULATION):
        missing.extend([TP, INR])
        stale.extend(c.stale for c in (tp, inr) if c.stale is not None)

    if uninterpretable:
        findings.append(
            fire(
                "BLEED-LAB-UNINTERPRETABLE",
                {"results": [_unusable_params(lab, now) for lab in uninterpretable]},
                [lab.source for lab in uninterpretable],
            )
        )
    if missing:
        # The results older than the window are shown with their value and date ("30 000/mm³ on
        # 19/11, older than 7 days"), in the same list as the unusable ones (`stale` marks them).
        older = [replace(lab_params(lab, now), stale=True, max_age_days=days) for lab in stale]
        findings.append(
            fire(
                "BLEED-LAB-MISSING",
                {
                    "missing": missing,
                    "unusable": [*(_unusable_params(lab, now) for lab in uninterpretable), *older],
                    "max_age_days": days,
                },
                [lab.source for lab in (*uninterpretable, *stale)],
            )
        )
    return findings


def _shown(choice: LabChoice, now: datetime) -> dict[str, Any]:
    """The deciding result's params, and the results shown beside it (same instant, or the final
    result a preliminary one overrides)."""
    assert choice.deciding is not None
    return {
        **lab_params(choice.deciding, now),
        "also": [lab_params(lab, now) for lab in choice.beside],
    }


def _unusable_params(lab: LabResult, now: datetime) -> LabShown:
    """A result reported as unusable; one that reads well but is a bound which does not settle
    the threshold ("<60 000" against 50 000) says so (its facts carry no problem)."""
    params = lab_params(lab, now)
    if lab.interpretable and params.problem_code is None and lab.comparator is not None:
        params = replace(params, problem_code=UNDECIDED_BOUND)
    return params


def _evidence(choice: LabChoice) -> list[Any]:
    return [lab.source for lab in (choice.deciding, *choice.beside) if lab is not None]


def _inr_high(
    facts: PatientFacts, inr: LabChoice, tp: LabChoice, policy: Policy, now: datetime
) -> Finding:
    """BLEED-INR-HIGH, critical or a warning depending on the TP and the VKA (module docstring)."""
    vka = bool(medications_in(facts, DrugClass.VKA))
    medications_known = available(facts, DataCategory.MEDICATIONS)
    tp_met = tp.verdict is False  # a usable TP > 50 % in the window
    warning = tp_met and not vka and medications_known
    params: dict[str, Any] = {
        **_shown(inr, now),
        "threshold": policy.inr_max,
        "tp": lab_params(tp.deciding, now) if tp_met and tp.deciding is not None else None,
        "inr_alone": tp.verdict is None,  # no usable TP: the INR alone stands for coagulation
        "vka": vka,
    }
    evidence = _evidence(inr) + (_evidence(tp) if tp_met else [])
    return fire(
        "BLEED-INR-HIGH",
        params,
        evidence,
        indicator=Indicator.WARNING if warning else Indicator.CRITICAL,
    )
