#!/usr/bin/env bash
# The PostgreSQL the storage tests use: installed from Debian's packages when missing, started
# when it does not answer on 127.0.0.1:5432, and given the role and database the tests connect
# with (cds_test, password login over TCP, allowed to create the per-test databases). Nothing
# here depends on the machine's own trust settings: a test that cannot connect fails, it never
# skips (tests/conftest.py).
set -euo pipefail

ROLE=cds_test
PASSWORD=cds_test
DATABASE=cds_test

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "start-postgres: installing PostgreSQL from Debian's packages" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 0.5
  done
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "start-postgres: PostgreSQL did not come up on 127.0.0.1:5432" >&2
  exit 1
fi

# As the cluster's superuser, through the local socket (peer authentication, Debian's default).
as_postgres() { (cd / && runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qtA "$@"); }
if [ "$(as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
  as_postgres -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'"
fi
if [ "$(as_postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != "1" ]; then
  as_postgres -c "CREATE DATABASE $DATABASE OWNER $ROLE"
fi
