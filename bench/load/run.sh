#!/usr/bin/env bash
# Load harness: airlock against direct calls to a fake OpenAI upstream, all on
# 127.0.0.1. Builds the release binary and examples once, starts two fake
# upstreams (instant, and 20 ms), writes a temporary airlock config, starts
# `airlock serve`, then runs interleaved direct / through-airlock rounds with
# examples/loadgen.rs. Prints a table; writes raw JSON lines and a summary to
# bench/load/out/ (gitignored). See bench/load/README.md.
#
#   bash bench/load/run.sh --short     # CI: well under a minute once built
#   bash bench/load/run.sh             # full: more rounds, rate sweep, all placements
#   bash bench/load/run.sh --peers     # full, plus LiteLLM proxy side by side; writes BENCHMARKS.md
#
# Options: --short, --no-build (reuse target/release), --peers (full mode
# only: also drives LiteLLM proxy, installed by peers/setup-litellm.sh, in the
# sequential and throughput rows, and regenerates bench/load/BENCHMARKS.md),
# --peers-quick (as --peers, but only the placement probe, the sequential and
# the throughput rows, throughput under the chosen placement and unpinned), -h.
# Environment: AIRLOCK_LOG (airlock's log filter, default info),
# AIRLOCK_CACHE (where the LiteLLM venv lives, default ~/.cache/airlock).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

mode=full
build=1
peers=0
for a in "$@"; do
  case "$a" in
    --short) mode=short ;;
    --no-build) build=0 ;;
    --peers) peers=1 ;;
    --peers-quick) peers=1; mode=peers-quick ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
if [[ $peers == 1 && $mode == short ]]; then
  # CI runs --short; the peer comparison stays out of it (issue 8 part 6).
  echo "run.sh: --peers is for full mode only, not --short" >&2
  exit 2
fi

me=run.sh
# shellcheck source=../lib.sh
source "$root/bench/lib.sh"

t_start=$(date +%s.%N)
if [[ $build == 1 ]]; then
  cargo build --release --locked --bin airlock --examples
fi
bin="$root/target/release/airlock"
ex="$root/target/release/examples"
for f in "$bin" "$ex/fake_upstream" "$ex/loadgen"; do
  [[ -x $f ]] || { echo "run.sh: $f is missing (run without --no-build)" >&2; exit 1; }
done
if [[ $peers == 1 ]]; then
  # Pinned LiteLLM in a venv outside the checkout; the last line is its path.
  ll_venv=$(bash "$root/bench/load/peers/setup-litellm.sh" | tail -n 1)
  [[ -x $ll_venv/bin/litellm ]] || { echo "run.sh: no litellm in $ll_venv" >&2; exit 1; }
fi
t_built=$(date +%s.%N)

out="$root/bench/load/out"
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw="$out/raw-$mode-$stamp.jsonl"
summary="$out/summary-$mode-$stamp.json"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/airlock-load.XXXXXX")"

