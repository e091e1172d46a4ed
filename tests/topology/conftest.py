"""Topology fixtures: the helpers of the end-to-end and reliability suites are reused (process
groups, the private PostgreSQL cluster, the request builders), so their folders go on the path."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
for path in (REPO_ROOT, REPO_ROOT / "tests" / "e2e", REPO_ROOT / "tests" / "reliability"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
