//! The read-only routes: the model list, the running gateway's cost table,
//! `/metrics`, and the liveness and readiness probes. None routes, sends or
//! records a request of its own beyond the middleware's.

use super::{ApiError, presented_key, same_secret};
use crate::app::AppState;
use crate::config::BackendId;
use crate::volume::Dim;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde_json::json;
use std::sync::Arc;

/// `airlock cost` for the running gateway: per task kind, volume, cloud and
/// local cost a day, break-even and recommendation.
pub(super) async fn cost(State(app): State<Arc<AppState>>) -> Response {
    let counts = |t: crate::classify::Task| {
        crate::volume::Window::ALL.map(|w| app.volume.count(&Dim::Task(t), w))
    };
    let rows = crate::cost::table(&app.config, &counts);
    let cloud = crate::cost::sides(&app.config).map(|s| s.cloud.0);
    Json(json!({
        "object": "airlock.cost",
        "cloud_price_from": cloud,
        "counts_from": app.volume.redis_state(),
        "rows": rows,
    }))
    .into_response()
}

pub(super) async fn models(State(app): State<Arc<AppState>>) -> Response {
    let c = &app.config;
    let entry = |id: &str, owner: &str| json!({"id": id, "object": "model", "created": 0, "owned_by": owner});
    let mut data = vec![entry(crate::config::AUTO_MODEL, "airlock")];
    for p in &c.pools {
        data.push(entry(&p.name, "airlock"));
    }
    for (i, b) in c.backends.iter().enumerate() {
        if !b.is_configured() {
            continue;
        }
        let mut names = b.models.clone();
        if names.is_empty() {
            names = app.health.discovered(BackendId(i));
        }
        for m in names {
            data.push(entry(&format!("{}/{m}", b.name), &b.name));
        }
    }
    Json(json!({"object": "list", "data": data})).into_response()
}

/// `GET /metrics`: OpenMetrics text. Open unless `[metrics] token_env` (or
/// `token_file`) names a bearer token; 404 with `enabled = false`. Not a
/// `/v1` route, so scrapes are not counted as requests.
pub(super) async fn metrics(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let settings = &app.config.metrics;
    if !settings.enabled {
        return ApiError::NotFound.into_response();
    }
    if let Some(token) = &settings.token {
        let want = crate::config::key_sha256(token.expose_secret().as_bytes());
        let ok = presented_key(&headers)
            .is_some_and(|k| same_secret(&crate::config::key_sha256(k.as_bytes()), &want));
        if !ok {
            return ApiError::InvalidApiKey.into_response();
        }
    }
    match app.observer.metrics.render(&app.health, &app.capacity) {
        Ok(text) => (
            [(header::CONTENT_TYPE, crate::observe::metrics::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(_) => ApiError::Internal.into_response(),
    }
}

pub(super) async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub(super) async fn readyz(State(app): State<Arc<AppState>>) -> Response {
    let c = &app.config;
    let mut up = 0;
    let mut configured = 0;
    let backends: Vec<_> = c
        .backends
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let s = app.health.state(BackendId(i));
            if s == crate::route::BackendState::Up {
                up += 1;
            }
            if b.is_configured() {
                configured += 1;
            }
            let mut entry = json!({"name": b.name, "tier": b.tier.as_str(), "state": s.as_str()});
            if let Some((in_flight, queued)) = app.capacity.load(BackendId(i)) {
                entry["in_flight"] = json!(in_flight);
                entry["queued"] = json!(queued);
            }
            entry
        })
        .collect();
    let status = if up == 0 {
        "unready"
    } else if up == configured {
        "ready"
    } else {
        "degraded"
    };
    let code = if up == 0 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    // Redis trouble does not make the gateway unready: memory fails closed
    // and volume falls back to this process's counts; it is reported here.
    let state = json!({"redis": app.volume.redis_state()});
    (
        code,
        Json(json!({"status": status, "backends": backends, "state": state})),
    )
        .into_response()
}
