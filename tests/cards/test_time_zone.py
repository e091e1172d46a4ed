"""Every date and time a card shows is the site's (the zone of `now`), not UTC or the writer's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from support.rule_facts import facts, lab, med, procedure

from cds_hooks.cards import Card
from service.cards.render import RULES_EXTENSION, render_cards
from service.rules.case import case_summary
from service.rules.engine import evaluate_rules
from service.rules.policy import Policy
from service.vocabulary import DrugClass, LabKind

SITE = ZoneInfo("Europe/Paris")
POLICY = Policy()


def card_with(cards: tuple[Card, ...], rule_id: str) -> Card:
    (card,) = [c for c in cards if rule_id in c.extension[RULES_EXTENSION]]  # type: ignore[index]
    return card


def doac_patient():
    at = datetime(2026, 11, 22, 8, 30, tzinfo=timezone(timedelta(hours=1)))
    return facts(
        procedures=(procedure(day=at.date(), at=at),),
        medications=(med("apixaban", DrugClass.DOAC),),
    )


def test_doac_hold_is_shown_in_the_site_local_time() -> None:
    patient = doac_patient()
    now = datetime(2026, 11, 18, 10, 0, tzinfo=SITE)
    cards = [
        r.card
        for r in render_cards(
            evaluate_rules(patient, POLICY, now), case_summary(patient), "en", now
        )
    ]
    card = card_with(cards, "MED-DOAC")
    assert "2026-11-20 08:30" in (card.detail or "")
    assert "07:30" not in (card.detail or "") + card.suggestions[0].label


def test_a_hold_instant_computed_in_utc_is_still_shown_in_the_site_zone() -> None:
    patient = doac_patient()
    utc_now = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
    findings = evaluate_rules(patient, POLICY, utc_now)  # hold instant carried in UTC
    site_now = utc_now.astimezone(SITE)
    card = card_with(
        [r.card for r in render_cards(findings, case_summary(patient), "en", site_now)], "MED-DOAC"
    )
    assert "2026-11-20 08:30" in (card.detail or "")
    assert "2026-11-20 08:30" in card.suggestions[0].label


def test_lab_near_midnight_shows_the_site_day() -> None:
    now = datetime(2026, 11, 20, 0, 30, tzinfo=SITE)  # 2026-11-19 23:30 UTC
    drawn = datetime(2026, 11, 19, 23, 10, tzinfo=UTC)  # 2026-11-20 00:10 in Paris
    patient = facts(labs=(lab(LabKind.PLATELETS, 30_000, drawn), lab(LabKind.INR, 1.0, drawn)))
    card = card_with(
        [
            r.card
            for r in render_cards(
                evaluate_rules(patient, POLICY, now), case_summary(patient), "en", now
            )
        ],
        "BLEED-PLATELETS-LOW",
    )
    assert "2026-11-20" in card.summary
    assert "2026-11-19" not in card.summary + (card.detail or "")


def test_date_only_lab_keeps_its_written_date() -> None:
    now = datetime(2026, 11, 20, 10, 0, tzinfo=SITE)
    written = datetime(2026, 11, 19, tzinfo=timezone(timedelta(hours=14)))  # facts' reading
    platelets = replace(lab(LabKind.PLATELETS, 30_000, written), effective_precision="day")
    patient = facts(labs=(platelets, lab(LabKind.INR, 1.0)))
    card = card_with(
        [
            r.card
            for r in render_cards(
                evaluate_rules(patient, POLICY, now), case_summary(patient), "en", now
            )
        ],
        "BLEED-PLATELETS-LOW",
    )
    assert "2026-11-19" in card.summary  # not 2026-11-18, the UTC+14 instant seen from Paris


def test_future_dated_result_is_worded_in_each_language() -> None:
    now = datetime(2026, 11, 20, 10, 0, tzinfo=SITE)
    typo = datetime(2062, 11, 19, 9, 0, tzinfo=SITE)
    patient = facts(labs=(lab(LabKind.PLATELETS, 250_000, typo), lab(LabKind.INR, 1.0)))
    findings = evaluate_rules(patient, POLICY, now)
    for locale, words in (("en", "dated in the future"), ("fr", "daté dans le futur")):
        card = card_with(
            [r.card for r in render_cards(findings, case_summary(patient), locale, now)],
            "BLEED-LAB-UNINTERPRETABLE",
        )
        assert words in (card.detail or "")
