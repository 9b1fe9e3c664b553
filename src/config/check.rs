//! Turns `RawConfig` into the trusted `Config`: every name resolved to an
//! index, every level and tier parsed, every secret read from its source.
//! Errors name the exact key (`backends[1].base_url`) and say why; all of
//! them are collected, not just the first. Nothing here does network I/O.

use super::raw::{RawBackend, RawConfig, RawRule};
use super::*;
use crate::classify::Task;
use crate::classify::sensitivity::{Category, Kind};
use secrecy::SecretString;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// One problem with a config, tied to the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

struct Checker {
    errors: Vec<ConfigIssue>,
    warnings: Vec<ConfigIssue>,
}

impl Checker {
    fn err(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigIssue {
            key: key.into(),
            message: message.into(),
        });
    }
    fn warn(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(ConfigIssue {
            key: key.into(),
            message: message.into(),
        });
    }
    fn level(&mut self, key: &str, value: &str) -> Option<Level> {
        let level = Level::parse(value);
        if level.is_none() {
            self.err(
                key,
                format!(
                    "unknown sensitivity level {value:?} (expected public, internal, confidential or restricted)"
                ),
            );
        }
        level
    }
    fn millis(&mut self, key: &str, ms: u64) -> Duration {
        if ms == 0 {
            self.err(key, "must be greater than 0");
        }
        Duration::from_millis(ms)
    }
}

/// SHA-256 of a gateway key, as stored and compared.
pub fn sha256(key: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, key).as_ref());
    out
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

pub(super) fn check(raw: RawConfig, env: &dyn Fn(&str) -> Option<String>) -> Checked {
    let mut c = Checker {
        errors: Vec::new(),
        warnings: Vec::new(),
    };

    let server = check_server(&mut c, &raw);
    let timeouts = Timeouts {
        connect: c.millis("timeouts.connect_ms", raw.timeouts.connect_ms),
        first_byte: c.millis("timeouts.first_byte_ms", raw.timeouts.first_byte_ms),
        idle: c.millis("timeouts.idle_ms", raw.timeouts.idle_ms),
        total: c.millis("timeouts.total_ms", raw.timeouts.total_ms),
    };
    if !(1..=10).contains(&raw.retries.attempts) {
        c.err("retries.attempts", "must be between 1 and 10");
    }
    let retries = Retries {
        attempts: raw.retries.attempts.clamp(1, 10),
        backoff: c.millis("retries.backoff_ms", raw.retries.backoff_ms),
        max_wait: Duration::from_millis(raw.retries.max_wait_ms),
    };
    let health = HealthSettings {
        interval: c.millis("health.interval_ms", raw.health.interval_ms),
        timeout: c.millis("health.timeout_ms", raw.health.timeout_ms),
        failure_threshold: raw.health.failure_threshold.max(1),
        open_for: c.millis("health.open_ms", raw.health.open_ms),
    };
    if raw.health.failure_threshold == 0 {
        c.err("health.failure_threshold", "must be at least 1");
    }
    let mut policy = check_policy(&mut c, &raw);
    let detectors = check_detectors(&mut c, &raw, &mut policy);

    let mut backends = Vec::with_capacity(raw.backends.len());
    let mut by_name: HashMap<String, BackendId> = HashMap::new();
    for (i, b) in raw.backends.iter().enumerate() {
        if let Some(backend) = check_backend(&mut c, i, b, env) {
            if by_name.contains_key(&backend.name) {
                c.err(
                    format!("backends[{i}].name"),
                    format!("duplicate backend name {:?}", backend.name),
                );
                continue;
            }
            by_name.insert(backend.name.clone(), BackendId(backends.len()));
            backends.push(backend);
        }
    }
    if raw.backends.is_empty() {
        c.err("backends", "at least one backend is required");
    }

    let pools = check_pools(&mut c, &raw.pools, &backends, &by_name);
    let pool_ids: HashMap<&str, PoolId> = pools
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), PoolId(i)))
        .collect();

    let mut rules = Vec::with_capacity(raw.rules.len());
    for (i, r) in raw.rules.iter().enumerate() {
        if let Some(rule) = check_rule(&mut c, i, r, &pool_ids) {
            rules.push(rule);
        }
    }
    if raw.rules.is_empty() {
        c.warn(
            "rules",
            "no rules: requests for model \"auto\" will find no pool",
        );
    }
    if let Some(pos) = rules.iter().position(|r| r.when.is_always()) {
        for later in &rules[pos + 1..] {
            c.warn(
                format!("rules[{}]", rules_index(&raw.rules, &later.name)),
                format!(
                    "rule {:?} is never reached: rule {:?} before it always matches",
                    later.name, rules[pos].name
                ),
            );
        }
    }

    let mut keys = Vec::new();
    let mut key_names = BTreeMap::new();
    for (i, k) in raw.keys.iter().enumerate() {
        let base = format!("keys[{i}]");
        if k.name.trim().is_empty() {
            c.err(format!("{base}.name"), "must not be empty");
        }
        if key_names.insert(k.name.clone(), i).is_some() {
            c.err(
                format!("{base}.name"),
                format!("duplicate key name {:?}", k.name),
            );
        }
        let declared = k.key_env.is_some() || k.key_file.is_some();
        let digest = match (&k.key_sha256, declared) {
            (Some(_), true) => {
                c.err(
                    format!("{base}.key_sha256"),
                    "set only one of key_env, key_file and key_sha256",
                );
                None
            }
            (Some(hex), false) => {
                let d = parse_sha256(hex);
                if d.is_none() {
                    c.err(
                        format!("{base}.key_sha256"),
                        "must be 64 hex digits (the key's SHA-256)",
                    );
                }
                d
            }
            (None, _) => match read_secret(
                &mut c,
                &base,
                "key_env",
                "key_file",
                k.key_env.as_deref(),
                k.key_file.as_deref(),
                env,
            ) {
                SecretSource::Present(s) => {
                    Some(sha256(secrecy::ExposeSecret::expose_secret(&s).as_bytes()))
                }
                SecretSource::NotDeclared => {
                    c.err(
                        format!("{base}.key_env"),
                        "a gateway key needs key_env or key_file",
                    );
                    None
                }
                SecretSource::Missing(why) => {
                    c.warn(
                        format!("{base}.key_env"),
                        format!("{why}; this key cannot authenticate anyone"),
                    );
                    None
                }
            },
        };
        let max_tier = k.max_tier.as_deref().and_then(|t| {
            let tier = parse_tier(t);
            if tier.is_none() {
                c.err(
                    format!("{base}.max_tier"),
                    format!("unknown tier {t:?} (expected local, private_cloud or public_cloud)"),
                );
            }
            tier
        });
        let min_level = k
            .min_sensitivity
            .as_deref()
            .and_then(|v| c.level(&format!("{base}.min_sensitivity"), v));
        if let Some(b) = k.monthly_budget_usd
            && !(b.is_finite() && b >= 0.0)
        {
            c.err(
                format!("{base}.monthly_budget_usd"),
                format!("{b} must be >= 0"),
            );
        }
        for (v, key) in [
            (k.requests_per_minute, "requests_per_minute"),
            (k.tokens_per_minute, "tokens_per_minute"),
        ] {
            if v == Some(0) {
                c.err(
                    format!("{base}.{key}"),
                    "must be at least 1 (leave it out for no limit)",
                );
            }
        }
        keys.push(GatewayKey {
            name: k.name.clone(),
            digest,
            min_level,
            max_tier,
            monthly_budget_usd: k.monthly_budget_usd,
            admin: k.admin,
            rate: crate::ratelimit::Limits {
                requests_per_minute: k.requests_per_minute,
                tokens_per_minute: k.tokens_per_minute,
            },
        });
    }

    if keys.is_empty() && !server.allow_unauthenticated && !server.listen.ip().is_loopback() {
        c.err(
            "server.listen",
            format!(
                "{} is not a loopback address and no [[keys]] are configured; \
                 set server.allow_unauthenticated = true to serve without keys (sidecar use)",
                server.listen
            ),
        );
    }

    for (i, b) in backends.iter().enumerate() {
        if let KeyState::Missing(why) = &b.key {
            c.warn(
                format!("backends[{i}]"),
                format!(
                    "backend {:?} is unconfigured ({why}); it will never be called",
                    b.name
                ),
            );
        }
    }

    for (i, m) in raw.detectors.code_markers.iter().enumerate() {
        if m.trim().chars().count() < 3 {
            c.err(
                format!("detectors.code_markers[{i}]"),
                "must have at least 3 characters (a shorter marker would match everywhere)",
            );
        }
    }
    let economics = check_economics(&mut c, &raw.economics, &pools, &backends);
    let offline_pool = if raw.policy.offline_fallback {
        let name = &raw.policy.offline_pool;
        match pools.iter().position(|p| &p.name == name) {
            Some(i)
                if pools[i].members.iter().all(|t| {
                    backends
                        .get(t.backend.0)
                        .is_some_and(|b| b.tier == Tier::Local)
                }) =>
            {
                Some(super::PoolId(i))
            }
            Some(_) => {
                c.err(
                    "policy.offline_pool",
                    format!("pool {name:?} must hold only local backends"),
                );
                None
            }
            None => {
                c.err("policy.offline_pool", format!("unknown pool {name:?}"));
                None
            }
        }
    } else {
        None
    };
    let config = Config {
        server,
        timeouts,
        retries,
        health,
        policy,
        backends,
        pools,
        rules,
        keys,
        detectors,
        scan: crate::classify::sensitivity::Options {
            names: raw.detectors.names,
            code_markers: raw.detectors.code_markers.clone(),
        },
        memory: check_memory(&mut c, &raw.memory),
        economics,
        budgets: check_budgets(&mut c, &raw.budgets),
        offline_pool,
        state: check_state(&mut c, &raw.state),
        audit: check_audit(&mut c, &raw.audit, env),
        metrics: check_metrics(&mut c, &raw.metrics, env),
    };
    Checked {
        config,
        errors: c.errors,
        warnings: c.warnings,
    }
}

