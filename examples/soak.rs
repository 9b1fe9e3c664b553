//! Soak client for `bench/soak/`: sends OpenAI chat requests to a gateway on
//! 127.0.0.1 at a steady rate for a fixed time, in a weighted mix of kinds
//! (fast and slow JSON, streams, upstream 500s and 429s, streams the
//! upstream breaks), and reports what came back: requests sent and served,
//! outcomes by kind (HTTP status and error code, error events in a stream,
//! streams cut without `[DONE]`, transport errors), latency percentiles per
//! kind, and the resident memory of a watched process (the gateway) from
//! `/proc/PID/status`, at the start, at intervals and at the end.
//!
//! Open loop: request `i` is due at `start + i / rate` and is sent then
//! whether or not earlier ones finished; its latency counts from when it
//! was due, so a stall cannot hide. A request due while `--max-in-flight`
//! are outstanding is not sent and counts as `dropped`. It always stops by
//! itself: after `--duration-s`, waiting at most `--timeout-ms` for the last
//! answers. Only 127.0.0.1 / localhost URLs are accepted.
//!
//! ```text
//! soak --url http://127.0.0.1:8080/v1/chat/completions --rate 200 \
//!      --duration-s 300 --watch-pid 1234 --out soak.json
//! ```

use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Steady-rate mixed soak load against an OpenAI chat endpoint on 127.0.0.1")]
struct Args {
    /// Chat completions URL of the gateway.
    #[arg(long)]
    url: String,
    /// Requests per second.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 300.0)]
    duration_s: f64,
    /// KIND=WEIGHT,... of fast, slow, stream, error500, error429, broken.
    #[arg(
        long,
        default_value = "fast=50,slow=15,stream=20,error500=5,error429=5,broken=5"
    )]
    mix: String,
    /// Per-request timeout in ms (a timeout counts as a transport error).
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
    /// Most requests outstanding; a due request beyond it is dropped.
    #[arg(long, default_value_t = 4096)]
    max_in_flight: usize,
    /// A process whose VmRSS to sample (the gateway).
    #[arg(long)]
    watch_pid: Option<u32>,
    /// Seconds between samples (memory, and a progress line on stderr).
    #[arg(long, default_value_t = 10.0)]
    sample_s: f64,
    /// Where to write the JSON report (also printed on stdout).
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// A kind of request: what model it names (which picks the fake
/// upstream's behaviour) and whether it streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Fast,
    Slow,
    Stream,
    Error500,
    Error429,
    Broken,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Fast,
        Kind::Slow,
        Kind::Stream,
        Kind::Error500,
        Kind::Error429,
        Kind::Broken,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Fast => "fast",
            Kind::Slow => "slow",
            Kind::Stream => "stream",
            Kind::Error500 => "error500",
            Kind::Error429 => "error429",
            Kind::Broken => "broken",
        }
    }

    fn model(self) -> &'static str {
        match self {
            Kind::Fast | Kind::Stream => "soak-fast",
            Kind::Slow => "soak-slow",
            Kind::Error500 => "soak-error500",
            Kind::Error429 => "soak-error429",
            Kind::Broken => "soak-broken",
        }
    }

    fn stream(self) -> bool {
        matches!(self, Kind::Stream | Kind::Broken)
    }

    /// Whether this kind is meant to succeed (the others exercise failure).
    fn should_succeed(self) -> bool {
        matches!(self, Kind::Fast | Kind::Slow | Kind::Stream)
    }
}

fn parse_mix(s: &str) -> Result<Vec<(Kind, u32)>, String> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, w) = part
            .split_once('=')
            .ok_or_else(|| format!("--mix: {part:?} is not KIND=WEIGHT"))?;
        let kind = Kind::ALL
            .into_iter()
            .find(|k| k.name() == name.trim())
            .ok_or_else(|| format!("--mix: unknown kind {name:?}"))?;
        let w: u32 = w
            .trim()
            .parse()
            .map_err(|_| format!("--mix: bad weight {w:?}"))?;
        out.push((kind, w));
    }
    if out.iter().map(|(_, w)| w).sum::<u32>() == 0 {
        return Err("--mix: weights sum to zero".into());
    }
    Ok(out)
}

fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--url {url:?}: only http:// URLs"))?;
    let host = rest.split(['/', ':']).next().unwrap_or("");
    if host != "127.0.0.1" && host != "localhost" {
        return Err(format!("--url {url:?}: only 127.0.0.1 or localhost"));
    }
    Ok(())
}

