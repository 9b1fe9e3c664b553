//! Configuration: the TOML file, then `AIRLOCK_`-prefixed environment
//! overrides (`__` nests: `AIRLOCK_SERVER__LISTEN=0.0.0.0:8080`), checked into
//! the trusted `Config`. After `load` returns, every name is resolved, every
//! limit is valid and every secret is either present or marked missing; the
//! rest of the crate never re-validates. Secrets are read from the env var or
//! file a backend names, never from the TOML, and never printed.

mod check;
pub mod detectors;
mod raw;

pub use check::ConfigIssue;
pub use check::sha256 as key_sha256;

use crate::classify::Task;
use crate::classify::sensitivity::{Category, Kind};
use crate::types::{Level, Tier, TierSet};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The model alias that lets the policy decide.
pub const AUTO_MODEL: &str = "auto";
/// The rule name reported when a request was served as asked.
pub const EXPLICIT_RULE: &str = "explicit";
/// The pool that `auto` embeddings requests use.
pub const EMBEDDINGS_POOL: &str = "embeddings";

#[derive(Debug)]
pub struct Config {
    pub server: Server,
    pub timeouts: Timeouts,
    pub retries: Retries,
    pub health: HealthSettings,
    pub policy: Policy,
    pub backends: Vec<Backend>,
    pub pools: Vec<Pool>,
    pub rules: Vec<Rule>,
    pub keys: Vec<GatewayKey>,
    /// Operator-defined detectors, each with its own level.
    pub detectors: Vec<detectors::CustomDetector>,
    /// What the scanner detects beyond the built-in detectors
    /// (`[detectors] names`, `code_markers`).
    pub scan: crate::classify::sensitivity::Options,
    pub memory: crate::memory::MemorySettings,
    /// `policy.offline_fallback`: the pool that serves cleared traffic when
    /// every cloud backend it could use is down (`None`: off).
    pub offline_pool: Option<PoolId>,
    /// `[economics]`: what the break-even compares.
    pub economics: Economics,
    /// `[budgets]`: cloud spend caps.
    pub budgets: Budgets,
    /// `[state]`: Redis for state shared by replicas.
    pub state: crate::state::StateSettings,
    /// `[audit]`: the data-flow audit database.
    pub audit: crate::audit::AuditSettings,
    /// `[metrics]`: the scrape endpoint.
    pub metrics: MetricsSettings,
}

/// `[metrics]`, checked: whether `GET /metrics` is served, and the bearer
/// token a scrape must present (none: open, as `/healthz` is).
#[derive(Debug, Clone)]
pub struct MetricsSettings {
    pub enabled: bool,
    pub token: Option<SecretString>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            enabled: true,
            token: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    pub max_response_bytes: usize,
    pub max_event_bytes: usize,
    pub allow_unauthenticated: bool,
    pub shutdown_grace: Duration,
    /// See `RawServer::sse_keepalive_ms`; `None` when 0.
    pub sse_keepalive: Option<Duration>,
}

/// Trying one backend again before the next (`[retries]`).
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    /// Attempts per backend, the first included (1: no retry).
    pub attempts: u32,
    /// First backoff; doubled each attempt, with jitter.
    pub backoff: Duration,
    /// Longest wait before a retry; a backend asking for longer
    /// (`retry-after`) is left for the next one.
    pub max_wait: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP (and TLS) connect.
    pub connect: Duration,
    /// From sending the request to the response head (and, for streams, the first event).
    pub first_byte: Duration,
    /// Longest silence between two chunks of a streamed response.
    pub idle: Duration,
    /// Whole exchange with one backend.
    pub total: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct HealthSettings {
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failed calls (connect, timeout, 5xx) that open a
    /// backend's circuit.
    pub failure_threshold: u32,
    /// How long an open circuit keeps calls away; then one trial call
    /// (half-open) decides whether it closes or opens again.
    pub open_for: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnViolation {
    Reroute,
    Reject,
    /// Replace findings with placeholders and send as asked, when every
    /// finding may be redacted; otherwise keep it local (as `Reroute`).
    Redact,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub on_violation: OnViolation,
    pub unscannable: Level,
    /// Tiers each level may reach, indexed by `Level as usize`.
    pub levels: [TierSet; 4],
    /// Level of a finding in each category, indexed by `Category as usize`.
    pub categories: [Level; 7],
    /// Per-kind levels that override the kind's category level.
    pub kinds: HashMap<Kind, Level>,
    /// Kinds that are reported but raise no level.
    pub allow: Vec<Kind>,
    /// Kinds that must never be redacted (their requests stay local).
    pub never_redact: Vec<Kind>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            on_violation: OnViolation::Reroute,
            unscannable: Level::Confidential,
            levels: Policy::default_levels(),
            categories: Policy::default_categories(),
            kinds: Policy::default_kinds(),
            allow: Vec::new(),
            never_redact: Vec::new(),
        }
    }
}

