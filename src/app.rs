//! The running gateway: `App::build(config)` binds the listener and builds the
//! shared state; `App::run(shutdown)` serves until the shutdown future
//! resolves, then drains in-flight requests. `main` and the tests run the
//! same `App`.

use crate::classify::sensitivity::Scanner;
use crate::config::Config;
use crate::health::Health;
use axum::serve::ListenerExt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// State shared by every request.
pub struct AppState {
    pub config: Arc<Config>,
    /// The data-flow audit (`[audit]`), when enabled and open.
    pub audit: Option<crate::audit::Audit>,
    pub scanner: Scanner,
    /// HTTP clients, per backend where it has its own proxy, CA or
    /// client certificate.
    pub http: crate::providers::Clients,
    pub health: Arc<Health>,
    pub memory: Arc<crate::memory::Memory>,
    /// Requests and tokens per task kind, rule and key (shared via Redis
    /// when `[state] redis_url` is set).
    pub volume: Arc<crate::volume::Volume>,
    /// Measured latency and conversation stickiness (candidate order only).
    pub affinity: crate::affinity::Affinity,
    /// Per-request records to metrics, logs and sinks.
    pub observer: crate::observe::Observer,
    /// Per-backend concurrency limits and queues.
    pub capacity: crate::capacity::Capacity,
    /// Per-key requests and tokens per minute.
    pub ratelimit: Arc<crate::ratelimit::RateLimiter>,
}

impl AppState {
    pub fn new(config: Config) -> std::io::Result<AppState> {
        AppState::with_sinks(config, Vec::new())
    }

    /// As `new`, with extra consumers of the per-request records.
    pub fn with_sinks(
        config: Config,
        sinks: Vec<Arc<dyn crate::observe::Sink>>,
    ) -> std::io::Result<AppState> {
        let http = crate::providers::Clients::new(&config).map_err(std::io::Error::other)?;
        let health = Arc::new(Health::new(&config));
        let redis =
            crate::state::Redis::from_settings(&config.state).map_err(std::io::Error::other)?;
        let (memory, volume) = match &redis {
            Some(r) => (
                crate::memory::Memory::shared(config.memory, r.clone()),
                crate::volume::Volume::shared(r.clone()),
            ),
            None => (
                crate::memory::Memory::new(config.memory),
                crate::volume::Volume::local(),
            ),
        };
        let scanner = Scanner::with_options(&config.scan);
        // The audit database: one that cannot be opened leaves the gateway
        // serving, unaudited, and says so.
        let audit = if config.audit.enabled {
            match crate::audit::Audit::open(&config.audit) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::error!(error = %e, path = %config.audit.path.display(), "audit database cannot be opened: requests are NOT audited");
                    None
                }
            }
        } else {
            None
        };
        let mut sinks = sinks;
        if let Some(a) = &audit {
            sinks.push(Arc::new(crate::audit::AuditSink(a.clone())));
        }
        let observer = crate::observe::Observer::new(crate::observe::Metrics::new(&config), sinks);
        let capacity = crate::capacity::Capacity::new(&config);
        let ratelimit = Arc::new(crate::ratelimit::RateLimiter::new(redis.clone()));
        Ok(AppState {
            audit,
            observer,
            capacity,
            ratelimit,
            memory: Arc::new(memory),
            config: Arc::new(config),
            scanner,
            http,
            health,
            volume: Arc::new(volume),
            affinity: crate::affinity::Affinity::default(),
        })
    }
}

