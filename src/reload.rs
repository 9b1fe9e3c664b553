//! Hot reload: SIGHUP or `POST /v1/airlock/reload` reads the config file
//! again and, when it is valid, swaps it in atomically; a bad file is
//! refused with its errors and the running config keeps serving.
//!
//! The server's outer router answers the reload route itself and hands
//! every other request to the current inner router (built for the current
//! state), read once per request: a request runs to its end on the state
//! it began with. What outlives a reload is in [`AppState::successor`];
//! settings only a restart applies (`server.listen`, `[state]`, `[audit]`)
//! are named in the answer and the log.
//!
//! Who may reload: a gateway key with `admin = true`; when no keys are
//! configured, a client on a loopback address.

use crate::api;
use crate::app::AppState;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Reloader {
    /// The config file read on reload (`None`: built from memory, e.g. in
    /// tests; reloading then answers that there is nothing to read).
    source: Option<PathBuf>,
    current: RwLock<(Arc<AppState>, Router)>,
    probes: Mutex<Option<JoinHandle<()>>>,
    stop: watch::Receiver<bool>,
    /// One reload at a time.
    busy: tokio::sync::Mutex<()>,
}

/// What a reload did.
#[derive(Debug)]
pub enum Outcome {
    Reloaded {
        warnings: Vec<String>,
        /// Changed settings that only a restart applies.
        restart: Vec<String>,
    },
    Invalid(Vec<String>),
    NoSource,
    Failed(String),
}

impl Reloader {
    pub fn new(
        state: Arc<AppState>,
        source: Option<PathBuf>,
        stop: watch::Receiver<bool>,
    ) -> Arc<Reloader> {
        let router = api::router(Arc::clone(&state));
        let r = Arc::new(Reloader {
            source,
            current: RwLock::new((state, router)),
            probes: Mutex::new(None),
            stop,
            busy: tokio::sync::Mutex::new(()),
        });
        r.restart_probes();
        r
    }

    pub fn state(&self) -> Arc<AppState> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()).0)
    }

    fn router(&self) -> Router {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    fn restart_probes(&self) {
        let state = self.state();
        let task = tokio::spawn(crate::health::run_probes(
            state.config.clone(),
            state.health.clone(),
            state.http.clone(),
            self.stop.clone(),
        ));
        if let Some(old) = self
            .probes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(task)
        {
            old.abort();
        }
    }

    /// Stops the health probes (shutdown).
    pub fn stop_probes(&self) {
        if let Some(t) = self.probes.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.abort();
        }
    }

    /// Reads the config file again and swaps it in when valid.
    pub async fn reload(&self) -> Outcome {
        let _one = self.busy.lock().await;
        let Some(path) = &self.source else {
            return Outcome::NoSource;
        };
        let loaded = match crate::config::load(path) {
            Ok(l) => l,
            Err(issues) => return Outcome::Invalid(issues.iter().map(|i| i.to_string()).collect()),
        };
        let old = self.state();
        let (next, restart) = match old.successor(loaded.config) {
            Ok(n) => n,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let next = Arc::new(next);
        let router = api::router(Arc::clone(&next));
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = (next, router);
        self.restart_probes();
        Outcome::Reloaded {
            warnings: loaded.warnings.iter().map(|w| w.to_string()).collect(),
            restart,
        }
    }

    /// The server's router: the reload route, then the current router.
    pub fn outer(self: &Arc<Self>) -> Router {
        let me = Arc::clone(self);
        Router::new()
            .route("/v1/airlock/reload", axum::routing::post(reload_route))
            .fallback_service(tower::service_fn(move |req| {
                let router = me.router();
                async move { tower::ServiceExt::oneshot(router, req).await }
            }))
            .with_state(Arc::clone(self))
    }

    /// Reloads on SIGHUP until shutdown.
    pub fn on_sighup(self: &Arc<Self>) -> JoinHandle<()> {
        let me = Arc::clone(self);
        let mut stop = self.stop.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                let Ok(mut hup) = signal(SignalKind::hangup()) else {
                    tracing::warn!("cannot listen for SIGHUP: reload by POST /v1/airlock/reload");
                    return;
                };
                loop {
                    tokio::select! {
                        _ = hup.recv() => log(&me.reload().await, "SIGHUP"),
                        _ = stop.changed() => return,
                    }
                }
            }
            #[cfg(not(unix))]
            {
                let _ = (me, stop.changed().await);
            }
        })
    }
}

fn log(o: &Outcome, by: &str) {
    match o {
        Outcome::Reloaded { warnings, restart } => {
            tracing::info!(by, warnings = warnings.len(), "config reloaded");
            for w in warnings {
                tracing::warn!("{w}");
            }
            if !restart.is_empty() {
                tracing::warn!(settings = ?restart, "changed settings need a restart to apply");
            }
        }
        Outcome::Invalid(issues) => {
            tracing::error!(
                by,
                errors = issues.len(),
                "new config refused; the running one stays"
            );
            for i in issues {
                tracing::error!("{i}");
            }
        }
        Outcome::NoSource => tracing::warn!(by, "no config file to reload"),
        Outcome::Failed(e) => {
            tracing::error!(by, error = %e, "reload failed; the running config stays")
        }
    }
}

fn error(status: StatusCode, kind: &str, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
        ),
    )
        .into_response()
}

async fn reload_route(State(r): State<Arc<Reloader>>, req: axum::extract::Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let headers: &HeaderMap = req.headers();
    let state = r.state();
    let config = &state.config;
    if config.auth_required() {
        match api::authenticate(config, headers) {
            Ok(Some(i)) if config.keys[i].admin => {}
            Ok(_) => {
                return error(
                    StatusCode::FORBIDDEN,
                    "permission_error",
                    "admin_key_required",
                    "reloading needs a gateway key with admin = true",
                );
            }
            Err(e) => return e.into_response(),
        }
    } else if !peer.is_some_and(|a| a.ip().is_loopback()) {
        return error(
            StatusCode::FORBIDDEN,
            "permission_error",
            "loopback_only",
            "without gateway keys, only a loopback client may reload",
        );
    }
    let outcome = r.reload().await;
    log(&outcome, "api");
    match outcome {
        Outcome::Reloaded { warnings, restart } => axum::Json(json!({
            "status": "reloaded",
            "warnings": warnings,
            "restart_required": restart,
        }))
        .into_response(),
        Outcome::Invalid(issues) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "error": {
                    "message": "the new config is invalid; the running one keeps serving",
                    "type": "invalid_request_error",
                    "param": null,
                    "code": "invalid_config",
                },
                "issues": issues,
            })),
        )
            .into_response(),
        Outcome::NoSource => error(
            StatusCode::CONFLICT,
            "invalid_request_error",
            "no_config_file",
            "this gateway was not started from a config file",
        ),
        Outcome::Failed(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "reload_failed",
            &format!("reload failed ({e}); the running config keeps serving"),
        ),
    }
}