fn rules_index(raw: &[RawRule], name: &str) -> usize {
    raw.iter().position(|r| r.name == name).unwrap_or(0)
}

pub(super) struct Checked {
    pub config: Config,
    pub errors: Vec<ConfigIssue>,
    pub warnings: Vec<ConfigIssue>,
}

fn check_server(c: &mut Checker, raw: &RawConfig) -> Server {
    let s = &raw.server;
    let listen = match s.listen.parse::<std::net::SocketAddr>() {
        Ok(a) => a,
        Err(e) => {
            c.err(
                "server.listen",
                format!("{:?} is not an address like 127.0.0.1:8080 ({e})", s.listen),
            );
            std::net::SocketAddr::from(([127, 0, 0, 1], 8080))
        }
    };
    let size = |c: &mut Checker, key: &str, v: u64| -> usize {
        if v == 0 {
            c.err(key, "must be greater than 0");
        }
        usize::try_from(v).unwrap_or(usize::MAX)
    };
    Server {
        listen,
        max_body_bytes: size(c, "server.max_body_bytes", s.max_body_bytes),
        max_response_bytes: size(c, "server.max_response_bytes", s.max_response_bytes),
        max_event_bytes: size(c, "server.max_event_bytes", s.max_event_bytes),
        allow_unauthenticated: s.allow_unauthenticated,
        shutdown_grace: Duration::from_millis(s.shutdown_grace_ms),
        sse_keepalive: (s.sse_keepalive_ms > 0).then(|| Duration::from_millis(s.sse_keepalive_ms)),
    }
}

