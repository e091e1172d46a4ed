"""The Flask application factory: configuration -> store, services, protocol blueprint, operations.

Everything slow (value sets, UCUM registry, FHIR models, database schema) is built here, once
per worker at start-up, never on the request path.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
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
from cds_hooks.fhir_client import FhirFetchSettings
from cds_hooks.prefetch import PrefetchResolver
from cds_hooks.request import parse_hook_request
from service.auth_setup import build_authenticate, check_clients
from service.cementoplasty import CementoplastyService, Clock, service_definition, site_clock
from service.config import SUPPORTED_LOCALES, Config, ConfigError, load_config
from service.config_check import check_policy_against_valuesets
from service.facts.warmup import warm_up as warm_up_facts
from service.moments.services import moment_services
from service.observability import (
    configure_logging,
    count_feedback,
    count_prefetch,
    install_operations_routes,
    log_request,
    prepare_request_metrics,
)
from service.prefetch_templates import prefetch_templates
from service.rule_pages import create_rule_pages_blueprint
from service.storage import Store
from service.storage.audit_writer import AuditWriter
from service.storage.spool import AuditSpool
from service.valuesets import load_valuesets

log = logging.getLogger("service.app")
feedback_log = logging.getLogger("service.feedback")

HOOKS = ("order-select", "order-sign")
# What a client is told to wait before sending feedback again while the store is down.
FEEDBACK_RETRY_AFTER_S = 5


def create_app(
    config: Config | None = None, store: Store | None = None, clock: Clock | None = None
) -> Flask:
    """The app. `clock` (tests, fixtures) fixes "now" for the rules; default: the real time."""
    config = config or load_config()
    configure_logging(config.log_level)
    if config.demo:
        log.warning(
            "DEMO PROFILE: this is NOT a production configuration (any FHIR server, http "
            "allowed, CORS for every origin, local SQLite store). Never use it with real patients."
        )
    try:
        check_clients(config)
    except ConfigError as exc:
        log.error("refusing to start: %s", exc)
        raise
    store = store or Store(config.store_url)
    valuesets = load_valuesets()
    check_policy_against_valuesets(config.policy, valuesets)
    warm_up_facts()
    templates = prefetch_templates(valuesets)
    services = [
        CementoplastyService(
            service_definition(hook, templates),
            config,
            valuesets,
            clock or site_clock(config.time_zone),
        )
        for hook in HOOKS
    ]
    for service in services:
        _warm_up(service)
    _warm_up_http(services, config)
    services = [
        *services,
        *moment_services(templates, config, valuesets, clock or site_clock(config.time_zone)),
    ]
    prepare_request_metrics([service.definition.id for service in services])
    _warm_up_store(store)
    authenticate = build_authenticate(config, store)

    app = Flask("cementoplasty_cds")
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes

    def store_feedback(service_id: str, items: list[dict[str, Any]]) -> None:
        try:
            store.record_feedback(service_id, items)  # committed before the 200 is sent
        except SQLAlchemyError as exc:
            log.warning("feedback not stored, answered 503: store %s", type(exc).__name__)
            raise FeedbackUnavailable(FEEDBACK_RETRY_AFTER_S) from exc
        for item in items:
            count_feedback(str(item.get("outcome", "unknown")))

    spool = AuditSpool(
        config.store_spool_dir,
        store.url.render_as_string(hide_password=True),
        config.store_spool_max_bytes,
    )
    audit_writer = AuditWriter(store, spool)
    app.extensions["cementoplasty_store"] = store
    app.extensions["cementoplasty_audit"] = audit_writer

    def after_evaluation(record: EvaluationRecord) -> None:
        _log_and_audit(audit_writer, record)

    app.register_blueprint(
        create_blueprint(
            services,
            fhir=FhirFetchSettings(**dataclasses.asdict(config.fhir)),
            supported_locales=SUPPORTED_LOCALES,
            default_locale=config.locale_default,
            authenticate=authenticate,
            feedback_sink=store_feedback,
            on_evaluated=after_evaluation,
            on_feedback=_log_feedback,
        )
    )
    register_error_handlers(app)
    # Private Network Access (a public page calling loopback): the demo profile only.
    install_cors(app, config.cors_allowed_origins, allow_private_network=config.demo)
    install_operations_routes(app, store)
    app.register_blueprint(create_rule_pages_blueprint(config.policy, config.locale_default))
    app.test_client().get("/healthz")  # the first real request finds Flask's paths warm too
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
            default_locale=config.locale_default,
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


def _log_and_audit(audit_writer: AuditWriter, record: EvaluationRecord) -> None:
    request = record.request
    evaluation = record.evaluation
    audit = dict(evaluation.audit) if evaluation else {}
    cards = evaluation.response.cards if evaluation else ()
    unavailable = dict(record.prefetch.unavailable) if record.prefetch else {}
    fetched = record.prefetch.fetched if record.prefetch else ()
    if record.prefetch is not None:
        count_prefetch(record.prefetch)
    latency_ms = round(record.latency_s * 1000, 2)
    log_request(
        {
            "method": "POST",
            "service": record.service_id,
            "hook": request.hook if request else None,
            "hookInstance": request.hook_instance if request else None,
            "status": record.status,
            "latency_ms": latency_ms,
            "cards": dict(Counter(card.indicator.value for card in cards)),
            "rule_ids": audit.get("rules", []),
            # key -> failure code (e.g. "no-authorization": the request gave no token)
            "data_unavailable": {key: str(unavailable[key].code) for key in sorted(unavailable)},
            "fhir_fallback": {
                "calls": len(fetched),
                "failures": sum(1 for key in fetched if key in unavailable),
            },
            "error": _ERROR_CODES.get(record.status, "error") if record.status >= 400 else None,
        }
    )
    if request is None or not audit.get("in_scope"):
        return  # nothing was evaluated: an out-of-scope order or an invalid request
    audit_writer.submit(
        {
            "service": record.service_id,
            "hookInstance": request.hook_instance,
            "ruleset_version": audit.get("ruleset"),
            "patient_id": audit.get("patient_id"),
            "status": record.status,
            "latency_ms": latency_ms,
            "rules_fired": audit.get("rules", []),
            "cards": [
                {"uuid": c["uuid"], "indicator": c["indicator"], "rule_ids": c["rules"]}
                for c in audit.get("cards", [])
            ],
            "resources_used": audit.get("resources", {}),
            "data_unavailable": sorted(unavailable),
        },
        durable=True,  # an answered evaluation is audited even if the process is killed next
    )


def _log_feedback(record: FeedbackRecord) -> None:
    """One line per feedback call: counts only. Never a card or suggestion id, a comment or an
    override reason's text (free text may name the patient), never the token."""
    fields: dict[str, Any] = {
        "service": record.service_id,
        "status": record.status,
        "latency_ms": round(record.latency_s * 1000, 2),
    }
    if record.items is not None:
        overrides = [item.get("overrideReason") or {} for item in record.items]
        fields |= {
            "feedback_items": len(record.items),
            "feedback_cards": len({item["card"] for item in record.items}),
            "outcomes": dict(Counter(str(item["outcome"]) for item in record.items)),
            "override_reasons": sum(1 for override in overrides if override.get("reason")),
            "accepted_suggestions": sum(
                len(item.get("acceptedSuggestions") or ()) for item in record.items
            ),
        }
    if record.status >= 400:
        fields["error"] = _ERROR_CODES.get(record.status, "error")
    feedback_log.info("feedback", extra={"fields": fields})


# A short, fixed code per error status for the log line (never a message built from input).
_ERROR_CODES = {
    400: "invalid-request",
    401: "unauthorized",
    404: "unknown-service",
    413: "too-large",
    415: "unsupported-media-type",
    500: "internal-error",
}
