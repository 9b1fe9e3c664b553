//! Load generator for the harness in `bench/load/`: sends OpenAI chat
//! requests to one or more targets on 127.0.0.1 and prints one JSON line of
//! latency figures (hdrhistogram percentiles) per target.
//!
//! Modes:
//! - `seq`: concurrency 1, back to back (the overhead figure);
//! - `closed`: `--concurrency` workers, each sending as soon as its last answer
//!   arrived (the throughput figure; latency here has coordinated omission by
//!   design, so read it as a throughput run only);
//! - `open`: a fixed `--rate`; request `i` is due at `start + i / rate`, is
//!   sent at that time whether or not earlier ones finished, and its latency
//!   counts from when it was *due*, so a stalled server cannot hide its stall
//!   (no coordinated omission).
//!
//! With several `--target`s the runs are interleaved: each round runs every
//! target once, in ABBA order (the order flips every round), so machine drift
//! hits all targets alike. Every run is bounded by `--requests` and
//! `--duration-s`, and the whole process by `--max-total-s`: it always stops
//! by itself. Only 127.0.0.1 / localhost targets are accepted.
//!
//! ```text
//! loadgen --target direct=http://127.0.0.1:9001/v1/chat/completions \
//!         --target airlock=http://127.0.0.1:9002/v1/chat/completions \
//!         --mode seq --prompt-bytes 16384 --rounds 5 --requests 500
//! ```

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Seq,
    Closed,
    Open,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Seq => "seq",
            Mode::Closed => "closed",
            Mode::Open => "open",
        }
    }
}

#[derive(Parser, Debug)]
#[command(about = "Open/closed-loop load generator for OpenAI chat endpoints on 127.0.0.1")]
struct Args {
    /// NAME=URL of a chat completions endpoint; repeat to interleave targets.
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    #[arg(long, value_enum, default_value = "seq")]
    mode: Mode,
    /// Size of the prompt text in bytes (system + user message content).
    #[arg(long, default_value_t = 1024)]
    prompt_bytes: usize,
    /// Ask for a streamed answer and record time to first chunk and chunk gaps.
    #[arg(long)]
    stream: bool,
    /// The `model` field sent.
    #[arg(long, default_value = "auto")]
    model: String,
    /// Interleaved rounds; each round runs every target once.
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    /// Most requests per target per round (all modes).
    #[arg(long, default_value_t = 200)]
    requests: u64,
    /// Longest run per target per round, in seconds (all modes).
    #[arg(long, default_value_t = 2.0)]
    duration_s: f64,
    /// Workers in closed mode.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Requests per second in open mode.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Most requests in flight in open mode; a due request beyond it is dropped and counted as an error.
    #[arg(long, default_value_t = 2048)]
    max_in_flight: usize,
    /// Unrecorded requests per target before the first round.
    #[arg(long, default_value_t = 20)]
    warmup: u64,
    /// Per-request timeout in ms (a timeout counts as an error).
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Hard cap on the whole process, in seconds.
    #[arg(long, default_value_t = 300.0)]
    max_total_s: f64,
    /// Free text copied into every output line.
    #[arg(long, default_value = "")]
    label: String,
    /// Runtime worker threads (1 = a current-thread runtime, the cheapest).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

struct Target {
    name: String,
    url: String,
}

fn parse_target(s: &str) -> Result<Target, String> {
    let (name, url) = s
        .split_once('=')
        .ok_or_else(|| format!("--target {s:?}: expected NAME=URL"))?;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--target {s:?}: only http:// URLs"))?;
    let host = rest.split(['/', ':']).next().unwrap_or("");
    if host != "127.0.0.1" && host != "localhost" {
        return Err(format!(
            "--target {s:?}: only 127.0.0.1 or localhost may be targeted"
        ));
    }
    Ok(Target {
        name: name.to_owned(),
        url: url.to_owned(),
    })
}

/// Plain prose on everyday technical topics: no names, numbers or identifiers,
/// so the sensitivity scanner has to read it all and finds nothing.
const PROSE: &[&str] = &[
    "Please read the following notes from our planning meeting and write a short summary with the main decisions and open questions.",
    "The team discussed how to move the reporting jobs from the old scheduler to the new queue. Most of the jobs are small and run once a day, but a few of them read large tables and need more memory than the default workers provide.",
    "Several people pointed out that the current retry policy hides real failures. When a job fails three times in a row it is silently marked as skipped, and nobody notices until a report is missing at the end of the month.",
    "We agreed to add an alert when a job is skipped, and to keep the logs of failed attempts for longer so that the cause can be found without running the job again by hand.",
    "There was a long conversation about caching. Some reports are built from data that changes only once a week, so building them every day wastes time. Others must always be fresh because they feed the dashboards that the support team watches during the day.",
    "The proposal is to tag each report with how fresh it needs to be, and let the scheduler skip a run when the inputs have not changed since the last successful build.",
    "Testing came up as well. The integration tests start a real database and take a long time, which makes people avoid running them before they push. A smaller set of fast checks could run on every change while the full suite runs at night.",
    "Finally, the group looked at documentation. New members of the team find it hard to learn which jobs depend on which tables. A generated page that lists the inputs and outputs of every job would help, as long as it is rebuilt automatically.",
    "Open questions include who owns the migration of the remaining jobs, how to measure whether the new queue is really cheaper to run, and whether the weekly reports can move to a lower priority without anyone noticing a delay.",
    "Please keep the summary brief, use plain language, and list the action items at the end with a short note on why each one matters.",
];

fn prompt_text(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 256);
    'fill: loop {
        for p in PROSE {
            for w in p.split(' ') {
                if s.len() + w.len() + 1 > bytes {
                    break 'fill;
                }
                if !s.is_empty() {
                    s.push(' ');
                }
                s.push_str(w);
            }
        }
        if bytes == 0 {
            break;
        }
    }
    s
}

