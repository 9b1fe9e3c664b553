//! The routing decision, pure: facts about a request (level, complexity,
//! task, key, requested model) plus the policy and each backend's state give
//! an ordered list of allowed targets, or an error. The tier filter is applied
//! here and only here, to the chosen pool and to every fallback candidate, so
//! no later stage can reach a backend this list does not name. No I/O.

use crate::classify::Complexity;
use crate::config::{
    AUTO_MODEL, BackendId, Config, EMBEDDINGS_POOL, EXPLICIT_RULE, OnViolation, PoolId, Target,
};
use crate::types::{Level, Tier, TierSet};

/// What the health checker last saw of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendState {
    Up,
    /// Dead to its probe, or its circuit is open after failed calls.
    Down,
    /// The circuit's wait is over: the next call is a trial.
    HalfOpen,
    /// Alive but still loading a model (a local server's 503 "Loading
    /// model"): tried after the healthy ones.
    Loading,
    Unknown,
    Unconfigured,
}

impl BackendState {
    pub const ALL: [BackendState; 6] = [
        BackendState::Up,
        BackendState::Down,
        BackendState::HalfOpen,
        BackendState::Loading,
        BackendState::Unknown,
        BackendState::Unconfigured,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BackendState::Up => "up",
            BackendState::Down => "down",
            BackendState::HalfOpen => "half_open",
            BackendState::Loading => "loading",
            BackendState::Unknown => "unknown",
            BackendState::Unconfigured => "unconfigured",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Embeddings,
}

/// Everything the router needs to know about one request.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub endpoint: Endpoint,
    pub model: &'a str,
    pub level: Level,
    pub complexity: &'a Complexity,
    pub key: Option<&'a str>,
    /// The level the request would have with every redactable finding
    /// replaced (used only with `on_violation = "redact"`).
    pub redacted_level: Level,
    /// Requests and tokens of the request's task kind in each window
    /// (`volume::Window` order), for volume conditions.
    pub task_volume: [crate::volume::Count; 3],
    /// What a model must be able to take to serve the request.
    pub needs: Needs,
    /// Daily tokens at which local beats the cloud for this task kind
    /// (`cost::break_even`), when the config prices both sides.
    pub break_even: Option<f64>,
    /// Set when the global or the key's cloud budget is spent.
    pub over_budget: Option<crate::config::OnBudget>,
}

/// What a request needs of a model: hard limits checked before any rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub images: bool,
    pub audio: bool,
    /// Estimated prompt tokens plus `max_tokens`.
    pub tokens: u64,
    pub tools: bool,
    pub json_schema: bool,
}

impl Needs {
    /// The first need `caps` does not meet: the request parameter it comes
    /// from and what is missing.
    pub fn unmet(&self, caps: &crate::config::Caps) -> Option<(&'static str, String)> {
        if self.images && !caps.images {
            return Some(("messages", "images".into()));
        }
        if self.audio && !caps.audio {
            return Some(("messages", "audio".into()));
        }
        if self.tokens > caps.context_window {
            return Some((
                "max_tokens",
                format!(
                    "a context window of about {} tokens (prompt estimate plus max_tokens)",
                    self.tokens
                ),
            ));
        }
        if self.tools && !caps.tools {
            return Some(("tools", "tools".into()));
        }
        if self.json_schema && !caps.json_schema {
            return Some(("response_format", "json_schema output".into()));
        }
        None
    }
}

/// What the caller asked for, resolved against the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    Auto,
    Pool(PoolId),
    Target(Target),
}

/// A rule that matched but was passed over, and why (for explain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub rule: String,
    pub reason: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The rule that chose the pool, or `explicit` when served as asked.
    pub rule: String,
    pub pool: Option<String>,
    pub allowed: TierSet,
    /// Allowed, configured targets in the order to try them.
    pub candidates: Vec<Target>,
    pub skipped: Vec<Skipped>,
    /// The request named a pool or model that the tier filter forbade and was rerouted.
    pub rerouted: bool,
    /// The request goes as asked, but only with its findings redacted:
    /// `allowed` and `candidates` are those of the redacted level.
    pub redact: bool,
    /// Every cloud backend it could use is down: served by the offline pool.
    pub offline_fallback: bool,
    /// A cloud budget is spent: its cloud candidates were dropped.
    pub budget_downgraded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    ModelNotFound {
        model: String,
    },
    AmbiguousModel {
        model: String,
        backends: Vec<String>,
    },
    PolicyViolation {
        message: String,
    },
    NoEligibleBackend {
        message: String,
    },
    /// A cloud budget is spent and the operator refuses such requests.
    BudgetExceeded {
        message: String,
    },
    /// The model asked for cannot take the request (images, context,
    /// tools, structured output); `param` is the request field at fault.
    Capability {
        param: &'static str,
        message: String,
    },
}

