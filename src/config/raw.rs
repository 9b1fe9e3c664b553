//! The config file as written: serde structs that mirror the TOML keys and
//! reject unknown ones. Nothing here is trusted; `check` turns it into
//! `Config`. Secrets are never stored here, only where to read them from.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub timeouts: RawTimeouts,
    #[serde(default)]
    pub retries: RawRetries,
    #[serde(default)]
    pub health: RawHealth,
    #[serde(default)]
    pub policy: RawPolicy,
    #[serde(default)]
    pub backends: Vec<RawBackend>,
    #[serde(default)]
    pub pools: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
    #[serde(default)]
    pub keys: Vec<RawKey>,
    #[serde(default)]
    pub detectors: super::detectors::RawDetectors,
    #[serde(default)]
    pub memory: RawMemory,
    #[serde(default)]
    pub state: RawState,
    #[serde(default)]
    pub economics: RawEconomics,
    #[serde(default)]
    pub budgets: RawBudgets,
    #[serde(default)]
    pub audit: RawAudit,
    #[serde(default)]
    pub metrics: RawMetrics,
}

/// `[audit]`: the data-flow audit database.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAudit {
    pub enabled: bool,
    pub path: String,
    pub retention_days: u32,
    pub queue: usize,
    /// Env var holding the conversation-hash salt (else kept in the database).
    pub salt_env: Option<String>,
}

impl Default for RawAudit {
    fn default() -> Self {
        RawAudit {
            enabled: true,
            path: "airlock-audit.sqlite".into(),
            retention_days: 90,
            queue: 10_000,
            salt_env: None,
        }
    }
}

/// `[metrics]`: the `GET /metrics` endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMetrics {
    pub enabled: bool,
    /// Scrapes must send `Authorization: Bearer` with this secret.
    pub token_env: Option<String>,
    pub token_file: Option<String>,
}

impl Default for RawMetrics {
    fn default() -> Self {
        RawMetrics {
            enabled: true,
            token_env: None,
            token_file: None,
        }
    }
}

/// `[budgets]`: the global cloud budget and what happens past a budget.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawBudgets {
    pub monthly_usd: Option<f64>,
    pub on_exceeded: String,
}

impl Default for RawBudgets {
    fn default() -> Self {
        RawBudgets {
            monthly_usd: None,
            on_exceeded: "downgrade".into(),
        }
    }
}

/// `[state]`: where state shared by replicas lives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawState {
    pub redis_url: Option<String>,
    pub key_prefix: String,
    pub timeout_ms: u64,
    pub sync_ms: u64,
}

