"""Where one typical order-select call spends its time, phase by phase (issue #15: "measure where
the time goes first").

In-process, through Flask's test client (no gunicorn, no network): the typical request of
`bench.make_requests` is posted `--calls` times after a warm-up, and each phase is timed by a
wrapper around the function that does it. A benchmark that prints numbers, not a test.

    PYTHONPATH=tests .venv/bin/python -m bench.phases [--calls 300] [--distinct]
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cds_hooks.blueprint
import service.cementoplasty
import service.evaluation
import service.facts.extract
import service.storage.spool
from bench import distinct
from bench.make_requests import build_typical
from service.app import create_app
from service.config import parse_config

URL = "/cds-services/cementoplasty-order-select"
FHIR = "http://127.0.0.1:9/fhir"  # never called: the request carries its prefetch

# (module or class, function name, label), in the order a call runs them.
PHASES: tuple[tuple[Any, str, str], ...] = (
    (cds_hooks.blueprint, "parse_hook_request", "request parsed and checked"),
    (service.cementoplasty, "procedures_in_scope", "trigger (orders in scope)"),
    (service.cementoplasty, "resolve", "prefetch resolved"),
    (service.cementoplasty, "extract_facts", "facts"),
    (service.facts.extract, "collect", "  resources collected"),
    (service.facts.extract, "extract_labs", "  labs"),
    (service.facts.extract, "extract_medications", "  medications"),
    (service.facts.extract, "extract_conditions", "  conditions"),
    (service.facts.extract, "extract_allergies", "  allergies"),
    (service.evaluation, "evaluate_rules", "rules"),
    (service.evaluation, "render_cards", "cards"),
    (service.evaluation, "audit_record", "audit record built"),
    (service.storage.spool.AuditSpool, "append", "audit line fsynced to the spool"),
)


def timed(function: Callable[..., Any], label: str, spent: dict[str, float]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - start

    return wrapper


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="a distinct Synthea-based patient per call (bench/distinct.py), not the typical one",
    )
    args = parser.parse_args(argv)
    spent: dict[str, float] = defaultdict(float)
    for owner, name, label in PHASES:
        setattr(owner, name, timed(getattr(owner, name), label, spent))
    # Removed at exit, after the app's own exit handlers (registered later, run first) have
    # closed its audit spool there.
    work = Path(tempfile.mkdtemp(prefix="cds-phases-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    (work / "data").mkdir()
    raw = {
        "auth": {"required": False},
        "store": {"url": f"sqlite:///{work}/data/store.sqlite3", "spool_dir": "spool"},
        "fhir": {"allowed_servers": [FHIR], "allow_http": True},
        "logging": {"level": "WARNING"},
    }
    client = create_app(parse_config(raw, work)).test_client()
    # Every body its own patient: the validation memo never answers (the text memos do, for the
    # displays patients share, as in production).
    if args.distinct:
        lines = list(distinct.pool_lines("order-select", args.calls + 30))
        bodies = [
            distinct.materialise(line.split("\t", 1)[1], n).encode() for n, line in enumerate(lines)
        ]
    else:
        bodies = [json.dumps(build_typical(fhir_server=FHIR)).encode()] * (args.calls + 30)
    for body in bodies[:30]:  # warm-up: imports, memos, SQLAlchemy's statement cache
        assert client.post(URL, data=body, content_type="application/json").status_code == 200
    spent.clear()
    start = time.perf_counter()
    for body in bodies[30:]:
        client.post(URL, data=body, content_type="application/json")
    total = (time.perf_counter() - start) / args.calls * 1000
    what = "distinct patients'" if args.distinct else "typical"
    print(f"{what} order-select, {args.calls} calls in-process: {total:.2f} ms per call")
    accounted = 0.0
    for _, _, label in PHASES:
        per_call = spent[label] / args.calls * 1000
        if not label.startswith(" "):
            accounted += per_call
        print(f"  {label:34s} {per_call:6.2f} ms")
    print(f"  {'Flask, response, the rest':34s} {total - accounted:6.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
