#!/usr/bin/env bash
# A longer fuzz run than the bounded one `cargo test` makes in CI: every
# target of src/fuzz (request parsing, the SSE / NDJSON / event-stream
# decoders, each provider's stream translator, the sensitivity scanner) for
# SECONDS each, from a fresh seed, built optimised with overflow checks and
# debug assertions on (the `fuzz` profile). The corpus under
# tests/fuzz/corpus/<target>/ is replayed first.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET_FILTER]
#     SECONDS_PER_TARGET  default 60
#     TARGET_FILTER       a substring of target names (e.g. stream_), default all
#   env: AIRLOCK_FUZZ_SEED (default: from the clock), FUZZ_JOBS (targets run
#        at once, default 2)
#
# A failure is shrunk and saved under target/fuzz-artifacts/ (the path is
# printed); once the bug is fixed, copy the file into the target's corpus
# directory so every later run replays it. The figures (executions per
# target, crashes) go to stdout and to target/fuzz-report.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
filter="${2:-}"
seed="${AIRLOCK_FUZZ_SEED:-$(date +%s)}"
jobs="${FUZZ_JOBS:-2}"
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir/fuzz-artifacts"
report="$target_dir/fuzz-report.txt"
log="$target_dir/fuzz-run.log"

echo "== fuzz: ${seconds}s per target, seed $seed, $jobs at a time, filter '${filter}'"
status=0
AIRLOCK_FUZZ_SECONDS="$seconds" AIRLOCK_FUZZ_CASES=2000 AIRLOCK_FUZZ_SEED="$seed" \
  AIRLOCK_FUZZ_ARTIFACTS="$target_dir/fuzz-artifacts" RUST_BACKTRACE=0 \
  cargo test --locked --profile fuzz --lib "fuzz::tests::${filter}" -- \
  --nocapture --test-threads "$jobs" >"$log" 2>&1 || status=$?

{
  echo "fuzz run $(date -u +%Y-%m-%dT%H:%M:%SZ), seed $seed, ${seconds}s per target, $(nproc) cores"
  grep -E '^fuzz [a-z_]+: ' "$log" || true
  grep -E '^fuzz [a-z_]+ \(seed' "$log" || true
  grep -E '^test result' "$log" || true
} | tee "$report"
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED (see $log; inputs under $target_dir/fuzz-artifacts/)" >&2
fi
exit "$status"
