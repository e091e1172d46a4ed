"""`cementoplasty-cds evaluate`: one hook request file through the real HTTP pipeline, offline.

The request goes through the same validation, prefetch resolution and rules as a live call, with
three differences: no client authentication, no FHIR server (what the prefetch lacks is reported
as unavailable), and an in-memory store (nothing is kept). `now` fixes the service's clock, so a
request dated for a given day (the fixtures: `fixtures/manifest.json` "now") gives the same
cards on any day.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cds_hooks.fhir_client import FhirFetchSettings
from service.cementoplasty import SERVICE_IDS
from service.config import Config, CorsSettings

# Each hook's service: the one table the app registers them from (service/cementoplasty.py).
_SERVICE_OF_HOOK = SERVICE_IDS


def evaluate_offline(
    config: Config,
    body: bytes,
    *,
    service_id: str | None = None,
    locale: str | None = None,
    now: datetime | None = None,
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, response JSON) of one hook request; `now` (timezone-aware) fixes the
    clock, read in the site's time zone as the live service reads its own clock."""
    if now is not None and (now.tzinfo is None or now.utcoffset() is None):
        raise ValueError("now must carry a time zone offset")
    from service.app import create_app
    from service.storage import Store

    offline = dataclasses.replace(
        config,
        auth=dataclasses.replace(config.auth, required=False),
        fhir=FhirFetchSettings(allowed_servers=(), deadline_s=config.fhir.deadline_s),
        cors=CorsSettings(),
    )
    fixed = now.astimezone(ZoneInfo(config.locale.time_zone)) if now is not None else None
    app = create_app(
        offline, store=Store("sqlite://"), clock=None if fixed is None else (lambda: fixed)
    )
    if service_id is None:
        service_id = _service_from_body(body)
    headers = {"Content-Type": "application/json"}
    if locale:
        headers["Accept-Language"] = locale
    response = app.test_client().post(f"/cds-services/{service_id}", data=body, headers=headers)
    payload = response.get_json(silent=True)
    return response.status_code, payload if isinstance(payload, dict) else {}


def _service_from_body(body: bytes) -> str:
    try:
        hook = json.loads(body).get("hook")
    except (ValueError, AttributeError):
        hook = None
    # An unknown hook goes to the order-select service, whose validation names the problem.
    return (
        _SERVICE_OF_HOOK.get(hook, "cementoplasty-order-select")
        if isinstance(hook, str)
        else ("cementoplasty-order-select")
    )
