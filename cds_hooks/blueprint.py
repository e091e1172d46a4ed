"""The CDS Hooks 2.0 HTTP surface as a Flask blueprint: discovery, service calls, feedback.

A thin controller: parse (`cds_hooks.request`), hand the service a lazy `PrefetchResolver`,
serialise its `Evaluation`. Every error is an OperationOutcome; no input reaches a 500.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import flask
import orjson
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from cds_hooks.discovery import Discovery
from cds_hooks.errors import (
    RequestError,
    Unauthorized,
    bad_request,
    internal_error,
    not_found,
    outcome_response,
    unauthorized,
)
from cds_hooks.feedback import FeedbackItem, FeedbackRequest
from cds_hooks.fhir_client import FhirFetchSettings
from cds_hooks.json_body import MAX_JSON_DEPTH, parse_json_object
from cds_hooks.openapi import openapi_document
from cds_hooks.prefetch import PrefetchResolver
from cds_hooks.request import parse_hook_request
from cds_hooks.service import (
    CdsService,
    Evaluation,
    HookRequest,
    ResolvedPrefetch,
)

log = logging.getLogger("cds_hooks.blueprint")

JSON_MIMETYPES = ("application/json", "application/fhir+json")


@dataclass(frozen=True)
class EvaluationRecord:
    """One service call, for logs, metrics and the audit store (never holds a token)."""

    service_id: str
    request: HookRequest | None  # None when the body could not be parsed
    evaluation: Evaluation | None  # None unless the service answered
    status: int
    latency_s: float
    prefetch: ResolvedPrefetch | None = None  # None when the service never asked for data
    error: str | None = None  # the diagnostics sent to the client, if any


@dataclass(frozen=True)
class FeedbackRecord:
    """One feedback call to a known service, for the log (never holds a token)."""

    service_id: str
    items: tuple[FeedbackItem, ...] | None  # None when the body was refused
    status: int
    latency_s: float


class FeedbackUnavailable(Exception):
    """Raised by a `feedback_sink` that cannot store the items now (its store is down): the
    client is told to send them again later (503, `Retry-After`), nothing was stored."""

    def __init__(self, retry_after_s: int = 5) -> None:
        super().__init__(f"feedback store unavailable, retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


def create_blueprint(
    services: Sequence[CdsService],
    *,
    fhir: FhirFetchSettings,
    supported_locales: Sequence[str] = ("en", "fr"),
    default_locale: str = "en",
    authenticate: Callable[[flask.Request], None] | None = None,
    feedback_sink: Callable[[str, Sequence[FeedbackItem]], None] | None = None,
    on_evaluated: Callable[[EvaluationRecord], None] | None = None,
    on_feedback: Callable[[FeedbackRecord], None] | None = None,
    reference_fields: Sequence[str] = ("medicationReference",),
    openapi_title: str = "CDS Hooks service",
    openapi_version: str = "0",
    client_algorithms: Sequence[str] = (),
) -> flask.Blueprint:
    by_id: dict[str, CdsService] = {}
    for service in services:
        if service.definition.id in by_id:
            raise ValueError(f"two services with id {service.definition.id!r}")
        by_id[service.definition.id] = service
    discovery = json.dumps(
        Discovery(tuple(s.definition.discovered() for s in services)).to_json(),
        ensure_ascii=False,
    )
    openapi = json.dumps(
        openapi_document(
            list(by_id),
            title=openapi_title,
            version=openapi_version,
            client_algorithms=client_algorithms,
        ),
        ensure_ascii=False,
    )
    blueprint = flask.Blueprint("cds_hooks", __name__)

    def guarded(view: Callable[..., flask.Response]) -> Callable[..., flask.Response]:
        """Authentication first, then the view; anything unexpected is a bare 500."""

        def wrapper(**kwargs: Any) -> flask.Response:
            try:
                if authenticate is not None:
                    authenticate(flask.request)
                return view(**kwargs)
            except Unauthorized as refusal:
                log.info(
                    "unauthorized %s %s: %s", flask.request.method, flask.request.path, refusal
                )
                return unauthorized(invalid_token=_sent_a_bearer_token(flask.request))
            except RequestEntityTooLarge:
                return _too_large()
            except Exception:
                log.exception("unexpected error on %s %s", flask.request.method, flask.request.path)
                return internal_error()

        wrapper.__name__ = view.__name__
        return wrapper

    @blueprint.get("/cds-services")
    @guarded
    def discover() -> flask.Response:
        return flask.Response(discovery, mimetype="application/json")

    # Public, like /healthz: it describes the API and holds no data (tools fetch it first).
    @blueprint.get("/openapi.json")
    def openapi_json() -> flask.Response:
        return flask.Response(openapi, mimetype="application/json")

    @blueprint.post("/cds-services/<service_id>")
    @guarded
    def call_service(service_id: str) -> flask.Response:
        started = time.perf_counter()
        service = by_id.get(service_id)
        if service is None:
            return not_found(f"No CDS service with id '{service_id[:100]}'.")
        hook_request: HookRequest | None = None
        resolver: PrefetchResolver | None = None
        evaluation: Evaluation | None = None
        error: str | None = None
        response = internal_error()
        try:
            hook_request = parse_hook_request(service_id, service.definition.hook, _json_body())
            resolver = PrefetchResolver(
                hook_request, service.definition.fallback_templates, fhir, reference_fields
            )
            locale = flask.request.accept_languages.best_match(
                supported_locales, default=default_locale
            )
            evaluation = service.evaluate(hook_request, resolver, locale or default_locale)
            # orjson: the same JSON as json.dumps, in C (cards run to ~15 KB).
            response = flask.Response(
                orjson.dumps(evaluation.response.to_json()), mimetype="application/json"
            )
        except RequestError as exc:
            error = exc.message
            response = bad_request(exc)
        except RequestEntityTooLarge:
            response = _too_large()
            error = "request too large"
        except Exception:
            log.exception("service %s failed", service_id)
            evaluation = None
            response = internal_error()
            error = "internal error"
        finally:
            if on_evaluated is not None:
                record = EvaluationRecord(
                    service_id=service_id,
                    request=hook_request,
                    evaluation=evaluation,
                    status=response.status_code,
                    latency_s=time.perf_counter() - started,
                    prefetch=resolver.resolved if resolver else None,
                    error=error,
                )
                try:
                    on_evaluated(record)
                except Exception:
                    log.exception("on_evaluated failed for service %s", service_id)
        return response

    @blueprint.post("/cds-services/<service_id>/feedback")
    @guarded
    def feedback(service_id: str) -> flask.Response:
        if service_id not in by_id:
            return not_found(f"No CDS service with id '{service_id[:100]}'.")
        started = time.perf_counter()
        items: tuple[FeedbackItem, ...] | None = None
        response = internal_error()  # what the log says if anything below raises
        try:
            items = parse_feedback(_json_body())
            if feedback_sink is not None:
                feedback_sink(service_id, items)  # stored before the client hears "200"
            # Every item is stored (an item sent again is stored once): the client may forget
            # them.
            answer = {"status": "stored", "items": len(items)}
            response = flask.Response(json.dumps(answer), mimetype="application/json")
        except RequestError as exc:
            response = bad_request(exc)
        except RequestEntityTooLarge:
            response = _too_large()
        except FeedbackUnavailable as unavailable:
            response = outcome_response(
                503,
                "Feedback cannot be stored at the moment; send it again later.",
                "transient",
                headers={"Retry-After": str(unavailable.retry_after_s)},
            )
        finally:
            if on_feedback is not None:
                record = FeedbackRecord(
                    service_id, items, response.status_code, time.perf_counter() - started
                )
                try:
                    on_feedback(record)
                except Exception:
                    log.exception("on_feedback failed for service %s", service_id)
        return response

    return blueprint


def register_error_handlers(app: flask.Flask) -> None:
    """App-level errors (unknown path, wrong method, body too large, crash) as OperationOutcome."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> flask.Response:
        status = exc.code or 500
        if status == 413:
            return _too_large()
        if status >= 500:
            return internal_error()
        code = {404: "not-found", 405: "not-supported"}.get(status, "invalid")
        response = outcome_response(status, exc.name, code)
        allowed_methods = getattr(exc, "valid_methods", None)
        if status == 405 and allowed_methods:
            response.headers["Allow"] = ", ".join(allowed_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> flask.Response:
        log.error(
            "unhandled error on %s %s", flask.request.method, flask.request.path, exc_info=exc
        )
        return internal_error()


def parse_feedback(body: bytes) -> tuple[FeedbackItem, ...]:
    """Validate a feedback request (CDS Hooks 2.0 "Feedback"); the items, or RequestError."""
    raw = parse_json_object(body, "feedback body", max_depth=MAX_JSON_DEPTH)
    return FeedbackRequest.from_json(raw).feedback


def _json_body() -> bytes:
    """The raw body of a JSON POST; RequestError for another content type."""
    content_type = flask.request.mimetype
    if content_type and content_type not in JSON_MIMETYPES and not content_type.endswith("+json"):
        raise RequestError(
            f"Content-Type must be application/json, not {content_type[:80]}.",
            "not-supported",
            status=415,
        )
    return flask.request.get_data(cache=False)


def _sent_a_bearer_token(request: flask.Request) -> bool:
    """Whether the caller presented a bearer token at all (refused: `invalid_token`)."""
    scheme, _, token = (request.headers.get("Authorization") or "").strip().partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _too_large() -> flask.Response:
    return outcome_response(413, "The request body is too large.", "too-long")
