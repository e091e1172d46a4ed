"""The benchmark: the service against its floor, one command, one table.

    PYTHONPATH=tests .venv/bin/python -m bench.run            # about 5 minutes
    PYTHONPATH=tests .venv/bin/python -m bench.run --quick    # about 1 minute, a smoke run

(`PYTHONPATH=tests`: the requests are built by tests/support/fhir_builders.py, as every bench
module's are.)

Starts the service (`cementoplasty-cds serve`, temporary configuration: no auth, SQLite in a
temp dir, FHIR stubs on loopback allowed) and the floor (bench/floor_app.py under the same
gunicorn settings), loads both with wrk in alternating short rounds, measures memory, first
request after start-up and the FHIR fallback, and prints a markdown table with each target
beside its measured value. Everything binds 127.0.0.1; every loop and wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import make_requests
from bench.processes import (
    REPO_ROOT,
    ServerProcess,
    StartError,
    StubProcess,
    start_floor,
    start_service,
    start_stub,
    timed_post,
)
from bench.wrk import LatencySample, WrkError, ensure_wrk, run_wrk

HOOK_PATH = f"/cds-services/{make_requests.SERVICE_ID}"
SCENARIOS = (
    ("typical", 1),
    ("typical", 8),
    ("small", 1),
    ("small", 8),
)


@dataclass
class Settings:
    workers: int = 2
    threads: int = 8
    round_seconds: float = 5
    rounds: int = 3
    rss_checkpoints: tuple[int, int] = (1_000, 10_000)
    first_request_repetitions: int = 5
    fallback_requests: int = 20
    hang_requests: int = 3
    deadline_s: float = 1.5
    max_topup_seconds: float = 150
    seed: int = make_requests.DEFAULT_SEED
    service_is_floor: bool = False
    keep_dir: Path | None = None


@dataclass
class Results:
    samples: dict[tuple[str, str, int], LatencySample] = field(default_factory=dict)
    rss: dict[tuple[str, int], list[float]] = field(default_factory=dict)  # (side, checkpoint)
    rss_served: dict[tuple[str, int], int] = field(default_factory=dict)  # requests at reading
    rss_final: tuple[int, list[float]] = (0, [])  # after every measurement
    first_request_ms: dict[str, list[float]] = field(default_factory=dict)
    fallback_ms: list[float] = field(default_factory=list)
    fallback_statuses: list[int | None] = field(default_factory=list)
    hang_ms: list[float] = field(default_factory=list)
    hang_statuses: list[int | None] = field(default_factory=list)
    hang_data_unavailable: list[bool] = field(default_factory=list)
    fhir_calls_during_prefetched_runs: int = 0
    typical_response_summary: str = ""
    notes: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rule_ids(response: Any) -> list[str]:
    ids: list[str] = []
    if isinstance(response, dict):
        for card in response.get("cards", []):
            ids.extend((card.get("extension") or {}).get("cementoplasty-cds/rules", []))
    return ids


def write_config(work: Path, stub_urls: list[str], deadline_s: float) -> Path:
    servers = ", ".join(json.dumps(url) for url in stub_urls)
    store = work / "bench-store.sqlite3"
    text = (
        "# Benchmark configuration (temporary): no auth, local SQLite, loopback FHIR stubs.\n"
        "[auth]\nrequired = false\n\n"
        f'[store]\nurl = "sqlite:///{store}"\n\n'
        f"[fhir]\nallowed_servers = [{servers}]\nallow_http = true\ndeadline_s = {deadline_s}\n"
    )
    path = work / "bench-config.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Bench:
    def __init__(self, settings: Settings, work: Path) -> None:
        self.settings = settings
        self.work = work
        self.results = Results()
        self.wrk = ensure_wrk()
        self.bodies: dict[str, Path] = {}
        self.stubs: dict[str, StubProcess] = {}
        self.config_path = work / "bench-config.toml"
        self.servers: list[ServerProcess] = []
        self.served: dict[str, int] = {}  # requests served by the long-running instances

    # --- set-up -----------------------------------------------------------------------------

    def prepare(self) -> None:
        s = self.settings
        requests_dir = self.work / "requests"
        # The stubs serve the typical data; their URLs then go into the request bodies.
        today = datetime.now(UTC).date()
        resources = make_requests.prefetched_resources(make_requests.build_typical(s.seed, today))
        requests_dir.mkdir(parents=True, exist_ok=True)
        data_path = requests_dir / "fhir-data.json"
        data_path.write_text(json.dumps({"resources": resources}), encoding="utf-8")
        lifetime = 1800.0  # the stubs stop by themselves even if this process dies
        self.stubs["data"] = start_stub(data_path, "data", 0.1, lifetime)
        self.stubs["hang"] = start_stub(data_path, "hang", 0.1, lifetime)
        self.bodies = make_requests.write_requests(
            requests_dir, s.seed, today, self.stubs["data"].base_url
        )
        partial = json.loads(self.bodies["typical-partial-prefetch"].read_text(encoding="utf-8"))
        partial["fhirServer"] = self.stubs["hang"].base_url
        hang_path = requests_dir / "typical-partial-prefetch-hanging-fhir.json"
        hang_path.write_text(json.dumps(partial), encoding="utf-8")
        self.bodies["hang"] = hang_path
        self.config_path = write_config(
            self.work, [stub.base_url for stub in self.stubs.values()], s.deadline_s
        )

    def start(self, side: str) -> ServerProcess:
        s = self.settings
        log_path = self.work / f"{side}.log"
        if side == "service" and not s.service_is_floor:
            server = start_service(self.config_path, s.workers, s.threads, log_path)
        else:
            server = start_floor(s.workers, s.threads, log_path, name=side)
        self.servers.append(server)
        try:
            server.wait_ready(s.workers)
        except StartError:
            self.stop(server)
            raise
        return server

    def stop(self, server: ServerProcess) -> None:
        server.stop()
        if server in self.servers:
            self.servers.remove(server)

    def stop_everything(self) -> None:
        for server in list(self.servers):
            self.stop(server)
        for stub in self.stubs.values():
            stub.stop()

    # --- measurements -----------------------------------------------------------------------

    def load(
        self, server: ServerProcess, body: str, connections: int, seconds: float
    ) -> LatencySample:
        threads = 1 if connections == 1 else 2
        return run_wrk(
            self.wrk, server.url(HOOK_PATH), self.bodies[body], connections, threads, seconds
        )

    def check_response(self, service: ServerProcess) -> None:
        response = timed_post(service.port, HOOK_PATH, self.bodies["typical"].read_bytes())
        ids = rule_ids(response.body)
        cards = len(response.body.get("cards", [])) if isinstance(response.body, dict) else "?"
        self.results.typical_response_summary = (
            f"HTTP {response.status}, {cards} cards, rules: {', '.join(ids) or '-'}"
        )
        log(f"typical request -> {self.results.typical_response_summary}")
        if response.status != 200:
            raise SystemExit(
                f"bench: the service answers the typical request with HTTP {response.status}: "
                f"{str(response.body)[:500]}\n{service.log_tail()}"
            )

    def count_served(self, server: ServerProcess, side: str, requests: int) -> None:
        """Add to `side`'s served count; read RSS the first time a checkpoint is crossed."""
        self.served[side] = self.served.get(side, 0) + requests
        for checkpoint in self.settings.rss_checkpoints:
            key = (side, checkpoint)
            if self.served[side] >= checkpoint and key not in self.results.rss:
                self.results.rss[key] = server.worker_rss_mb()
                self.results.rss_served[key] = self.served[side]
                rss = ", ".join(f"{v:.0f}" for v in self.results.rss[key])
                log(f"{side}: RSS after {self.served[side]} requests: {rss} MB")

    def warm_up_to(self, server: ServerProcess, side: str, target: int) -> None:
        """Typical requests at concurrency 8 until `target` were served in all (bounded)."""
        s = self.settings
        started = time.monotonic()
        for _ in range(1000):  # bounded; each pass serves at least one request or stops
            if self.served.get(side, 0) >= target:
                return
            if time.monotonic() - started > s.max_topup_seconds:
                break
            sample = self.load(server, "typical", 8, 2 if self.served.get(side, 0) < 1000 else 5)
            if sample.requests == 0:
                raise SystemExit(f"bench: {side} served no request\n{server.log_tail()}")
            self.count_served(server, side, sample.requests)
        self.results.notes.append(
            f"{side}: only {self.served.get(side, 0)} requests served within the "
            f"{s.max_topup_seconds:.0f} s allowed to reach {target} (RSS read then)"
        )
        key = (side, target)
        self.results.rss.setdefault(key, server.worker_rss_mb())
        self.results.rss_served.setdefault(key, self.served.get(side, 0))

    def steady_state(self, service: ServerProcess, floor: ServerProcess) -> None:
        s = self.settings
        for body, connections in SCENARIOS:
            for round_index in range(s.rounds):
                # Alternate the order too, so neither side always runs right after the other.
                pairs = [("service", service), ("floor", floor)]
                if round_index % 2:
                    pairs.reverse()
                for side, server in pairs:
                    sample = self.load(server, body, connections, s.round_seconds)
                    self.count_served(server, side, sample.requests)
                    key = (side, body, connections)
                    self.results.samples.setdefault(key, LatencySample()).add(sample)
            merged = self.results.samples[("service", body, connections)]
            log(
                f"{body} c{connections}: service p50 {merged.percentile_ms(50):.2f} ms, floor "
                f"p50 {self.results.samples[('floor', body, connections)].percentile_ms(50):.2f} ms"
            )

    def first_request(self, side: str) -> None:
        """The first hook call of a freshly started server, timed by wrk as the steady runs are
        (one connection; from the request's first byte sent to the response's last received)."""
        times = []
        for _ in range(self.settings.first_request_repetitions):
            server = self.start(side)
            try:
                if not server.wait_idle():
                    self.results.notes.append(f"{side}: workers still busy 15 s after start-up")
                sample = run_wrk(
                    self.wrk,
                    server.url(HOOK_PATH),
                    self.bodies["typical"],
                    1,
                    1,
                    5,
                    one_request=True,
                )
                if sample.requests != 1 or sample.errors:  # not a time to compare: left out
                    self.results.notes.append(
                        f"{side}: first request: {sample.requests} answered, "
                        f"{sample.errors} errors (non-2xx, socket, timeout)"
                    )
                else:
                    times.append(sample.percentile_ms(50))
            finally:
                self.stop(server)
        self.results.first_request_ms[side] = times
        log(f"{side}: first request after start-up (ms): {[round(t, 1) for t in times]}")

    def fallback(self, service: ServerProcess) -> None:
        s = self.settings
        no_prefetch = self.bodies["typical-no-prefetch"].read_bytes()
        for _ in range(s.fallback_requests):
            response = timed_post(service.port, HOOK_PATH, no_prefetch)
            self.results.fallback_ms.append(response.seconds * 1000)
            self.results.fallback_statuses.append(response.status)
        hang = self.bodies["hang"].read_bytes()
        for _ in range(s.hang_requests):
            response = timed_post(service.port, HOOK_PATH, hang)
            self.results.hang_ms.append(response.seconds * 1000)
            self.results.hang_statuses.append(response.status)
            self.results.hang_data_unavailable.append("DATA-UNAVAILABLE" in rule_ids(response.body))
        log(
            f"fallback (100 ms FHIR): {[round(t) for t in self.results.fallback_ms]} ms; "
            f"hanging FHIR: {[round(t) for t in self.results.hang_ms]} ms, "
            f"statuses {self.results.hang_statuses}"
        )

    def run(self) -> Results:
        s = self.settings
        self.prepare()
        service = self.start("service")
        floor = self.start("floor")
        self.check_response(service)
        calls_before = self.stubs["data"].request_count()
        low, high = s.rss_checkpoints
        self.served["service"] = 1
        self.warm_up_to(service, "service", low)
        self.warm_up_to(floor, "floor", low)
        self.steady_state(service, floor)
        # Every request counts towards the high checkpoint; top up with typical ones if needed.
        self.warm_up_to(service, "service", high)
        self.results.rss_final = (self.served["service"], service.worker_rss_mb())
        self.results.fhir_calls_during_prefetched_runs = (
            self.stubs["data"].request_count() - calls_before
        )
        self.fallback(service)
        self.stop(service)
        self.stop(floor)
        self.first_request("service")
        self.first_request("floor")
        return self.results