fn check_policy(c: &mut Checker, raw: &RawConfig) -> Policy {
    let p = &raw.policy;
    let on_violation = match p.on_violation.as_str() {
        "reroute" => OnViolation::Reroute,
        "reject" => OnViolation::Reject,
        "redact" => OnViolation::Redact,
        other => {
            c.err(
                "policy.on_violation",
                format!("unknown value {other:?} (expected \"reroute\", \"reject\" or \"redact\")"),
            );
            OnViolation::Reject
        }
    };
    let unscannable = c
        .level("policy.unscannable", &p.unscannable)
        .unwrap_or(Level::Restricted);

    let mut levels = Policy::default_levels();
    for (name, tiers) in &p.levels {
        let key = format!("policy.levels.{name}");
        let Some(level) = Level::parse(name) else {
            c.err(
                &key,
                "unknown sensitivity level (expected public, internal, confidential or restricted)",
            );
            continue;
        };
        let mut set = TierSet::EMPTY;
        for (j, t) in tiers.iter().enumerate() {
            match parse_tier(t) {
                Some(tier) => set.insert(tier),
                None => c.err(
                    format!("{key}[{j}]"),
                    format!("unknown tier {t:?} (expected local, private_cloud or public_cloud)"),
                ),
            }
        }
        if set.is_empty() {
            c.err(
                &key,
                "maps to no tier: every level must reach at least one tier",
            );
        }
        levels[level.index()] = set;
    }
    // A higher level may never reach a tier that a lower level may not.
    for pair in Level::ALL.windows(2) {
        let (lower, higher) = (pair[0], pair[1]);
        let (lo, hi) = (levels[lower.index()], levels[higher.index()]);
        if !hi.is_subset_of(lo) {
            for tier in hi.iter().filter(|t| !lo.contains(*t)) {
                c.err(
                    format!("policy.levels.{higher}"),
                    format!(
                        "level {higher} may reach tier {tier}, which the lower level {lower} may not; \
                         a more sensitive level must reach a subset of the tiers of a less sensitive one"
                    ),
                );
            }
        }
    }

    let mut categories = Policy::default_categories();
    for (name, value) in &p.categories {
        let key = format!("policy.categories.{name}");
        let Some(cat) = Category::ALL.into_iter().find(|c| c.as_str() == name) else {
            c.err(
                &key,
                "unknown category (expected pii, phi, financial, secret, code, legal or custom)",
            );
            continue;
        };
        if let Some(level) = c.level(&key, value) {
            categories[cat as usize] = level;
        }
    }

    let mut kinds_at = |key: &str, names: &[String]| {
        let mut out = Vec::new();
        for (j, name) in names.iter().enumerate() {
            match Kind::ALL.into_iter().find(|k| k.as_str() == name) {
                Some(k) => out.push(k),
                None => c.err(
                    format!("{key}[{j}]"),
                    format!("unknown kind {name:?} (expected one of {})", kind_names()),
                ),
            }
        }
        out
    };
    let allow = kinds_at("policy.allow_kinds", &p.allow_kinds);
    let never_redact = kinds_at("policy.never_redact", &p.never_redact);
    Policy {
        on_violation,
        unscannable,
        levels,
        categories,
        kinds: Policy::default_kinds(),
        allow,
        never_redact,
    }
}

fn check_budgets(c: &mut Checker, b: &super::raw::RawBudgets) -> super::Budgets {
    if let Some(v) = b.monthly_usd
        && !(v.is_finite() && v >= 0.0)
    {
        c.err("budgets.monthly_usd", format!("{v} must be >= 0"));
    }
    let on_exceeded = match b.on_exceeded.as_str() {
        "downgrade" => super::OnBudget::Downgrade,
        "reject" => super::OnBudget::Reject,
        other => {
            c.err(
                "budgets.on_exceeded",
                format!("unknown value {other:?} (expected \"downgrade\" or \"reject\")"),
            );
            super::OnBudget::Downgrade
        }
    };
    super::Budgets {
        monthly_usd: b.monthly_usd,
        on_exceeded,
    }
}

fn check_audit(
    c: &mut Checker,
    a: &super::raw::RawAudit,
    env: &dyn Fn(&str) -> Option<String>,
) -> crate::audit::AuditSettings {
    if a.enabled && a.path.trim().is_empty() {
        c.err("audit.path", "must name a file when the audit is enabled");
    }
    if a.retention_days == 0 {
        c.err("audit.retention_days", "must be at least 1");
    }
    if a.queue == 0 {
        c.err("audit.queue", "must be at least 1");
    }
    let salt = a.salt_env.as_deref().and_then(|var| match env(var) {
        Some(v) if !v.is_empty() => Some(secrecy::SecretString::from(v)),
        _ => {
            // A salt that changed would unlink every conversation hash.
            c.err(
                "audit.salt_env",
                format!("environment variable {var} is not set"),
            );
            None
        }
    });
    crate::audit::AuditSettings {
        enabled: a.enabled,
        path: std::path::PathBuf::from(&a.path),
        retention_days: a.retention_days,
        queue: a.queue,
        salt,
    }
}

/// `[metrics]`: a declared token that cannot be read is an error, so a
/// scrape endpoint meant to be protected is never served open.
fn check_metrics(
    c: &mut Checker,
    m: &super::raw::RawMetrics,
    env: &dyn Fn(&str) -> Option<String>,
) -> super::MetricsSettings {
    let token = match read_secret(
        c,
        "metrics",
        "token_env",
        "token_file",
        m.token_env.as_deref(),
        m.token_file.as_deref(),
        env,
    ) {
        SecretSource::NotDeclared => None,
        SecretSource::Present(s) => Some(s),
        SecretSource::Missing(why) => {
            if m.enabled {
                c.err(
                    "metrics.token_env",
                    format!("the scrape token is missing ({why})"),
                );
            }
            None
        }
    };
    super::MetricsSettings {
        enabled: m.enabled,
        token,
    }
}

fn check_state(c: &mut Checker, s: &super::raw::RawState) -> crate::state::StateSettings {
    let redis_url = s
        .redis_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    if let Some(u) = redis_url {
        // Never quote the URL: it may carry a password.
        match url::Url::parse(u) {
            Ok(parsed) if matches!(parsed.scheme(), "redis" | "unix" | "redis+unix") => {}
            Ok(parsed) => c.err(
                "state.redis_url",
                format!(
                    "scheme {:?} is not supported (expected redis://, unix:// or redis+unix://)",
                    parsed.scheme()
                ),
            ),
            Err(e) => c.err("state.redis_url", format!("not a URL ({e})")),
        }
    }
    if s.timeout_ms == 0 || s.timeout_ms > 10_000 {
        c.err("state.timeout_ms", "must be between 1 and 10000");
    }
    if !(50..=60_000).contains(&s.sync_ms) {
        c.err("state.sync_ms", "must be between 50 and 60000");
    }
    if s.key_prefix.is_empty() || s.key_prefix.chars().any(char::is_whitespace) {
        c.err(
            "state.key_prefix",
            "must be non-empty and without whitespace",
        );
    }
    crate::state::StateSettings {
        redis_url: redis_url.map(|u| secrecy::SecretString::from(u.to_owned())),
        key_prefix: s.key_prefix.clone(),
        timeout: Duration::from_millis(s.timeout_ms),
        sync_interval: Duration::from_millis(s.sync_ms),
    }
}

