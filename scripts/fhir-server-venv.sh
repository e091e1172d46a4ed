#!/usr/bin/env bash
# Installs the FHIR R4 test server used by the end-to-end tests (tests/e2e) into its own
# virtual environment, kept apart from the service's .venv so that its dependencies never
# leak into ours. Idempotent: does nothing when the pinned version is already installed.
#
# Usage: scripts/fhir-server-venv.sh [VENV_DIR]   (default: .venv-fhir at the repository root)
# Prints the path of the `sekmet` executable on its last line.
set -euo pipefail

SEKMET_VERSION="0.1.1"
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
venv_dir="${1:-$repo_root/.venv-fhir}"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"

installed_version() {
    "$venv_dir/bin/python" -c \
        'import importlib.metadata as m; print(m.version("sekmet-fhir"))' 2>/dev/null || true
}

if [[ -x "$venv_dir/bin/sekmet" && "$(installed_version)" == "$SEKMET_VERSION" ]]; then
    echo "$venv_dir/bin/sekmet"
    exit 0
fi

if [[ ! -x "$venv_dir/bin/python" ]]; then
    "$python" -m venv "$venv_dir"
fi
"$venv_dir/bin/python" -m pip install --quiet --disable-pip-version-check \
    "sekmet-fhir==$SEKMET_VERSION"

if [[ "$(installed_version)" != "$SEKMET_VERSION" ]]; then
    echo "fhir-server-venv: sekmet-fhir $SEKMET_VERSION is not installed in $venv_dir" >&2
    exit 1
fi
echo "$venv_dir/bin/sekmet"
