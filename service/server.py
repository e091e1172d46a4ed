"""Runs the Flask app under gunicorn (threaded workers: FHIR fallback fetches block on I/O)."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Each worker builds its own app (and its own database connections) after the fork.
        from service.app import create_app

        share_one_malloc_heap()  # before any thread of this worker allocates
        app = create_app()
        # Everything built at start-up (FHIR models, value sets, card texts) lives as long as the
        # worker: move it out of the collector's sight. Full collections walking those ~135 000
        # objects made one request in twenty take 40-60 ms (benchmark p95/p99).
        gc.collect()
        gc.freeze()
        return app


# glibc's mallopt parameter number for the arena limit (malloc.h: M_ARENA_MAX).
_M_ARENA_MAX = -8


def share_one_malloc_heap() -> bool:
    """Make every thread of this process allocate from glibc's main heap (MALLOC_ARENA_MAX=1).

    By default each new thread gets a heap of its own, so the first large request on each of a
    worker's 8 threads page-faults its heap into existence (~250 faults, milliseconds on a
    virtual machine) although the start-up warm-up already grew the main heap. The threads take
    turns on the GIL anyway, so sharing one heap costs no parallelism, and it also keeps the
    resident memory down. An operator's own limit (MALLOC_ARENA_MAX, or arena_max in
    GLIBC_TUNABLES) is left as it is; on a C library other than glibc this does nothing. True
    when the limit was set here.
    """
    if "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        libc = ctypes.CDLL(None)  # the C library this process already uses
        return bool(libc.mallopt(_M_ARENA_MAX, 1))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        logging.getLogger(__name__).info("malloc arena limit not set (not glibc)")
        return False


def warm_up_before_listening() -> None:
    """In the master, before gunicorn opens the port: what every worker needs and nobody
    changes (the modules, the value sets, the UCUM registry, the FHIR models). The workers
    inherit it by the fork and then build only their app (~0.2 s instead of ~1.5 s on an idle
    machine; far more on a loaded one). The port accepts connections as soon as it is open, and
    a load balancer sends calls then: those calls waited for the whole start-up of a worker.
    Nothing here opens a file, a connection or a thread, so nothing is shared by the fork."""
    import service.app  # noqa: F401 - imported for its import time, not for a name
    from service.facts.warmup import warm_up

    warm_up()


def run_server(*, host: str, port: int, workers: int, threads: int) -> int:
    """gunicorn with the app; each worker loads the configuration itself (CDS_CONFIG), which
    the command line has already checked."""
    # The control socket path is shared by every gunicorn on the machine: never open one.
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 10,
        "control_socket_disable": True,
        "accesslog": None,  # the app logs one JSON line per request itself
        "limit_request_line": 8190,
    }
    # Prometheus multiprocess mode: every worker writes its counters to one folder that
    # /metrics aggregates. It must be set before prometheus_client is first imported.
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cds-metrics-")
    from service.observability import gunicorn_child_exit, prepare_metrics_dir

    prepare_metrics_dir()
    options["child_exit"] = gunicorn_child_exit
    warm_up_before_listening()
    _Gunicorn(options).run()
    return 0