fn request_body(model: &str, prompt_bytes: usize, stream: bool) -> Bytes {
    let system = "You are a helpful assistant that writes clear summaries.";
    let user = prompt_text(prompt_bytes.saturating_sub(system.len()));
    let mut v = json!({
        "model": model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user}
        ],
        "max_tokens": 128,
        "temperature": 0.2
    });
    if stream {
        v["stream"] = json!(true);
    }
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

fn histogram() -> Histogram<u64> {
    // Nanoseconds from 1 ns to 10 minutes, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("static histogram bounds are valid")
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1));
}

/// Figures of one target, across rounds.
struct Stats {
    latency: Histogram<u64>,
    ttfb: Histogram<u64>,
    gaps: Histogram<u64>,
    chunks: u64,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
    round_p50_ns: Vec<u64>,
}

impl Stats {
    fn new() -> Stats {
        Stats {
            latency: histogram(),
            ttfb: histogram(),
            gaps: histogram(),
            chunks: 0,
            ok: 0,
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            round_p50_ns: Vec::new(),
        }
    }

    fn add(&mut self, o: &Stats) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency.add(&o.latency);
        let _ = self.ttfb.add(&o.ttfb);
        let _ = self.gaps.add(&o.gaps);
        self.chunks += o.chunks;
        self.ok += o.ok;
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&o.first_error);
        }
    }

    fn outcome(&mut self, r: Result<Sample, String>, due: Instant) {
        match r {
            Ok(s) => {
                self.ok += 1;
                record(&mut self.latency, s.done.duration_since(due));
                if let Some(t) = s.first {
                    record(&mut self.ttfb, t.duration_since(due));
                }
                for g in &s.gaps {
                    record(&mut self.gaps, *g);
                }
                self.chunks += s.chunks;
            }
            Err(e) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(e);
                }
            }
        }
    }
}

struct Sample {
    first: Option<Instant>,
    done: Instant,
    gaps: Vec<Duration>,
    chunks: u64,
}

struct Shot {
    client: reqwest::Client,
    url: String,
    body: Bytes,
    stream: bool,
}