fn check_memory(c: &mut Checker, m: &super::raw::RawMemory) -> crate::memory::MemorySettings {
    if m.enabled && m.max_entries == 0 {
        c.err(
            "memory.max_entries",
            "must be greater than 0 when memory is enabled",
        );
    }
    if m.enabled && m.ttl_secs == 0 {
        c.err(
            "memory.ttl_secs",
            "must be greater than 0 when memory is enabled",
        );
    }
    crate::memory::MemorySettings {
        enabled: m.enabled,
        ttl: Duration::from_secs(m.ttl_secs),
        max_entries: m.max_entries,
        min_chars: m.min_chars,
    }
}

fn kind_names() -> String {
    Kind::ALL.map(|k| k.as_str()).join(", ")
}

/// Compiles `[[detectors.custom]]` and applies `[policy.kinds]`, whose names
/// are built-in kinds or custom detector names.
fn check_detectors(
    c: &mut Checker,
    raw: &RawConfig,
    policy: &mut Policy,
) -> Vec<super::detectors::CustomDetector> {
    let mut out: Vec<super::detectors::CustomDetector> = Vec::new();
    for (i, d) in raw.detectors.custom.iter().enumerate() {
        let level = c.level(&format!("detectors.custom[{i}].level"), &d.level);
        if Kind::ALL.iter().any(|k| k.as_str() == d.name)
            || raw.detectors.custom[..i].iter().any(|o| o.name == d.name)
        {
            c.err(
                format!("detectors.custom[{i}].name"),
                format!("{:?} is already a detector name", d.name),
            );
            continue;
        }
        let mut errors = Vec::new();
        let compiled = super::detectors::compile(i, d, level, &mut errors);
        for (k, m) in errors {
            c.err(k, m);
        }
        out.extend(compiled);
    }
    for (name, value) in &raw.policy.kinds {
        let key = format!("policy.kinds.{name}");
        let Some(level) = c.level(&key, value) else {
            continue;
        };
        if let Some(k) = Kind::ALL.into_iter().find(|k| k.as_str() == name) {
            policy.kinds.insert(k, level);
        } else if let Some(d) = out.iter_mut().find(|d| &d.name == name) {
            d.level = level;
        } else {
            c.err(
                &key,
                format!(
                    "unknown kind (expected one of {} or a [[detectors.custom]] name)",
                    kind_names()
                ),
            );
        }
    }
    out
}

pub(super) fn parse_tier(s: &str) -> Option<Tier> {
    Tier::ALL.into_iter().find(|t| t.as_str() == s)
}

enum SecretSource {
    NotDeclared,
    Present(SecretString),
    Missing(String),
}

fn read_secret(
    c: &mut Checker,
    base: &str,
    env_key: &str,
    file_key: &str,
    env_name: Option<&str>,
    file: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> SecretSource {
    match (env_name, file) {
        (Some(_), Some(_)) => {
            c.err(
                format!("{base}.{env_key}"),
                format!("set only one of {env_key} and {file_key}"),
            );
            SecretSource::NotDeclared
        }
        (None, None) => SecretSource::NotDeclared,
        (Some(var), None) => match env(var) {
            Some(v) if !v.trim().is_empty() => {
                SecretSource::Present(SecretString::from(v.trim().to_owned()))
            }
            _ => SecretSource::Missing(format!("environment variable {var} is not set")),
        },
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(v) if !v.trim().is_empty() => {
                SecretSource::Present(SecretString::from(v.trim().to_owned()))
            }
            Ok(_) => SecretSource::Missing(format!("key file {path} is empty")),
            Err(e) => SecretSource::Missing(format!("key file {path} cannot be read ({e})")),
        },
    }
}