fn body(kind: Kind) -> Bytes {
    let mut v = json!({
        "model": kind.model(),
        "messages": [
            {"role": "system", "content": "You are a helpful assistant that writes clear summaries."},
            {"role": "user", "content": "Summarise the notes from the planning meeting: move the reporting jobs to the new queue, alert when a job is skipped, and keep the logs of failed attempts for longer."}
        ],
        "max_tokens": 64
    });
    if kind.stream() {
        v["stream"] = json!(true);
    }
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

fn histogram() -> Histogram<u64> {
    // Microseconds, 1 us to 10 minutes, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("static histogram bounds are valid")
}

/// What one kind of request got.
struct KindStats {
    sent: u64,
    outcomes: BTreeMap<String, u64>,
    latency: Histogram<u64>,
    first_byte: Histogram<u64>,
}

impl KindStats {
    fn new() -> KindStats {
        KindStats {
            sent: 0,
            outcomes: BTreeMap::new(),
            latency: histogram(),
            first_byte: histogram(),
        }
    }
}

struct Outcome {
    label: String,
    /// Served by the gateway: an HTTP answer came back (any status).
    done: Instant,
    first: Option<Instant>,
}

/// The code of an OpenAI-shaped error body or SSE error event.
fn error_code(v: &Value) -> String {
    let e = &v["error"];
    e["code"]
        .as_str()
        .or_else(|| e["type"].as_str())
        .unwrap_or("unknown")
        .to_owned()
}

async fn one(client: &reqwest::Client, url: &str, kind: Kind) -> Outcome {
    let transport = |e: reqwest::Error| {
        let why = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else {
            "other"
        };
        Outcome {
            label: format!("transport:{why}"),
            done: Instant::now(),
            first: None,
        }
    };
    let resp = match client
        .post(url)
        .header("content-type", "application/json")
        .body(body(kind))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return transport(e),
    };
    let first = Some(Instant::now());
    let status = resp.status().as_u16();
    let mut resp = resp;
    let mut bytes = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                // Enough to classify; the rest is read and dropped.
                if bytes.len() < 1 << 20 {
                    bytes.extend_from_slice(&c);
                }
            }
            Ok(None) => break,
            Err(e) => {
                let mut o = transport(e);
                o.label = format!("{}_mid_body", o.label);
                o.first = first;
                return o;
            }
        }
    }
    let done = Instant::now();
    let label = if status != 200 {
        let code = serde_json::from_slice::<Value>(&bytes)
            .map(|v| error_code(&v))
            .unwrap_or_else(|_| "no_json".into());
        format!("http_{status}:{code}")
    } else if kind.stream() {
        classify_stream(&bytes)
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if v["choices"].is_array() => "ok".into(),
            Ok(_) => "ok_status_bad_body".into(),
            Err(_) => "ok_status_not_json".into(),
        }
    };
    Outcome { label, done, first }
}

