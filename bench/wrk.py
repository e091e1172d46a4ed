"""Runs wrk (the load generator, a separate native process) and merges its latency histograms."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

LUA_SCRIPT = Path(__file__).with_name("post.lua")
RESULT_PREFIX = "BENCH_RESULT "


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no result line."""


def ensure_wrk() -> str:
    """The path of wrk, installed from Debian when missing and running as root."""
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() != 0:
        raise WrkError(
            "wrk is not installed and this user cannot install it: run "
            "`sudo apt-get install -y wrk` (Debian package), then re-run the benchmark"
        )
    print("bench: installing wrk with apt-get ...", file=sys.stderr)
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if completed.returncode != 0:
            raise WrkError(f"{' '.join(command)} failed:\n{completed.stderr[-2000:]}")
    path = shutil.which("wrk")
    if not path:
        raise WrkError("apt-get installed wrk but it is not on PATH")
    return path


@dataclass
class LatencySample:
    """Requests, wall time, errors and the exact latency histogram (microseconds -> count)."""

    requests: int = 0
    duration_s: float = 0.0
    errors: int = 0
    histogram: Counter[int] = field(default_factory=Counter)

    def add(self, other: LatencySample) -> None:
        self.requests += other.requests
        self.duration_s += other.duration_s
        self.errors += other.errors
        self.histogram.update(other.histogram)

    def percentile_ms(self, percent: float) -> float:
        """The smallest latency at or below which `percent` % of the requests completed."""
        total = sum(self.histogram.values())
        if total == 0:
            return float("nan")
        rank = percent / 100 * total
        seen = 0
        for value in sorted(self.histogram):
            seen += self.histogram[value]
            if seen >= rank:
                return value / 1000
        return max(self.histogram) / 1000

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else float("nan")


def run_wrk(
    wrk: str,
    url: str,
    body: Path,
    connections: int,
    threads: int,
    duration_s: float,
    timeout_s: float = 10,
    one_request: bool = False,
    script: Path = LUA_SCRIPT,
    env: dict[str, str] | None = None,
) -> LatencySample:
    """POST `body` to `url` for `duration_s` seconds (or only once: `one_request`, with one
    connection); bounded by a subprocess timeout."""
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={round(timeout_s)}s",
        "-s",
        str(script),
        url,
    ]
    env = {
        **os.environ,
        "BENCH_BODY": str(body),
        "BENCH_ONE_REQUEST": "1" if one_request else "",
        **(env or {}),
    }
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=duration_s + timeout_s + 30
        )
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk did not finish: {' '.join(command)}") from exc
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return parse_result(line[len(RESULT_PREFIX) :])
    raise WrkError(
        f"wrk printed no result (exit {completed.returncode}): {completed.stderr[-1000:]}"
    )


def parse_result(text: str) -> LatencySample:
    raw = json.loads(text)
    return LatencySample(
        requests=int(raw["requests"]),
        duration_s=raw["duration_us"] / 1e6,
        errors=sum(int(v) for v in raw["errors"].values()),
        histogram=Counter({int(value): int(count) for value, count in raw["histogram"]}),
    )