fn check_backend(
    c: &mut Checker,
    i: usize,
    b: &RawBackend,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Backend> {
    let base = format!("backends[{i}]");
    let mut ok = true;
    if !valid_name(&b.name) {
        c.err(
            format!("{base}.name"),
            format!(
                "{:?} is not a valid backend name (letters, digits, '-', '_' and '.', no '/')",
                b.name
            ),
        );
        ok = false;
    }
    let protocol = match b.protocol.as_str() {
        "openai" => Some(Protocol::OpenAi),
        "ollama" => Some(Protocol::Ollama),
        "anthropic" => Some(Protocol::Anthropic),
        "gemini" => Some(Protocol::Gemini),
        "azure_openai" => Some(Protocol::AzureOpenAi),
        "bedrock" => Some(Protocol::Bedrock),
        other => {
            c.err(
                format!("{base}.protocol"),
                format!(
                    "unknown protocol {other:?} (expected \"openai\", \"ollama\", \"anthropic\", \"gemini\", \"azure_openai\" or \"bedrock\")"
                ),
            );
            None
        }
    };
    let tier = parse_tier(&b.tier);
    if tier.is_none() {
        c.err(
            format!("{base}.tier"),
            format!(
                "unknown tier {:?} (expected local, private_cloud or public_cloud)",
                b.tier
            ),
        );
    }
    let bedrock = protocol == Some(Protocol::Bedrock);
    let region = match &b.region {
        Some(r) if !valid_region(r) => {
            c.err(
                format!("{base}.region"),
                format!("{r:?} is not an AWS region (e.g. \"us-east-1\")"),
            );
            ok = false;
            String::new()
        }
        Some(r) => {
            if protocol.is_some_and(|p| p != Protocol::Bedrock) {
                c.warn(
                    format!("{base}.region"),
                    format!(
                        "only the bedrock protocol uses it (this backend's is {:?})",
                        b.protocol
                    ),
                );
            }
            r.clone()
        }
        None if bedrock => {
            c.err(
                format!("{base}.region"),
                "a bedrock backend needs its AWS region (e.g. \"us-east-1\")",
            );
            ok = false;
            String::new()
        }
        None => String::new(),
    };
    let raw_url = match &b.base_url {
        Some(u) => u.clone(),
        None if bedrock => format!("https://bedrock-runtime.{region}.amazonaws.com"),
        None => {
            c.err(format!("{base}.base_url"), "is required");
            ok = false;
            String::new()
        }
    };
    let base_url = match url::Url::parse(&raw_url) {
        _ if raw_url.is_empty() => String::new(),
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            if u.query().is_some() || u.fragment().is_some() {
                c.err(
                    format!("{base}.base_url"),
                    "must not contain a query or fragment",
                );
                ok = false;
            }
            raw_url.trim_end_matches('/').to_owned()
        }
        Ok(u) => {
            c.err(
                format!("{base}.base_url"),
                format!(
                    "{:?} must be an http or https URL with a host (scheme is {:?})",
                    raw_url,
                    u.scheme()
                ),
            );
            ok = false;
            String::new()
        }
        Err(e) => {
            c.err(
                format!("{base}.base_url"),
                format!("{raw_url:?} is not a valid URL ({e})"),
            );
            ok = false;
            String::new()
        }
    };
    let mut seen = std::collections::HashSet::new();
    for (j, m) in b.models.iter().enumerate() {
        if m.trim().is_empty() {
            c.err(format!("{base}.models[{j}]"), "must not be empty");
            ok = false;
        } else if !seen.insert(m.as_str()) {
            c.warn(
                format!("{base}.models[{j}]"),
                format!("model {m:?} is listed twice"),
            );
        }
    }
    let aws_keys = [
        ("access_key_id_env", &b.access_key_id_env),
        ("secret_access_key_env", &b.secret_access_key_env),
        ("session_token_env", &b.session_token_env),
    ];
    for (key, value) in aws_keys {
        if value.is_some() && protocol.is_some_and(|p| p != Protocol::Bedrock) {
            c.err(
                format!("{base}.{key}"),
                format!(
                    "only bedrock backends take AWS credentials (this backend's protocol is {:?})",
                    b.protocol
                ),
            );
            ok = false;
        }
    }
    let sigv4 = bedrock && b.api_key_env.is_none() && b.api_key_file.is_none();
    if bedrock
        && !sigv4
        && let Some((key, _)) = aws_keys.iter().find(|(_, v)| v.is_some())
    {
        c.err(
            format!("{base}.{key}"),
            "set either AWS credentials or a Bedrock API key (api_key_env / api_key_file), not both",
        );
        ok = false;
    }
    let mut aws = None;
    let (source, auth) = match &b.token_env {
        _ if sigv4 && b.token_env.is_none() => {
            let (source, identity) = aws_credentials(b, env);
            aws = identity;
            (source, Auth::SigV4)
        }
        Some(_) if b.api_key_env.is_some() || b.api_key_file.is_some() => {
            c.err(
                format!("{base}.token_env"),
                "set only one of api_key_env, api_key_file and token_env",
            );
            ok = false;
            (SecretSource::NotDeclared, Auth::ApiKey)
        }
        Some(_)
            if protocol.is_some_and(|p| !matches!(p, Protocol::Gemini | Protocol::AzureOpenAi)) =>
        {
            c.err(
                format!("{base}.token_env"),
                format!(
                    "only gemini and azure_openai backends take token_env (this backend's protocol is {:?}); use api_key_env",
                    b.protocol
                ),
            );
            ok = false;
            (SecretSource::NotDeclared, Auth::ApiKey)
        }
        Some(var) => (
            read_secret(c, &base, "token_env", "", Some(var), None, env),
            Auth::Bearer,
        ),
        None => (
            read_secret(
                c,
                &base,
                "api_key_env",
                "api_key_file",
                b.api_key_env.as_deref(),
                b.api_key_file.as_deref(),
                env,
            ),
            Auth::ApiKey,
        ),
    };
    let key = match source {
        SecretSource::NotDeclared => KeyState::NotNeeded,
        SecretSource::Present(s) => KeyState::Present(s),
        SecretSource::Missing(why) => KeyState::Missing(why),
    };
    // A gemini base_url with a path (Vertex AI) has no model list to probe:
    // its probe counts tokens on the first listed model.
    if protocol == Some(Protocol::Gemini)
        && b.models.is_empty()
        && url::Url::parse(&base_url).is_ok_and(|u| u.path() != "/")
    {
        c.err(
            format!("{base}.models"),
            "a gemini backend whose base_url has a path (Vertex AI) must list its models",
        );
        ok = false;
    }
    // Azure serves deployments, named in the URL path; its model list
    // names base models, not deployments, so they must be listed here.
    if protocol == Some(Protocol::AzureOpenAi) && b.models.is_empty() {
        c.err(
            format!("{base}.models"),
            "an azure_openai backend must list its deployment names",
        );
        ok = false;
    }
    // The Bedrock runtime lists no models; the probe uses the first.
    if bedrock && b.models.is_empty() {
        c.err(
            format!("{base}.models"),
            "a bedrock backend must list its model ids (or inference profiles / ARNs)",
        );
        ok = false;
    }
    if protocol == Some(Protocol::AzureOpenAi) {
        for (j, m) in b.models.iter().enumerate() {
            if !m.trim().is_empty() && !super::valid_path_segment(m) {
                c.err(
                    format!("{base}.models[{j}]"),
                    format!(
                        "{m:?} is not an Azure deployment name (letters, digits, '-', '_' and '.')"
                    ),
                );
                ok = false;
            }
        }
    }
    let api_version = match &b.api_version {
        Some(v) if !super::valid_path_segment(v) => {
            c.err(
                format!("{base}.api_version"),
                format!(
                    "{v:?} is not an API version (e.g. \"{}\")",
                    super::DEFAULT_AZURE_API_VERSION
                ),
            );
            ok = false;
            String::new()
        }
        Some(v) => {
            if protocol.is_some_and(|p| p != Protocol::AzureOpenAi) {
                c.warn(
                    format!("{base}.api_version"),
                    format!(
                        "only the azure_openai protocol uses it (this backend's is {:?})",
                        b.protocol
                    ),
                );
            }
            v.clone()
        }
        None => super::DEFAULT_AZURE_API_VERSION.to_owned(),
    };
    let health_path = match &b.health_path {
        Some(p) if !p.starts_with('/') || p.contains(|c: char| c.is_whitespace() || c == '#') => {
            c.err(
                format!("{base}.health_path"),
                format!("{p:?} is not a path (it must start with '/', as in \"/health\")"),
            );
            ok = false;
            None
        }
        p => p.clone(),
    };
    let capacity = check_capacity(c, &base, b);
    let headers = check_headers(c, &base, b);
    let egress = check_egress(c, &base, b);
    for (j, f) in b.drop_fields.iter().enumerate() {
        if matches!(f.as_str(), "model" | "messages" | "input" | "stream") {
            c.err(
                format!("{base}.drop_fields[{j}]"),
                format!("{f:?} cannot be dropped: requests need it"),
            );
        }
    }
    if !b.drop_fields.is_empty()
        && protocol.is_some_and(|p| !matches!(p, Protocol::OpenAi | Protocol::AzureOpenAi))
    {
        c.warn(
            format!("{base}.drop_fields"),
            "only the openai and azure_openai protocols forward request fields; the others translate them",
        );
    }
    let (Some(protocol), Some(tier), true) = (protocol, tier, ok) else {
        return None;
    };
    let mut default_caps = super::Caps::default_for(tier);
    if matches!(protocol, Protocol::Anthropic | Protocol::Bedrock) {
        // Neither the Messages API nor Converse has `response_format`:
        // such requests are refused.
        default_caps.json_schema = false;
    }
    let caps = check_caps(c, &base, &b.caps(), default_caps);
    if matches!(protocol, Protocol::Anthropic | Protocol::Bedrock) && caps.json_schema {
        c.warn(
            format!("{base}.json_schema"),
            format!(
                "the {} protocol cannot honour response_format: such requests are refused",
                protocol.as_str()
            ),
        );
    }
    let default_max_tokens = match b.default_max_tokens {
        Some(0) => {
            c.err(format!("{base}.default_max_tokens"), "must be at least 1");
            super::DEFAULT_MAX_TOKENS
        }
        Some(n) => {
            if protocol != Protocol::Anthropic {
                c.warn(
                    format!("{base}.default_max_tokens"),
                    format!(
                        "only the anthropic protocol uses it (this backend's is {:?})",
                        protocol.as_str()
                    ),
                );
            }
            n
        }
        None => super::DEFAULT_MAX_TOKENS,
    };
    let mut prices = HashMap::new();
    for (model, p) in &b.prices {
        let key = format!("{base}.prices.{model:?}");
        if !b.models.iter().any(|m| m == model) {
            c.err(&key, format!("{model:?} is not in {base}.models"));
            continue;
        }
        let cached = p.cached_input.unwrap_or(p.input);
        for (field, v) in [
            ("input", p.input),
            ("output", p.output),
            ("cached_input", cached),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                c.err(
                    format!("{key}.{field}"),
                    format!("{v} is not a price (USD per million tokens, >= 0)"),
                );
            }
        }
        prices.insert(
            model.clone(),
            super::Price {
                input: p.input,
                output: p.output,
                cached_input: cached,
            },
        );
    }
    if let Some(v) = b.monthly_cost_usd
        && !(v.is_finite() && v >= 0.0)
    {
        c.err(
            format!("{base}.monthly_cost_usd"),
            format!("{v} must be >= 0"),
        );
    }
    if let Some(v) = b.tokens_per_second
        && !(v.is_finite() && v > 0.0)
    {
        c.err(
            format!("{base}.tokens_per_second"),
            format!("{v} must be > 0"),
        );
    }
    let mut model_caps = HashMap::new();
    for (model, raw) in &b.capabilities {
        let key = format!("{base}.capabilities.{model:?}");
        if !b.models.iter().any(|m| m == model) {
            c.err(&key, format!("{model:?} is not in {base}.models"));
            continue;
        }
        model_caps.insert(model.clone(), check_caps(c, &key, raw, caps));
    }
    Some(Backend {
        name: b.name.clone(),
        protocol,
        base_url,
        tier,
        models: b.models.clone(),
        key,
        auth,
        caps,
        model_caps,
        prices,
        monthly_cost_usd: b.monthly_cost_usd,
        tokens_per_second: b.tokens_per_second,
        default_max_tokens,
        api_version,
        health_path,
        capacity,
        headers,
        drop_fields: b.drop_fields.clone(),
        egress,
        region,
        aws,
    })
}