# --- the table ------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "**FAIL**")


def fmt_ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def render(results: Results, settings: Settings, elapsed_s: float) -> str:
    rows: list[tuple[str, str, str, str, str]] = []

    def sample(side: str, body: str, connections: int) -> LatencySample:
        return results.samples.get((side, body, connections), LatencySample())

    for body, connections in SCENARIOS:
        label = f"{body}, {'sequential' if connections == 1 else 'concurrency 8'}"
        service, floor = sample("service", body, connections), sample("floor", body, connections)
        for percent in (50, 95, 99):
            s_value, f_value = service.percentile_ms(percent), floor.percentile_ms(percent)
            target, ok = "", None
            factor = {50: 3, 99: 4}.get(percent)
            if body == "typical" and factor:
                target = f"≤ {factor} × floor = {fmt_ms(factor * f_value)}"
                ok = s_value <= factor * f_value
                if percent == 99 and connections == 1:
                    target += " and ≤ 50 ms"
                    ok = ok and s_value <= 50
            rows.append(
                (f"{label}: p{percent}", fmt_ms(s_value), fmt_ms(f_value), target, verdict(ok))
            )
        rows.append(
            (
                f"{label}: requests/s",
                f"{service.requests_per_s:.0f}",
                f"{floor.requests_per_s:.0f}",
                "",
                "",
            )
        )
        if service.errors or floor.errors:
            results.notes.append(
                f"{label}: wrk errors (non-2xx, socket, timeout): service {service.errors}, "
                f"floor {floor.errors}"
            )

    low, high = settings.rss_checkpoints
    rss_low = results.rss.get(("service", low), [])
    rss_high = results.rss.get(("service", high), [])
    floor_low = results.rss.get(("floor", low), [])

    def rss_text(values: list[float]) -> str:
        return " / ".join(f"{v:.0f}" for v in values) + " MB" if values else "n/a"

    served_low = results.rss_served.get(("service", low), 0)
    served_high = results.rss_served.get(("service", high), 0)
    rows.append(
        (
            f"RSS per worker after {low:,} requests ({served_low:,} served)",
            rss_text(rss_low),
            rss_text(floor_low),
            "≤ 150 MB",
            verdict(bool(rss_low) and max(rss_low) <= 150),
        )
    )
    growth = None
    if rss_low and rss_high and len(rss_low) == len(rss_high):
        growth = max((h - lo) / lo * 100 for lo, h in zip(rss_low, rss_high, strict=True))
    rows.append(
        (
            f"RSS per worker after {high:,} requests ({served_high:,} served)",
            rss_text(rss_high),
            "",
            "≤ 150 MB",
            verdict(bool(rss_high) and max(rss_high) <= 150),
        )
    )
    final_served, final_rss = results.rss_final
    if final_rss and final_served != served_high:
        rows.append(
            (
                f"RSS per worker at the end ({final_served:,} served)",
                rss_text(final_rss),
                "",
                "≤ 150 MB",
                verdict(max(final_rss) <= 150),
            )
        )
    rows.append(
        (
            f"RSS growth {low:,} → {high:,} requests (worst worker)",
            "n/a" if growth is None else f"{growth:+.1f} %",
            "",
            "< 10 %",
            verdict(None if growth is None else growth < 10),
        )
    )

    steady_p50 = sample("service", "typical", 1).percentile_ms(50)
    first = results.first_request_ms.get("service", [])
    first_floor = results.first_request_ms.get("floor", [])
    first_median = statistics.median(first) if first else float("nan")
    rows.append(
        (
            f"first request after start-up (median of {len(first)})",
            fmt_ms(first_median),
            fmt_ms(statistics.median(first_floor)) if first_floor else "n/a",
            f"≤ 2 × steady p50 = {fmt_ms(2 * steady_p50)}",
            verdict(None if not first else first_median <= 2 * steady_p50),
        )
    )

    fallback = results.fallback_ms
    if fallback:
        ok_status = all(status == 200 for status in results.fallback_statuses)
        rows.append(
            (
                f"fallback, FHIR answers in 100 ms, no prefetch: median / max of {len(fallback)}",
                f"{fmt_ms(statistics.median(fallback))} / {fmt_ms(max(fallback))}",
                "",
                "≤ 250 ms (every request), HTTP 200",
                verdict(max(fallback) <= 250 and ok_status),
            )
        )
        if not ok_status:
            results.notes.append(f"fallback statuses: {results.fallback_statuses}")
    hang = results.hang_ms
    if hang:
        limit = settings.deadline_s * 1000 + 100
        cards_ok = all(results.hang_data_unavailable)
        rows.append(
            (
                f"FHIR never answers: time to answer, max of {len(hang)}",
                f"{fmt_ms(max(hang))} (HTTP {sorted(set(results.hang_statuses), key=str)}, "
                f"DATA-UNAVAILABLE card: {'yes' if cards_ok else 'no'})",
                "",
                f"≤ deadline + 100 ms = {limit:.0f} ms, with the card",
                verdict(max(hang) <= limit and cards_ok),
            )
        )
    rows.append(
        (
            "FHIR calls during the prefetched runs",
            str(results.fhir_calls_during_prefetched_runs),
            "",
            "0",
            verdict(results.fhir_calls_during_prefetched_runs == 0),
        )
    )

    header = ("measure", "service", "floor", "target", "result")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    cpu = _cpu_model()
    out = [
        f"### Benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
        f"Python {platform.python_version()}. gunicorn gthread, {settings.workers} workers × "
        f"{settings.threads} threads, both sides; wrk {_wrk_version()}; "
        f"{settings.rounds} alternating rounds of {settings.round_seconds:g} s per scenario; "
        f"run took {elapsed_s:.0f} s.",
        "",
        f"Typical request answer: {results.typical_response_summary}",
        "",
        line(header),
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        *[line(row) for row in rows],
    ]
    if settings.service_is_floor:
        out.insert(2, "**Harness self-test: the floor app runs on both sides.**\n")
    if results.notes:
        out += ["", "Notes:", *[f"* {note}" for note in results.notes]]
    out += [
        "",
        "Reproduce: `PYTHONPATH=tests .venv/bin/python -m bench.run` (README, Performance).",
    ]
    return "\n".join(out)


