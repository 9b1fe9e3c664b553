//! What airlock knows of each backend's health: a state per backend, set by
//! periodic probes and by the outcome of real calls. Unconfigured backends
//! (missing key) are never probed and never leave that state. Probes of
//! cloud backends use their free model-list endpoint, never a completion.
//!
//! **Circuit breaking.** A failed probe marks a backend down at once: it
//! is tried after the healthy ones. Real calls count:
//! `health.failure_threshold` failures in a row (connect errors, timeouts,
//! 5xx) open its circuit, and for `health.open_ms` no call is sent to it
//! ([`Health::admit`] says no). Then it is half-open: one trial call at a
//! time is let through; success closes the circuit, failure opens it again
//! for another `open_ms`. A probe that succeeds does not close a circuit
//! that calls opened (a model list that answers says little of a failing
//! completion). A backend that answers "loading" (llama.cpp's 503
//! "Loading model" while it reads weights) is `Loading`, not down: it is
//! alive, tried after the healthy ones, and its failures do not open the
//! circuit.

use crate::config::{BackendId, Config, HealthSettings};
use crate::route::BackendState;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub struct Health {
    slots: Vec<Slot>,
    discovered: Vec<RwLock<Vec<String>>>,
    epoch: Instant,
    threshold: u32,
    open_for: Duration,
}

struct Slot {
    state: AtomicU8,
    /// Failed calls in a row.
    failures: AtomicU32,
    /// When the circuit last opened, in ms since `epoch`.
    opened_ms: AtomicU64,
    /// When the running trial call was let through, in ms since `epoch`
    /// plus one (0: none). A trial older than `open_for` is presumed lost
    /// (its caller went away) and another may start.
    trial_ms: AtomicU64,
    /// The circuit was opened by calls, not by a probe: only a call closes
    /// it (a model list that answers says little of a failing completion).
    by_calls: AtomicBool,
}

const UP: u8 = 0;
const DOWN: u8 = 1;
const UNKNOWN: u8 = 2;
const UNCONFIGURED: u8 = 3;
const LOADING: u8 = 4;

/// Whether a call may go to a backend now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    Yes,
    /// The circuit is half-open and this call is its trial.
    Trial,
    /// The circuit is open (or its trial is running) for about this long.
    No(Duration),
}

impl Health {
    pub fn new(config: &Config) -> Health {
        Health::with(config, &config.health)
    }

