#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this):
#   1. lints (rustfmt, clippy as policy)
#   2. unit + gateway integration tests (cargo test)
#   3. benches in quick mode, so they keep compiling and print rough figures
#   4. end-to-end: release binary + official openai and anthropic SDKs, against a
#      real llama.cpp model and the provider fakes (fake_providers example)
#   5. sensitivity and complexity-routing eval tables on ../shared/eval, when it is there
#   6. load harness short mode (overhead vs direct)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== lint"
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings

echo "== unit and gateway tests (a real redis-server for shared memory)"
bash scripts/setup-redis.sh
cargo test --locked

echo "== benches (quick mode)"
cargo bench --locked --bench classify -- --quick --noplot
cargo bench --locked --bench metrics -- --quick --noplot

echo "== end-to-end (openai and anthropic SDKs; real local model, provider fakes)"
bash scripts/e2e.sh

if [ -d ../shared/eval ]; then
  echo "== sensitivity eval (../shared/eval; figures, not a pass/fail gate)"
  target/release/airlock eval-sensitivity ../shared/eval/pii/*.jsonl \
    ../shared/eval/secrets/*.jsonl ../shared/eval/routing/*.jsonl
fi

if [ -f ../shared/eval/routing/mmlu_routellm.jsonl ]; then
  echo "== complexity routing eval (../shared/eval/routing; figures, not a pass/fail gate)"
  for split in test train; do
    target/release/airlock eval-routing --split "$split" ../shared/eval/routing/mmlu_routellm.jsonl
  done
fi

if [ -x bench/load/run.sh ] || [ -f bench/load/run.sh ]; then
  echo "== load harness (short mode)"
  bash bench/load/run.sh --short
fi
