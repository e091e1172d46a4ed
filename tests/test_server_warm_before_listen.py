"""`serve` warms what every worker shares in gunicorn's master, before the port opens: a load
balancer sends calls as soon as the port accepts connections, and those calls used to wait for a
worker's whole start-up (6.6 s seen in the topology test on a loaded machine). Checked in a fresh
interpreter, where nothing is cached yet: when gunicorn would bind, the UCUM registry and the
value sets are built, and nothing the fork would share (a file, a connection, a thread) is open.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

# Replaces gunicorn's run (which binds the port and forks) by a report of this process's state.
PROBE = textwrap.dedent(
    """
    import json, os, threading
    import service.server as server
    from service.facts import units
    from service.valuesets import loader

    warm_up = server.warm_up_before_listening
    fds_before_warm_up = set()

    def watched_warm_up():
        fds_before_warm_up.update(os.listdir("/proc/self/fd"))
        warm_up()

    def report(self):
        fds = set(os.listdir("/proc/self/fd")) - fds_before_warm_up
        print(json.dumps({
            "ucum_registry": units._registry.cache_info().currsize,
            "value_sets": loader.load_valuesets.cache_info().currsize,
            "new_fds": sorted(os.readlink(f"/proc/self/fd/{fd}") for fd in fds
                              if os.path.exists(f"/proc/self/fd/{fd}")),
            "threads": threading.active_count(),
        }))

    server.warm_up_before_listening = watched_warm_up
    server._Gunicorn.run = report
    server.run_server(host="127.0.0.1", port=9, workers=1, threads=1)
    """
)


def test_shared_start_up_work_is_done_before_the_port_opens(tmp_path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    )
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["ucum_registry"] == 1
    assert state["value_sets"] == 1
    assert state["new_fds"] == []
    assert state["threads"] == 1