/// Resolves the `model` field: `auto`; a pool; `backend/model`; a bare model
/// served by exactly one backend.
pub fn resolve(config: &Config, model: &str) -> Result<Requested, RouteError> {
    if model == AUTO_MODEL {
        return Ok(Requested::Auto);
    }
    if let Some(p) = config.pool_by_name(model) {
        return Ok(Requested::Pool(p));
    }
    if let Some((b, m)) = model.split_once('/')
        && let Some(id) = config.backend_by_name(b)
    {
        let backend = config.backend(id);
        if !m.is_empty() && (backend.models.is_empty() || backend.serves(m)) {
            return Ok(Requested::Target(Target {
                backend: id,
                model: m.to_owned(),
            }));
        }
        return Err(RouteError::ModelNotFound {
            model: model.to_owned(),
        });
    }
    let serving: Vec<BackendId> = config
        .backends
        .iter()
        .enumerate()
        .filter(|(_, b)| b.serves(model))
        .map(|(i, _)| BackendId(i))
        .collect();
    match serving.as_slice() {
        [one] => Ok(Requested::Target(Target {
            backend: *one,
            model: model.to_owned(),
        })),
        [] => Err(RouteError::ModelNotFound {
            model: model.to_owned(),
        }),
        many => Err(RouteError::AmbiguousModel {
            model: model.to_owned(),
            backends: many
                .iter()
                .map(|id| config.backend(*id).name.clone())
                .collect(),
        }),
    }
}

/// Decides where a request may and should go.
pub fn decide(
    config: &Config,
    facts: &Facts<'_>,
    state: &dyn Fn(BackendId) -> BackendState,
) -> Result<Decision, RouteError> {
    let mut d = decide_unbounded(config, facts, state)?;
    if let Some(action) = facts.over_budget {
        over_budget(config, facts, state, action, &mut d)?;
    }
    offline_fallback(config, facts, state, &mut d);
    Ok(d)
}

/// A spent budget keeps a request off the cloud: `reject` refuses one that
/// would reach it; `downgrade` drops its cloud candidates and, when none is
/// left, routes it again with only the local tier allowed. Both only narrow.
fn over_budget(
    config: &Config,
    facts: &Facts<'_>,
    state: &dyn Fn(BackendId) -> BackendState,
    action: crate::config::OnBudget,
    d: &mut Decision,
) -> Result<(), RouteError> {
    use crate::types::Tier;
    let cloud = |t: &Target| config.backend(t.backend).tier != Tier::Local;
    if !d.candidates.iter().any(cloud) {
        return Ok(());
    }
    match action {
        crate::config::OnBudget::Reject => Err(RouteError::BudgetExceeded {
            message: "the cloud budget for this period is spent; ask for a local model or wait"
                .into(),
        }),
        crate::config::OnBudget::Downgrade => {
            d.candidates.retain(|t| !cloud(t));
            if d.candidates.is_empty() {
                let local: TierSet = d.allowed.iter().filter(|t| *t == Tier::Local).collect();
                let again = by_rules(config, facts, local, state)?;
                d.rule = again.rule;
                d.pool = again.pool;
                d.allowed = again.allowed;
                d.candidates = again.candidates;
                d.skipped = again.skipped;
            }
            d.budget_downgraded = true;
            Ok(())
        }
    }
}

/// `policy.offline_fallback`: when every candidate is a cloud backend known
/// to be down, chat traffic goes to the offline pool instead. The pool holds
/// only local backends and is filtered by the same allowed tiers, so this
/// can only narrow where a request goes.
fn offline_fallback(
    config: &Config,
    facts: &Facts<'_>,
    state: &dyn Fn(BackendId) -> BackendState,
    d: &mut Decision,
) {
    let Some(pool) = config.offline_pool else {
        return;
    };
    let cloud_down = |t: &Target| {
        config.backend(t.backend).tier != crate::types::Tier::Local
            && state(t.backend) == BackendState::Down
    };
    if facts.endpoint != Endpoint::Chat
        || d.candidates.is_empty()
        || !d.candidates.iter().all(cloud_down)
    {
        return;
    }
    let (local, _) = eligible(
        config,
        &config.pool(pool).members,
        d.allowed,
        &facts.needs,
        state,
    );
    if !local.is_empty() {
        d.candidates = local;
        d.offline_fallback = true;
    }
}