impl Policy {
    pub fn default_levels() -> [TierSet; 4] {
        let all: TierSet = Tier::ALL.into_iter().collect();
        [
            all,
            all,
            [Tier::Local, Tier::PrivateCloud].into_iter().collect(),
            [Tier::Local].into_iter().collect(),
        ]
    }

    pub fn default_categories() -> [Level; 7] {
        let mut out = [Level::Public; 7];
        for cat in Category::ALL {
            out[cat as usize] = match cat {
                Category::Secret | Category::Phi | Category::Financial | Category::Code => {
                    Level::Restricted
                }
                Category::Pii | Category::Legal | Category::Custom => Level::Confidential,
            };
        }
        out
    }

    /// Per-kind defaults that differ from the kind's category: a person's
    /// name alone is `internal` (public figures fill ordinary prompts: about
    /// 12% of the MMLU prompts name someone); with `[policy.kinds]` an
    /// operator can raise it.
    pub fn default_kinds() -> HashMap<Kind, Level> {
        HashMap::from([(Kind::Person, Level::Internal)])
    }

    pub fn allowed_tiers(&self, level: Level) -> TierSet {
        self.levels[level.index()]
    }

    pub fn category_level(&self, cat: Category) -> Level {
        self.categories[cat as usize]
    }

    /// The level a finding of `kind` raises a request to (`Public` when allow-listed).
    pub fn kind_level(&self, kind: Kind) -> Level {
        if self.allow.contains(&kind) {
            return Level::Public;
        }
        self.kinds
            .get(&kind)
            .copied()
            .unwrap_or_else(|| self.category_level(kind.category()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    OpenAi,
    Ollama,
    /// Anthropic's Messages API (`POST /v1/messages`).
    Anthropic,
    /// Google's Gemini API `generateContent` (also Vertex AI's).
    Gemini,
    /// Azure OpenAI: the OpenAI wire format under
    /// `/openai/deployments/{deployment}/...?api-version=`.
    AzureOpenAi,
    /// Amazon Bedrock's Converse API (`/model/{modelId}/converse`).
    Bedrock,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::OpenAi => "openai",
            Protocol::Ollama => "ollama",
            Protocol::Anthropic => "anthropic",
            Protocol::Gemini => "gemini",
            Protocol::AzureOpenAi => "azure_openai",
            Protocol::Bedrock => "bedrock",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BackendId(pub usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolId(pub usize);

#[derive(Debug)]
pub enum KeyState {
    /// The backend declares no key source (local servers).
    NotNeeded,
    Present(SecretString),
    /// A key source is declared but empty: the backend is `unconfigured`.
    Missing(String),
}

/// How a backend's secret travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `api_key_env` / `api_key_file`: the protocol's key header (a bearer
    /// token for `openai` and `ollama`, `x-api-key` for `anthropic`,
    /// `x-goog-api-key` for `gemini`, `api-key` for `azure_openai`).
    ApiKey,
    /// `token_env` (`gemini` and `azure_openai`): `Authorization: Bearer`,
    /// e.g. a Vertex AI or Microsoft Entra ID access token.
    Bearer,
    /// AWS credentials (`bedrock`): every request signed with SigV4; the
    /// backend's `key` is the secret access key, `aws` the rest.
    SigV4,
}

/// The non-secret half of a `bedrock` backend's AWS credentials, and the
/// session token of temporary ones.
#[derive(Debug)]
pub struct AwsIdentity {
    pub access_key_id: String,
    pub session_token: Option<SecretString>,
}

#[derive(Debug)]
pub struct Backend {
    pub name: String,
    pub protocol: Protocol,
    /// Without a trailing slash.
    pub base_url: String,
    pub tier: Tier,
    pub models: Vec<String>,
    pub key: KeyState,
    /// How `key` is sent.
    pub auth: Auth,
    /// What its models take, unless overridden per model.
    pub caps: Caps,
    pub model_caps: HashMap<String, Caps>,
    /// Cloud prices per model.
    pub prices: HashMap<String, Price>,
    /// Owning cost and capacity (local backends).
    pub monthly_cost_usd: Option<f64>,
    pub tokens_per_second: Option<f64>,
    /// `max_tokens` sent when a request names none (`anthropic` protocol,
    /// which requires it): `default_max_tokens`, else
    /// [`DEFAULT_MAX_TOKENS`].
    pub default_max_tokens: u64,
    /// The `api-version` query every call carries (`azure_openai` protocol):
    /// `api_version`, else [`DEFAULT_AZURE_API_VERSION`].
    pub api_version: String,
    /// Probed instead of the protocol's model list when set: a 2xx answer
    /// is up, a 503 that says it is loading is loading.
    pub health_path: Option<String>,
    /// Per-backend concurrency limit, if any.
    pub capacity: Option<Capacity>,
    /// Its own proxy, CA or client certificate, if any.
    pub egress: Option<Egress>,
    /// Extra headers sent on every call.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Top-level request fields left out (`openai`, `azure_openai`).
    pub drop_fields: Vec<String>,
    /// The AWS region (`bedrock` protocol): the default endpoint's and the
    /// signature's; empty for other protocols.
    pub region: String,
    /// With [`Auth::SigV4`]: the access key id and session token.
    pub aws: Option<AwsIdentity>,
}

/// How a backend is reached when not directly with the public roots: the
/// files are read when the config is loaded.
#[derive(Clone, PartialEq, Eq)]
pub struct Egress {
    pub proxy: Option<String>,
    /// PEM CA certificates trusted besides the public roots.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate chain followed by its private key.
    pub identity_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of debug output.
        f.debug_struct("Egress")
            .field("proxy", &self.proxy)
            .field("ca", &self.ca_pem.is_some())
            .field("client_certificate", &self.identity_pem.is_some())
            .finish()
    }
}

/// How many calls a backend takes at once and how many may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub max_concurrency: u32,
    pub max_queue: u32,
    pub queue_timeout: Duration,
}

/// Waiting calls allowed per backend when `max_queue` is not set.
pub const DEFAULT_MAX_QUEUE: u32 = 16;
/// How long a call may wait for a slot when `queue_timeout_ms` is not set.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// The Azure OpenAI `api-version` used when a backend names none: the
/// latest GA (non-preview) version of the data-plane inference API when
/// this was written.
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// Whether `s` may go into a URL path segment or query value as it is
/// (an Azure deployment name, an API version): non-empty ASCII letters,
/// digits, '-', '_' and '.', and not starting with '.'.
pub(crate) fn valid_path_segment(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The `max_tokens` an `anthropic` backend gets when neither the request nor
/// the backend's `default_max_tokens` names one.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cached_input: f64,
}

/// `[economics]`, resolved.
#[derive(Debug, Clone, Default)]
pub struct Economics {
    pub cloud_pool: Option<PoolId>,
    pub local_pool: Option<PoolId>,
    pub input_share: f64,
}

/// What a model can take. Defaults (`Caps::default_for`): local models 8,192
/// tokens of context, text only, tools, no `json_schema`; cloud models
/// 128,000 tokens, text and images, tools and `json_schema`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub context_window: u64,
    pub images: bool,
    pub audio: bool,
    pub tools: bool,
    pub json_schema: bool,
}

impl Caps {
    pub fn default_for(tier: Tier) -> Caps {
        match tier {
            Tier::Local => Caps {
                context_window: 8_192,
                images: false,
                audio: false,
                tools: true,
                json_schema: false,
            },
            Tier::PrivateCloud | Tier::PublicCloud => Caps {
                context_window: 128_000,
                images: true,
                audio: false,
                tools: true,
                json_schema: true,
            },
        }
    }
}

impl Backend {
    /// What `model` can take.
    pub fn caps_of(&self, model: &str) -> Caps {
        self.model_caps.get(model).copied().unwrap_or(self.caps)
    }

