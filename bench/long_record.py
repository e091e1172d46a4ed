"""The FHIR fallback on a long record: date-bounded lab searches against unbounded ones.

The FHIR stub (tests/support/fhir_stub.py) holds one patient with 5 000 lab Observations over
ten years (platelets, TP, INR, PT, pain, temperature, neutrophils, evenly spread) and pages its
searchsets as a server does: `code=` (comma-separated `system|code`, OR), `date=geYYYY-MM-DD`,
`_count`, and a `next` link per page. `_sort=-date` is honoured in mode `sorted`; in mode
`unsorted` the server ignores it (FHIR search lets a server ignore `_sort`): oldest first.

The service's resolver (`cds_hooks.prefetch.PrefetchResolver`, the lab keys only, the
service's lab-window coverage) fetches the labs with the 2.0 templates (unbounded) and with the
fallback's date-bounded ones, under the default `[fhir]` settings (5 pages per key, 1.5 s for
all) and with no page cap (to show what the cap hides). Printed per case: HTTP requests, bytes
received, wall time (median of the runs), results obtained, and the keys left partial.

Run: PYTHONPATH=tests .venv/bin/python -m bench.long_record [--runs 5] [--port 18200] (two ports
from it: one per server mode; the resources are built by tests/support/fhir_builders.py)
A benchmark that prints numbers, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import support.fhir_builders as fhir
from support.fhir_stub import FhirStub, running_fhir_stub

from cds_hooks.fhir_client import FhirFetchSettings
from cds_hooks.prefetch import PrefetchResolver
from cds_hooks.service import FhirAuthorization, HookRequest
from service.config import Policy
from service.facts.model import LabKind
from service.prefetch_coverage import lab_window_coverage
from service.prefetch_templates import (
    BOUNDED_KEYS,
    bounded_prefetch_templates,
    prefetch_templates,
)
from service.valuesets import load_valuesets

PATIENT = "long-record-1"
OBSERVATIONS = 5_000
YEARS = 10
ZONE = ZoneInfo("Europe/Paris")  # the default site time zone


@dataclass
class Observations:
    """The record: (code "system|code", effective instant, resource JSON) newest last."""

    rows: list[tuple[str, datetime, dict[str, Any]]]


def make_record(now: datetime) -> Observations:
    valuesets = load_valuesets()
    kinds = list(LabKind)
    rows = []
    step = timedelta(days=365.25 * YEARS) / OBSERVATIONS
    for index in range(OBSERVATIONS):
        kind = kinds[index % len(kinds)]
        system, code = valuesets.lab_codes(kind)[0]
        when = now - step * (OBSERVATIONS - index)
        resource = fhir.observation(
            fhir.concept(system, code),
            100 + index % 50,
            "1",
            ucum=False,
            id=f"obs-{index}",
            patient_id=PATIENT,
            effective=when.isoformat(timespec="seconds"),
        )
        rows.append((f"{system}|{code}", when, resource))
    return Observations(rows)


@dataclass(frozen=True)
class Outcome:
    requests: int
    bytes: int
    seconds: float
    results: int
    partial: tuple[str, ...]


def fetch_labs(
    base: str, templates: Mapping[str, str], settings: FhirFetchSettings, now: datetime
) -> tuple[float, int, tuple[str, ...]]:
    request = HookRequest(
        service_id="bench",
        hook="order-select",
        hook_instance="bench",
        context={"patientId": PATIENT, "userId": "Practitioner/bench"},
        prefetch={},
        fhir_server=base,
        fhir_authorization=FhirAuthorization("bench-token", "Bearer", 300, "patient/*.rs", "b"),
    )
    coverage = lab_window_coverage(templates, now, Policy().lab_max_age_days)
    started = time.perf_counter()
    resolved = PrefetchResolver(request, templates, settings).resolve(
        coverage, BOUNDED_KEYS, today=now.date()
    )
    seconds = time.perf_counter() - started
    results = sum(len(resolved.resources.get(key, [])) for key in BOUNDED_KEYS)
    return seconds, results, tuple(sorted(resolved.unavailable))


def run_case(
    stub: FhirStub,
    templates: Mapping[str, str],
    settings: FhirFetchSettings,
    now: datetime,
    runs: int,
) -> Outcome:
    base = stub.base_url("data")
    times = []
    counts = (0, 0)
    results, partial = 0, ()
    for _ in range(runs):
        stub.reset_counts()
        seconds, results, partial = fetch_labs(base, templates, settings, now)
        time.sleep(0.05)  # tasks left past a deadline finish in the background: count them too
        counts = stub.reset_counts()
        times.append(seconds)
    return Outcome(counts[0], counts[1], statistics.median(times), results, partial)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=18200)
    args = parser.parse_args()

    now = datetime.now(ZONE)
    record = make_record(now)
    valuesets = load_valuesets()
    lab_max_age = Policy().lab_max_age_days
    templates = {
        "unbounded (2.0 templates)": prefetch_templates(valuesets),
        "bounded (fallback)": bounded_prefetch_templates(valuesets, lab_max_age),
    }
    # One port per server mode: the resolver's pooled connections never reach the other stub.
    ports = {True: args.port, False: args.port + 1}
    bases = tuple(f"http://127.0.0.1:{port}/data/fhir" for port in ports.values())
    default = FhirFetchSettings(allowed_servers=bases, allow_http=True)
    uncapped = FhirFetchSettings(
        allowed_servers=bases, allow_http=True, max_pages=100_000, deadline_s=120
    )
    print(
        f"{OBSERVATIONS} Observations over {YEARS} years, 5 lab keys, "
        f"lab_max_age_days {lab_max_age}, median of {args.runs} runs"
    )
    print(
        f"{'server':<9} {'settings':<24} {'templates':<26} {'requests':>8} {'bytes':>10} "
        f"{'time ms':>8} {'results':>7}  partial keys"
    )
    for honour_sort in (True, False):
        resources = [resource for _, _, resource in record.rows]
        with running_fhir_stub(resources, honour_sort=honour_sort, port=ports[honour_sort]) as stub:
            for settings_name, settings in (
                ("default (5 pages, 1.5 s)", default),
                ("no page cap", uncapped),
            ):
                for name, chosen in templates.items():
                    outcome = run_case(stub, chosen, settings, now, args.runs)
                    print(
                        f"{'sorted' if honour_sort else 'unsorted':<9} {settings_name:<24} "
                        f"{name:<26} {outcome.requests:>8} {outcome.bytes:>10} "
                        f"{outcome.seconds * 1000:>8.1f} {outcome.results:>7}  "
                        f"{', '.join(outcome.partial) or '-'}"
                    )


if __name__ == "__main__":
    main()
