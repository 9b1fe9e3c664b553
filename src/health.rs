//! What airlock knows of each backend's health: a state per backend, set by
//! periodic probes and by the outcome of real calls. Unconfigured backends
//! (missing key) are never probed and never leave that state. Probes of
//! cloud backends use their free model-list endpoint, never a completion.

use crate::config::{BackendId, Config};
use crate::route::BackendState;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::watch;

pub struct Health {
    states: Vec<AtomicU8>,
    discovered: Vec<RwLock<Vec<String>>>,
}

const UP: u8 = 0;
const DOWN: u8 = 1;
const UNKNOWN: u8 = 2;
const UNCONFIGURED: u8 = 3;

impl Health {
    pub fn new(config: &Config) -> Health {
        Health {
            states: config
                .backends
                .iter()
                .map(|b| {
                    AtomicU8::new(if b.is_configured() {
                        UNKNOWN
                    } else {
                        UNCONFIGURED
                    })
                })
                .collect(),
            discovered: config
                .backends
                .iter()
                .map(|_| RwLock::new(Vec::new()))
                .collect(),
        }
    }

    pub fn state(&self, id: BackendId) -> BackendState {
        match self.states.get(id.0).map(|s| s.load(Ordering::Relaxed)) {
            Some(UP) => BackendState::Up,
            Some(DOWN) => BackendState::Down,
            Some(UNCONFIGURED) | None => BackendState::Unconfigured,
            Some(_) => BackendState::Unknown,
        }
    }

    /// Records the outcome of a call or probe. Unconfigured stays unconfigured.
    pub fn mark(&self, id: BackendId, up: bool) {
        if let Some(s) = self.states.get(id.0) {
            let _ = s.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |cur| {
                (cur != UNCONFIGURED).then_some(if up { UP } else { DOWN })
            });
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

/// Probes every configured backend now and then every `health.interval`, until `shutdown`.
pub async fn run_probes(
    config: Arc<Config>,
    health: Arc<Health>,
    http: reqwest::Client,
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
                let http = http.clone();
                let health = health.clone();
                let timeout = config.health.timeout;
                async move {
                    let id = BackendId(i);
                    match crate::providers::probe(&http, b, timeout).await {
                        Ok(models) => {
                            let was = health.state(id);
                            health.mark(id, true);
                            health.set_discovered(id, models);
                            if was != BackendState::Up {
                                tracing::info!(backend = %b.name, "backend is up");
                            }
                        }
                        Err(e) => {
                            let was = health.state(id);
                            health.mark(id, false);
                            if was != BackendState::Down {
                                tracing::warn!(backend = %b.name, error = e.label(), "backend is down");
                            }
                        }
                    }
                }
            });
        futures_util::future::join_all(probes).await;
    }
}
