"""The service against its floor on distinct patients (bench/distinct.py): one table.

    BENCH_PORTS=18300-18399 PYTHONPATH=tests .venv/bin/python -m bench.distinct_run
        [--rounds 3 --seconds 4]

Starts the service and the floor (bench/floor_app.py) under the same gunicorn settings, loads
them with wrk in alternating blocks (service, floor, then floor, service, ...), each block
sending requests no block sent before (bench/pool.lua numbers them), and reads the RSS per
worker after 1 000 and 10 000 distinct patients. Targets of issue #15 beside each value.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import distinct
from bench.processes import REPO_ROOT, ServerProcess, start_floor, start_service
from bench.run import write_config
from bench.wrk import LatencySample, ensure_wrk, run_wrk

POOL_SCRIPT = Path(__file__).with_name("pool.lua")
# (moment, concurrency, targets: p50 ratio, p99 ratio, throughput ratio floor/service)
# "hook-sequence": order-select then order-sign of each patient (the one repeated request an EHR
# sends: the sign call meets the select call's resources again), 2 clients, each on its own
# connection, so that a client's order-sign follows its order-select's answer; no target.
SCENARIOS: tuple[tuple[str, int, tuple[float, float, float] | None], ...] = (
    ("order-select", 8, (1.5, 2.0, 1.5)),
    ("order-select", 1, None),
    ("hook-sequence", 2, None),
    ("patient-view", 8, (2.0, 2.0, 2.0)),
    ("medication-order", 8, (2.0, 2.0, 2.0)),
    ("appointment-book", 8, (2.0, 2.0, 2.0)),
)


def log(message: str) -> None:
    print(f"[distinct {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Runner:
    def __init__(self, work: Path, pools: dict[str, Path]) -> None:
        self.wrk = ensure_wrk()
        self.pools = pools
        self.next_number = 0  # every request of the run gets its own number
        self.served = {"service": 0, "floor": 0}

    def block(
        self, server: ServerProcess, side: str, moment: str, connections: int, seconds: float
    ) -> LatencySample:
        threads = 1 if connections == 1 else 2
        sample = run_wrk(
            self.wrk,
            server.url("/"),
            self.pools[moment],
            connections,
            threads,
            seconds,
            script=POOL_SCRIPT,
            env={
                "BENCH_POOL": str(self.pools[moment]),
                "BENCH_START": str(self.next_number),
                "BENCH_THREADS": str(threads),
                "BENCH_GROUP": "2" if moment == "hook-sequence" else "1",
            },
        )
        # Past every number this block may have used (in-flight requests included).
        self.next_number += sample.requests + 4 * connections
        self.served[side] += sample.requests
        return sample


def ratio_line(
    label: str, service: LatencySample, floor: LatencySample, targets: tuple[float, ...] | None
) -> list[str]:
    rows = []
    for percent, target in zip((50, 99), (targets or (None, None))[:2], strict=True):
        s, f = service.percentile_ms(percent), floor.percentile_ms(percent)
        verdict = "" if target is None else ("PASS" if s <= target * f else "FAIL")
        goal = "" if target is None else f"≤ {target:g}×"
        rows.append(
            f"| {label}: p{percent} | {s:.2f} ms | {f:.2f} ms | {s / f:.2f}× | {goal} | {verdict} |"
        )
    if service.errors or floor.errors:
        rows.append(f"| {label}: errors (non-2xx, socket) | {service.errors} | {floor.errors} |||")
    s_rps, f_rps = service.requests_per_s, floor.requests_per_s
    target = targets[2] if targets else None
    verdict = "" if target is None else ("PASS" if s_rps * target >= f_rps else "FAIL")
    goal = "" if target is None else f"≥ floor / {target:g}"
    rows.append(
        f"| {label}: requests/s | {s_rps:.0f} | {f_rps:.0f} | {s_rps / f_rps:.2f}× | "
        f"{goal} | {verdict} |"
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--pool", type=int, default=600, help="patients per moment's pool")
    parser.add_argument("--rss", type=int, nargs=2, default=(1_000, 10_000))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cds-distinct-") as temp:
        work = Path(temp)
        pools = {}
        for moment in dict.fromkeys(m for m, _, _ in SCENARIOS):
            lines = (
                distinct.hook_sequence_lines(args.pool)
                if moment == "hook-sequence"
                else distinct.pool_lines(moment, args.pool)
            )
            pools[moment] = distinct.write_pool(work / f"{moment}.pool", lines)
        log(f"pools written ({args.pool} patients per moment)")
        config = write_config(work, [], 1.5)
        service = start_service(config, args.workers, args.threads, work / "service.log")
        floor = start_floor(args.workers, args.threads, work / "floor.log")
        runner = Runner(work, pools)
        rss: dict[int, list[float]] = {}
        rows: list[str] = []
        try:
            service.wait_ready(args.workers)
            floor.wait_ready(args.workers)
            for moment, connections, targets in SCENARIOS:
                merged = {"service": LatencySample(), "floor": LatencySample()}
                for round_index in range(args.rounds):
                    pairs = [("service", service), ("floor", floor)]
                    if round_index % 2:
                        pairs.reverse()
                    for side, server in pairs:
                        sample = runner.block(server, side, moment, connections, args.seconds)
                        merged[side].add(sample)
                clients = "sequential" if connections == 1 else f"{connections} clients"
                label = f"{moment}, {clients}"
                rows += ratio_line(label, merged["service"], merged["floor"], targets)
                log(rows[-3])
                for checkpoint in args.rss:
                    if runner.served["service"] >= checkpoint and checkpoint not in rss:
                        rss[checkpoint] = service.worker_rss_mb()
            for checkpoint in sorted(args.rss):
                for _ in range(200):  # bounded top-up with distinct order-select patients
                    if runner.served["service"] >= checkpoint:
                        break
                    runner.block(service, "service", "order-select", 8, 5)
                rss.setdefault(checkpoint, service.worker_rss_mb())
                log(f"RSS after {runner.served['service']} distinct requests: {rss[checkpoint]}")
        finally:
            service.stop()
            floor.stop()
    low, high = sorted(args.rss)
    growth = max((h - lo) / lo * 100 for lo, h in zip(rss[low], rss[high], strict=True))
    rss_text = {k: " / ".join(f"{v:.0f}" for v in values) + " MB" for k, values in rss.items()}
    print(f"### Distinct patients, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC\n")
    print(
        f"{os.cpu_count()} CPUs (shared); gunicorn gthread {args.workers} workers × "
        f"{args.threads} threads both sides; {args.rounds} alternated blocks of "
        f"{args.seconds:g} s per scenario; pool of {args.pool} patients per moment, every "
        f"request distinct; run took {time.monotonic() - started:.0f} s.\n"
    )
    print("| measure | service | floor | ratio | target | result |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(
        f"| RSS per worker after {low:,} distinct requests | {rss_text[low]} | | | ≤ 150 MB | "
        f"{'PASS' if max(rss[low]) <= 150 else 'FAIL'} |"
    )
    print(
        f"| RSS per worker after {high:,} distinct requests | {rss_text[high]} | | | ≤ 150 MB"
        f" | {'PASS' if max(rss[high]) <= 150 else 'FAIL'} |"
    )
    print(
        f"| RSS growth {low:,} → {high:,} (worst worker) | {growth:+.1f} % | | | < 10 % | "
        f"{'PASS' if growth < 10 else 'FAIL'} |"
    )
    return 0


if __name__ == "__main__":
    os.chdir(REPO_ROOT)
    sys.exit(main())
