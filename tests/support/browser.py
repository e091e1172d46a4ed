"""Headless Chromium (Debian's package, scripts/install-browser.sh) against pages this test run
serves on loopback: the DOM after rendering, and a screenshot kept under the test's tmp folder."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flask
import pytest
from werkzeug.serving import make_server

# The flags this workplace's machines need: no sandbox as root, and no background connections
# (the network is closed; Chromium would otherwise retry them at every start).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("chromium is not installed: run scripts/install-browser.sh (make test does)")
    return found


@contextmanager
def serving(app: flask.Flask) -> Iterator[str]:
    """`app` on a free loopback port for the duration; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def dom(url: str, tmp_path: Path) -> str:
    """The page's DOM as the browser built it."""
    result = _run(tmp_path, "--dump-dom", url)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(url: str, path: Path, tmp_path: Path, size: str = "1000,1400") -> Path:
    result = _run(tmp_path, f"--screenshot={path}", f"--window-size={size}", url)
    assert result.returncode == 0 and path.exists(), result.stderr[-2000:]
    return path
