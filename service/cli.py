"""Command line: `cementoplasty-cds serve | evaluate | report`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from service.config import ConfigError, load_config
from service.config_check import check_policy_against_valuesets
from service.valuesets import load_valuesets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="cementoplasty-cds",
        description="CDS Hooks service for percutaneous cementoplasty and bone ablation orders. "
        "Configuration: the TOML file named by CDS_CONFIG (README, 'Configuration').",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service (gunicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument("--threads", type=int, default=8, help="threads per worker")

    evaluate = commands.add_parser(
        "evaluate", help="print the CDS Hooks response for a hook request file, offline"
    )
    evaluate.add_argument("request", type=Path, help="a hook request JSON file (with prefetch)")
    evaluate.add_argument("--service", default=None, help="service id (default: from the hook)")
    evaluate.add_argument("--locale", default=None, choices=["en", "fr"])
    evaluate.add_argument(
        "--now",
        type=_aware_datetime,
        default=None,
        help="the service's clock, an ISO 8601 date-time with its offset "
        "(e.g. 2026-11-26T09:00:00+01:00, the fixtures' day in fixtures/manifest.json); "
        "default: the real time",
    )

    commands.add_parser("report", help="per rule: fired, accepted, overridden, override reasons")

    args = parser.parse_args(argv)
    try:
        config = load_config()
        check_policy_against_valuesets(config.policy, load_valuesets())
    except ConfigError as exc:
        print(f"cementoplasty-cds: configuration error: {exc}", file=sys.stderr)
        return 2

    if args.command == "serve":
        from service.server import run_server

        return run_server(
            host=args.host, port=args.port, workers=args.workers, threads=args.threads
        )
    if args.command == "evaluate":
        return _evaluate(config, args.request, args.service, args.locale, args.now)
    if args.command == "report":
        from service.report import render_report
        from service.storage import Store

        try:
            store = Store(config.store.url)
        except ValueError as exc:  # a store it cannot open (a missing SQLite folder)
            print(f"cementoplasty-cds: configuration error: {exc}", file=sys.stderr)
            return 2
        print(render_report(store))
        return 0
    return 2


def _aware_datetime(text: str) -> datetime:
    """An ISO 8601 date-time with its offset; argparse reports anything else."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r}") from None
    if "T" not in text.upper() or value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} needs a time and an offset, e.g. 2026-11-26T09:00:00+01:00"
        )
    return value


def _evaluate(
    config: Any,
    request_file: Path,
    service_id: str | None,
    locale: str | None,
    now: datetime | None = None,
) -> int:
    from service.offline import evaluate_offline

    try:
        body = request_file.read_bytes()
    except OSError as exc:
        print(f"cementoplasty-cds: cannot read {request_file}: {exc.strerror}", file=sys.stderr)
        return 2
    status, response = evaluate_offline(config, body, service_id=service_id, locale=locale, now=now)
    json.dump(response, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