impl Default for RawState {
    fn default() -> Self {
        RawState {
            redis_url: None,
            key_prefix: "airlock:".into(),
            timeout_ms: 100,
            sync_ms: 1000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMemory {
    pub enabled: bool,
    pub ttl_secs: u64,
    pub max_entries: usize,
    pub min_chars: usize,
}

impl Default for RawMemory {
    fn default() -> Self {
        let d = crate::memory::MemorySettings::default();
        RawMemory {
            enabled: d.enabled,
            ttl_secs: d.ttl.as_secs(),
            max_entries: d.max_entries,
            min_chars: d.min_chars,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub listen: String,
    pub max_body_bytes: u64,
    pub max_response_bytes: u64,
    pub max_event_bytes: u64,
    pub allow_unauthenticated: bool,
    pub shutdown_grace_ms: u64,
    /// A stream still waiting for its first event after this long is
    /// answered 200 at once and sent an SSE comment this often (0: never).
    pub sse_keepalive_ms: u64,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: 10 * 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            max_event_bytes: 1024 * 1024,
            allow_unauthenticated: false,
            shutdown_grace_ms: 10_000,
            sse_keepalive_ms: 10_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTimeouts {
    pub connect_ms: u64,
    pub first_byte_ms: u64,
    pub idle_ms: u64,
    pub total_ms: u64,
}

impl Default for RawTimeouts {
    fn default() -> Self {
        RawTimeouts {
            connect_ms: 3_000,
            first_byte_ms: 120_000,
            idle_ms: 60_000,
            total_ms: 600_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRetries {
    pub attempts: u32,
    pub backoff_ms: u64,
    pub max_wait_ms: u64,
}

impl Default for RawRetries {
    fn default() -> Self {
        RawRetries {
            attempts: 2,
            backoff_ms: 200,
            max_wait_ms: 5_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHealth {
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Consecutive failed calls that open a backend's circuit.
    pub failure_threshold: u32,
    /// How long an open circuit keeps calls away before one trial call.
    pub open_ms: u64,
}

impl Default for RawHealth {
    fn default() -> Self {
        RawHealth {
            interval_ms: 15_000,
            timeout_ms: 2_000,
            failure_threshold: 3,
            open_ms: 10_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPolicy {
    pub on_violation: String,
    pub unscannable: String,
    pub levels: BTreeMap<String, Vec<String>>,
    pub categories: BTreeMap<String, String>,
    pub kinds: BTreeMap<String, String>,
    pub allow_kinds: Vec<String>,
    pub never_redact: Vec<String>,
    /// When every cloud backend a request could use is down, serve it from
    /// `offline_pool` instead (only ever a narrowing: local tiers).
    pub offline_fallback: bool,
    pub offline_pool: String,
}

impl Default for RawPolicy {
    fn default() -> Self {
        RawPolicy {
            on_violation: "reroute".into(),
            unscannable: "confidential".into(),
            levels: BTreeMap::new(),
            categories: BTreeMap::new(),
            kinds: BTreeMap::new(),
            allow_kinds: Vec::new(),
            never_redact: Vec::new(),
            offline_fallback: false,
            offline_pool: "local".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackend {
    pub name: String,
    pub protocol: String,
    /// Required but for `bedrock`, which defaults it from `region`.
    pub base_url: Option<String>,
    pub tier: String,
    #[serde(default)]
    pub models: Vec<String>,
    pub api_key_env: Option<String>,
    pub api_key_file: Option<String>,
    /// An access token sent as `Authorization: Bearer` (`gemini` protocol
    /// for Vertex AI, `azure_openai` for Microsoft Entra ID), instead of an
    /// API key.
    pub token_env: Option<String>,
    /// Capabilities of every model of the backend (defaults by tier);
    /// the same keys as `RawCaps` (serde cannot flatten with
    /// `deny_unknown_fields`).
    pub context_window: Option<u64>,
    pub modalities: Option<Vec<String>>,
    pub tools: Option<bool>,
    pub json_schema: Option<bool>,
    /// Per-model overrides: `[backends.capabilities."llava:13b"]`.
    #[serde(default)]
    pub capabilities: BTreeMap<String, RawCaps>,
    /// Cloud prices per model, USD per million tokens.
    #[serde(default)]
    pub prices: BTreeMap<String, RawPrice>,
    /// What owning a local backend costs a month (hardware, power, care).
    pub monthly_cost_usd: Option<f64>,
    /// Tokens a second the local backend can serve, all requests together.
    pub tokens_per_second: Option<f64>,
    /// `max_tokens` for requests that name none (`anthropic` protocol only).
    pub default_max_tokens: Option<u64>,
    /// The `api-version` query of every call (`azure_openai` protocol only).
    pub api_version: Option<String>,
    /// Headers sent on every call (e.g. OpenRouter's `HTTP-Referer`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Top-level request fields removed before sending (`openai` and
    /// `azure_openai` protocols), for servers that refuse ones they lack.
    #[serde(default)]
    pub drop_fields: Vec<String>,
    /// An HTTP(S) proxy for this backend's calls (`http://host:port`).
    pub proxy: Option<String>,
    /// PEM file of CA certificates trusted for this backend, besides the
    /// public roots.
    pub ca_file: Option<String>,
    /// PEM client certificate (chain) and private key presented to this
    /// backend (mTLS).
    pub client_cert_file: Option<String>,
    pub client_key_file: Option<String>,
    /// A path probed instead of the model list (e.g. llama.cpp's `/health`).
    pub health_path: Option<String>,
    /// Calls in flight at once (unlimited when absent).
    pub max_concurrency: Option<u32>,
    /// Calls waiting for a free slot when `max_concurrency` is reached.
    pub max_queue: Option<u32>,
    /// How long a call waits in that queue.
    pub queue_timeout_ms: Option<u64>,
    /// The AWS region (`bedrock` protocol only).
    pub region: Option<String>,
    /// Where the AWS credentials are read (`bedrock` protocol only):
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`
    /// unless named.
    pub access_key_id_env: Option<String>,
    pub secret_access_key_env: Option<String>,
    pub session_token_env: Option<String>,
}

/// USD per million tokens.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    pub input: f64,
    pub output: f64,
    pub cached_input: Option<f64>,
}

/// `[economics]`: which pools the break-even compares.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEconomics {
    pub cloud_pool: Option<String>,
    pub local_pool: Option<String>,
    /// Share of input tokens assumed for a task kind with no traffic yet.
    pub input_share: f64,
}

impl Default for RawEconomics {
    fn default() -> Self {
        RawEconomics {
            cloud_pool: None,
            local_pool: None,
            input_share: 0.75,
        }
    }
}

impl RawBackend {
    pub fn caps(&self) -> RawCaps {
        RawCaps {
            context_window: self.context_window,
            modalities: self.modalities.clone(),
            tools: self.tools,
            json_schema: self.json_schema,
        }
    }
}

/// What a model can take: `context_window` (tokens), `modalities`
/// (`text`, `image`, `audio`), `tools`, `json_schema`.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawCaps {
    pub context_window: Option<u64>,
    pub modalities: Option<Vec<String>>,
    pub tools: Option<bool>,
    pub json_schema: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: String,
    #[serde(default)]
    pub when: RawWhen,
    pub pool: String,
    /// Keep the prompt and completion text of this rule's requests in the
    /// audit (off: the audit never holds text).
    #[serde(default)]
    pub audit_content: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    pub complexity_at_least: Option<f64>,
    pub complexity_below: Option<f64>,
    pub sensitivity_at_least: Option<String>,
    pub task: Option<Vec<String>>,
    pub key: Option<Vec<String>>,
    pub requests_per_hour_at_least: Option<u64>,
    pub requests_per_day_at_least: Option<u64>,
    pub requests_per_month_at_least: Option<u64>,
    pub tokens_per_hour_at_least: Option<u64>,
    pub tokens_per_day_at_least: Option<u64>,
    pub tokens_per_month_at_least: Option<u64>,
    /// The task kind's daily tokens are at least its break-even volume.
    pub volume_above_break_even: Option<bool>,
}

impl RawWhen {
    /// The volume conditions: `(key, window, counts tokens, threshold)`.
    pub fn volume(&self) -> [(&'static str, crate::volume::Window, bool, Option<u64>); 6] {
        use crate::volume::Window::{Day, Hour, Month};
        [
            (
                "requests_per_hour_at_least",
                Hour,
                false,
                self.requests_per_hour_at_least,
            ),
            (
                "requests_per_day_at_least",
                Day,
                false,
                self.requests_per_day_at_least,
            ),
            (
                "requests_per_month_at_least",
                Month,
                false,
                self.requests_per_month_at_least,
            ),
            (
                "tokens_per_hour_at_least",
                Hour,
                true,
                self.tokens_per_hour_at_least,
            ),
            (
                "tokens_per_day_at_least",
                Day,
                true,
                self.tokens_per_day_at_least,
            ),
            (
                "tokens_per_month_at_least",
                Month,
                true,
                self.tokens_per_month_at_least,
            ),
        ]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    pub name: String,
    pub key_env: Option<String>,
    pub key_file: Option<String>,
    /// The key's SHA-256, hex: the key itself is then stored nowhere.
    pub key_sha256: Option<String>,
    /// The highest tier this key's requests may reach.
    pub max_tier: Option<String>,
    pub min_sensitivity: Option<String>,
    /// Cloud spend this key may cause in 30 days, USD.
    pub monthly_budget_usd: Option<f64>,
    /// May use the admin endpoints (`POST /v1/airlock/reload`).
    #[serde(default)]
    pub admin: bool,
    /// Rate limits, per minute (shared through Redis when `[state]` is set).
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
}