pids=()
ll_pid=
cleanup() {
  local p
  if [[ -n $ll_pid ]]; then
    # LiteLLM runs in its own session (setsid): stop its whole process group,
    # give it up to 5 s to shut down, then kill what is left of the group.
    kill -- "-$ll_pid" 2>/dev/null || kill "$ll_pid" 2>/dev/null || true
    for p in $(seq 50); do
      kill -0 "$ll_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 -- "-$ll_pid" 2>/dev/null || true
    wait "$ll_pid" 2>/dev/null || true
  fi
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

emit() { printf '%s\n' "$1" >>"$raw"; }

# Streamed answers: 8 content chunks, 2 ms apart.
start_upstream fast_addr fast_pid --chunks 8 --chunk-delay-ms 2 --models fake-fast
start_upstream slow_addr slow_pid --response-delay-ms 20 --models fake-slow

port=$(free_port)
cat >"$tmp/airlock.toml" <<EOF
[server]
listen = "127.0.0.1:$port"

[audit]
path = "$tmp/audit.sqlite"

[[backends]]
name = "fast"
protocol = "openai"
base_url = "http://$fast_addr/v1"
tier = "local"
models = ["fake-fast"]

[[backends]]
name = "slow"
protocol = "openai"
base_url = "http://$slow_addr/v1"
tier = "local"
models = ["fake-slow"]

[pools]
local = ["fast/fake-fast"]
slow = ["slow/fake-slow"]

[[rules]]
name = "default"
pool = "local"
EOF

AIRLOCK_LOG="${AIRLOCK_LOG:-info}" "$bin" serve --config "$tmp/airlock.toml" 2>"$tmp/airlock.log" &
apid=$!
pids+=("$apid")
wait_healthy "$apid" "$port" "$tmp/airlock.log"

direct_fast="http://$fast_addr/v1/chat/completions"
direct_slow="http://$slow_addr/v1/chat/completions"
gw="http://127.0.0.1:$port/v1/chat/completions"

# LiteLLM proxy (peers): one uvicorn worker, the same two fake upstreams under
# the model names the requests use ("auto" for the sequential rows, "slow"
# for throughput), a dummy key, no database, no callbacks, no telemetry, and
# every remote fetch it would make at startup switched to its bundled copy.
# It gets a clean environment (env -i) so no API key, proxy, DATABASE_URL or
# callback setting of this shell reaches it, and a HOME in the temp dir.
peer_seq=()
peer_tput=()
ll_version=
if [[ $peers == 1 ]]; then
  ll_port=$(free_port)
  mkdir -p "$tmp/litellm-home"
  cat >"$tmp/litellm.yaml" <<EOF
model_list:
  - model_name: auto
    litellm_params:
      model: openai/fake-fast
      api_base: http://$fast_addr/v1
      api_key: sk-dummy-not-a-real-key
  - model_name: slow
    litellm_params:
      model: openai/fake-slow
      api_base: http://$slow_addr/v1
      api_key: sk-dummy-not-a-real-key
litellm_settings:
  telemetry: false
  callbacks: []
  success_callback: []
  failure_callback: []
general_settings: {}
EOF
  ll_version=$("$ll_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')
  ll_t0=$(date +%s.%N)
  env -i PATH="$ll_venv/bin:/usr/bin:/bin" HOME="$tmp/litellm-home" LANG=C.UTF-8 \
    NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
    LITELLM_TELEMETRY=False LITELLM_LOG=ERROR DISABLE_ADMIN_UI=True \
    LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOCAL_POLICY_TEMPLATES=True \
    LITELLM_LOCAL_BLOG_POSTS=True LITELLM_LOCAL_AUTOROUTER_PRESETS=True \
    LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS=True HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    setsid "$ll_venv/bin/litellm" --config "$tmp/litellm.yaml" --host 127.0.0.1 --port "$ll_port" \
    --num_workers 1 --telemetry False >"$tmp/litellm.log" 2>&1 &
  ll_pid=$!
  ready=0
  for i in $(seq 600); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$ll_port/health/readiness', timeout=1)" 2>/dev/null; then
      ready=1
      break
    fi
    kill -0 "$ll_pid" 2>/dev/null || break
    sleep 0.2
  done
  if [[ $ready != 1 ]]; then
    echo "run.sh: LiteLLM did not become ready; its log:" >&2
    tail -n 30 "$tmp/litellm.log" >&2
    exit 1
  fi
  ll_ready_s=$(python3 -c 'import sys, time; print(round(time.time() - float(sys.argv[1]), 1))' "$ll_t0")
  ll="http://127.0.0.1:$ll_port/v1/chat/completions"
  peer_seq=(--target "litellm=$ll")
  peer_tput=(--target "litellm=$ll")
fi

ncpu=$(nproc)
gw_cpu=1
rig_cpu=0
if ((ncpu >= 2)); then
  placements="unpinned split shared"
else
  placements="unpinned"
fi
all_cpus="0-$((ncpu - 1))"

# Pins airlock (all its threads) and the rig (upstreams, later loadgen).
lg_cpus=$all_cpus
place() {
  local gw_set rig_set p
  case "$1" in
    unpinned) gw_set=$all_cpus; rig_set=$all_cpus ;;
    split) gw_set=$gw_cpu; rig_set=$rig_cpu ;;
    shared) gw_set=$rig_cpu; rig_set=$rig_cpu ;;
  esac
  taskset -a -cp "$gw_set" "$apid" >/dev/null
  # A peer gateway sits where airlock sits.
  [[ -z $ll_pid ]] || taskset -a -cp "$gw_set" "$ll_pid" >/dev/null
  for p in "$fast_pid" "$slow_pid"; do
    taskset -a -cp "$rig_set" "$p" >/dev/null
  done
  lg_cpus=$rig_set
  current_place=$1
}

