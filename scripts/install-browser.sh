#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver for the browser tests (tests/rule_pages): installed from the
# distribution's packages, never a browser build downloaded by a test tool. Idempotent.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "install-browser: chromium is missing; run as root, or: apt-get install chromium chromium-driver" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  chromium chromium-driver fonts-dejavu-core >/dev/null