/// `proxy`, `ca_file`, `client_cert_file` and `client_key_file` of one
/// backend: a proxy URL, readable PEM files, and a certificate and key
/// that reqwest accepts together.
fn check_egress(c: &mut Checker, base: &str, b: &super::raw::RawBackend) -> Option<super::Egress> {
    let proxy = b.proxy.as_ref().and_then(|p| {
        let ok = url::Url::parse(p)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if ok.is_none() || reqwest::Proxy::all(p).is_err() {
            c.err(
                format!("{base}.proxy"),
                format!("{p:?} is not a proxy URL (http://host:port or https://host:port)"),
            );
            return None;
        }
        Some(p.clone())
    });
    let mut read = |key: &str, path: &Option<String>| -> Option<Vec<u8>> {
        let path = path.as_ref()?;
        match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                c.err(
                    format!("{base}.{key}"),
                    format!("cannot read {path:?}: {e}"),
                );
                None
            }
        }
    };
    let ca_pem = read("ca_file", &b.ca_file);
    let cert = read("client_cert_file", &b.client_cert_file);
    let key = read("client_key_file", &b.client_key_file);
    if let Some(pem) = &ca_pem
        && reqwest::Certificate::from_pem_bundle(pem).map_or(true, |v| v.is_empty())
    {
        c.err(
            format!("{base}.ca_file"),
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        );
    }
    let identity_pem = match (&b.client_cert_file, &b.client_key_file, cert, key) {
        (None, None, ..) => None,
        (Some(_), None, ..) => {
            c.err(
                format!("{base}.client_key_file"),
                "is needed with client_cert_file",
            );
            None
        }
        (None, Some(_), ..) => {
            c.err(
                format!("{base}.client_cert_file"),
                "is needed with client_key_file",
            );
            None
        }
        (_, _, Some(mut cert), Some(key)) => {
            cert.push(b'\n');
            cert.extend_from_slice(&key);
            if reqwest::Identity::from_pem(&cert).is_err() {
                c.err(
                    format!("{base}.client_cert_file"),
                    "with client_key_file is not a PEM certificate and private key",
                );
                None
            } else {
                Some(cert)
            }
        }
        // A file that could not be read is reported already.
        _ => None,
    };
    (proxy.is_some() || ca_pem.is_some() || identity_pem.is_some()).then_some(super::Egress {
        proxy,
        ca_pem,
        identity_pem,
    })
}