lg() {
  local label=$1
  shift
  taskset -c "$lg_cpus" "$ex/loadgen" --label "$label" "$@" >>"$raw"
  emit "{\"kind\":\"placement\",\"label\":\"$label\",\"placement\":\"$current_place\"}"
}

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/${1:-$apid}/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/${1:-$apid}/status"; }

# Runs loadgen and records airlock's (and LiteLLM's) CPU ticks around it.
lg_cpu() {
  local label=$1 before after llb lla
  before=$(cpu_ticks)
  [[ -z $ll_pid ]] || llb=$(cpu_ticks "$ll_pid")
  lg "$@"
  after=$(cpu_ticks)
  emit "{\"kind\":\"cpu\",\"label\":\"$label\",\"ticks_before\":$before,\"ticks_after\":$after,\"clk_tck\":$clk_tck}"
  if [[ -n $ll_pid ]]; then
    lla=$(cpu_ticks "$ll_pid")
    emit "{\"kind\":\"cpu\",\"target\":\"litellm\",\"label\":\"$label\",\"ticks_before\":$llb,\"ticks_after\":$lla,\"clk_tck\":$clk_tck}"
  fi
}

if [[ $mode == short ]]; then
  probe=(--rounds 4 --requests 150 --warmup 30)
  seq_args=(--rounds 6 --requests 500 --warmup 50)
  stream_args=(--rounds 4 --requests 25 --warmup 5)
  open_rate=1000
  open_args=(--rounds 2 --duration-s 1.5 --requests 100000 --warmup 50)
  tput_args=(--rounds 2 --duration-s 2 --requests 1000000 --warmup 64)
  tput_places=chosen+unpinned
  cap=60
else
  probe=(--rounds 10 --requests 300 --warmup 100)
  seq_args=(--rounds 20 --requests 1000 --warmup 200)
  stream_args=(--rounds 10 --requests 50 --warmup 10)
  open_rate=1000
  open_args=(--rounds 4 --duration-s 3 --requests 1000000 --warmup 200)
  tput_args=(--rounds 6 --duration-s 5 --requests 10000000 --warmup 200)
  tput_places=$placements
  cap=300
fi
if [[ $mode == peers-quick ]]; then
  tput_places=chosen+unpinned
fi

emit "$(python3 -c 'import json,sys,platform,datetime; print(json.dumps({"kind":"meta","mode":sys.argv[1],"cpus":int(sys.argv[2]),"kernel":platform.release(),"date":datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),"commit":sys.argv[3],"log":sys.argv[4],"open_rate":int(sys.argv[5]),"gw_cpu":int(sys.argv[6]),"rig_cpu":int(sys.argv[7])}))' \
  "$mode" "$ncpu" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo +dirty)" "${AIRLOCK_LOG:-info}" "$open_rate" "$gw_cpu" "$rig_cpu")"
