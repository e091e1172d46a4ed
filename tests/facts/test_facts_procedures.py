"""Target procedures: scope on order-select vs order-sign, codes, texts, body sites, dates."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from support.fhir_builders import CPT, SNOMED, VERTEBROPLASTY, concept, service_request
from support.hook_calls import hook_call

from service.facts.extract import procedures_in_scope
from service.vocabulary import ProcedureKind


def kinds(valuesets, triggers, request):
    return [p.kind for p in procedures_in_scope(request, valuesets, triggers)]


def test_order_select_reads_only_the_selected_orders(valuesets, all_triggers):
    selected = service_request(VERTEBROPLASTY, id="a")
    other = service_request(concept(CPT, "20983"), id="b")  # cryoablation, not selected
    request = hook_call([selected, other], selections=["ServiceRequest/a"])
    procedures = procedures_in_scope(request, valuesets, all_triggers)
    assert [(p.kind, p.source.id) for p in procedures] == [(ProcedureKind.VERTEBROPLASTY, "a")]


def test_order_select_without_a_matching_selection_is_out_of_scope(valuesets, all_triggers):
    request = hook_call([service_request(VERTEBROPLASTY, id="a")], selections=["ServiceRequest/z"])
    assert kinds(valuesets, all_triggers, request) == []


def test_order_sign_reads_every_draft_order_whatever_its_status(valuesets, all_triggers):
    orders = [
        service_request(VERTEBROPLASTY, status="draft"),
        service_request(concept(CPT, "20982"), status="active"),  # a re-signed order
        service_request(concept(text="Scanner thoracique"), status="draft"),
    ]
    request = hook_call(orders, hook="order-sign")
    assert kinds(valuesets, all_triggers, request) == [
        ProcedureKind.VERTEBROPLASTY,
        ProcedureKind.RADIOFREQUENCY_ABLATION,
    ]


def test_other_resource_types_in_draft_orders_are_context(valuesets, all_triggers):
    med = {"resourceType": "MedicationRequest", "id": "m", "status": "draft"}
    request = hook_call([med, service_request(VERTEBROPLASTY, id="a")], hook="order-sign")
    assert kinds(valuesets, all_triggers, request) == [ProcedureKind.VERTEBROPLASTY]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("22510", ProcedureKind.VERTEBROPLASTY),
        ("22511", ProcedureKind.VERTEBROPLASTY),
        ("22512", ProcedureKind.VERTEBROPLASTY),
        ("22513", ProcedureKind.KYPHOPLASTY),
        ("22514", ProcedureKind.KYPHOPLASTY),
        ("22515", ProcedureKind.KYPHOPLASTY),
        ("0200T", ProcedureKind.SACROPLASTY),
        ("0201T", ProcedureKind.SACROPLASTY),
        ("20982", ProcedureKind.RADIOFREQUENCY_ABLATION),
        ("20983", ProcedureKind.CRYOABLATION),
    ],
)
def test_cpt_codes(valuesets, all_triggers, code, kind):
    request = hook_call([service_request(concept(CPT, code))])
    assert kinds(valuesets, all_triggers, request) == [kind]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Vertébroplastie percutanée T12", ProcedureKind.VERTEBROPLASTY),
        ("Percutaneous vertebroplasty", ProcedureKind.VERTEBROPLASTY),
        ("Cyphoplastie L1", ProcedureKind.KYPHOPLASTY),
        ("Balloon kyphoplasty", ProcedureKind.KYPHOPLASTY),
        ("Sacroplastie bilatérale", ProcedureKind.SACROPLASTY),
        ("Cimentoplastie de l'acétabulum", ProcedureKind.OSTEOPLASTY),
        ("Percutaneous cementoplasty", ProcedureKind.OSTEOPLASTY),
        ("Ostéoplastie", ProcedureKind.OSTEOPLASTY),
        ("Radiofrequency ablation of bone metastasis", ProcedureKind.RADIOFREQUENCY_ABLATION),
        (
            "Ablation par radiofréquence d'une métastase osseuse",
            ProcedureKind.RADIOFREQUENCY_ABLATION,
        ),
        ("Cryoablation osseuse", ProcedureKind.CRYOABLATION),
    ],
)
def test_english_and_french_text(valuesets, all_triggers, text, kind):
    request = hook_call([service_request(concept(text=text))])
    assert kinds(valuesets, all_triggers, request) == [kind]


def test_ablation_without_bone_is_not_a_trigger(valuesets, all_triggers):
    for code in (
        concept(text="Radiofrequency ablation of liver lesion"),
        concept(text="Cryoablation rénale"),
        concept(SNOMED, "879916008"),  # generic radiofrequency ablation
    ):
        assert kinds(valuesets, all_triggers, hook_call([service_request(code)])) == []


def test_generic_ablation_code_with_a_bone_site_is_a_trigger(valuesets, all_triggers):
    order = service_request(
        concept(SNOMED, "879916008"),
        bodySite=[concept(SNOMED, "71341001")],  # femur
    )
    (procedure,) = procedures_in_scope(hook_call([order]), valuesets, all_triggers)
    assert procedure.kind is ProcedureKind.RADIOFREQUENCY_ABLATION
    assert procedure.body_sites == {"long-bone", "weight-bearing"}


def test_combined_act_gives_one_procedure_per_kind(valuesets, all_triggers):
    order = service_request(concept(text="Cimentoplastie et cryoablation de l'os iliaque"))
    assert kinds(valuesets, all_triggers, hook_call([order])) == [
        ProcedureKind.OSTEOPLASTY,
        ProcedureKind.CRYOABLATION,
    ]


def test_trigger_set_is_configurable(valuesets):
    request = hook_call([service_request(concept(CPT, "22513"))])
    assert kinds(valuesets, frozenset({ProcedureKind.VERTEBROPLASTY}), request) == []
    assert kinds(valuesets, frozenset({ProcedureKind.KYPHOPLASTY}), request) == [
        ProcedureKind.KYPHOPLASTY
    ]


@pytest.mark.parametrize(
    ("body_site", "groups"),
    [
        (concept(SNOMED, "71341001"), {"long-bone", "weight-bearing"}),
        (concept(SNOMED, "119524001"), {"long-bone"}),
        (concept(SNOMED, "66794005"), {"spine", "weight-bearing"}),
        (concept(SNOMED, "54735007"), {"pelvis", "weight-bearing"}),
        (concept(SNOMED, "22356005"), {"pelvis", "flat-bone", "weight-bearing"}),
        (concept(SNOMED, "56873002"), {"flat-bone"}),
        (concept(text="Tibia gauche"), {"long-bone", "weight-bearing"}),
        (concept(text="Col du fémur droit"), {"long-bone", "weight-bearing"}),
        (concept(text="Humérus proximal"), {"long-bone"}),
        (concept(text="Aile iliaque droite"), {"pelvis", "weight-bearing"}),
        (concept(text="Cotyle gauche"), {"pelvis", "weight-bearing"}),
        (concept(text="Vertèbre L2"), {"spine", "weight-bearing"}),
    ],
)
def test_body_sites(valuesets, all_triggers, body_site, groups):
    order = service_request(concept(text="Cimentoplastie"), bodySite=[body_site])
    (procedure,) = procedures_in_scope(hook_call([order]), valuesets, all_triggers)
    assert procedure.body_sites == groups
    assert procedure.body_site_display


def test_french_cote_side_is_not_a_rib(valuesets, all_triggers):
    order = service_request(concept(text="Cimentoplastie"), bodySite=[concept(text="côté gauche")])
    (procedure,) = procedures_in_scope(hook_call([order]), valuesets, all_triggers)
    assert procedure.body_sites == frozenset()


def test_date_with_time_zone(valuesets, all_triggers):
    order = service_request(VERTEBROPLASTY, occurrenceDateTime="2026-12-07T08:30:00+01:00")
    (procedure,) = procedures_in_scope(hook_call([order]), valuesets, all_triggers)
    assert procedure.scheduled_date == date(2026, 12, 7)
    assert procedure.scheduled_at == datetime.fromisoformat("2026-12-07T08:30:00+01:00")
    assert procedure.scheduled_at.utcoffset() == timedelta(hours=1)


def test_date_only_and_period_start(valuesets, all_triggers):
    by_date = service_request(VERTEBROPLASTY, id="a", occurrenceDateTime="2026-12-07")
    by_period = service_request(VERTEBROPLASTY, id="b", occurrencePeriod={"start": "2026-12-08"})
    request = hook_call([by_date, by_period], hook="order-sign")
    procedures = procedures_in_scope(request, valuesets, all_triggers)
    assert [(p.scheduled_date, p.scheduled_at) for p in procedures] == [
        (date(2026, 12, 7), None),
        (date(2026, 12, 8), None),
    ]


@pytest.mark.parametrize("written", ["2026-12", "2026", "not a date", None])
def test_no_calendar_date_without_a_day(valuesets, all_triggers, written):
    extra = {"occurrenceDateTime": written} if written else {}
    order = service_request(VERTEBROPLASTY, **extra)
    (procedure,) = procedures_in_scope(hook_call([order]), valuesets, all_triggers)
    assert procedure.scheduled_date is None and procedure.scheduled_at is None


def test_naive_time_keeps_the_date_but_no_instant(valuesets, all_triggers):
    order = service_request(VERTEBROPLASTY, occurrenceDateTime="2026-12-07T08:30:00")
    (procedure,) = procedures_in_scope(hook_call([order]), valuesets, all_triggers)
    assert procedure.scheduled_date == date(2026, 12, 7)
    assert procedure.scheduled_at is None


def test_minimal_draft_order_is_still_read(valuesets, all_triggers):
    minimal = {"resourceType": "ServiceRequest", "id": "a", "code": {"text": "Vertébroplastie"}}
    request = hook_call([minimal], selections=["ServiceRequest/a"])
    assert kinds(valuesets, all_triggers, request) == [ProcedureKind.VERTEBROPLASTY]


@pytest.mark.parametrize(
    "draft_orders", [None, "x", {"entry": "x"}, {"entry": [None, {"resource": 3}]}]
)
def test_malformed_draft_orders_give_no_procedure_not_a_crash(
    valuesets, all_triggers, draft_orders
):
    request = hook_call([])
    request.context["draftOrders"] = draft_orders  # type: ignore[index]
    assert kinds(valuesets, all_triggers, request) == []
