#!/usr/bin/env bash
# Soak run: the release gateway at a steady rate for several minutes, all on
# 127.0.0.1, with a mix of fast, slow, streamed and failing upstream calls
# (upstream 500s, 429s, and answers the upstream breaks off halfway). It
# stops by itself and reports requests sent and served, outcomes by kind,
# latency percentiles, and the gateway's resident memory (VmRSS from
# /proc/PID/status) at the start, every --sample-s seconds, and at the end.
# See bench/soak/README.md. Not part of CI (too long); --short is a check.
#
#   bash bench/soak/run.sh                 # 300 s at 200 req/s
#   bash bench/soak/run.sh --short         # 20 s at 200 req/s
#   bash bench/soak/run.sh --duration-s 600 --rate 300 --no-build
#
# Options: --short, --duration-s N, --rate R, --sample-s N (default 10, 2 in
# --short), --mix KIND=W,... (see examples/soak.rs), --no-build, -h.
# Writes bench/soak/out/soak-<time>.json (the report) and .log (airlock's
# log), and copies the report to bench/soak/out/latest.json.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

duration=300
rate=200
sample=10
mix="fast=50,slow=15,stream=20,error500=5,error429=5,broken=5"
build=1
while (($#)); do
  case "$1" in
    --short) duration=20; sample=2 ;;
    --duration-s) duration=$2; shift ;;
    --rate) rate=$2; shift ;;
    --sample-s) sample=$2; shift ;;
    --mix) mix=$2; shift ;;
    --no-build) build=0 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "soak: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

me=soak
# shellcheck source=../lib.sh
source "$root/bench/lib.sh"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
if [[ $build == 1 ]]; then
  cargo build --release --locked --bin airlock --example fake_upstream --example soak
fi
bin="$target_dir/release/airlock"
ex="$target_dir/release/examples"
for f in "$bin" "$ex/fake_upstream" "$ex/soak"; do
  [[ -x $f ]] || { echo "soak: $f is missing (run without --no-build)" >&2; exit 1; }
done

out="$root/bench/soak/out"
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
tmp="$(mktemp -d "${TMPDIR:-/tmp}/airlock-soak.XXXXXX")"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One fake upstream; the model name picks each request's behaviour.
start_upstream up up_pid --chunks 8 --chunk-delay-ms 5 --slow-ms 300 \
  --retry-after-ms 50 --reply-bytes 512 --threads 2 \
  --models soak-fast,soak-slow,soak-error500,soak-error429,soak-broken

port=$(free_port)
# One backend per behaviour (all on the same fake), so a failing one's
# circuit opens on its own and the good backend's never does. Retries and
# circuit breaking are on, as shipped, with shorter waits.
cat >"$tmp/airlock.toml" <<EOF
[server]
listen = "127.0.0.1:$port"

[audit]
path = "$tmp/audit.sqlite"

[retries]
attempts = 2
backoff_ms = 20
max_wait_ms = 1000

[health]
interval_ms = 5000
failure_threshold = 3
open_ms = 2000

[[backends]]
name = "good"
protocol = "openai"
base_url = "http://$up/v1"
tier = "local"
models = ["soak-fast", "soak-slow"]

[[backends]]
name = "err500"
protocol = "openai"
base_url = "http://$up/v1"
tier = "local"
models = ["soak-error500"]

[[backends]]
name = "err429"
protocol = "openai"
base_url = "http://$up/v1"
tier = "local"
models = ["soak-error429"]

[[backends]]
name = "breaks"
protocol = "openai"
base_url = "http://$up/v1"
tier = "local"
models = ["soak-broken"]

[pools]
local = ["good/soak-fast"]

[[rules]]
name = "default"
pool = "local"
EOF

log="$out/soak-$stamp.log"
AIRLOCK_LOG="${AIRLOCK_LOG:-warn}" "$bin" serve --config "$tmp/airlock.toml" 2>"$log" &
apid=$!
pids+=("$apid")
wait_healthy "$apid" "$port" "$log"

report="$out/soak-$stamp.json"
echo "soak: ${duration}s at ${rate} req/s, mix $mix; airlock pid $apid on 127.0.0.1:$port; upstream $up; $(nproc) CPUs" >&2
"$ex/soak" --url "http://127.0.0.1:$port/v1/chat/completions" --rate "$rate" \
  --duration-s "$duration" --mix "$mix" --watch-pid "$apid" --sample-s "$sample" \
  --out "$report" >/dev/null
kill -0 "$apid" 2>/dev/null || { echo "soak: airlock exited during the run" >&2; exit 1; }
cp "$report" "$out/latest.json"

python3 - "$report" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r["memory"]
print(f"\nsoak report {sys.argv[1]} (commit {sys.argv[2]})")
print(f"  {r['duration_s']:.0f} s at {r['rate']:.0f} req/s: {r['sent']} sent ({r['achieved_rate']} req/s achieved), "
      f"{r['answered']} answered, {r['ok']} ok, {r['dropped']} dropped, {r['unfinished']} unfinished")
print(f"  unexpected failures (fast/slow/stream not ok): {r['unexpected_failures']}")
print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in r["outcomes"].items()))
print(f"  {'kind':9} {'sent':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}  outcomes")
for name, k in r["kinds"].items():
    l = k["latency_ms"]
    oc = ", ".join(f"{a} {b}" for a, b in k["outcomes"].items())
    print(f"  {name:9} {k['sent']:>7} {l['p50']!s:>8} {l['p90']!s:>8} {l['p99']!s:>8} {l['max']!s:>8}  {oc}")
rss = [s["rss_kb"] for s in m["samples"] if s.get("rss_kb") is not None]
print(f"  airlock RSS: start {m['rss_kb_start']} KiB, end {m['rss_kb_end']} KiB, "
      f"max sampled {max(rss) if rss else None} KiB, peak (VmHWM) {m['hwm_kb_end']} KiB, CPU {m['cpu_s_end']} s")
print("  RSS samples (s: KiB): " + ", ".join(f"{s['t_s']:.0f}: {s['rss_kb']}" for s in m["samples"]))
PY
