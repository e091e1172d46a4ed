#!/usr/bin/env bash
# Debian's nginx for the topology test (tests/topology): the load balancer of docker/compose.yaml,
# run on loopback from docker/nginx.conf. Installed from the distribution's packages, only when
# missing. Idempotent. The package's own service is never started by the test (it runs its own
# nginx on a private prefix and port).
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "install-nginx: nginx is missing; run as root, or: apt-get install nginx" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