    fn with(config: &Config, settings: &HealthSettings) -> Health {
        Health {
            slots: config
                .backends
                .iter()
                .map(|b| Slot {
                    state: AtomicU8::new(if b.is_configured() {
                        UNKNOWN
                    } else {
                        UNCONFIGURED
                    }),
                    failures: AtomicU32::new(0),
                    opened_ms: AtomicU64::new(0),
                    trial_ms: AtomicU64::new(0),
                    by_calls: AtomicBool::new(false),
                })
                .collect(),
            discovered: config
                .backends
                .iter()
                .map(|_| RwLock::new(Vec::new()))
                .collect(),
            epoch: Instant::now(),
            threshold: settings.failure_threshold.max(1),
            open_for: settings.open_for,
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn open_ms(&self) -> u64 {
        self.open_for.as_millis() as u64
    }

    pub fn state(&self, id: BackendId) -> BackendState {
        let Some(slot) = self.slots.get(id.0) else {
            return BackendState::Unconfigured;
        };
        match slot.state.load(Ordering::Relaxed) {
            UP => BackendState::Up,
            DOWN => {
                let since = self
                    .now_ms()
                    .saturating_sub(slot.opened_ms.load(Ordering::Relaxed));
                if since >= self.open_ms() {
                    BackendState::HalfOpen
                } else {
                    BackendState::Down
                }
            }
            LOADING => BackendState::Loading,
            UNCONFIGURED => BackendState::Unconfigured,
            _ => BackendState::Unknown,
        }
    }

    /// Whether a call may be sent to `id` now; a `Trial` must be followed
    /// by [`Health::call_ok`], [`Health::call_failed`] or
    /// [`Health::call_done`] (a lost one expires after `open_ms`).
    pub fn admit(&self, id: BackendId) -> Admit {
        let Some(slot) = self.slots.get(id.0) else {
            return Admit::Yes;
        };
        // A backend only a probe found down is still tried, after the
        // others: calls, not a model list, decide to keep traffic away.
        if slot.state.load(Ordering::Relaxed) != DOWN || !slot.by_calls.load(Ordering::Relaxed) {
            return Admit::Yes;
        }
        let now = self.now_ms();
        let opened = slot.opened_ms.load(Ordering::Relaxed);
        let left = (opened + self.open_ms()).saturating_sub(now);
        if left > 0 {
            return Admit::No(Duration::from_millis(left));
        }
        let trial = slot.trial_ms.load(Ordering::Relaxed);
        let lost = trial != 0 && now + 1 >= trial + self.open_ms();
        if (trial == 0 || lost)
            && slot
                .trial_ms
                .compare_exchange(trial, now + 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            Admit::Trial
        } else {
            Admit::No(self.open_for)
        }
    }

    /// A call succeeded: the circuit closes.
    pub fn call_ok(&self, id: BackendId) {
        if let Some(slot) = self.slots.get(id.0) {
            slot.failures.store(0, Ordering::Relaxed);
            slot.trial_ms.store(0, Ordering::Relaxed);
            set_unless_unconfigured(&slot.state, UP);
        }
    }

    /// A call failed in a way that says the backend is unwell (connect,
    /// timeout, 5xx): counts towards opening the circuit; a failed trial
    /// opens it again at once. `loading` marks it loading instead.
    pub fn call_failed(&self, id: BackendId, loading: bool) {
        let Some(slot) = self.slots.get(id.0) else {
            return;
        };
        if loading {
            slot.trial_ms.store(0, Ordering::Relaxed);
            set_unless_unconfigured(&slot.state, LOADING);
            return;
        }
        let failures = slot
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let was_trial = slot.trial_ms.swap(0, Ordering::Relaxed) != 0;
        if failures >= self.threshold || was_trial {
            slot.by_calls.store(true, Ordering::Relaxed);
            self.open(slot);
        }
    }

    /// A call ended without saying anything of the backend's health (the
    /// request was refused as the caller's, or rate-limited): a trial
    /// slot is given back.
    pub fn call_done(&self, id: BackendId) {
        if let Some(slot) = self.slots.get(id.0) {
            slot.trial_ms.store(0, Ordering::Relaxed);
        }
    }

    fn open(&self, slot: &Slot) {
        slot.opened_ms.store(self.now_ms(), Ordering::Relaxed);
        set_unless_unconfigured(&slot.state, DOWN);
    }

    /// Records a probe: up closes a circuit a probe opened (one that calls
    /// opened waits for a call); down opens it at once; loading marks the
    /// backend loading.
    pub fn probed(&self, id: BackendId, result: Probe) {
        let Some(slot) = self.slots.get(id.0) else {
            return;
        };
        match result {
            Probe::Up
                if slot.state.load(Ordering::Relaxed) == DOWN
                    && slot.by_calls.load(Ordering::Relaxed) => {}
            Probe::Up => set_unless_unconfigured(&slot.state, UP),
            Probe::Loading => set_unless_unconfigured(&slot.state, LOADING),
            // An open circuit still waiting keeps its clock: a probe
            // failing every interval must not push the trial away. A
            // half-open one opens again: the probe was its trial.
            Probe::Down if self.state(id) == BackendState::Down => {}
            Probe::Down => {
                slot.by_calls.store(false, Ordering::Relaxed);
                self.open(slot);
            }
        }
    }

    /// Models a backend listed at its last successful probe.
    pub fn discovered(&self, id: BackendId) -> Vec<String> {
        self.discovered
            .get(id.0)
            .and_then(|l| l.read().ok().map(|v| v.clone()))
            .unwrap_or_default()
    }

    fn set_discovered(&self, id: BackendId, models: Vec<String>) {
        if let Some(Ok(mut l)) = self.discovered.get(id.0).map(|l| l.write()) {
            *l = models;
        }
    }
}

/// What a probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Up,
    Loading,
    Down,
}

fn set_unless_unconfigured(state: &AtomicU8, to: u8) {
    let _ = state.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |cur| {
        (cur != UNCONFIGURED).then_some(to)
    });
}

