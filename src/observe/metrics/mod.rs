//! Prometheus metrics (`GET /metrics`, OpenMetrics text) fed from each
//! request's [`Record`](super::Record) and from backend calls and skips;
//! backend health states and queue depths are read when scraped.
//!
//! Labels stay low-cardinality: only configured names (backends, their
//! configured models, rules) and fixed enums. A model a caller names on a
//! backend without a `models` list is counted as `other`; an unknown rule
//! as `other`; nothing unknown yet as `none`.
//!
//! Hot-path cost: every handle is created once (per backend, per configured
//! model, per endpoint) when the gateway starts; a request's record touches
//! them by index. Only `airlock_requests_total`, whose label combinations
//! are too many to create up front, goes through a map, keyed by one `u64`
//! built from indices; the label strings are built once per combination.
//! `benches/metrics.rs` measures a whole record at well under 1 µs.

mod calls;

pub use calls::{CallResult, SKIP_REASONS};

use super::{Endpoint, Outcome, Record};
use crate::capacity::Capacity;
use crate::classify::Task;
use crate::config::{BackendId, Config, EXPLICIT_RULE};
use crate::health::Health;
use crate::route::BackendState;
use crate::types::{Level, Tier};
use prometheus_client::encoding::text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{PoisonError, RwLock};

