"""The FHIR fallback with a fast FHIR server: every prefetch key fetched, 20 ms per answer.

    BENCH_PORTS=18300-18399 PYTHONPATH=tests .venv/bin/python -m bench.fallback_fast [--requests 30]

The typical patient (bench/make_requests.py) without `prefetch`: the service fetches every key
from the FHIR stub (tests/support/fhir_stub.py, answering each search after `--delay`). Issue #15's
target: p50 ≤ 40 ms, which needs the fetches in parallel under one deadline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import make_requests
from bench.processes import REPO_ROOT, start_service, start_stub, timed_post
from bench.run import HOOK_PATH, write_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--delay", type=float, default=0.02, help="the stub's answer time (s)")
    args = parser.parse_args(argv)
    today = datetime.now(UTC).date()
    with tempfile.TemporaryDirectory(prefix="cds-fallback-") as temp:
        work = Path(temp)
        typical = make_requests.build_typical(make_requests.DEFAULT_SEED, today)
        data = work / "fhir-data.json"
        data.write_text(json.dumps({"resources": make_requests.prefetched_resources(typical)}))
        stub = start_stub(data, "data", args.delay, 600)
        service = None
        try:
            request = make_requests.build_typical(make_requests.DEFAULT_SEED, today, stub.base_url)
            body = json.dumps(make_requests.without_prefetch(request)).encode()
            service = start_service(write_config(work, [stub.base_url], 1.5), 2, 8, work / "s.log")
            service.wait_ready(2)
            times, statuses = [], []
            for _ in range(args.requests):
                response = timed_post(service.port, HOOK_PATH, body)
                times.append(response.seconds * 1000)
                statuses.append(response.status)
            calls = stub.request_count()
        finally:
            if service is not None:
                service.stop()
            stub.stop()
    p50 = statistics.median(times)
    print(
        f"fallback, FHIR stub answering in {args.delay * 1000:.0f} ms, no prefetch: p50 "
        f"{p50:.1f} ms, max {max(times):.1f} ms over {len(times)} requests; statuses "
        f"{sorted(set(statuses))}; {calls / len(times):.0f} FHIR searches per request; target "
        f"p50 ≤ 40 ms: {'PASS' if p50 <= 40 and set(statuses) == {200} else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    os.chdir(REPO_ROOT)
    sys.exit(main())