    /// A backend whose declared key is missing is never called.
    pub fn is_configured(&self) -> bool {
        !matches!(self.key, KeyState::Missing(_))
    }

    pub fn serves(&self, model: &str) -> bool {
        self.models.iter().any(|m| m == model)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub backend: BackendId,
    pub model: String,
}

#[derive(Debug)]
pub struct Pool {
    pub name: String,
    pub members: Vec<Target>,
}

#[derive(Debug)]
pub struct Rule {
    pub name: String,
    pub when: When,
    pub pool: PoolId,
    /// The audit keeps this rule's prompt and completion text.
    pub audit_content: bool,
}

#[derive(Debug, Default)]
pub struct When {
    pub complexity_at_least: Option<f64>,
    pub complexity_below: Option<f64>,
    pub sensitivity_at_least: Option<Level>,
    pub task: Option<Vec<Task>>,
    /// Gateway key names the rule applies to.
    pub key: Option<Vec<String>>,
    /// Volume thresholds on the request's task kind (all must hold).
    pub volume: Vec<VolumeAtLeast>,
    /// `volume_above_break_even`: `Some(true)` needs the task kind's daily
    /// tokens at or above break-even, `Some(false)` below it.
    pub above_break_even: Option<bool>,
}

/// `{requests,tokens}_per_{hour,day,month}_at_least`: the request's task
/// kind has seen at least `min` requests (or tokens) in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeAtLeast {
    pub window: crate::volume::Window,
    pub tokens: bool,
    pub min: u64,
}

impl VolumeAtLeast {
    pub fn holds(&self, counts: &[crate::volume::Count; 3]) -> bool {
        let c = counts[self.window as usize];
        (if self.tokens { c.tokens() } else { c.requests }) >= self.min
    }
}

impl When {
    pub fn is_always(&self) -> bool {
        self.complexity_at_least.is_none()
            && self.complexity_below.is_none()
            && self.sensitivity_at_least.is_none()
            && self.task.is_none()
            && self.key.is_none()
            && self.volume.is_empty()
            && self.above_break_even.is_none()
    }
}

#[derive(Debug)]
pub struct GatewayKey {
    pub name: String,
    /// SHA-256 of the key (the key itself is not kept); `None` when its
    /// source is missing: it authenticates nobody.
    pub digest: Option<[u8; 32]>,
    /// Requests with this key are at least this sensitive.
    pub min_level: Option<Level>,
    /// The highest tier this key's requests may reach, whatever their level.
    pub max_tier: Option<Tier>,
    /// Cloud spend this key may cause in 30 days, USD.
    pub monthly_budget_usd: Option<f64>,
    /// Requests and tokens per minute.
    pub rate: crate::ratelimit::Limits,
    /// May use the admin endpoints (reload).
    pub admin: bool,
}

/// What happens to a request that would reach the cloud past a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnBudget {
    /// Served locally instead (only ever a narrowing of its tiers).
    #[default]
    Downgrade,
    /// Refused with 429 `insufficient_quota`.
    Reject,
}