type Labels = Vec<(&'static str, String)>;
type FloatCounter = Counter<f64, AtomicU64>;

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Request latency, seconds: LLM answers take from milliseconds to minutes.
const DURATION_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
/// Time to the first streamed chunk, seconds.
const TTFT_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Time in airlock itself, seconds (target: 150 µs p50).
const OVERHEAD_BUCKETS: [f64; 12] = [
    25e-6, 50e-6, 100e-6, 150e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 50e-3, 250e-3,
];

/// The series of one (backend, model) pair; `model` is a configured name
/// or `other`.
struct TargetSeries {
    input: Counter,
    output: Counter,
    cached: Counter,
    cost: FloatCounter,
    ttft: Histogram,
}

struct BackendSeries {
    up: Gauge,
    /// One per `BackendState::ALL`, 1 for the current state.
    state: Vec<Gauge>,
    in_flight: Gauge,
    queued: Gauge,
    calls: Vec<Counter>,
    skipped: Vec<Counter>,
}

/// Keeps a backend's in-flight gauge raised while held (a stream holds it
/// until it ends).
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

pub struct Metrics {
    registry: Registry,
    backend_names: Vec<String>,
    backend_tiers: Vec<Tier>,
    /// Label values of each backend's configured models (escaped).
    models: Vec<Vec<String>>,
    /// Where each backend's targets start in `targets`; a backend has one
    /// per configured model and one for `other`.
    offsets: Vec<usize>,
    targets: Vec<TargetSeries>,
    backends: Vec<BackendSeries>,
    rules: Vec<String>,
    /// Per endpoint, then per backend with "none" first.
    duration: Vec<Histogram>,
    overhead: Vec<Histogram>,
    /// Per action (blocked, rerouted, redacted), then per level.
    tier_filter: Vec<Counter>,
    /// Budget, offline.
    fallbacks: [Counter; 2],
    in_flight: Gauge,
    requests: Family<Labels, Counter>,
    request_handles: RwLock<HashMap<u64, Counter>>,
}

/// Escapes a label value for the text format (the encoder writes it as is).
fn value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The model names a backend's label may carry: its `models`, and those
/// named for it in pools, prices and per-model capabilities.
fn configured_models(config: &Config, id: BackendId) -> Vec<String> {
    let b = config.backend(id);
    let mut out: Vec<String> = b.models.clone();
    let pooled = config
        .pools
        .iter()
        .flat_map(|p| &p.members)
        .filter(|t| t.backend == id)
        .map(|t| &t.model);
    let mut extra: Vec<&String> = pooled
        .chain(b.prices.keys())
        .chain(b.model_caps.keys())
        .collect();
    extra.sort();
    for m in extra {
        if !out.contains(m) {
            out.push(m.clone());
        }
    }
    out
}

impl Metrics {
    pub fn new(config: &Config) -> Metrics {
        let mut registry = Registry::default();
        let backend_names: Vec<String> = config.backends.iter().map(|b| value(&b.name)).collect();
        let backend_tiers: Vec<Tier> = config.backends.iter().map(|b| b.tier).collect();
        let models: Vec<Vec<String>> = (0..config.backends.len())
            .map(|i| {
                configured_models(config, BackendId(i))
                    .iter()
                    .map(|m| value(m))
                    .collect()
            })
            .collect();

        let tokens = Family::<Labels, Counter>::default();
        let cached = Family::<Labels, Counter>::default();
        let cost = Family::<Labels, FloatCounter>::default();
        let ttft =
            Family::<Labels, Histogram, _>::new_with_constructor(|| Histogram::new(TTFT_BUCKETS));
        let mut offsets = Vec::new();
        let mut targets = Vec::new();
        for (b, names) in models.iter().enumerate() {
            offsets.push(targets.len());
            for model in names.iter().map(String::as_str).chain(["other"]) {
                let base: Labels = vec![
                    ("tier", backend_tiers[b].as_str().to_owned()),
                    ("backend", backend_names[b].clone()),
                    ("model", model.to_owned()),
                ];
                let typed = |t: &str| {
                    let mut l = base.clone();
                    l.push(("type", t.to_owned()));
                    l
                };
                targets.push(TargetSeries {
                    input: tokens.get_or_create_owned(&typed("input")),
                    output: tokens.get_or_create_owned(&typed("output")),
                    cached: cached.get_or_create_owned(&base),
                    cost: cost.get_or_create_owned(&base),
                    ttft: ttft.get_or_create_owned(&base),
                });
            }
        }

        let up = Family::<Labels, Gauge>::default();
        let state = Family::<Labels, Gauge>::default();
        let in_flight_b = Family::<Labels, Gauge>::default();
        let queued = Family::<Labels, Gauge>::default();
        let calls = Family::<Labels, Counter>::default();
        let skipped = Family::<Labels, Counter>::default();
        let backends = (0..config.backends.len())
            .map(|b| {
                let base: Labels = vec![
                    ("tier", backend_tiers[b].as_str().to_owned()),
                    ("backend", backend_names[b].clone()),
                ];
                let with = |name: &'static str, v: &str| {
                    let mut l = base.clone();
                    l.push((name, v.to_owned()));
                    l
                };
                BackendSeries {
                    up: up.get_or_create_owned(&base),
                    state: BackendState::ALL
                        .iter()
                        .map(|s| state.get_or_create_owned(&with("state", s.as_str())))
                        .collect(),
                    in_flight: in_flight_b.get_or_create_owned(&base),
                    queued: queued.get_or_create_owned(&base),
                    calls: CallResult::ALL
                        .iter()
                        .map(|r| calls.get_or_create_owned(&with("result", r.as_str())))
                        .collect(),
                    skipped: SKIP_REASONS
                        .iter()
                        .map(|r| skipped.get_or_create_owned(&with("reason", r)))
                        .collect(),
                }
            })
            .collect();

        let duration_f = Family::<Labels, Histogram, _>::new_with_constructor(|| {
            Histogram::new(DURATION_BUCKETS)
        });
        let mut duration = Vec::new();
        for e in Endpoint::ALL {
            let none = std::iter::once(("none".to_owned(), "none"));
            let named = backend_names
                .iter()
                .zip(&backend_tiers)
                .map(|(n, t)| (n.clone(), t.as_str()));
            for (backend, tier) in none.chain(named) {
                duration.push(duration_f.get_or_create_owned(&vec![
                    ("endpoint", e.as_str().to_owned()),
                    ("tier", tier.to_owned()),
                    ("backend", backend),
                ]));
            }
        }
        let overhead_f = Family::<Labels, Histogram, _>::new_with_constructor(|| {
            Histogram::new(OVERHEAD_BUCKETS)
        });
        let overhead = Endpoint::ALL
            .iter()
            .map(|e| overhead_f.get_or_create_owned(&vec![("endpoint", e.as_str().to_owned())]))
            .collect();
        let filter_f = Family::<Labels, Counter>::default();
        let mut tier_filter = Vec::new();
        for action in ["blocked", "rerouted", "redacted"] {
            for l in Level::ALL {
                tier_filter.push(filter_f.get_or_create_owned(&vec![
                    ("action", action.to_owned()),
                    ("level", l.as_str().to_owned()),
                ]));
            }
        }
        let fallbacks_f = Family::<Labels, Counter>::default();
        let fallbacks = ["budget", "offline"]
            .map(|r| fallbacks_f.get_or_create_owned(&vec![("reason", r.to_owned())]));
        let in_flight = Gauge::default();
        let requests = Family::<Labels, Counter>::default();
        let mut rules: Vec<String> = config.rules.iter().map(|r| value(&r.name)).collect();
        rules.push(EXPLICIT_RULE.to_owned());

        registry.register(
            "airlock_requests",
            "Requests by endpoint, tier, backend, model, sensitivity level, rule, task kind and outcome",
            requests.clone(),
        );
        registry.register(
            "airlock_request_duration_seconds",
            "Arrival to last byte (streams: the stream's end), by endpoint and backend",
            duration_f,
        );
        registry.register(
            "airlock_time_to_first_token_seconds",
            "Arrival to the first streamed chunk",
            ttft,
        );
        registry.register(
            "airlock_gateway_overhead_seconds",
            "Time spent in airlock itself before the answer began (upstream calls and retry waits excluded)",
            overhead_f,
        );
        registry.register(
            "airlock_tokens",
            "Tokens by direction (type=input includes cached input); estimated when a backend reports no usage",
            tokens,
        );
        registry.register(
            "airlock_cached_input_tokens",
            "Input tokens served from the provider's prompt cache (part of type=input)",
            cached,
        );
        registry.register(
            "airlock_cost_usd",
            "Cost at the configured prices, USD (local backends cost 0 here)",
            cost,
        );
        registry.register(
            "airlock_tier_filter",
            "Requests the tier filter refused (blocked), sent elsewhere (rerouted) or sent redacted",
            filter_f,
        );
        registry.register(
            "airlock_fallbacks",
            "Requests kept local because a cloud budget is spent or every cloud backend was down",
            fallbacks_f,
        );
        registry.register(
            "airlock_backend_calls",
            "Calls to backends (retries and fallbacks included) by result",
            calls,
        );
        registry.register(
            "airlock_backend_skipped",
            "Candidate backends passed over without a call: circuit open, or at max_concurrency (busy, queue_full, queue_timeout)",
            skipped,
        );
        registry.register(
            "airlock_backend_up",
            "1 when the backend is up (last probe or call succeeded, circuit closed), else 0 (down, half_open, loading, unknown, unconfigured)",
            up,
        );
        registry.register(
            "airlock_backend_state",
            "1 for the backend's current health state, 0 for the others",
            state,
        );
        registry.register(
            "airlock_backend_in_flight",
            "Calls airlock has open to a backend now (streams until they end)",
            in_flight_b,
        );
        registry.register(
            "airlock_backend_queued",
            "Calls waiting for a slot on a backend at its max_concurrency (0 without one)",
            queued,
        );
        registry.register(
            "airlock_requests_in_flight",
            "Requests airlock is serving now",
            in_flight.clone(),
        );

        Metrics {
            registry,
            backend_names,
            backend_tiers,
            models,
            offsets,
            targets,
            backends,
            rules,
            duration,
            overhead,
            tier_filter,
            fallbacks,
            in_flight,
            requests,
            request_handles: RwLock::new(HashMap::new()),
        }
    }

    pub(super) fn request_started(&self) {
        self.in_flight.inc();
    }

    /// Raises `backend`'s in-flight gauge until the guard is dropped.
    pub fn call_started(&self, backend: BackendId) -> Option<InFlight> {
        let g = &self.backends.get(backend.0)?.in_flight;
        g.inc();
        Some(InFlight(g.clone()))
    }

    /// A candidate was passed over without a call; `why` is one of
    /// [`SKIP_REASONS`] (others are not counted).
    pub fn skipped(&self, backend: BackendId, why: &str) {
        let i = SKIP_REASONS.iter().position(|r| *r == why);
        if let Some(c) = i.and_then(|i| self.backends.get(backend.0)?.skipped.get(i)) {
            c.inc();
        }
    }

    pub fn call_ended(&self, backend: BackendId, result: CallResult) {
        if let Some(c) = self
            .backends
            .get(backend.0)
            .and_then(|b| b.calls.get(result as usize))
        {
            c.inc();
        }
    }

    /// The index of `(backend, model)` in `targets`.
    fn target(&self, backend: BackendId, model: &str) -> Option<usize> {
        let names = self.models.get(backend.0)?;
        let at = names.iter().position(|m| m == model).unwrap_or(names.len());
        Some(self.offsets[backend.0] + at)
    }

    fn rule(&self, rule: Option<&str>) -> usize {
        match rule {
            None => 0,
            Some(r) => {
                1 + self
                    .rules
                    .iter()
                    .position(|n| n == r)
                    .unwrap_or(self.rules.len())
            }
        }
    }

    /// Counts one finished request.
    pub fn record(&self, r: &Record) {
        self.in_flight.dec();
        let target = r
            .backend_id
            .and_then(|b| self.target(b, r.model.as_deref().unwrap_or("")));
        let e = r.endpoint as usize;
        let stride = self.backend_names.len() + 1;
        let b = r.backend_id.map_or(0, |b| b.0 + 1).min(stride - 1);
        if let Some(h) = self.duration.get(e * stride + b) {
            h.observe(r.latency.as_secs_f64());
        }
        if let Some(h) = self.overhead.get(e) {
            h.observe(r.overhead.as_secs_f64());
        }
        if let Some(t) = target.and_then(|t| self.targets.get(t)) {
            if r.input_tokens > 0 {
                t.input.inc_by(r.input_tokens);
            }
            if r.output_tokens > 0 {
                t.output.inc_by(r.output_tokens);
            }
            if r.cached_tokens > 0 {
                t.cached.inc_by(r.cached_tokens);
            }
            if r.cost_usd > 0.0 && r.cost_usd.is_finite() {
                t.cost.inc_by(r.cost_usd);
            }
            if let Some(d) = r.ttft {
                t.ttft.observe(d.as_secs_f64());
            }
        }
        self.count_request(r, target);
        // Explain and count_tokens decide but send nothing: no filter
        // action or fallback happened.
        if !r.endpoint.dispatches() {
            return;
        }
        let level = r.level.unwrap_or_default() as usize;
        let action = if r.outcome == Outcome::Blocked {
            Some(0)
        } else if r.rerouted {
            Some(1)
        } else if r.redacted > 0 {
            Some(2)
        } else {
            None
        };
        if let Some(c) = action.and_then(|a| self.tier_filter.get(a * Level::ALL.len() + level)) {
            c.inc();
        }
        if r.budget_downgraded {
            self.fallbacks[0].inc();
        }
        if r.offline_fallback {
            self.fallbacks[1].inc();
        }
    }

    fn count_request(&self, r: &Record, target: Option<usize>) {
        let rule = self.rule(r.rule.as_deref());
        let key = (r.endpoint as u64)
            | (target.map_or(0, |t| t as u64 + 1) & 0xffff) << 3
            | (r.level.map_or(0, |l| l as u64 + 1)) << 19
            | (rule as u64 & 0xffff) << 22
            | (r.task.map_or(0, |t| t as u64 + 1)) << 38
            | (r.outcome as u64) << 43;
        let handles = self
            .request_handles
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = handles.get(&key) {
            c.inc();
            return;
        }
        drop(handles);
        let counter = self
            .requests
            .get_or_create_owned(&self.request_labels(r, target, rule));
        counter.inc();
        self.request_handles
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, counter);
    }

    /// The label values of a request's `airlock_requests_total` series.
    fn request_labels(&self, r: &Record, target: Option<usize>, rule: usize) -> Labels {
        let none = || "none".to_owned();
        let (tier, backend, model) = match (r.backend_id, target) {
            (Some(b), Some(t)) => {
                let names = &self.models[b.0];
                let m = t - self.offsets[b.0];
                (
                    self.backend_tiers[b.0].as_str().to_owned(),
                    self.backend_names[b.0].clone(),
                    names.get(m).cloned().unwrap_or_else(|| "other".to_owned()),
                )
            }
            _ => (none(), none(), none()),
        };
        let rule = match rule {
            0 => none(),
            i => self
                .rules
                .get(i - 1)
                .cloned()
                .unwrap_or_else(|| "other".to_owned()),
        };
        vec![
            ("endpoint", r.endpoint.as_str().to_owned()),
            ("tier", tier),
            ("backend", backend),
            ("model", model),
            (
                "level",
                r.level.map_or_else(none, |l| l.as_str().to_owned()),
            ),
            ("rule", rule),
            (
                "task",
                r.task.map_or_else(none, |t| Task::as_str(t).to_owned()),
            ),
            ("outcome", r.outcome.as_str().to_owned()),
        ]
    }

    /// The OpenMetrics text of every metric, backend health and queues
    /// read now. Up is `Up` alone: a half-open or loading backend takes
    /// calls, but is not known to answer them.
    pub fn render(&self, health: &Health, capacity: &Capacity) -> Result<String, std::fmt::Error> {
        for (i, b) in self.backends.iter().enumerate() {
            let id = BackendId(i);
            let state = health.state(id);
            b.up.set(i64::from(state == BackendState::Up));
            for (g, s) in b.state.iter().zip(BackendState::ALL) {
                g.set(i64::from(s == state));
            }
            let (_, queued) = capacity.load(id).unwrap_or((0, 0));
            b.queued.set(i64::from(queued));
        }
        let mut out = String::new();
        text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
