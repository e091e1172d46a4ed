#!/usr/bin/env bash
# Starts the machine's PostgreSQL cluster when it is not already answering on 127.0.0.1:5432.
# The storage tests need it (CI machines start it before the session, but it may have stopped).
set -euo pipefail
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "start-postgres: PostgreSQL is not running and pg_ctlcluster is not installed" >&2
  exit 1
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
pg_ctlcluster --skip-systemctl-redirect "$version" main start
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
  sleep 0.5
done
echo "start-postgres: PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
