#!/usr/bin/env bash
# Installs Debian's chromium package when no chromium is on the PATH: the
# dashboard end-to-end test (tests/e2e/test_dashboard.py) loads /dashboard
# in headless Chromium and reads the rendered DOM (--dump-dom). Browser
# downloads (playwright, puppeteer) do not work here; apt does.
# Exits non-zero when it cannot install it (no apt, no network, no root):
# the test then skips and says why.
set -euo pipefail
for bin in chromium chromium-browser; do
  if command -v "$bin" >/dev/null 2>&1; then
    exit 0
  fi
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-chromium: no apt-get here; install chromium yourself" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "setup-chromium: not root and no sudo: cannot install chromium" >&2
    exit 1
  fi
  sudo="sudo -n"
fi
echo "installing chromium (apt)" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null || true
$sudo apt-get install -y -q --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