def _cpu_model() -> str:
    try:
        for text_line in Path("/proc/cpuinfo").read_text().splitlines():
            if text_line.startswith("model name"):
                return text_line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _wrk_version() -> str:
    try:
        completed = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5)
        return (completed.stdout or completed.stderr).split()[1]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def parse_args(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="threads per worker (gthread)")
    parser.add_argument("--round-seconds", type=float, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--rss-requests", type=int, nargs=2, default=None, metavar=("LOW", "HIGH"))
    parser.add_argument("--first-request-repetitions", type=int, default=None)
    parser.add_argument("--fallback-requests", type=int, default=None)
    parser.add_argument("--hang-requests", type=int, default=None)
    parser.add_argument("--deadline", type=float, default=1.5, help="fhir.deadline_s to set")
    parser.add_argument("--seed", type=int, default=make_requests.DEFAULT_SEED)
    parser.add_argument(
        "--service-is-floor",
        action="store_true",
        help="harness self-test: run the floor app on both sides",
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep bodies and logs here (e.g. bench/results)"
    )
    args = parser.parse_args(argv)
    settings = Settings(workers=args.workers, threads=args.threads, deadline_s=args.deadline)
    if args.quick:
        settings = Settings(
            workers=args.workers,
            threads=args.threads,
            deadline_s=args.deadline,
            round_seconds=2,
            rounds=2,
            rss_checkpoints=(1_000, 3_000),
            first_request_repetitions=2,
            fallback_requests=5,
            hang_requests=2,
            max_topup_seconds=30,
        )
    overrides: dict[str, Callable[[Any], None]] = {
        "round_seconds": lambda v: setattr(settings, "round_seconds", v),
        "rounds": lambda v: setattr(settings, "rounds", v),
        "rss_requests": lambda v: setattr(settings, "rss_checkpoints", (v[0], v[1])),
        "first_request_repetitions": lambda v: setattr(settings, "first_request_repetitions", v),
        "fallback_requests": lambda v: setattr(settings, "fallback_requests", v),
        "hang_requests": lambda v: setattr(settings, "hang_requests", v),
    }
    for name, apply in overrides.items():
        value = getattr(args, name)
        if value is not None:
            apply(value)
    settings.seed = args.seed
    settings.service_is_floor = args.service_is_floor
    settings.keep_dir = args.keep
    return settings


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cds-bench-") as temp:
        work = settings.keep_dir.resolve() if settings.keep_dir else Path(temp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            bench = Bench(settings, work)
        except WrkError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
        try:
            results = bench.run()
        except (StartError, WrkError) as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
        finally:
            bench.stop_everything()
    table = render(results, settings, time.monotonic() - started)
    print(table)
    if settings.keep_dir:
        (work / "latest.md").write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.chdir(REPO_ROOT)
    sys.exit(main())
