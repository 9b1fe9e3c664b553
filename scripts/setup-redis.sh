#!/usr/bin/env bash
# Installs redis-server (Debian package) when it is missing: the gateway
# tests run a real one for the shared conversation memory ([state] redis_url).
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "installing redis-server (apt)"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null || true
$sudo apt-get install -y -q --no-install-recommends redis-server >/dev/null
# The package may start a system service; the tests start their own servers
# on free ports and never use 6379.
command -v redis-server >/dev/null