/// Headers airlock sets itself, or that carry credentials: never from config.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "api-key",
    "x-api-key",
    "x-goog-api-key",
    "anthropic-version",
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "accept",
    "x-request-id",
    "traceparent",
    "tracestate",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// `headers` of one backend: valid names and values, none reserved.
fn check_headers(
    c: &mut Checker,
    base: &str,
    b: &super::raw::RawBackend,
) -> Vec<(http::HeaderName, http::HeaderValue)> {
    let mut out = Vec::new();
    for (name, value) in &b.headers {
        let key = format!("{base}.headers.{name:?}");
        let Ok(n) = http::HeaderName::from_bytes(name.as_bytes()) else {
            c.err(&key, "is not a valid header name");
            continue;
        };
        if RESERVED_HEADERS.contains(&n.as_str()) {
            c.err(
                &key,
                "is set by airlock (credentials come from api_key_env or token_env)",
            );
            continue;
        }
        let Ok(v) = http::HeaderValue::from_str(value) else {
            c.err(&key, "is not a valid header value (visible ASCII)");
            continue;
        };
        out.push((n, v));
    }
    out
}

/// `max_concurrency`, `max_queue` and `queue_timeout_ms` of one backend.
fn check_capacity(
    c: &mut Checker,
    base: &str,
    b: &super::raw::RawBackend,
) -> Option<super::Capacity> {
    let Some(max_concurrency) = b.max_concurrency else {
        for (set, key) in [
            (b.max_queue.is_some(), "max_queue"),
            (b.queue_timeout_ms.is_some(), "queue_timeout_ms"),
        ] {
            if set {
                c.warn(
                    format!("{base}.{key}"),
                    "has no effect without max_concurrency",
                );
            }
        }
        return None;
    };
    if max_concurrency == 0 {
        c.err(
            format!("{base}.max_concurrency"),
            "must be at least 1 (leave it out for no limit)",
        );
        return None;
    }
    let queue_timeout = match b.queue_timeout_ms {
        Some(ms) => c.millis(&format!("{base}.queue_timeout_ms"), ms),
        None => super::DEFAULT_QUEUE_TIMEOUT,
    };
    Some(super::Capacity {
        max_concurrency,
        max_queue: b.max_queue.unwrap_or(super::DEFAULT_MAX_QUEUE),
        queue_timeout,
    })
}

