#!/usr/bin/env python3
"""Turns the raw JSON lines of one bench/load/run.sh run into a summary JSON
and a readable table on stdout. Standard library only.

Raw lines are either loadgen output (one per target: "label", "target", ...)
or harness records with a "kind" (meta, placement, cpu, rss)."""

import json
import statistics
import sys

TARGETS = {  # issue 8, part 5 (2-core machine, classification on)
    "seq16k_p50_overhead_us": 150.0,
    "seq16k_p99_overhead_us": 1000.0,
    "throughput_ratio_min": 0.9,
    "idle_rss_mb_max": 30.0,
}


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
    return out


def main():
    raw, out_path = sys.argv[1], sys.argv[2]
    runs, recs = load(raw)
    meta = next((r for r in recs if r["kind"] == "meta"), {})
    placement = {r["label"]: r["placement"] for r in recs if r["kind"] == "placement"}
    cpu = {r["label"]: r for r in recs if r["kind"] == "cpu"}
    rss = {r["label"]: r["kb"] for r in recs if r["kind"] == "rss"}

    s = {"meta": meta, "placement": placement, "figures": {}, "targets": {}}
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
        if label.startswith("sweep@") and "airlock" in r:
            fig.setdefault("sweep", []).append({
                "rate": r["airlock"].get("rate_target"),
                "direct_rps": r.get("direct", {}).get("rate_achieved"),
                "airlock_rps": r["airlock"]["rate_achieved"],
                "direct_p99": pcts(r["direct"])["p99"] if "direct" in r else None,
                "airlock_p99": pcts(r["airlock"])["p99"],
                "airlock_errors": r["airlock"]["errors"]})

    cpu_fig = {}
    for label, c in cpu.items():
        a = runs.get(label, {}).get("airlock")
        if a and a["sent_total"]:
            us = (c["ticks_after"] - c["ticks_before"]) * 1e6 / c["clk_tck"] / a["sent_total"]
            cpu_fig[label] = {"us_per_request": round(us, 1), "requests": a["sent_total"],
                              "ticks": c["ticks_after"] - c["ticks_before"], "clk_tck": c["clk_tck"]}
    fig["cpu"] = cpu_fig
    fig["rss_mb"] = {k: round(v / 1024, 1) for k, v in rss.items()}

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

    with open(out_path, "w") as f:
        json.dump(s, f, indent=2)
    print_table(s)


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
    print(f"{'figure (us unless said)':{w}s} {'placement':10s} {'direct':>17s} {'airlock':>17s} {'airlock-direct':>17s}")
    print("-" * (w + 10 + 3 * 18 + 2))

    def row(name, place, p):
        if not p:
            return
        print(f"{name:{w}s} {place:10s} {fmt3(p['direct']):>17s} {fmt3(p['airlock']):>17s} {fmt3d(p['overhead']):>17s}")

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
            print(f"{'throughput c=' + str(v['concurrency']) + ', 20 ms upstream':{w}s} {k[5:]:10s} "
                  f"{v['direct_rps']:>13.0f} r/s {v['airlock_rps']:>13.0f} r/s {'ratio ' + format(v['ratio'], '.3f'):>17s}")
    for v in fig.get("sweep", []):
        print(f"{'sweep ' + str(int(v['rate'])) + ' req/s: achieved, p99':{w}s} {pl.get('sweep', '-'):10s} "
              f"{(v['direct_rps'] or 0):>8.0f} {(v['direct_p99'] or 0):>8.0f} {v['airlock_rps']:>8.0f} {v['airlock_p99']:>8.0f}")
    for k, v in fig.get("cpu", {}).items():
        print(f"{'airlock CPU per request, ' + k:{w}s} {pl.get(k, '-'):10s} {'':>17s} {v['us_per_request']:>17.1f}"
              f"   ({v['ticks']} ticks / {v['requests']} req)")
    r = fig.get("rss_mb", {})
    if r:
        print(f"{'airlock RSS MB idle / load / after':{w}s} {pl.get('rss_load', '-'):10s} {'':>17s} "
              f"{r.get('idle', 0):>5.1f} / {r.get('load_max', 0):>4.1f} / {r.get('idle_after', 0):>4.1f}")
    errs = {k: v["errors"] for k, v in fig.items() if isinstance(v, dict) and "errors" in v}
    bad = {k: v for k, v in errs.items() if any(v.values())}
    print()
    if bad:
        print(f"ERRORS: {bad}")
    for k, v in s["targets"].items():
        bound = f"<= {v['max']}" if "max" in v else f">= {v['min']}"
        print(f"target {k}: {v['value']} ({bound}) {'met' if v['met'] else 'MISSED'}")


if __name__ == "__main__":
    main()
