"""Worker threads share glibc's main heap (the heap the start-up warm-up grew serves them all),
unless the operator set a limit; checked in a fresh interpreter, like a worker."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the malloc arena limit is a glibc setting",
)

# Counts glibc's heaps (malloc_info prints one <heap> element per arena) after 4 threads each
# allocated and held memory at the same time.
PROBE = textwrap.dedent(
    """
    import ctypes, ctypes.util, sys, tempfile, threading
    from service.server import share_one_malloc_heap

    print("limited" if share_one_malloc_heap() else "unlimited")
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.fopen.restype = ctypes.c_void_p
    libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    barrier = threading.Barrier(4)

    def allocate():
        blocks = [libc.malloc(4096) for _ in range(64)]
        barrier.wait()  # all four threads hold memory at once

    threads = [threading.Thread(target=allocate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with tempfile.NamedTemporaryFile(suffix=".xml") as out:
        stream = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, stream)
        libc.fclose(stream)
        print(open(out.name).read().count("<heap nr="))
    """
)


def _heaps(env: dict[str, str]) -> tuple[str, int]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, env=env
    )
    assert completed.returncode == 0, completed.stderr
    state, heaps = completed.stdout.split()
    return state, int(heaps)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    return {**env, **extra}


def test_worker_threads_share_one_heap() -> None:
    assert _heaps(_env()) == ("limited", 1)


def test_an_operators_setting_is_kept() -> None:
    state, heaps = _heaps(_env(MALLOC_ARENA_MAX="8"))
    assert state == "unlimited"
    assert heaps > 1  # the probe's threads did get heaps of their own: the first test means it
    assert _heaps(_env(GLIBC_TUNABLES="glibc.malloc.arena_max=8"))[0] == "unlimited"
