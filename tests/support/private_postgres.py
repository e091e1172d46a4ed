"""A private PostgreSQL cluster for tests that stop the database: its own data folder, port and
socket, run as the `postgres` OS user, so that stopping it disturbs nobody else on the machine
(the shared PostgreSQL on port 5432 serves other test runs)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DATABASE = "cds"


@dataclass
class PrivatePostgres:
    root: Path  # owned by the postgres user: data folder, socket, log
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        _as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            *args,
        )

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        """A fast shutdown: sessions are cut, connections refused until `start`."""
        self._pg_ctl("-m", "fast", "stop")

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, connect_timeout=5, autocommit=True)


def _as_postgres(*command: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    result = subprocess.run(
        [*prefix, *command], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command[:2])} failed: {result.stderr.strip()[-2000:]}")


@contextlib.contextmanager
def private_postgres(port: int) -> Iterator[PrivatePostgres]:
    if not (PG_BIN / "initdb").is_file():
        pytest.fail(f"{PG_BIN}/initdb not found: install postgresql-15")
    # Under /tmp, not pytest's tmp_path: the postgres user must reach the folder.
    root = Path(tempfile.mkdtemp(prefix="cds-private-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    server = PrivatePostgres(root, port)
    try:
        _as_postgres(
            str(PG_BIN / "initdb"), "-D", str(server.data), "-A", "trust", "-U", "postgres", "-N"
        )
        server.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True
                ) as admin:
                    admin.execute(f"CREATE DATABASE {DATABASE}")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield server
    finally:
        if server.is_running():
            with contextlib.suppress(BaseException):
                server.stop()
        shutil.rmtree(root, ignore_errors=True)
