//! The read-only routes: the model list, the running gateway's cost table
//! and audit report, the dashboard page, `/metrics`, and the liveness and
//! readiness probes. None routes, sends or records a request of its own
//! beyond the middleware's.

use super::{ApiError, presented_key, same_secret};
use crate::app::AppState;
use crate::audit::store::{Store, StoreError};
use crate::config::BackendId;
use crate::volume::Dim;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde_json::json;
use std::collections::HashMap;
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

/// Each backend's name, tier, health state and, for limited backends,
/// `in_flight` and `queued`: what `/readyz` and the report show.
fn backend_health(app: &AppState) -> Vec<serde_json::Value> {
    app.config
        .backends
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let s = app.health.state(BackendId(i));
            let mut entry = json!({"name": b.name, "tier": b.tier.as_str(), "state": s.as_str()});
            if let Some((in_flight, queued)) = app.capacity.load(BackendId(i)) {
                entry["in_flight"] = json!(in_flight);
                entry["queued"] = json!(queued);
            }
            entry
        })
        .collect()
}

pub(super) async fn readyz(State(app): State<Arc<AppState>>) -> Response {
    let c = &app.config;
    let mut up = 0;
    let mut configured = 0;
    for (i, b) in c.backends.iter().enumerate() {
        if app.health.state(BackendId(i)) == crate::route::BackendState::Up {
            up += 1;
        }
        if b.is_configured() {
            configured += 1;
        }
    }
    let backends = backend_health(&app);
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

/// The window `/v1/airlock/report` reads when `since` is not given: the
/// default of `airlock report --since`.
const REPORT_SINCE: &str = "7d";

/// `GET /v1/airlock/report?since=7d`: `airlock report --format json` for
/// the running gateway (the same [`Report`](crate::audit::report::Report)
/// fields), plus `object`, `since` and each backend's health now. The
/// audit database is read through a read-only connection of its own, off
/// the async workers. 404 `audit_disabled` without an audit.
pub(super) async fn report(
    State(app): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match build_report(&app, query.get("since").map(String::as_str)).await {
        Ok(doc) => Json(doc).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn build_report(
    app: &Arc<AppState>,
    since: Option<&str>,
) -> Result<serde_json::Value, ApiError> {
    if app.audit.is_none() {
        return Err(ApiError::AuditDisabled);
    }
    let since = since.unwrap_or(REPORT_SINCE).to_owned();
    let now = crate::audit::now_ms();
    let from =
        crate::audit::parse_since(&since, now).map_err(|message| ApiError::InvalidRequest {
            message: format!("since: {message}"),
            param: Some("since".into()),
        })?;
    let reader = Arc::clone(app);
    let built = tokio::task::spawn_blocking(move || {
        let store = Store::open_read_only(&reader.config.audit.path)?;
        let mut rows = Vec::new();
        store.rows_since(from, |_, _, r| {
            rows.push(r);
            Ok(())
        })?;
        let since_ms = (from > i64::MIN).then_some(from);
        Ok::<_, StoreError>(crate::audit::report::build(
            &reader.config,
            &rows,
            since_ms,
            now,
        ))
    })
    .await;
    let report = match built {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "report: the audit database cannot be read");
            return Err(ApiError::Internal);
        }
        Err(e) => {
            tracing::error!(error = %e, "report: the reading task failed");
            return Err(ApiError::Internal);
        }
    };
    let mut doc = serde_json::to_value(&report).map_err(|_| ApiError::Internal)?;
    doc["object"] = json!("airlock.report");
    doc["since"] = json!(since);
    doc["backends"] = json!(backend_health(app));
    Ok(doc)
}

/// The dashboard: one page, its styles and scripts inline, no other asset.
const DASHBOARD: &str = include_str!("dashboard.html");

/// `GET /dashboard`: open like `/healthz`; the page holds no data. Its
/// script fetches `/v1/airlock/report` with the gateway key given in the
/// URL fragment (`#key=...`, never sent to the server) or typed into the
/// page, so the data needs the same key as every `/v1` route. The content
/// security policy lets it load nothing but that endpoint.
pub(super) async fn dashboard() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; \
                 frame-ancestors 'none'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        DASHBOARD,
    )
        .into_response()
}