/// Probes every configured backend now and then every `health.interval`, until `shutdown`.
pub async fn run_probes(
    config: Arc<Config>,
    health: Arc<Health>,
    http: crate::providers::Clients,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(config.health.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let probes = config
            .backends
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_configured())
            .map(|(i, b)| {
                let http = http.get(BackendId(i)).clone();
                let health = health.clone();
                let timeout = config.health.timeout;
                async move {
                    let id = BackendId(i);
                    let was = health.state(id);
                    match crate::providers::probe(&http, b, timeout).await {
                        Ok(models) => {
                            health.probed(id, Probe::Up);
                            if let Some(models) = models {
                                health.set_discovered(id, models);
                            }
                            if was != BackendState::Up {
                                tracing::info!(backend = %b.name, "backend is up");
                            }
                        }
                        Err(e) if e.is_loading() => {
                            health.probed(id, Probe::Loading);
                            if was != BackendState::Loading {
                                tracing::info!(backend = %b.name, "backend is loading a model");
                            }
                        }
                        Err(e) => {
                            health.probed(id, Probe::Down);
                            if !matches!(was, BackendState::Down | BackendState::HalfOpen) {
                                tracing::warn!(backend = %b.name, error = e.label(), "backend is down");
                            }
                        }
                    }
                }
            });
        futures_util::future::join_all(probes).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(threshold: u32, open_ms: u64) -> Health {
        let toml = r#"
[[backends]]
name = "a"
protocol = "openai"
base_url = "http://127.0.0.1:9/v1"
tier = "local"
models = ["m"]
[pools]
p = ["a/m"]
[[rules]]
name = "default"
pool = "p"
"#;
        let mut config = crate::config::from_toml_str(toml, &|_| None)
            .expect("config")
            .config;
        config.health.failure_threshold = threshold;
        config.health.open_for = Duration::from_millis(open_ms);
        Health::new(&config)
    }

    const A: BackendId = BackendId(0);

    #[test]
    fn failures_in_a_row_open_the_circuit_and_a_success_resets_the_count() {
        let h = health(3, 60_000);
        h.call_failed(A, false);
        h.call_failed(A, false);
        h.call_ok(A);
        h.call_failed(A, false);
        h.call_failed(A, false);
        assert_eq!(h.state(A), BackendState::Up);
        assert_eq!(h.admit(A), Admit::Yes);
        h.call_failed(A, false);
        assert_eq!(h.state(A), BackendState::Down);
        assert!(matches!(h.admit(A), Admit::No(d) if d > Duration::from_secs(59)));
    }

    #[test]
    fn after_the_wait_one_trial_at_a_time_decides() {
        let h = health(1, 30);
        h.call_failed(A, false);
        assert!(matches!(h.admit(A), Admit::No(_)));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(h.state(A), BackendState::HalfOpen);
        assert_eq!(h.admit(A), Admit::Trial);
        assert!(matches!(h.admit(A), Admit::No(_)), "one trial at a time");
        // The trial fails: open again, for the whole wait.
        h.call_failed(A, false);
        assert_eq!(h.state(A), BackendState::Down);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(h.admit(A), Admit::Trial);
        h.call_ok(A);
        assert_eq!(h.state(A), BackendState::Up);
        assert_eq!(h.admit(A), Admit::Yes);
    }

    #[test]
    fn a_trial_given_back_or_lost_lets_another_through() {
        let h = health(1, 30);
        h.call_failed(A, false);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(h.admit(A), Admit::Trial);
        h.call_done(A);
        assert_eq!(h.admit(A), Admit::Trial);
        // Never reported: after another wait it is presumed lost.
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(h.admit(A), Admit::Trial);
    }

    #[test]
    fn loading_is_not_a_failure_and_probes_move_the_state() {
        let h = health(1, 60_000);
        h.call_failed(A, true);
        assert_eq!(h.state(A), BackendState::Loading);
        assert_eq!(h.admit(A), Admit::Yes);
        h.probed(A, Probe::Up);
        assert_eq!(h.state(A), BackendState::Up);
        h.probed(A, Probe::Down);
        assert_eq!(h.state(A), BackendState::Down);
        h.probed(A, Probe::Loading);
        assert_eq!(h.state(A), BackendState::Loading);
    }

    #[test]
    fn a_probe_does_not_close_a_circuit_that_calls_opened() {
        let h = health(1, 60_000);
        h.call_failed(A, false);
        h.probed(A, Probe::Up);
        assert_eq!(h.state(A), BackendState::Down);
        // Down by a probe alone, it is still tried (after the others), and
        // a probe brings it back.
        let h = health(1, 60_000);
        h.probed(A, Probe::Down);
        assert_eq!(h.state(A), BackendState::Down);
        assert_eq!(h.admit(A), Admit::Yes);
        h.probed(A, Probe::Up);
        assert_eq!(h.state(A), BackendState::Up);
    }
}
