"""The Flask application factory: configuration -> store, services, protocol blueprint, operations.

Everything slow (value sets, UCUM registry, FHIR models, database schema) is built here, once
per worker at start-up, never on the request path.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from cds_hooks.blueprint import (
    EvaluationRecord,
    FeedbackRecord,
    FeedbackUnavailable,
    create_blueprint,
    register_error_handlers,
)
from cds_hooks.cors import install_cors
from cds_hooks.feedback import FeedbackItem
from cds_hooks.fhir_client import FhirFetchSettings
from cds_hooks.prefetch import PrefetchResolver
from cds_hooks.request import parse_hook_request
from service.audit_record import AuditRecord
from service.auth_setup import build_authenticate, check_clients
from service.cementoplasty import CementoplastyService, Clock, service_definition, site_clock
from service.config import Config, ConfigError, load_config
from service.config_check import check_policy_against_valuesets
from service.facts.warmup import warm_up as warm_up_facts
from service.moments.services import moment_services
from service.observability import (
    configure_logging,
    count_feedback,
    count_prefetch,
    install_operations_routes,
    prepare_request_metrics,
    report_memo_totals,
)
from service.prefetch_templates import service_templates
from service.request_log import WARM_UP_ENVIRON, add_request_log_fields, install_request_log
from service.rule_pages import create_rule_pages_blueprint
from service.storage import Store
from service.storage.audit_writer import AuditWriter
from service.storage.spool import AuditSpool
from service.valuesets import load_valuesets
from service.valuesets.text import memo_stats as text_memo_stats
from service.vocabulary import SUPPORTED_LOCALES

log = logging.getLogger("service.app")

HOOKS = ("order-select", "order-sign")
# What a client is told to wait before sending feedback again while the store is down.
FEEDBACK_RETRY_AFTER_S = 5


def create_app(
    config: Config | None = None, store: Store | None = None, clock: Clock | None = None
) -> Flask:
    """The app. `clock` (tests, fixtures) fixes "now" for the rules; default: the real time."""
    config = config or load_config()
    configure_logging(config.logging.level)
    if config.demo:
        log.warning(
            "DEMO PROFILE: this is NOT a production configuration (any FHIR server, http "
            "allowed, CORS for every origin, local SQLite store). Never use it with real patients."
        )
    try:
        check_clients(config)
        store = store or Store(config.store.url)  # ValueError: a store it cannot open
    except ValueError as exc:  # ConfigError included
        log.error("refusing to start: %s", exc)
        raise ConfigError(str(exc)) from None
    valuesets = load_valuesets()
    check_policy_against_valuesets(config.policy, valuesets)
    warm_up_facts()
    templates, fallback_templates = service_templates(valuesets, config)
    services = [
        CementoplastyService(
            service_definition(hook, templates, fallback_templates),
            config,
            valuesets,
            clock or site_clock(config.locale.time_zone),
        )
        for hook in HOOKS
    ]
    for service in services:
        _warm_up(service)
    _warm_up_http(services, config)
    services = [
        *services,
        *moment_services(
            templates,
            config,
            valuesets,
            clock or site_clock(config.locale.time_zone),
            fallback_templates,
        ),
    ]
    prepare_request_metrics([service.definition.id for service in services])
    _warm_up_store(store)
    authenticate = build_authenticate(config, store)

    app = Flask("cementoplasty_cds")
    app.config["MAX_CONTENT_LENGTH"] = config.server.max_request_bytes

    def store_feedback(service_id: str, items: Sequence[FeedbackItem]) -> None:
        try:
            store.record_feedback(service_id, items)  # committed before the 200 is sent
        except SQLAlchemyError as exc:
            log.warning("feedback not stored, answered 503: store %s", type(exc).__name__)
            raise FeedbackUnavailable(FEEDBACK_RETRY_AFTER_S) from exc
        for item in items:
            count_feedback(item.outcome)

    spool = AuditSpool(
        config.store.spool_dir,
        store.url.render_as_string(hide_password=True),
        config.store.spool_max_bytes,
    )
    audit_writer = AuditWriter(store, spool)
    app.extensions["cementoplasty_audit"] = audit_writer

    def after_evaluation(record: EvaluationRecord) -> None:
        _log_and_audit(audit_writer, record)

    app.register_blueprint(
        create_blueprint(
            services,
            fhir=config.fhir,
            supported_locales=SUPPORTED_LOCALES,
            default_locale=config.locale.default,
            authenticate=authenticate,
            feedback_sink=store_feedback,
            on_evaluated=after_evaluation,
            on_feedback=_log_feedback,
            client_algorithms=config.auth.algorithms if config.auth.required else (),
        )
    )
    register_error_handlers(app)
    # Private Network Access (a public page calling loopback): the demo profile only.
    install_cors(app, config.cors.allowed_origins, allow_private_network=config.demo)
    install_operations_routes(app, store)
    app.register_blueprint(create_rule_pages_blueprint(config.policy, config.locale.default))
    install_request_log(app)
    # The first real request finds Flask's paths warm too; not a request to log or count.
    app.test_client().get("/healthz", environ_overrides={WARM_UP_ENVIRON: True})
    _report_text_memos(baseline_only=True)  # the warm-up's lookups are not traffic
    return app


def _warm_up_store(store: Store) -> None:
    """Compile the store's statements now; an unreachable store must not stop the service:
    hook calls need none (audit records wait in the spool, /readyz says 503 until it answers)."""
    try:
        store.warm_up()
    except SQLAlchemyError as exc:
        log.warning(
            "store unreachable at start-up (%s): serving hook calls; feedback answered 503 and "
            "audit records kept in the spool until it answers",
            type(exc).__name__,
        )


WARM_UP_REQUEST = Path(__file__).parent / "warmup_request.json"
WARM_UP_NOW = datetime.fromisoformat("2026-11-26T09:00:00+01:00")  # the request's own dates
# Each prefetched search result is repeated this many times (new ids) in the warm-up request:
# ~180 KB, the size of a busy patient's prefetch (the benchmark's "typical" request is 180 KB).
WARM_UP_COPIES = 25


def _warm_up(service: CementoplastyService) -> None:
    """One synthetic evaluation per language at start-up (not audited, not logged): the first
    real request then finds every model imported, every cache filled, every path run once, and
    a heap already grown to the size of a large request (the first one otherwise pays for
    ~500 page faults: about as much as the evaluation itself on a virtual machine)."""
    definition = service.definition
    body = _warm_up_body(definition.hook)
    request = parse_hook_request(definition.id, definition.hook, body)
    fixed = dataclasses.replace(service, clock=lambda: WARM_UP_NOW)
    for locale in SUPPORTED_LOCALES:
        prefetch = PrefetchResolver(request, definition.prefetch, FhirFetchSettings())
        fixed.evaluate(request, prefetch, locale)


def _warm_up_http(services: list[CementoplastyService], config: Config) -> None:
    """Each hook endpoint called once through a throwaway app built like the real one but with no
    authentication, log or audit (nothing to count, nothing to bypass): the real app's first call
    then finds the HTTP path run once too (request parsing, the blueprint, the response)."""
    scratch = Flask("cementoplasty_cds_warm_up")
    scratch.register_blueprint(
        create_blueprint(
            services,
            fhir=FhirFetchSettings(),  # no FHIR server allowed: the warm-up never calls one
            supported_locales=SUPPORTED_LOCALES,
            default_locale=config.locale.default,
        )
    )
    client = scratch.test_client()
    for service in services:
        response = client.post(
            f"/cds-services/{service.definition.id}",
            data=_warm_up_body(service.definition.hook),
            content_type="application/json",
        )
        if response.status_code != 200:  # the service still starts; its first call is slower
            log.warning("warm-up of %s: HTTP %d", service.definition.id, response.status_code)


def _warm_up_body(hook: str) -> bytes:
    """The warm-up request for `hook`, each search result entry repeated WARM_UP_COPIES times."""
    request = json.loads(WARM_UP_REQUEST.read_bytes())
    request["hook"] = hook
    for value in request["prefetch"].values():
        if value.get("resourceType") != "Bundle":
            continue
        entries = value.get("entry", [])
        value["entry"] = [
            _renamed(entry, copy) for copy in range(WARM_UP_COPIES) for entry in entries
        ]
    return json.dumps(request).encode()


def _renamed(entry: dict[str, Any], copy: int) -> dict[str, Any]:
    if copy == 0:
        return entry
    resource = {**entry["resource"], "id": f"{entry['resource']['id']}-copy{copy}"}
    return {**entry, "resource": resource, "fullUrl": f"{entry.get('fullUrl', '')}-copy{copy}"}


def _report_text_memos(baseline_only: bool = False) -> None:
    for memo, stats in text_memo_stats().items():
        report_memo_totals(
            memo, stats.hits, stats.misses, stats.entries, baseline_only=baseline_only
        )


def _log_and_audit(audit_writer: AuditWriter, record: EvaluationRecord) -> None:
    request = record.request
    evaluation = record.evaluation
    audit = evaluation.audit if evaluation else None
    cards = evaluation.response.cards if evaluation else ()
    unavailable = dict(record.prefetch.unavailable) if record.prefetch else {}
    fetched = record.prefetch.fetched if record.prefetch else ()
    if record.prefetch is not None:
        count_prefetch(record.prefetch)
    _report_text_memos()
    latency_ms = round(record.latency_s * 1000, 2)
    add_request_log_fields(
        service=record.service_id,
        hook=request.hook if request else None,
        hookInstance=request.hook_instance if request else None,
        cards=dict(Counter(card.indicator.value for card in cards)),
        rule_ids=list(audit.rules_fired) if isinstance(audit, AuditRecord) else [],
        # key -> failure code (e.g. "no-authorization": the request gave no token)
        data_unavailable={key: str(unavailable[key].code) for key in sorted(unavailable)},
        fhir_fallback={
            "calls": len(fetched),
            "failures": sum(1 for key in fetched if key in unavailable),
        },
    )
    if isinstance(audit, AuditRecord):  # not for an out-of-scope order or an invalid request
        audit_writer.submit(audit.answered(record.status, latency_ms))


def _log_feedback(record: FeedbackRecord) -> None:
    """The feedback call's log line: counts only. Never a card or suggestion id, a comment or an
    override reason's text (free text may name the patient), never the token."""
    add_request_log_fields(service=record.service_id)
    if record.items is None:
        return
    add_request_log_fields(
        feedback_items=len(record.items),
        feedback_cards=len({item.card for item in record.items}),
        outcomes=dict(Counter(item.outcome for item in record.items)),
        override_reasons=sum(
            1 for item in record.items if item.override_reason and item.override_reason.reason
        ),
        accepted_suggestions=sum(len(item.accepted_suggestions) for item in record.items),
    )