/// An AWS region name: lowercase letters, digits and '-' (`us-east-1`,
/// `eu-central-2`, `us-gov-west-1`), as it goes into a host name.
fn valid_region(r: &str) -> bool {
    !r.is_empty()
        && !r.starts_with('-')
        && !r.ends_with('-')
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A `bedrock` backend's AWS credentials from the environment: the secret
/// access key (or why it is missing) and the rest. The session token is
/// read from `session_token_env`, or from `AWS_SESSION_TOKEN` when neither
/// key variable is renamed (a renamed pair is another identity, whose
/// token `AWS_SESSION_TOKEN` is not).
fn aws_credentials(
    b: &RawBackend,
    env: &dyn Fn(&str) -> Option<String>,
) -> (SecretSource, Option<super::AwsIdentity>) {
    let read = |var: &str| {
        env(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let id_var = b
        .access_key_id_env
        .as_deref()
        .unwrap_or("AWS_ACCESS_KEY_ID");
    let secret_var = b
        .secret_access_key_env
        .as_deref()
        .unwrap_or("AWS_SECRET_ACCESS_KEY");
    let token_var = match &b.session_token_env {
        Some(v) => Some(v.as_str()),
        None if b.access_key_id_env.is_none() && b.secret_access_key_env.is_none() => {
            Some("AWS_SESSION_TOKEN")
        }
        None => None,
    };
    let (Some(id), Some(secret)) = (read(id_var), read(secret_var)) else {
        let missing = if read(id_var).is_none() {
            id_var
        } else {
            secret_var
        };
        return (
            SecretSource::Missing(format!("environment variable {missing} is not set")),
            None,
        );
    };
    let identity = super::AwsIdentity {
        access_key_id: id,
        session_token: token_var.and_then(read).map(SecretString::from),
    };
    (
        SecretSource::Present(SecretString::from(secret)),
        Some(identity),
    )
}

/// `[economics]`: named pools must exist; unnamed ones default to the first
/// pool of priced cloud models and the first pool of costed local backends.
fn check_economics(
    c: &mut Checker,
    raw: &super::raw::RawEconomics,
    pools: &[super::Pool],
    backends: &[Backend],
) -> super::Economics {
    let find =
        |c: &mut Checker, key: &str, name: &Option<String>, fits: &dyn Fn(&super::Pool) -> bool| {
            match name {
                Some(n) => match pools.iter().position(|p| &p.name == n) {
                    Some(i) => Some(super::PoolId(i)),
                    None => {
                        c.err(key, format!("unknown pool {n:?}"));
                        None
                    }
                },
                None => pools.iter().position(fits).map(super::PoolId),
            }
        };
    let backend = |t: &super::Target| backends.get(t.backend.0);
    let cloud_pool = find(c, "economics.cloud_pool", &raw.cloud_pool, &|p| {
        p.members.iter().any(|t| {
            backend(t).is_some_and(|b| b.tier != Tier::Local && b.prices.contains_key(&t.model))
        })
    });
    let local_pool = find(c, "economics.local_pool", &raw.local_pool, &|p| {
        p.members.iter().any(|t| {
            backend(t).is_some_and(|b| b.tier == Tier::Local && b.monthly_cost_usd.is_some())
        })
    });
    if !(0.0..=1.0).contains(&raw.input_share) {
        c.err(
            "economics.input_share",
            format!("{} is outside 0..1", raw.input_share),
        );
    }
    super::Economics {
        cloud_pool,
        local_pool,
        input_share: raw.input_share,
    }
}

/// `raw` over `base`; errors name `{key}.field`.
fn check_caps(
    c: &mut Checker,
    key: &str,
    raw: &super::raw::RawCaps,
    base: super::Caps,
) -> super::Caps {
    let mut caps = base;
    if let Some(n) = raw.context_window {
        if n < 256 {
            c.err(
                format!("{key}.context_window"),
                format!("{n} tokens is too small (at least 256)"),
            );
        }
        caps.context_window = n;
    }
    if let Some(ms) = &raw.modalities {
        caps.images = false;
        caps.audio = false;
        let mut text = false;
        for (j, m) in ms.iter().enumerate() {
            match m.as_str() {
                "text" => text = true,
                "image" => caps.images = true,
                "audio" => caps.audio = true,
                other => c.err(
                    format!("{key}.modalities[{j}]"),
                    format!("unknown modality {other:?} (expected text, image or audio)"),
                ),
            }
        }
        if !text {
            c.err(format!("{key}.modalities"), "must include \"text\"");
        }
    }
    if let Some(t) = raw.tools {
        caps.tools = t;
    }
    if let Some(j) = raw.json_schema {
        caps.json_schema = j;
    }
    caps
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
}

fn check_pools(
    c: &mut Checker,
    raw: &BTreeMap<String, Vec<String>>,
    backends: &[Backend],
    by_name: &HashMap<String, BackendId>,
) -> Vec<Pool> {
    let mut pools = Vec::with_capacity(raw.len());
    for (name, members) in raw {
        let key = format!("pools.{name}");
        if !valid_name(name) || name == AUTO_MODEL {
            c.err(
                &key,
                format!("{name:?} is not a valid pool name (\"auto\" is reserved; no '/')"),
            );
            continue;
        }
        if members.is_empty() {
            c.err(&key, "a pool needs at least one \"backend/model\" member");
        }
        let mut targets = Vec::with_capacity(members.len());
        for (j, m) in members.iter().enumerate() {
            let mkey = format!("{key}[{j}]");
            let Some((bname, model)) = m.split_once('/') else {
                c.err(
                    &mkey,
                    format!("{m:?} must be \"backend/model\", e.g. \"ollama/llama3.1:8b\""),
                );
                continue;
            };
            let Some(&id) = by_name.get(bname) else {
                c.err(&mkey, format!("unknown backend {bname:?}"));
                continue;
            };
            let backend = &backends[id.0];
            if !backend.models.is_empty() && !backend.models.iter().any(|x| x == model) {
                c.err(
                    &mkey,
                    format!(
                        "backend {bname:?} does not list model {model:?} in its models ({})",
                        backend.models.join(", ")
                    ),
                );
                continue;
            }
            if model.is_empty() {
                c.err(&mkey, "model name must not be empty");
                continue;
            }
            targets.push(Target {
                backend: id,
                model: model.to_owned(),
            });
        }
        pools.push(Pool {
            name: name.clone(),
            members: targets,
        });
    }
    pools
}

fn check_rule(
    c: &mut Checker,
    i: usize,
    r: &RawRule,
    pools: &HashMap<&str, PoolId>,
) -> Option<Rule> {
    let base = format!("rules[{i}]");
    if r.name.trim().is_empty() || r.name == EXPLICIT_RULE {
        c.err(
            format!("{base}.name"),
            format!(
                "{:?} is not a valid rule name (\"explicit\" is reserved)",
                r.name
            ),
        );
    }
    let pool = pools.get(r.pool.as_str()).copied();
    if pool.is_none() {
        c.err(format!("{base}.pool"), format!("unknown pool {:?}", r.pool));
    }
    let w = &r.when;
    for (key, v) in [
        ("complexity_at_least", w.complexity_at_least),
        ("complexity_below", w.complexity_below),
    ] {
        if let Some(v) = v
            && !(0.0..=1.0).contains(&v)
        {
            c.err(format!("{base}.when.{key}"), format!("{v} is outside 0..1"));
        }
    }
    let sensitivity_at_least = w
        .sensitivity_at_least
        .as_deref()
        .and_then(|v| c.level(&format!("{base}.when.sensitivity_at_least"), v));
    let task = w.task.as_ref().map(|tasks| {
        tasks
            .iter()
            .enumerate()
            .filter_map(|(j, t)| {
                let parsed = Task::parse(t);
                if parsed.is_none() {
                    c.err(
                        format!("{base}.when.task[{j}]"),
                        format!(
                            "unknown task {t:?} (expected one of {})",
                            Task::ALL.map(|t| t.as_str()).join(", ")
                        ),
                    );
                }
                parsed
            })
            .collect::<Vec<_>>()
    });
    Some(Rule {
        name: r.name.clone(),
        when: When {
            complexity_at_least: w.complexity_at_least,
            complexity_below: w.complexity_below,
            sensitivity_at_least,
            task,
            key: w.key.clone(),
            volume: w
                .volume()
                .into_iter()
                .filter_map(|(_, window, tokens, min)| {
                    min.map(|min| super::VolumeAtLeast {
                        window,
                        tokens,
                        min,
                    })
                })
                .collect(),
            above_break_even: w.volume_above_break_even,
        },
        pool: pool?,
        audit_content: r.audit_content,
    })
}