if [[ $peers == 1 ]]; then
  # Machine and versions, for BENCHMARKS.md.
  emit "$(python3 - "$("$bin" --version 2>/dev/null || echo airlock unknown)" "$(rustc -V 2>/dev/null || echo unknown)" \
    "$ll_version" "$("$ll_venv/bin/python" -V 2>&1)" "$("$ll_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("uvicorn"))')" \
    "$ll_venv" "$ll_ready_s" "$*" <<'PY'
import json, os, platform, sys
def cpuinfo():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
def mem_gb():
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        return None
def os_name():
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        return platform.system()
a = sys.argv[1:]
print(json.dumps({"kind": "machine", "cpu_model": cpuinfo(), "cpus": os.cpu_count(), "mem_gb": mem_gb(),
                  "os": os_name(), "kernel": platform.release(), "airlock": a[0], "rustc": a[1],
                  "litellm": a[2], "litellm_python": a[3], "uvicorn": a[4],
                  "litellm_venv": a[5].replace(os.path.expanduser("~"), "~"), "litellm_ready_s": float(a[6]),
                  "litellm_workers": 1, "args": a[7]}))
PY
)"
fi

# Idle memory: started, healthy, no request served yet.
sleep 0.5
emit "{\"kind\":\"rss\",\"label\":\"idle\",\"kb\":$(rss_kb)}"
[[ -z $ll_pid ]] || emit "{\"kind\":\"rss\",\"target\":\"litellm\",\"label\":\"idle\",\"kb\":$(rss_kb "$ll_pid")}"

echo "run.sh: $mode mode; airlock pid $apid on 127.0.0.1:$port; upstreams $fast_addr (instant), $slow_addr (20 ms)" >&2

# 1. Placement probe: sequential 1 KB under each placement; keep the one
#    with the lowest through-airlock p50 for the sequential figures.
for p in $placements; do
  place "$p"
  lg "probe@$p" --target "direct=$direct_fast" --target "airlock=$gw" --mode seq --prompt-bytes 1024 "${probe[@]}" --max-total-s "$cap"
done
chosen=$(python3 - "$raw" <<'PY'
import json, sys
best = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("target") == "airlock" and d.get("label", "").startswith("probe@"):
        best[d["label"][6:]] = d["latency_us"]["p50"]
print(min(best, key=best.get))
PY
)
emit "{\"kind\":\"placement\",\"label\":\"chosen\",\"placement\":\"$chosen\"}"
place "$chosen"

# 2. Sequential overhead, 1 KB and 16 KB prompts, classification on.
#    With --peers, LiteLLM is a third target in the same rounds (each round
#    runs direct, airlock, litellm, then the reverse order the next round).
#    A seq run per target per round stops at 1000 requests or 2 s, so
#    LiteLLM (~10 ms a request) gets fewer samples per round than the others.
lg_cpu seq1k --target "direct=$direct_fast" --target "airlock=$gw" "${peer_seq[@]}" --mode seq --prompt-bytes 1024 "${seq_args[@]}" --max-total-s "$cap"
lg_cpu seq16k --target "direct=$direct_fast" --target "airlock=$gw" "${peer_seq[@]}" --mode seq --prompt-bytes 16384 "${seq_args[@]}" --max-total-s "$cap"

if [[ $mode != peers-quick ]]; then
  # 3. Streaming: time to first chunk, chunk gaps, whole answer.
  lg stream --target "direct=$direct_fast" --target "airlock=$gw" --mode seq --stream --prompt-bytes 1024 "${stream_args[@]}" --max-total-s "$cap"

  # 4. Open loop at a fixed rate against the instant upstream.
  lg open --target "direct=$direct_fast" --target "airlock=$gw" --mode open --rate "$open_rate" --prompt-bytes 1024 "${open_args[@]}" --max-total-s "$cap"
fi

# 5. Throughput at concurrency 32 against the 20 ms upstream, with RSS sampled under load.
if [[ $tput_places == chosen+unpinned ]]; then
  tput_places=$chosen
  [[ $chosen == unpinned ]] || tput_places="$chosen unpinned"