impl Shot {
    async fn send(&self) -> Result<Sample, String> {
        let resp = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(self.body.clone())
            .send()
            .await
            .map_err(|e| format!("send: {e}"))?;
        let status = resp.status();
        if !self.stream {
            let body = resp.bytes().await.map_err(|e| format!("body: {e}"))?;
            let done = Instant::now();
            if !status.is_success() {
                return Err(format!(
                    "status {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                ));
            }
            return Ok(Sample {
                first: None,
                done,
                gaps: Vec::new(),
                chunks: 1,
            });
        }
        if !status.is_success() {
            let body = resp.bytes().await.unwrap_or_default();
            return Err(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ));
        }
        let mut resp = resp;
        let mut first = None;
        let mut last: Option<Instant> = None;
        let mut gaps = Vec::new();
        let mut chunks = 0;
        let mut tail: Vec<u8> = Vec::new();
        while let Some(c) = resp.chunk().await.map_err(|e| format!("stream: {e}"))? {
            let now = Instant::now();
            if first.is_none() {
                first = Some(now);
            }
            if let Some(l) = last {
                gaps.push(now.duration_since(l));
            }
            last = Some(now);
            chunks += 1;
            tail.extend_from_slice(&c);
            if tail.len() > 64 {
                tail.drain(..tail.len() - 64);
            }
        }
        let done = Instant::now();
        if !tail.windows(6).any(|w| w == b"[DONE]") {
            return Err("stream ended without data: [DONE]".into());
        }
        Ok(Sample {
            first,
            done,
            gaps,
            chunks,
        })
    }
}

struct Limits {
    requests: u64,
    duration: Duration,
    deadline: Instant,
}

impl Limits {
    fn end(&self) -> Instant {
        (Instant::now() + self.duration).min(self.deadline)
    }
}

async fn run_seq(shot: &Shot, lim: &Limits) -> Stats {
    let mut st = Stats::new();
    let end = lim.end();
    let started = Instant::now();
    for _ in 0..lim.requests {
        if Instant::now() >= end {
            break;
        }
        let due = Instant::now();
        let r = shot.send().await;
        st.outcome(r, due);
    }
    st.elapsed = started.elapsed();
    st
}

async fn run_closed(shot: &Arc<Shot>, lim: &Limits, concurrency: usize) -> Stats {
    let end = lim.end();
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let shot = shot.clone();
        let issued = issued.clone();
        let cap = lim.requests;
        set.spawn(async move {
            let mut st = Stats::new();
            while Instant::now() < end && issued.fetch_add(1, Ordering::Relaxed) < cap {
                let due = Instant::now();
                let r = shot.send().await;
                st.outcome(r, due);
            }
            st
        });
    }
    let mut total = Stats::new();
    while let Some(r) = set.join_next().await {
        if let Ok(st) = r {
            total.add(&st);
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// Open loop. A plain thread paces the schedule (`thread::sleep` wakes within
/// tens of microseconds, where tokio's timer rounds up to whole milliseconds)
/// and hands each due time to the runtime, which sends at once. Latency counts
/// from the due time, so pacing lateness is charged to the target too.
async fn run_open(shot: &Arc<Shot>, lim: &Limits, rate: f64, max_in_flight: usize) -> Stats {
    let end = lim.end();
    let start = Instant::now() + Duration::from_millis(5);
    let window = end.saturating_duration_since(start).as_secs_f64();
    let n = lim.requests.min((rate * window).floor() as u64);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let pacer = std::thread::spawn(move || {
        for i in 0..n {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if tx.send(due).is_err() {
                break;
            }
        }
    });
    let shared = Arc::new(Mutex::new(Stats::new()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    let mut dropped = 0u64;
    while let Some(due) = rx.recv().await {
        if in_flight.load(Ordering::Relaxed) >= max_in_flight {
            dropped += 1;
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        let shot = shot.clone();
        let shared = shared.clone();
        let in_flight = in_flight.clone();
        set.spawn(async move {
            let r = shot.send().await;
            in_flight.fetch_sub(1, Ordering::Relaxed);
            if let Ok(mut st) = shared.lock() {
                st.outcome(r, due);
            }
        });
        // Reap finished tasks now and then so the set stays small.
        while set.try_join_next().is_some() {}
    }
    let _ = pacer.join();
    while set.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    let mut total = Stats::new();
    if let Ok(st) = shared.lock() {
        total.add(&st);
    }
    if dropped > 0 {
        total.errors += dropped;
        total
            .first_error
            .get_or_insert_with(|| format!("{dropped} requests dropped at --max-in-flight"));
    }
    total.elapsed = elapsed;
    total
}

fn pct(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    let us = |ns: u64| (ns as f64 / 100.0).round() / 10.0;
    json!({
        "min": us(h.min()),
        "p50": us(h.value_at_quantile(0.50)),
        "p90": us(h.value_at_quantile(0.90)),
        "p99": us(h.value_at_quantile(0.99)),
        "p999": us(h.value_at_quantile(0.999)),
        "max": us(h.max()),
        "mean": (h.mean() / 100.0).round() / 10.0,
    })
}

fn main() -> Result<(), String> {
    let args = Args::parse();
    let targets: Vec<Target> = args
        .targets
        .iter()
        .map(|s| parse_target(s))
        .collect::<Result<_, _>>()?;
    if args.rate <= 0.0 || !args.rate.is_finite() {
        return Err("--rate must be positive".into());
    }
    if args.duration_s <= 0.0 || args.max_total_s <= 0.0 {
        return Err("--duration-s and --max-total-s must be positive".into());
    }
    // A watchdog in case a run hangs in a way the per-request timeout misses.
    let hard = Duration::from_secs_f64(args.max_total_s + 15.0);
    std::thread::spawn(move || {
        std::thread::sleep(hard);
        eprintln!("loadgen: hard time limit reached; exiting");
        std::process::exit(3);
    });
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(run(args, targets))
}

async fn run(args: Args, targets: Vec<Target>) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs_f64(args.max_total_s);
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_millis(args.timeout_ms))
        .build()
        .map_err(|e| format!("client: {e}"))?;
    let body = request_body(&args.model, args.prompt_bytes, args.stream);
    let shots: Vec<Arc<Shot>> = targets
        .iter()
        .map(|t| {
            Arc::new(Shot {
                client: client.clone(),
                url: t.url.clone(),
                body: body.clone(),
                stream: args.stream,
            })
        })
        .collect();
    let lim = Limits {
        requests: args.requests,
        duration: Duration::from_secs_f64(args.duration_s),
        deadline,
    };
    let warm_workers = if args.mode == Mode::Seq {
        1
    } else {
        args.concurrency
    };
    let mut sent = vec![0u64; shots.len()];
    for (i, shot) in shots.iter().enumerate() {
        let w = Limits {
            requests: args.warmup,
            duration: Duration::from_secs(10),
            deadline,
        };
        let st = if args.warmup == 0 {
            Stats::new()
        } else {
            run_closed(shot, &w, warm_workers).await
        };
        sent[i] += st.ok + st.errors;
    }
    let mut totals: Vec<Stats> = shots.iter().map(|_| Stats::new()).collect();
    for round in 0..args.rounds {
        if Instant::now() >= deadline {
            break;
        }
        let order: Vec<usize> = if round % 2 == 0 {
            (0..shots.len()).collect()
        } else {
            (0..shots.len()).rev().collect()
        };
        for i in order {
            let st = match args.mode {
                Mode::Seq => run_seq(&shots[i], &lim).await,
                Mode::Closed => run_closed(&shots[i], &lim, args.concurrency).await,
                Mode::Open => run_open(&shots[i], &lim, args.rate, args.max_in_flight).await,
            };
            sent[i] += st.ok + st.errors;
            let t = &mut totals[i];
            t.add(&st);
            t.elapsed += st.elapsed;
            if !st.latency.is_empty() {
                t.round_p50_ns.push(st.latency.value_at_quantile(0.5));
            }
        }
    }
    for (i, t) in targets.iter().enumerate() {
        let st = &totals[i];
        let secs = st.elapsed.as_secs_f64();
        let mut line = json!({
            "label": args.label,
            "target": t.name,
            "mode": args.mode.as_str(),
            "prompt_bytes": args.prompt_bytes,
            "body_bytes": body.len(),
            "stream": args.stream,
            "rounds": st.round_p50_ns.len(),
            "count": st.ok,
            "errors": st.errors,
            "sent_total": sent[i],
            "elapsed_s": (secs * 1000.0).round() / 1000.0,
            "rate_achieved": if secs > 0.0 { (st.ok as f64 / secs * 10.0).round() / 10.0 } else { 0.0 },
            "latency_us": pct(&st.latency),
            "round_p50_us": st.round_p50_ns.iter().map(|ns| (*ns as f64 / 100.0).round() / 10.0).collect::<Vec<_>>(),
            "first_error": st.first_error,
        });
        match args.mode {
            Mode::Closed => line["concurrency"] = json!(args.concurrency),
            Mode::Open => line["rate_target"] = json!(args.rate),
            Mode::Seq => {}
        }
        if args.stream {
            line["ttfb_us"] = pct(&st.ttfb);
            line["chunk_gap_us"] = pct(&st.gaps);
            line["chunks_per_response"] = if st.ok > 0 {
                json!((st.chunks as f64 / st.ok as f64 * 10.0).round() / 10.0)
            } else {
                Value::Null
            };
        }
        println!("{line}");
    }
    Ok(())
}