/// `ok` for a stream of chunks ending in `[DONE]`; else what went wrong.
fn classify_stream(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut done = false;
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let data = data.trim();
        if data == "[DONE]" {
            done = true;
            continue;
        }
        match serde_json::from_str::<Value>(data) {
            Ok(v) if v.get("error").is_some() => {
                return format!("stream_error_event:{}", error_code(&v));
            }
            Ok(_) => {}
            Err(_) => return "stream_bad_chunk".into(),
        }
    }
    if done {
        "ok".into()
    } else {
        "stream_cut_no_done".into()
    }
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// User + system CPU seconds of a process (at Linux's usual 100 ticks a second).
fn cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) start past the ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    check_url(&args.url)?;
    let mix = parse_mix(&args.mix)?;
    if !(args.rate > 0.0 && args.rate.is_finite())
        || args.duration_s.is_nan()
        || args.duration_s < 0.0
    {
        return Err("--rate must be positive and --duration-s not negative".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let report = rt.block_on(run(&args, &mix))?;
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    if let Some(path) = &args.out {
        std::fs::write(path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("{text}");
    Ok(())
}

async fn run(args: &Args, mix: &[(Kind, u32)]) -> Result<Value, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(args.timeout_ms))
        .pool_max_idle_per_host(4096)
        .build()
        .map_err(|e| e.to_string())?;
    // A fixed, even schedule of kinds: request i gets the kind whose share
    // of the weights covers i (a deterministic interleave, no randomness).
    let total: u32 = mix.iter().map(|(_, w)| w).sum();
    let schedule: Vec<Kind> = {
        let mut s = Vec::with_capacity(total as usize);
        let mut credit: Vec<f64> = vec![0.0; mix.len()];
        for _ in 0..total {
            for (c, (_, w)) in credit.iter_mut().zip(mix) {
                *c += f64::from(*w) / f64::from(total);
            }
            let (best, _) = credit
                .iter()
                .enumerate()
                .fold((0, f64::MIN), |b, (i, &c)| if c > b.1 { (i, c) } else { b });
            credit[best] -= 1.0;
            s.push(mix[best].0);
        }
        s
    };
    let stats: Arc<Mutex<BTreeMap<Kind, KindStats>>> = Arc::new(Mutex::new(
        Kind::ALL
            .into_iter()
            .map(|k| (k, KindStats::new()))
            .collect(),
    ));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut dropped: u64 = 0;
    let mut samples = Vec::new();
    let sample = |t: f64, sent: u64, stats: &Mutex<BTreeMap<Kind, KindStats>>| {
        let served: u64 = stats
            .lock()
            .map(|s| s.values().map(|k| k.outcomes.values().sum::<u64>()).sum())
            .unwrap_or(0);
        let mem = args.watch_pid.and_then(memory);
        let cpu = args.watch_pid.and_then(cpu_s);
        let v = json!({
            "t_s": (t * 10.0).round() / 10.0, "sent": sent, "answered": served,
            "rss_kb": mem.map(|m| m.0), "hwm_kb": mem.map(|m| m.1), "cpu_s": cpu,
        });
        eprintln!("soak: {v}");
        v
    };
    samples.push(sample(0.0, 0, &stats));
    let start = tokio::time::Instant::now();
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let n = (args.duration_s * args.rate).round() as u64;
    let mut next_sample = args.sample_s;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let due = start + period.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        let now_s = start.elapsed().as_secs_f64();
        if now_s >= next_sample {
            samples.push(sample(now_s, i, &stats));
            next_sample += args.sample_s;
        }
        let kind = schedule[(i % u64::from(total)) as usize];
        if let Ok(mut s) = stats.lock()
            && let Some(k) = s.get_mut(&kind)
        {
            k.sent += 1;
        }
        if in_flight.load(Ordering::Relaxed) >= args.max_in_flight {
            dropped += 1;
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        let (client, url, stats, in_flight) = (
            client.clone(),
            args.url.clone(),
            stats.clone(),
            in_flight.clone(),
        );
        let due = due.into_std();
        tasks.spawn(async move {
            let o = one(&client, &url, kind).await;
            in_flight.fetch_sub(1, Ordering::Relaxed);
            let us =
                |t: Instant| u64::try_from(t.duration_since(due).as_micros()).unwrap_or(u64::MAX);
            if let Ok(mut s) = stats.lock()
                && let Some(k) = s.get_mut(&kind)
            {
                *k.outcomes.entry(o.label).or_default() += 1;
                k.latency.saturating_record(us(o.done).max(1));
                if let Some(f) = o.first {
                    k.first_byte.saturating_record(us(f).max(1));
                }
            }
        });
        // Reap finished tasks so the set does not grow for the whole run.
        while tasks.try_join_next().is_some() {}
    }
    let sent_s = start.elapsed().as_secs_f64();
    // The last answers: at most one timeout more.
    let drain = tokio::time::timeout(Duration::from_millis(args.timeout_ms + 1000), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    let unfinished = if drain.is_err() { tasks.len() } else { 0 };
    tasks.abort_all();
    // Memory once the load is over and the last connections closed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    samples.push(sample(start.elapsed().as_secs_f64(), n, &stats));

    let stats = stats.lock().map_err(|_| "stats lock poisoned".to_owned())?;
    let pct = |h: &Histogram<u64>, q: f64| {
        if h.is_empty() {
            Value::Null
        } else {
            json!((h.value_at_quantile(q) as f64 / 1000.0 * 10.0).round() / 10.0)
        }
    };
    let mut kinds = serde_json::Map::new();
    let (mut answered, mut ok, mut unexpected) = (0u64, 0u64, 0u64);
    let mut by_outcome: BTreeMap<String, u64> = BTreeMap::new();
    for (kind, k) in stats.iter().filter(|(_, k)| k.sent > 0) {
        let got: u64 = k.outcomes.values().sum();
        answered += got;
        let k_ok = k.outcomes.get("ok").copied().unwrap_or(0);
        ok += k_ok;
        if kind.should_succeed() {
            unexpected += got - k_ok;
        }
        for (label, n) in &k.outcomes {
            *by_outcome.entry(label.clone()).or_default() += n;
        }
        kinds.insert(
            kind.name().into(),
            json!({
                "model": kind.model(), "stream": kind.stream(), "sent": k.sent, "answered": got,
                "outcomes": k.outcomes,
                "latency_ms": {"p50": pct(&k.latency, 0.5), "p90": pct(&k.latency, 0.9),
                               "p99": pct(&k.latency, 0.99), "max": pct(&k.latency, 1.0)},
                "first_byte_ms": {"p50": pct(&k.first_byte, 0.5), "p99": pct(&k.first_byte, 0.99)},
            }),
        );
    }
    let first = samples.first().cloned().unwrap_or(Value::Null);
    let last = samples.last().cloned().unwrap_or(Value::Null);
    Ok(json!({
        "url": args.url, "rate": args.rate, "duration_s": args.duration_s, "mix": args.mix,
        "sent": n - dropped, "scheduled": n, "dropped": dropped, "unfinished": unfinished,
        "sending_took_s": (sent_s * 10.0).round() / 10.0,
        "achieved_rate": ((n - dropped) as f64 / sent_s.max(1e-9) * 10.0).round() / 10.0,
        "answered": answered, "ok": ok,
        "unexpected_failures": unexpected,
        "outcomes": by_outcome,
        "kinds": kinds,
        "memory": {"pid": args.watch_pid, "rss_kb_start": first["rss_kb"], "rss_kb_end": last["rss_kb"],
                   "hwm_kb_end": last["hwm_kb"], "cpu_s_end": last["cpu_s"], "samples": samples},
    }))
}