/// `[budgets]`, checked.
#[derive(Debug, Clone, Default)]
pub struct Budgets {
    pub monthly_usd: Option<f64>,
    pub on_exceeded: OnBudget,
}

impl Config {
    pub fn backend(&self, id: BackendId) -> &Backend {
        &self.backends[id.0]
    }

    pub fn pool(&self, id: PoolId) -> &Pool {
        &self.pools[id.0]
    }

    pub fn pool_by_name(&self, name: &str) -> Option<PoolId> {
        self.pools.iter().position(|p| p.name == name).map(PoolId)
    }

    pub fn backend_by_name(&self, name: &str) -> Option<BackendId> {
        self.backends
            .iter()
            .position(|b| b.name == name)
            .map(BackendId)
    }

    pub fn auth_required(&self) -> bool {
        !self.keys.is_empty()
    }
}

/// The outcome of loading a config: the config, or every error found.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<ConfigIssue>,
}

/// Loads `path`, applies `AIRLOCK_*` environment overrides and checks the result.
pub fn load(path: &Path) -> Result<Loaded, Vec<ConfigIssue>> {
    if !path.exists() {
        return Err(vec![ConfigIssue {
            key: path.display().to_string(),
            message: "config file not found".into(),
        }]);
    }
    let figment = Figment::new()
        .merge(Toml::file_exact(path))
        .merge(env_overrides());
    from_figment(figment, &|var| std::env::var(var).ok())
}

/// Loads a config from TOML text; secrets are looked up with `env`. For tests and `explain`.
pub fn from_toml_str(
    toml: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, Vec<ConfigIssue>> {
    from_figment(Figment::new().merge(Toml::string(toml)), env)
}

/// `AIRLOCK_SECTION__KEY=value`. Only names with `__` are config keys, so
/// other `AIRLOCK_` variables (scripts' own) are not mistaken for config.
fn env_overrides() -> Env {
    Env::prefixed("AIRLOCK_")
        .filter(|k| k.as_str().contains("__"))
        .split("__")
}

fn from_figment(
    figment: Figment,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, Vec<ConfigIssue>> {
    let raw: raw::RawConfig = figment.extract().map_err(figment_issues)?;
    let checked = check::check(raw, env);
    if checked.errors.is_empty() {
        Ok(Loaded {
            config: checked.config,
            warnings: checked.warnings,
        })
    } else {
        Err(checked.errors)
    }
}

fn figment_issues(err: figment::Error) -> Vec<ConfigIssue> {
    err.into_iter()
        .map(|e| {
            let mut key = e.path.join(".");
            if let figment::error::Kind::UnknownField(field, _) = &e.kind
                && !key.ends_with(field.as_str())
            {
                key = if key.is_empty() {
                    field.clone()
                } else {
                    format!("{key}.{field}")
                };
            }
            if key.is_empty() {
                key = "config".into();
            }
            let origin = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            ConfigIssue {
                key,
                message: format!("{}{origin}", e.kind),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
