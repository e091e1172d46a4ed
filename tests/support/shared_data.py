"""Where the project's read-only shared material is: CDS_SHARED_DIR, else `shared/` beside the
clone (as CI and this workplace have it).

Tests that need it fail, never skip, when it is missing: a green run that silently skipped the
Synthea or catalog checks would prove nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_path(*parts: str) -> Path:
    candidates = [
        Path(os.environ["CDS_SHARED_DIR"]) if os.environ.get("CDS_SHARED_DIR") else None,
        REPO_ROOT.parent / "shared",
    ]
    for base in candidates:
        if base is not None and base.joinpath(*parts).exists():
            return base.joinpath(*parts)
    pytest.fail(f"shared material not found: {'/'.join(parts)} (set CDS_SHARED_DIR)")


def synthea_dir() -> Path:
    """The Synthea bundles: CDS_SYNTHEA_DIR, else the shared folder's testdata/synthea-r4."""
    if os.environ.get("CDS_SYNTHEA_DIR"):
        chosen = Path(os.environ["CDS_SYNTHEA_DIR"])
        if not any(chosen.glob("*.json.gz")):
            pytest.fail(f"CDS_SYNTHEA_DIR={chosen} holds no Synthea bundle (*.json.gz)")
        return chosen
    return shared_path("testdata", "synthea-r4")
