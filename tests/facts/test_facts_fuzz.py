"""Seeded mutations of real hook requests through the HTTP endpoint: never a 5xx.

Client input is anything: every fixture of fixtures/ is mutated at random JSON paths (a value
replaced by a list, an object, a number, a huge number, a boolean, a string, null; or a key
deleted) and posted through the real app. A 4xx or a card is fine; a 500 is a crash. The seed is
fixed, so a failure is reproducible; the message names the mutation and where it crashed.
"""

from __future__ import annotations

import json
import logging
import random
import traceback
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import flask
import pytest

from service.app import create_app
from service.config import parse_config
from service.storage import Store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text("utf-8"))
NOW = datetime.fromisoformat(MANIFEST["now"])
SEED = 20261126
MUTATED_REQUESTS = 3000
SERVICE_OF_HOOK = {
    "order-select": "cementoplasty-order-select",
    "order-sign": "cementoplasty-order-sign",
}
Path_ = tuple[str | int, ...]

# What a client may put where a value was expected. A factory, so no two mutations share an
# object. Huge numbers stay within a double's range: beyond it the request is refused earlier.
HOSTILE_VALUES: tuple[Any, ...] = (
    [],
    [1, "x"],
    [{"coding": 5}],
    {},
    {"a": [1]},
    {"coding": [{"system": 1, "code": []}]},
    0,
    -1,
    2.5,
    1e308,
    -1e308,
    10**300,
    True,
    False,
    "",
    "x",
    "2026-11-20T08:00:00",
    "10*50000000/L",
    "/" * 200,
    None,
)
DELETE = object()


class _CrashRecorder(logging.Handler):
    """Keeps where each logged exception was raised (the app turns it into a 500)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.crashes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            self.crashes.append(
                f"{type(exc).__name__} at {frame.filename}:{frame.lineno} ({frame.name})"
            )


def _paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _mutate(request: dict[str, Any], rng: random.Random) -> list[str]:
    """Apply 1 to 3 mutations in place; a description of each, for the failure message."""
    done = []
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(request) if p[:1] != ("hook",)]
        if not paths:
            break
        path = rng.choice(paths)
        parent: Any = request
        for step in path[:-1]:
            parent = parent[step]
        replacement = rng.choice((*HOSTILE_VALUES, DELETE, DELETE))
        if replacement is DELETE and isinstance(parent, dict):
            del parent[path[-1]]
            done.append(f"delete {'/'.join(map(str, path))}")
        else:
            value = json.loads(json.dumps(replacement)) if replacement is not DELETE else None
            parent[path[-1]] = value
            done.append(f"{'/'.join(map(str, path))} = {json.dumps(value)[:40]}")
    return done


@pytest.fixture(scope="module")
def app() -> flask.Flask:
    config = parse_config({"auth": {"required": False}, "logging": {"level": "ERROR"}})
    return create_app(config, store=Store("sqlite://"), clock=lambda: NOW)


def test_mutated_hook_requests_never_get_a_server_error(app: flask.Flask) -> None:
    bases = [
        json.loads((FIXTURES / path).read_text("utf-8")) for path in sorted(MANIFEST["fixtures"])
    ]
    rng = random.Random(SEED)
    client = app.test_client()
    recorder = _CrashRecorder()
    root = logging.getLogger()
    root.addHandler(recorder)
    failures: list[str] = []
    places: set[str] = set()
    statuses: dict[int, int] = {}
    try:
        for number in range(MUTATED_REQUESTS):
            request = json.loads(json.dumps(bases[number % len(bases)]))
            mutations = _mutate(request, rng)
            hook = request.get("hook")
            service_id = SERVICE_OF_HOOK.get(hook, "cementoplasty-order-select")
            recorder.crashes.clear()
            response = client.post(
                f"/cds-services/{service_id}",
                data=json.dumps(request),
                headers={"Content-Type": "application/json"},
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                where = "; ".join(recorder.crashes) or "no exception logged"
                places.update(recorder.crashes)
                failures.append(f"#{number} {mutations}: {response.status_code} {where}")
    finally:
        root.removeHandler(recorder)
    assert not failures, (
        f"{len(failures)} server errors, at:\n"
        + "\n".join(sorted(places))
        + "\n"
        + "\n".join(failures[:10])
    )
    assert statuses.get(200, 0) > MUTATED_REQUESTS // 2, statuses  # the mutations stay realistic