impl AppState {
    /// The state for a reloaded `config`, keeping what must outlive a
    /// reload: volume and conversation memory (and their Redis
    /// connection), rate-limit counts, the audit and the record sinks.
    /// Backends, health, capacity limits, clients, scanner and metrics
    /// are made anew (in-flight requests finish on the state they began
    /// with). Returns what the new config changes that only a restart
    /// applies.
    pub fn successor(&self, config: Config) -> std::io::Result<(AppState, Vec<String>)> {
        let mut restart = Vec::new();
        let old = &self.config;
        if config.server.listen != old.server.listen {
            restart.push("server.listen".to_owned());
        }
        let url = |s: &crate::state::StateSettings| {
            use secrecy::ExposeSecret;
            s.redis_url.as_ref().map(|u| u.expose_secret().to_owned())
        };
        if url(&config.state) != url(&old.state)
            || config.state.key_prefix != old.state.key_prefix
            || config.state.timeout != old.state.timeout
            || config.state.sync_interval != old.state.sync_interval
        {
            restart.push("state".to_owned());
        }
        if config.audit.path != old.audit.path || config.audit.enabled != old.audit.enabled {
            restart.push("audit".to_owned());
        }
        let http = crate::providers::Clients::new(&config).map_err(std::io::Error::other)?;
        let observer = crate::observe::Observer::new(
            crate::observe::Metrics::new(&config),
            self.observer.sinks(),
        );
        Ok((
            AppState {
                audit: self.audit.clone(),
                scanner: Scanner::with_options(&config.scan),
                http,
                health: Arc::new(Health::new(&config)),
                memory: Arc::clone(&self.memory),
                volume: Arc::clone(&self.volume),
                affinity: crate::affinity::Affinity::default(),
                observer,
                capacity: crate::capacity::Capacity::new(&config),
                ratelimit: Arc::clone(&self.ratelimit),
                config: Arc::new(config),
            },
            restart,
        ))
    }
}

pub struct App {
    listener: TcpListener,
    state: Arc<AppState>,
    /// The config file a reload reads.
    source: Option<std::path::PathBuf>,
}

impl App {
    /// Binds `server.listen` and prepares the state. Nothing is probed yet.
    pub async fn build(config: Config) -> std::io::Result<App> {
        App::build_with_sinks(config, Vec::new()).await
    }

    /// As `build`, with extra consumers of the per-request records (the
    /// audit store, tests).
    pub async fn build_with_sinks(
        config: Config,
        sinks: Vec<Arc<dyn crate::observe::Sink>>,
    ) -> std::io::Result<App> {
        let listener = TcpListener::bind(config.server.listen).await?;
        let state = Arc::new(AppState::with_sinks(config, sinks)?);
        Ok(App {
            listener,
            state,
            source: None,
        })
    }

    /// The config file that SIGHUP and `POST /v1/airlock/reload` read.
    pub fn with_source(mut self, path: std::path::PathBuf) -> App {
        self.source = Some(path);
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets
    /// in-flight requests finish within `server.shutdown_grace`.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        // Probes run for the current state; a reload restarts them.
        let reloader =
            crate::reload::Reloader::new(self.state.clone(), self.source.clone(), stop_rx.clone());
        let sighup = reloader.on_sighup();
        let sync = tokio::spawn(
            self.state
                .volume
                .clone()
                .run_sync(self.state.config.state.sync_interval),
        );
        let grace = self.state.config.server.shutdown_grace;
        let router = reloader
            .outer()
            .into_make_service_with_connect_info::<SocketAddr>();
        let mut drain_rx = stop_rx.clone();
        // Streamed chunks are small writes: without TCP_NODELAY each one can
        // wait for the client's delayed ACK (tens of milliseconds).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let serve = async move {
            let mut handle = tokio::spawn(serve.into_future());
            tokio::select! {
                r = &mut handle => return r.map_err(std::io::Error::other)?,
                _ = drain_rx.changed() => {}
            }
            match tokio::time::timeout(grace, &mut handle).await {
                Ok(r) => r.map_err(std::io::Error::other)?,
                Err(_) => {
                    tracing::warn!(
                        grace_ms = grace.as_millis() as u64,
                        "shutdown grace expired; dropping open connections"
                    );
                    handle.abort();
                    Ok(())
                }
            }
        };
        let result = serve.await;
        reloader.stop_probes();
        sighup.abort();
        sync.abort();
        // Counts not shared yet get one last chance.
        if let Err(e) = self.state.volume.sync().await {
            tracing::warn!(error = %e, "final volume sync failed");
        }
        // Audit rows still queued (the writer gathers up to BATCH_WAIT)
        // are stored before the process exits.
        if let Some(audit) = self.state.audit.clone() {
            let stored =
                tokio::task::spawn_blocking(move || audit.flush(Duration::from_secs(5))).await;
            if !matches!(stored, Ok(true)) {
                tracing::warn!("audit: queued records could not be stored before exit");
            }
        }
        result
    }
}