fi
echo 0 >"$tmp/rss_max"
echo 0 >"$tmp/rss_max_ll"
for p in $tput_places; do
  place "$p"
  (
    max=0
    llmax=$(cat "$tmp/rss_max_ll")
    # Bounded: stops with airlock, or after 20 minutes at most.
    for _ in $(seq 12000); do
      kill -0 "$apid" 2>/dev/null || break
      v=$(rss_kb 2>/dev/null || echo 0)
      if ((v > max)); then max=$v; echo "$max" >"$tmp/rss_max"; fi
      if [[ -n $ll_pid ]]; then
        v=$(rss_kb "$ll_pid" 2>/dev/null || echo 0)
        if ((v > llmax)); then llmax=$v; echo "$llmax" >"$tmp/rss_max_ll"; fi
      fi
      sleep 0.1
    done
  ) &
  sampler=$!
  pids+=("$sampler")
  lg_cpu "tput@$p" --target "direct=$direct_slow" --target "airlock=$gw" "${peer_tput[@]}" --mode closed --concurrency 32 --model slow --prompt-bytes 1024 "${tput_args[@]}" --max-total-s "$cap"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
done
emit "{\"kind\":\"rss\",\"label\":\"load_max\",\"kb\":$(cat "$tmp/rss_max")}"
[[ -z $ll_pid ]] || emit "{\"kind\":\"rss\",\"target\":\"litellm\",\"label\":\"load_max\",\"kb\":$(cat "$tmp/rss_max_ll")}"
emit "{\"kind\":\"placement\",\"label\":\"rss_load\",\"placement\":\"${tput_places// /+}\"}"

# 6. Full mode only: open-loop rate sweep to saturation (instant upstream).
if [[ $mode == full ]]; then
  place "$chosen"
  for rate in 500 1000 2000 4000 8000 16000 32000; do
    lg "sweep@$rate" --target "direct=$direct_fast" --target "airlock=$gw" --mode open --rate "$rate" --prompt-bytes 1024 --rounds 2 --duration-s 3 --requests 10000000 --warmup 100 --max-total-s "$cap"
    emit "{\"kind\":\"placement\",\"label\":\"sweep\",\"placement\":\"$chosen\"}"
    if ! python3 - "$raw" "$rate" <<'PY'; then break; fi
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("label") == f"sweep@{sys.argv[2]}" and d.get("target") == "airlock":
        ok = d["rate_achieved"] >= 0.95 * d["rate_target"] and d["errors"] <= 0.01 * max(d["count"], 1)
        sys.exit(0 if ok else 1)
PY
  done
fi

sleep 1
emit "{\"kind\":\"rss\",\"label\":\"idle_after\",\"kb\":$(rss_kb)}"
[[ -z $ll_pid ]] || emit "{\"kind\":\"rss\",\"target\":\"litellm\",\"label\":\"idle_after\",\"kb\":$(rss_kb "$ll_pid")}"

t_measured=$(date +%s.%N)
report_args=()
if [[ $peers == 1 ]]; then
  # Anything LiteLLM logged at ERROR (it runs with LITELLM_LOG=ERROR).
  grep -c -i -E 'error|exception|traceback' "$tmp/litellm.log" >"$tmp/ll_errs" || true
  emit "{\"kind\":\"peer_log\",\"target\":\"litellm\",\"error_lines\":$(cat "$tmp/ll_errs")}"
  report_args=(--benchmarks "$root/bench/load/BENCHMARKS.md"
    --wall-s "$(python3 -c 'import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))' "$t_built" "$t_measured")")
fi
python3 "$root/bench/load/report.py" "$raw" "$summary" "${report_args[@]}"
cp "$raw" "$out/latest-$mode.jsonl"
cp "$summary" "$out/latest-$mode-summary.json"
t_end=$(date +%s.%N)
python3 -c 'import sys; b, m, e = map(float, sys.argv[1:4]); print(f"\nwall time: {e - m:.1f} s measuring, {m - b:.1f} s building; raw {sys.argv[4]}; summary {sys.argv[5]}")' \
  "$t_start" "$t_built" "$t_end" "${raw#"$root"/}" "${summary#"$root"/}"