/// The tiers a request of `level` may reach: the policy's for the level,
/// capped by the gateway key's `max_tier`. The cap only narrows.
fn allowed_tiers(config: &Config, facts: &Facts<'_>, level: Level) -> TierSet {
    let by_level = config.policy.allowed_tiers(level);
    let cap = facts
        .key
        .and_then(|name| config.keys.iter().find(|k| k.name == name))
        .and_then(|k| k.max_tier);
    match cap {
        None => by_level,
        Some(max) => {
            let rank = |t: Tier| Tier::ALL.iter().position(|x| *x == t);
            by_level.iter().filter(|t| rank(*t) <= rank(max)).collect()
        }
    }
}

fn decide_unbounded(
    config: &Config,
    facts: &Facts<'_>,
    state: &dyn Fn(BackendId) -> BackendState,
) -> Result<Decision, RouteError> {
    let allowed = allowed_tiers(config, facts, facts.level);
    let requested = resolve(config, facts.model)?;
    let explicit_pool = |pool: Option<String>, members: &[Target]| {
        let (candidates, _) = eligible(config, members, allowed, &facts.needs, state);
        Decision {
            rule: EXPLICIT_RULE.into(),
            pool,
            allowed,
            candidates,
            skipped: Vec::new(),
            rerouted: false,
            redact: false,
            offline_fallback: false,
            budget_downgraded: false,
        }
    };
    let (asked, members): (String, Vec<Target>) = match (&requested, facts.endpoint) {
        (Requested::Auto, Endpoint::Chat) => return by_rules(config, facts, allowed, state),
        (Requested::Auto, Endpoint::Embeddings) => {
            let Some(p) = config.pool_by_name(EMBEDDINGS_POOL) else {
                return Err(RouteError::ModelNotFound {
                    model: format!("{AUTO_MODEL} (no [pools] {EMBEDDINGS_POOL} is configured)"),
                });
            };
            (
                format!("pool {EMBEDDINGS_POOL:?}"),
                config.pool(p).members.clone(),
            )
        }
        (Requested::Pool(p), _) => (
            format!("pool {:?}", config.pool(*p).name),
            config.pool(*p).members.clone(),
        ),
        (Requested::Target(t), _) => (format!("model {:?}", facts.model), vec![t.clone()]),
    };
    let pool_name = match &requested {
        Requested::Pool(p) => Some(config.pool(*p).name.clone()),
        Requested::Auto => Some(EMBEDDINGS_POOL.to_owned()),
        Requested::Target(_) => None,
    };
    let (candidates, why) = eligible(config, &members, allowed, &facts.needs, state);
    if !candidates.is_empty() {
        return Ok(explicit_pool(pool_name, &members));
    }
    match why {
        Ineligible::Capability(param, what) => Err(RouteError::Capability {
            param,
            message: format!("{asked} cannot take this request: it needs {what}"),
        }),
        Ineligible::Unconfigured => Err(RouteError::NoEligibleBackend {
            message: format!("{asked} has no configured backend (its API key is missing)"),
        }),
        Ineligible::Tier => {
            let message = format!(
                "{asked} is not allowed for {} data (allowed tiers: {})",
                facts.level,
                tiers_list(allowed)
            );
            if facts.endpoint == Endpoint::Embeddings
                || config.policy.on_violation == OnViolation::Reject
            {
                return Err(RouteError::PolicyViolation { message });
            }
            if config.policy.on_violation == OnViolation::Redact {
                let redacted = allowed_tiers(config, facts, facts.redacted_level);
                let (candidates, _) = eligible(config, &members, redacted, &facts.needs, state);
                if !candidates.is_empty() {
                    return Ok(Decision {
                        rule: EXPLICIT_RULE.into(),
                        pool: pool_name,
                        allowed: redacted,
                        candidates,
                        skipped: Vec::new(),
                        rerouted: false,
                        redact: true,
                        offline_fallback: false,
                        budget_downgraded: false,
                    });
                }
                // Something cannot be redacted: keep it where it may go.
            }
            let mut d = by_rules(config, facts, allowed, state)?;
            d.rerouted = true;
            Ok(d)
        }
    }
}

