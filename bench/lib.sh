# Shared start-up of the load harness (bench/load/run.sh) and the soak run
# (bench/soak/run.sh): no proxy, a free port, a fake upstream, a gateway
# that answers /healthz. Sourced, not run. The caller sets `tmp` (a temp
# dir), `ex` (the examples dir), `pids` (an array of children to stop) and
# `me` (its name, for messages) before calling these.

# Everything is loopback; no proxy may sit in between.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

# A TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts a fake upstream with the flags after the first two arguments; its
# first stdout line is its address. Sets the variables named by $1
# (address) and $2 (pid), and adds the pid to `pids`.
start_upstream() {
  local -n addr_ref=$1 pid_ref=$2
  shift 2
  local name="$tmp/upstream-$RANDOM"
  "$ex/fake_upstream" --port 0 "$@" >"$name.out" 2>"$name.err" &
  pid_ref=$!
  pids+=("$pid_ref")
  local i
  for i in $(seq 100); do
    if [[ -s $name.out ]]; then
      addr_ref=$(head -n 1 "$name.out")
      return 0
    fi
    sleep 0.05
  done
  echo "$me: fake upstream did not start" >&2
  cat "$name.err" >&2
  exit 1
}

# Waits up to 10 s for the gateway (pid $1) to answer /healthz on port $2;
# exits with the tail of its log ($3) when it does not.
wait_healthy() {
  local apid=$1 port=$2 log=$3 i
  for i in $(seq 200); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null; then
      return 0
    fi
    kill -0 "$apid" 2>/dev/null || break
    sleep 0.05
  done
  echo "$me: airlock did not become healthy; its log:" >&2
  tail -n 30 "$log" >&2
  exit 1
}
