#!/usr/bin/env python3
"""Turns the raw JSON lines of one bench/load/run.sh run into a summary JSON
and a readable table on stdout. Standard library only.

Raw lines are either loadgen output (one per target: "label", "target", ...)
or harness records with a "kind" (meta, machine, placement, cpu, rss,
peer_log). A record with "target": "litellm" is about the LiteLLM proxy
(run.sh --peers); one without a target is about airlock.

    report.py RAW SUMMARY [--benchmarks BENCHMARKS.md --wall-s SECONDS]

With --benchmarks (run.sh --peers does it), also writes that Markdown file:
machine, versions, commands and the airlock vs direct vs LiteLLM table."""

import argparse
import json
import statistics
import sys

TARGETS = {  # issue 8, part 5 (2-core machine, classification on)
    "seq16k_p50_overhead_us": 150.0,
    "seq16k_p99_overhead_us": 1000.0,
    "throughput_ratio_min": 0.9,
    "idle_rss_mb_max": 30.0,
    "litellm_over_airlock_overhead_min": 50.0,  # "at least 50 times less overhead than LiteLLM"
}

PEER = "litellm"


def load(path):
    runs, recs = {}, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            d = json.loads(line)
            if "kind" in d:
                recs.append(d)
            else:
                runs.setdefault(d["label"], {})[d["target"]] = d
    return runs, recs


def pcts(d, key="latency_us"):
    v = d.get(key) or {}
    return {k: v.get(k) for k in ("p50", "p90", "p99", "max")}


def delta(a, b):
    return {k: round(b[k] - a[k], 1) if a[k] is not None and b[k] is not None else None for k in a}


def pair(runs, label, key="latency_us"):
    r = runs.get(label)
    if not r or "direct" not in r or "airlock" not in r:
        return None
    d, a = r["direct"], r["airlock"]
    out = {
        "direct": pcts(d, key),
        "airlock": pcts(a, key),
        "count": {"direct": d["count"], "airlock": a["count"]},
        "errors": {"direct": d["errors"], "airlock": a["errors"]},
        "first_error": a.get("first_error") or d.get("first_error"),
    }
    out["overhead"] = delta(out["direct"], out["airlock"])
    if key == "latency_us":
        rd, ra = d.get("round_p50_us", []), a.get("round_p50_us", [])
        if rd and len(rd) == len(ra):
            out["p50_overhead_median_of_rounds"] = round(
                statistics.median(y - x for x, y in zip(rd, ra)), 1)
    if PEER in r:
        add_peer(out, d, r[PEER], key)
    return out


def ratio(num, den):
    """num / den, or None where den is not a positive overhead (noise can make
    airlock's percentile difference zero or negative: no ratio is meaningful)."""
    if num is None or den is None or den <= 0:
        return None
    return round(num / den, 1)