fn tiers_list(set: TierSet) -> String {
    let v: Vec<&str> = set.iter().map(|t| t.as_str()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ineligible {
    Tier,
    /// Allowed backends exist, but no model of them can take the request:
    /// the request parameter and what is missing.
    Capability(&'static str, String),
    Unconfigured,
}

/// Members whose tier is allowed, whose model can take the request and whose
/// backend is configured, those not known to be down first. Also says why
/// the list is empty, when it is.
fn eligible(
    config: &Config,
    members: &[Target],
    allowed: TierSet,
    needs: &Needs,
    state: &dyn Fn(BackendId) -> BackendState,
) -> (Vec<Target>, Ineligible) {
    let mut healthy = Vec::new();
    let mut down = Vec::new();
    let mut tier_ok = false;
    let mut unmet = None;
    let mut capable = false;
    for t in members {
        let b = config.backend(t.backend);
        if !allowed.contains(b.tier) {
            continue;
        }
        tier_ok = true;
        if let Some(miss) = needs.unmet(&b.caps_of(&t.model)) {
            unmet.get_or_insert(miss);
            continue;
        }
        capable = true;
        match state(t.backend) {
            BackendState::Unconfigured => {}
            BackendState::Down | BackendState::Loading => down.push(t.clone()),
            BackendState::Up | BackendState::Unknown | BackendState::HalfOpen => {
                healthy.push(t.clone())
            }
        }
    }
    healthy.extend(down);
    let why = match (tier_ok, capable, unmet) {
        (false, _, _) => Ineligible::Tier,
        (true, false, Some((param, what))) => Ineligible::Capability(param, what),
        _ => Ineligible::Unconfigured,
    };
    (healthy, why)
}

fn rule_matches(when: &crate::config::When, facts: &Facts<'_>) -> bool {
    let c = facts.complexity;
    when.complexity_at_least.is_none_or(|t| c.score >= t)
        && when.complexity_below.is_none_or(|t| c.score < t)
        && when.sensitivity_at_least.is_none_or(|l| facts.level >= l)
        && when.task.as_ref().is_none_or(|ts| ts.contains(&c.task))
        && when
            .key
            .as_ref()
            .is_none_or(|ks| facts.key.is_some_and(|k| ks.iter().any(|x| x == k)))
        && when.volume.iter().all(|v| v.holds(&facts.task_volume))
        && when.above_break_even.is_none_or(|want| {
            let day = facts.task_volume[crate::volume::Window::Day as usize].tokens() as f64;
            facts.break_even.is_some_and(|b| (day >= b) == want)
        })
}

fn by_rules(
    config: &Config,
    facts: &Facts<'_>,
    allowed: TierSet,
    state: &dyn Fn(BackendId) -> BackendState,
) -> Result<Decision, RouteError> {
    let mut skipped = Vec::new();
    let mut unconfigured_only = false;
    let mut capability_missed = false;
    for rule in &config.rules {
        if !rule_matches(&rule.when, facts) {
            continue;
        }
        let pool = config.pool(rule.pool);
        let (candidates, why) = eligible(config, &pool.members, allowed, &facts.needs, state);
        if candidates.is_empty() {
            unconfigured_only |= why == Ineligible::Unconfigured;
            skipped.push(Skipped {
                rule: rule.name.clone(),
                reason: match why {
                    Ineligible::Tier => "no backend in an allowed tier",
                    Ineligible::Capability(..) => {
                        capability_missed = true;
                        "no model that can take the request (modality, context, tools or json_schema)"
                    }
                    Ineligible::Unconfigured => "no configured backend",
                },
            });
            continue;
        }
        return Ok(Decision {
            rule: rule.name.clone(),
            pool: Some(pool.name.clone()),
            allowed,
            candidates,
            skipped,
            rerouted: false,
            redact: false,
            offline_fallback: false,
            budget_downgraded: false,
        });
    }
    let message = if capability_missed {
        format!(
            "no allowed backend for {} data has a model that can take this request \
             (images, context window, tools or json_schema)",
            facts.level
        )
    } else if unconfigured_only {
        format!(
            "no backend is available for {} data: the allowed backends ({}) are unconfigured",
            facts.level,
            tiers_list(allowed)
        )
    } else {
        format!(
            "no rule's pool has a backend allowed for {} data (allowed tiers: {})",
            facts.level,
            tiers_list(allowed)
        )
    };
    let passed: Vec<String> = skipped
        .iter()
        .map(|s| format!("{}: {}", s.rule, s.reason))
        .collect();
    let message = if passed.is_empty() {
        message
    } else {
        format!("{message}; rules passed over: {}", passed.join("; "))
    };
    Err(RouteError::NoEligibleBackend { message })
}

#[cfg(test)]
mod tests;
