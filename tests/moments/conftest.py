"""The moments tests build their FHIR data with the fixtures' own builders (fixtures/build.py)."""

from __future__ import annotations

import sys
from pathlib import Path

for path in (Path(__file__).resolve().parents[2] / "fixtures", Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