def add_peer(out, d, p, key):
    """Adds the peer's percentiles, its overhead over direct, and the ratio of
    its overhead to airlock's, to a pair() result."""
    out[PEER] = pcts(p, key)
    out["count"][PEER] = p["count"]
    out["errors"][PEER] = p["errors"]
    out["first_error"] = out["first_error"] or p.get("first_error")
    out[PEER + "_overhead"] = delta(out["direct"], out[PEER])
    out["ratio_" + PEER + "_over_airlock"] = {
        k: ratio(out[PEER + "_overhead"][k], out["overhead"][k]) for k in ("p50", "p90", "p99")}
    if key == "latency_us":
        rd, rp = d.get("round_p50_us", []), p.get("round_p50_us", [])
        if rd and len(rd) == len(rp):
            out[PEER + "_p50_overhead_median_of_rounds"] = round(
                statistics.median(y - x for x, y in zip(rd, rp)), 1)
            if "p50_overhead_median_of_rounds" in out:
                out["ratio_" + PEER + "_over_airlock"]["p50_median_of_rounds"] = ratio(
                    out[PEER + "_p50_overhead_median_of_rounds"], out["p50_overhead_median_of_rounds"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("raw")
    ap.add_argument("summary")
    ap.add_argument("--benchmarks", help="also write this Markdown file (run.sh --peers)")
    ap.add_argument("--wall-s", type=float, help="measuring wall time, for --benchmarks")
    args = ap.parse_args()
    raw, out_path = args.raw, args.summary
    runs, recs = load(raw)
    meta = next((r for r in recs if r["kind"] == "meta"), {})
    machine = next((r for r in recs if r["kind"] == "machine"), None)
    placement = {r["label"]: r["placement"] for r in recs if r["kind"] == "placement"}
    cpu = {r["label"]: r for r in recs if r["kind"] == "cpu" and "target" not in r}
    cpu_peer = {r["label"]: r for r in recs if r["kind"] == "cpu" and r.get("target") == PEER}
    rss = {r["label"]: r["kb"] for r in recs if r["kind"] == "rss" and "target" not in r}
    rss_peer = {r["label"]: r["kb"] for r in recs if r["kind"] == "rss" and r.get("target") == PEER}
    peer_log = next((r for r in recs if r["kind"] == "peer_log"), None)

    s = {"meta": meta, "placement": placement, "figures": {}, "targets": {}}
    if machine:
        s["machine"] = machine
    if peer_log:
        s["peer_log"] = peer_log
    fig = s["figures"]

    probes = {}
    for label, r in runs.items():
        if label.startswith("probe@") and "direct" in r and "airlock" in r:
            p = pair(runs, label)
            probes[label.split("@", 1)[1]] = {
                "direct_p50": p["direct"]["p50"], "airlock_p50": p["airlock"]["p50"],
                "overhead_p50": p["overhead"]["p50"]}
    fig["placement_probe_seq_1k"] = probes

    for label in ("seq1k", "seq16k", "open"):
        p = pair(runs, label)
        if p:
            fig[label] = p
    if "stream" in runs:
        fig["stream"] = {
            "ttfb": pair(runs, "stream", "ttfb_us"),
            "chunk_gap": pair(runs, "stream", "chunk_gap_us"),
            "total": pair(runs, "stream"),
        }
    for label, r in runs.items():
        if label.startswith("tput@") and "direct" in r and "airlock" in r:
            d, a = r["direct"]["rate_achieved"], r["airlock"]["rate_achieved"]
            fig[label] = {"direct_rps": d, "airlock_rps": a,
                          "ratio": round(a / d, 3) if d else None,
                          "concurrency": r["airlock"].get("concurrency"),
                          "errors": {"direct": r["direct"]["errors"], "airlock": r["airlock"]["errors"]},
                          "airlock_latency_us": pcts(r["airlock"]), "direct_latency_us": pcts(r["direct"])}
            if PEER in r:
                pr = r[PEER]["rate_achieved"]
                fig[label].update({PEER + "_rps": pr, PEER + "_ratio": round(pr / d, 3) if d else None,
                                   PEER + "_latency_us": pcts(r[PEER])})
                fig[label]["errors"][PEER] = r[PEER]["errors"]
                if r[PEER].get("first_error"):
                    fig[label]["first_error"] = r[PEER]["first_error"]
        if label.startswith("sweep@") and "airlock" in r:
            fig.setdefault("sweep", []).append({
                "rate": r["airlock"].get("rate_target"),
                "direct_rps": r.get("direct", {}).get("rate_achieved"),
                "airlock_rps": r["airlock"]["rate_achieved"],
                "direct_p99": pcts(r["direct"])["p99"] if "direct" in r else None,
                "airlock_p99": pcts(r["airlock"])["p99"],
                "airlock_errors": r["airlock"]["errors"]})

    def cpu_per_request(recs_by_label, target):
        out = {}
        for label, c in recs_by_label.items():
            a = runs.get(label, {}).get(target)
            if a and a["sent_total"]:
                us = (c["ticks_after"] - c["ticks_before"]) * 1e6 / c["clk_tck"] / a["sent_total"]
                out[label] = {"us_per_request": round(us, 1), "requests": a["sent_total"],
                              "ticks": c["ticks_after"] - c["ticks_before"], "clk_tck": c["clk_tck"]}
        return out

    fig["cpu"] = cpu_per_request(cpu, "airlock")
    fig["rss_mb"] = {k: round(v / 1024, 1) for k, v in rss.items()}
    if cpu_peer:
        fig["cpu_" + PEER] = cpu_per_request(cpu_peer, PEER)
    if rss_peer:
        fig["rss_mb_" + PEER] = {k: round(v / 1024, 1) for k, v in rss_peer.items()}

    t = s["targets"]
    if "seq16k" in fig:
        o = fig["seq16k"]["overhead"]
        t["seq16k_p50_overhead_us"] = {"value": o["p50"], "max": TARGETS["seq16k_p50_overhead_us"],
                                       "met": o["p50"] <= TARGETS["seq16k_p50_overhead_us"]}
        t["seq16k_p99_overhead_us"] = {"value": o["p99"], "max": TARGETS["seq16k_p99_overhead_us"],
                                       "met": o["p99"] <= TARGETS["seq16k_p99_overhead_us"]}
    tputs = [v for k, v in fig.items() if k.startswith("tput@")]
    if tputs:
        worst = min(v["ratio"] for v in tputs)
        t["throughput_ratio"] = {"value": worst, "min": TARGETS["throughput_ratio_min"],
                                 "met": worst >= TARGETS["throughput_ratio_min"]}
    if "idle" in fig["rss_mb"]:
        v = fig["rss_mb"]["idle"]
        t["idle_rss_mb"] = {"value": v, "max": TARGETS["idle_rss_mb_max"],
                            "met": v < TARGETS["idle_rss_mb_max"]}
    # LiteLLM overhead / airlock overhead at p50, sequential, both prompt
    # sizes; the target takes the smaller of the two. A missing ratio (airlock
    # overhead <= 0, i.e. below the noise) counts as met only if LiteLLM's
    # overhead is positive.
    rs = []
    for label in ("seq1k", "seq16k"):
        f = fig.get(label, {})
        if PEER in f:
            r = f["ratio_" + PEER + "_over_airlock"]["p50"]
            if r is None and (f[PEER + "_overhead"]["p50"] or 0) > 0:
                r = float("inf")
            rs.append(r)
    if rs and all(r is not None for r in rs):
        worst = min(rs)
        t["litellm_over_airlock_overhead_p50"] = {
            "value": worst if worst != float("inf") else None,
            "min": TARGETS["litellm_over_airlock_overhead_min"],
            "met": worst >= TARGETS["litellm_over_airlock_overhead_min"]}

    with open(out_path, "w") as f:
        json.dump(s, f, indent=2)
    print_table(s)
    if args.benchmarks:
        write_benchmarks(s, args.benchmarks, args.wall_s)


def fmt3(p):
    if not p:
        return "-"
    return "/".join("-" if p[k] is None else f"{p[k]:.0f}" for k in ("p50", "p90", "p99"))


def fmt3d(p):
    if not p:
        return "-"
    return "/".join("-" if p[k] is None else f"{p[k]:+.0f}" for k in ("p50", "p90", "p99"))


def print_table(s):
    m, fig, pl = s["meta"], s["figures"], s["placement"]
    print()
    print(f"airlock load harness ({m.get('mode', '?')} mode)  {m.get('date', '')}")
    print(f"  {m.get('cpus', '?')} CPUs, {m.get('kernel', '')}; airlock {m.get('commit', '')}; "
          f"log level {m.get('log', 'info')}")
    print(f"  placements: unpinned = all on all CPUs; split = airlock on CPU {m.get('gw_cpu', 1)}, "
          f"upstream+loadgen on CPU {m.get('rig_cpu', 0)}; shared = all on CPU {m.get('rig_cpu', 0)}")
    if fig.get("placement_probe_seq_1k"):
        print("  placement probe (seq 1 KB, p50 us: direct / airlock / overhead):")
        for k, v in fig["placement_probe_seq_1k"].items():
            print(f"    {k:9s} {v['direct_p50']:8.0f} {v['airlock_p50']:8.0f} {v['overhead_p50']:+8.0f}")
        print(f"  chosen: {pl.get('chosen', '?')} (lowest airlock p50)")
    print()
    w = 38
    peer = any(isinstance(v, dict) and PEER in v for v in fig.values())
    head = f"{'figure (us unless said)':{w}s} {'placement':10s} {'direct':>17s} {'airlock':>17s} {'airlock-direct':>17s}"
    if peer:
        head += f" {'litellm':>20s} {'litellm-direct':>20s} {'ll/airlock ovh':>16s}"
    print(head)
    print("-" * len(head))

    def row(name, place, p):
        if not p:
            return
        line = f"{name:{w}s} {place:10s} {fmt3(p['direct']):>17s} {fmt3(p['airlock']):>17s} {fmt3d(p['overhead']):>17s}"
        if PEER in p:
            r = p["ratio_" + PEER + "_over_airlock"]
            rr = "/".join("-" if r[k] is None else f"{r[k]:.0f}" for k in ("p50", "p90", "p99"))
            line += f" {fmt3(p[PEER]):>20s} {fmt3d(p[PEER + '_overhead']):>20s} {rr + 'x':>16s}"
        print(line)

    row("seq 1 KB p50/p90/p99", pl.get("seq1k", "-"), fig.get("seq1k"))
    row("seq 16 KB p50/p90/p99", pl.get("seq16k", "-"), fig.get("seq16k"))
    st = fig.get("stream")
    if st:
        row("stream time to 1st chunk p50/90/99", pl.get("stream", "-"), st["ttfb"])
        row("stream chunk gap p50/90/99", pl.get("stream", "-"), st["chunk_gap"])
        row("stream whole answer p50/90/99", pl.get("stream", "-"), st["total"])
    o = fig.get("open")
    if o:
        row(f"open loop {s['meta'].get('open_rate', '?')} req/s p50/90/99", pl.get("open", "-"), o)
    for k, v in fig.items():
        if k.startswith("tput@"):
            line = (f"{'throughput c=' + str(v['concurrency']) + ', 20 ms upstream':{w}s} {k[5:]:10s} "
                    f"{v['direct_rps']:>13.0f} r/s {v['airlock_rps']:>13.0f} r/s {'ratio ' + format(v['ratio'], '.3f'):>17s}")
            if PEER + "_rps" in v:
                line += f" {v[PEER + '_rps']:>16.0f} r/s {'ratio ' + format(v[PEER + '_ratio'], '.3f'):>20s}"
            print(line)
    for v in fig.get("sweep", []):
        print(f"{'sweep ' + str(int(v['rate'])) + ' req/s: achieved, p99':{w}s} {pl.get('sweep', '-'):10s} "
              f"{(v['direct_rps'] or 0):>8.0f} {(v['direct_p99'] or 0):>8.0f} {v['airlock_rps']:>8.0f} {v['airlock_p99']:>8.0f}")
    for k, v in fig.get("cpu", {}).items():
        print(f"{'airlock CPU per request, ' + k:{w}s} {pl.get(k, '-'):10s} {'':>17s} {v['us_per_request']:>17.1f}"
              f"   ({v['ticks']} ticks / {v['requests']} req)")
    for k, v in fig.get("cpu_" + PEER, {}).items():
        print(f"{'litellm CPU per request, ' + k:{w}s} {pl.get(k, '-'):10s} {'':>17s} {v['us_per_request']:>17.1f}"
              f"   ({v['ticks']} ticks / {v['requests']} req)")
    r = fig.get("rss_mb", {})
    if r:
        print(f"{'airlock RSS MB idle / load / after':{w}s} {pl.get('rss_load', '-'):10s} {'':>17s} "
              f"{r.get('idle', 0):>5.1f} / {r.get('load_max', 0):>4.1f} / {r.get('idle_after', 0):>4.1f}")
    r = fig.get("rss_mb_" + PEER, {})
    if r:
        print(f"{'litellm RSS MB idle / load / after':{w}s} {pl.get('rss_load', '-'):10s} {'':>17s} "
              f"{r.get('idle', 0):>5.1f} / {r.get('load_max', 0):>4.1f} / {r.get('idle_after', 0):>4.1f}")
    errs = {k: v["errors"] for k, v in fig.items() if isinstance(v, dict) and "errors" in v}
    bad = {k: v for k, v in errs.items() if any(v.values())}
    print()
    if bad:
        print(f"ERRORS: {bad}")
    for k, v in s["targets"].items():
        bound = f"<= {v['max']}" if "max" in v else f">= {v['min']}"
        print(f"target {k}: {v['value']} ({bound}) {'met' if v['met'] else 'MISSED'}")


def _n(v, fmt="{:.0f}"):
    return "-" if v is None else fmt.format(v)


def _d(v):
    return "-" if v is None else f"{v:+.0f}"


def _x(v):
    return "-" if v is None else f"{v:.0f}x"


def write_benchmarks(s, path, wall_s):
    """BENCHMARKS.md: machine, versions, commands, and the airlock vs direct vs
    LiteLLM table, from one run.sh --peers run."""
    m, fig, pl, mc = s["meta"], s["figures"], s["placement"], s.get("machine", {})
    L = []
    a = L.append
    mode = m.get("mode", "?")
    cmd = "bash bench/load/run.sh --peers-quick" if mode == "peers-quick" else "bash bench/load/run.sh --peers"
    a("# airlock benchmarks: overhead against direct calls and LiteLLM proxy")
    a("")
    a(f"Generated by `{cmd}` ({m.get('date', '?')}); `bench/load/report.py` writes this file "
      "from the run's raw lines, so rerun the command rather than editing it. Issue 8; method in "
      "[README.md](README.md).")
    a("")
    a("## Machine")
    a("")
    a(f"- {mc.get('cpu_model', '?')}, {mc.get('cpus', m.get('cpus', '?'))} CPUs, {mc.get('mem_gb', '?')} GB; "
      f"{mc.get('os', '?')}, kernel {mc.get('kernel', m.get('kernel', '?'))}.")
    a("- Everything on this one machine, over 127.0.0.1: two fake OpenAI upstreams "
      "(`examples/fake_upstream.rs`; *fast* answers at once, *slow* after 20 ms), the load generator "
      "(`examples/loadgen.rs`, one thread), airlock, and LiteLLM proxy.")
    a("")
    a("## Versions")
    a("")
    a(f"- {mc.get('airlock', 'airlock')} at commit `{m.get('commit', '?')}`, release build, {mc.get('rustc', '?')}; "
      f"log level `{m.get('log', 'info')}` (one line per request, to a file); classification on (always).")
    a(f"- LiteLLM proxy {mc.get('litellm', '?')} from PyPI (`litellm[proxy]`, every package pinned in "
      f"`bench/load/peers/requirements-litellm.txt`), {mc.get('litellm_python', 'Python ?')}, uvicorn "
      f"{mc.get('uvicorn', '?')}, {mc.get('litellm_workers', 1)} worker; ready {mc.get('litellm_ready_s', '?')} s "
      "after start. Config: one `model_list` entry per fake upstream (`openai/<model>`, `api_base` "
      "`http://127.0.0.1:PORT/v1`, a dummy key), no master key, no database, no callbacks, telemetry off, "
      "`LITELLM_LOCAL_MODEL_COST_MAP=True` and the other `LITELLM_LOCAL_*` switches (no fetch from the "
      "network at startup), `LITELLM_LOG=ERROR`, a clean environment (`env -i`).")
    a("")
    a("## Commands")
    a("")
    a("```sh")
    a(f"{cmd}   # builds, installs LiteLLM (bench/load/peers/setup-litellm.sh), measures, writes this file")
    a("```")
    a("")
    wall = f"{wall_s:.0f} s" if wall_s is not None else "?"
    a(f"Measuring took {wall} of wall time (after the build and the venv install).")
    a("")
    a("## Placement")
    a("")
    a(f"*unpinned*: every process may use every CPU; *split*: the gateway (airlock, and LiteLLM alike) on "
      f"CPU {m.get('gw_cpu', 1)}, upstreams and load generator on CPU {m.get('rig_cpu', 0)}; *shared*: all on "
      f"CPU {m.get('rig_cpu', 0)}. The placement with the lowest airlock p50 in a sequential 1 KB probe is used "
      f"for the sequential rows: **{pl.get('chosen', '?')}** in this run. LiteLLM is always pinned exactly where "
      "airlock is. Every row names its placement.")
    probes = fig.get("placement_probe_seq_1k") or {}
    if probes:
        a("")
        a("| probe (seq 1 KB, p50 us) | direct | airlock | airlock - direct |")
        a("|---|---:|---:|---:|")
        for k, v in probes.items():
            a(f"| {k} | {_n(v['direct_p50'])} | {_n(v['airlock_p50'])} | {_d(v['overhead_p50'])} |")
    a("")
    a("## airlock vs direct vs LiteLLM")
    a("")
    a("Latencies in microseconds. *Overhead* is the gateway's percentile minus direct's percentile, direct, "
      "airlock and LiteLLM interleaved in the same rounds (the order reverses every round). The last column "
      "is LiteLLM's overhead divided by airlock's (issue 8 asks for at least 50x).")
    a("")
    a("| figure | placement | direct | airlock | LiteLLM | airlock overhead | LiteLLM overhead | LiteLLM / airlock overhead |")
    a("|---|---|---:|---:|---:|---:|---:|---:|")
    for label, name in (("seq1k", "sequential 1 KB"), ("seq16k", "sequential 16 KB")):
        f = fig.get(label)
        if not f:
            continue
        has = PEER in f
        for q in ("p50", "p90", "p99"):
            a(f"| {name} {q} | {pl.get(label, '-')} | {_n(f['direct'][q])} | {_n(f['airlock'][q])} | "
              f"{_n(f[PEER][q]) if has else '-'} | {_d(f['overhead'][q])} | "
              f"{_d(f[PEER + '_overhead'][q]) if has else '-'} | "
              f"{_x(f['ratio_' + PEER + '_over_airlock'][q]) if has else '-'} |")
        if "p50_overhead_median_of_rounds" in f:
            pm = f.get(PEER + "_p50_overhead_median_of_rounds")
            rm = f.get("ratio_" + PEER + "_over_airlock", {}).get("p50_median_of_rounds")
            a(f"| {name}, median over rounds of the per-round p50 difference | "
              f"{pl.get(label, '-')} | | | | {_d(f['p50_overhead_median_of_rounds'])} | {_d(pm)} | {_x(rm)} |")
    for k, v in fig.items():
        if k.startswith("tput@"):
            lr = v.get(PEER + "_rps")
            a(f"| throughput c={v['concurrency']}, 20 ms upstream, req/s | {k[5:]} | {_n(v['direct_rps'])} | "
              f"{_n(v['airlock_rps'])} ({v['ratio']:.3f} of direct) | "
              f"{_n(lr) + ' (' + format(v[PEER + '_ratio'], '.3f') + ' of direct)' if lr is not None else '-'} | | | |")
    cpu, cpup = fig.get("cpu", {}), fig.get("cpu_" + PEER, {})
    for k in cpu:
        a(f"| CPU time per request, us ({k}) | {pl.get(k, '-')} | | {_n(cpu[k]['us_per_request'])} | "
          f"{_n(cpup.get(k, {}).get('us_per_request'))} | | | |")
    r, rp = fig.get("rss_mb", {}), fig.get("rss_mb_" + PEER, {})
    for key, name in (("idle", "RSS at idle (before any request), MB"),
                      ("load_max", "RSS, highest during throughput runs, MB"),
                      ("idle_after", "RSS at idle after the run, MB")):
        if key in r:
            place = pl.get("rss_load", "-") if key == "load_max" else "-"
            a(f"| {name} | {place} | | {_n(r[key], '{:.1f}')} | {_n(rp.get(key), '{:.1f}')} | | | |")
    a("")
    counts = []
    for label in ("seq1k", "seq16k"):
        f = fig.get(label)
        if f and PEER in f:
            counts.append(f"{label}: direct {f['count']['direct']}, airlock {f['count']['airlock']}, "
                          f"LiteLLM {f['count'][PEER]}")
    if counts:
        a("Samples (requests measured, warm-up excluded): " + "; ".join(counts) + ". A sequential run stops "
          "at 1000 requests or 2 s per target per round, so LiteLLM, at a few milliseconds a request, gets fewer.")
        a("")
    a("CPU time per request is the process's `utime + stime` across the whole loadgen run (warm-up included, "
      "10 ms tick resolution) divided by the requests that process received; each gateway is idle while the "
      "others are measured, so whatever it does in the background then is charged to its own requests. "
      "RSS is `VmRSS` sampled every 100 ms; in full mode *idle after the run* comes after the rate sweep, "
      "whose last step overloads airlock.")
    other = []
    st = fig.get("stream")
    if st:
        for key, name in (("ttfb", "stream: time to first chunk"), ("chunk_gap", "stream: gap between chunks"),
                          ("total", "stream: whole answer")):
            p = st.get(key)
            if p:
                other.append((name, pl.get("stream", "-"), p))
    if fig.get("open"):
        other.append((f"open loop {m.get('open_rate', '?')} req/s", pl.get("open", "-"), fig["open"]))
    if other or fig.get("sweep"):
        a("")
        a("### airlock-only rows (LiteLLM not driven)")
        a("")
        a("| figure | placement | direct p50/p90/p99 | airlock p50/p90/p99 | airlock overhead |")
        a("|---|---|---:|---:|---:|")
        for name, place, p in other:
            a(f"| {name} | {place} | {fmt3(p['direct'])} | {fmt3(p['airlock'])} | {fmt3d(p['overhead'])} |")
        for v in fig.get("sweep", []):
            a(f"| sweep {v['rate']:.0f} req/s: achieved req/s, p99 us | {pl.get('sweep', '-')} | "
              f"{_n(v['direct_rps'])}, {_n(v['direct_p99'])} | {_n(v['airlock_rps'])}, {_n(v['airlock_p99'])} | |")
    a("")
    a("## Targets (issue 8, printed, never enforced)")
    a("")
    for k, v in s["targets"].items():
        bound = f"<= {v['max']}" if "max" in v else f">= {v['min']}"
        a(f"- {k}: {v['value']} ({bound}): {'met' if v['met'] else '**missed**'}")
    errs = {k: v["errors"] for k, v in fig.items() if isinstance(v, dict) and "errors" in v}
    bad = {k: v for k, v in errs.items() if any(v.values())}
    if bad:
        a(f"- errors: {bad}")
    pg = s.get("peer_log")
    if pg and pg.get("error_lines"):
        a(f"- LiteLLM's log had {pg['error_lines']} lines mentioning an error or exception.")
    a("")
    with open(path, "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main()
