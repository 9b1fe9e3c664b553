#!/usr/bin/env bash
# End-to-end tests: builds the release binary once, installs the pinned
# Python client and llama.cpp server (scripts/setup-e2e.sh, cached outside
# the checkout) and Chromium (scripts/setup-chromium.sh), then drives the
# binary with the official openai and anthropic SDKs, against a real local
# model and the provider fakes of tests/fakes/ (served by the fake_providers
# example), and renders /dashboard in headless Chromium. Honours
# CARGO_TARGET_DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
venv="$(bash scripts/setup-e2e.sh | tail -n 1)"
# The dashboard test renders /dashboard in headless Chromium (Debian's
# package); without it that one test skips and says so.
bash scripts/setup-chromium.sh || echo "chromium could not be installed: test_dashboard will skip" >&2
cargo build --release --locked --bin airlock --example fake_providers
cache="${AIRLOCK_CACHE:-$HOME/.cache/airlock}"
target="${CARGO_TARGET_DIR:-$here/target}"
export AIRLOCK_BIN="$target/release/airlock"
export AIRLOCK_FAKES_BIN="$target/release/examples/fake_providers"
export AIRLOCK_E2E_MODEL="$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/e2e "$@"
