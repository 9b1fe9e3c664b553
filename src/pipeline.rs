//! One request's journey after parsing: classify (sensitivity, complexity),
//! count, decide, then dispatch to the decided candidates in order, falling
//! back only before the first byte and only within the candidates the tier
//! filter allowed. `assess` is pure and shared by serving, the explain
//! endpoint and the `explain` CLI, so what explain shows is what serving does.

use crate::classify::sensitivity::{Kind, Scanner};
use crate::classify::{self, Complexity, Floor, SensitivityReport, Shape};
use crate::config::{BackendId, Config};
use crate::openai::{ChatRequest, EmbeddingsRequest, Segment, Unscannable};
use crate::route::{self, BackendState, Decision, Endpoint, Facts, RouteError};
use serde_json::{Value, json};

/// Everything decided about a request before anything is sent.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub sensitivity: SensitivityReport,
    pub complexity: Complexity,
    /// Requests and tokens of the request's task kind per window.
    pub task_volume: [crate::volume::Count; 3],
    pub budget: BudgetState,
    pub decision: Result<Decision, RouteError>,
}

/// Who is asking: the floors they set and the gateway key they used.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    pub floors: &'a [Floor],
    pub key: Option<&'a str>,
    /// What conversation memory knows of the request's texts, when serving.
    pub memory: Option<&'a crate::memory::Recall>,
    /// Volume counters, when serving (offline explain counts nothing).
    pub volume: Option<&'a crate::volume::Volume>,
}

/// Classifies and routes a chat request.
pub fn assess_chat(
    config: &Config,
    scanner: &Scanner,
    req: &ChatRequest,
    caller: &Caller<'_>,
    state: &dyn Fn(BackendId) -> BackendState,
) -> Assessment {
    let (segments, unscannable) = req.segments();
    assess(
        config,
        scanner,
        &Inputs {
            endpoint: Endpoint::Chat,
            model: &req.model,
            segments: &segments,
            unscannable,
            has_tools: req.has_tools,
            json_schema: req.json_schema,
            max_tokens: req.max_tokens,
            floors: caller.floors,
            key: caller.key,
            memory: caller.memory,
            volume: caller.volume,
        },
        state,
    )
}

/// Classifies and routes an embeddings request.
pub fn assess_embeddings(
    config: &Config,
    scanner: &Scanner,
    req: &EmbeddingsRequest,
    caller: &Caller<'_>,
    state: &dyn Fn(BackendId) -> BackendState,
) -> Assessment {
    let (segments, unscannable) = req.segments();
    assess(
        config,
        scanner,
        &Inputs {
            endpoint: Endpoint::Embeddings,
            model: &req.model,
            segments: &segments,
            unscannable,
            has_tools: false,
            json_schema: false,
            max_tokens: None,
            floors: caller.floors,
            key: caller.key,
            memory: caller.memory,
            volume: caller.volume,
        },
        state,
    )
}

/// The request-level inputs of an assessment.
struct Inputs<'a> {
    endpoint: Endpoint,
    model: &'a str,
    segments: &'a [Segment<'a>],
    unscannable: Unscannable,
    has_tools: bool,
    json_schema: bool,
    max_tokens: Option<u64>,
    floors: &'a [Floor],
    key: Option<&'a str>,
    memory: Option<&'a crate::memory::Recall>,
    volume: Option<&'a crate::volume::Volume>,
}

fn assess(
    config: &Config,
    scanner: &Scanner,
    inputs: &Inputs<'_>,
    state: &dyn Fn(BackendId) -> BackendState,
) -> Assessment {
    let mut sensitivity = classify::sensitivity(
        scanner,
        &config.policy,
        &config.detectors,
        inputs.segments,
        inputs.unscannable,
        inputs.floors,
    );
    // Memory covers what the scan does not flag: texts resent from a
    // sensitive exchange that carry no finding themselves.
    if let Some(recall) = inputs.memory {
        let findings = &sensitivity.findings;
        let quiet = |place: crate::memory::Place| {
            !findings
                .iter()
                .any(|f| (f.message, f.part, f.field) == place)
        };
        let mut raised = Vec::new();
        if let Some(level) = recall.level(quiet) {
            raised.push(Floor::Memory(level));
        }
        if recall.failed_for(quiet) {
            raised.push(Floor::MemoryUnavailable(config.policy.unscannable));
        }
        for floor in raised {
            sensitivity.level = sensitivity.level.max(floor.level());
            sensitivity.floors.push(floor);
        }
    }
    let mut complexity = classify::complexity::assess(
        inputs.segments,
        Shape {
            unscannable: inputs.unscannable,
            has_tools: inputs.has_tools,
            max_tokens: inputs.max_tokens,
        },
    );
    if inputs.endpoint == Endpoint::Embeddings {
        complexity.task = classify::Task::Embedding;
    }
    let task_volume = inputs
        .volume
        .map(|v| {
            let dim = crate::volume::Dim::Task(complexity.task);
            crate::volume::Window::ALL.map(|w| v.count(&dim, w))
        })
        .unwrap_or_default();
    let budget = inputs
        .volume
        .map(|v| BudgetState::read(config, v, inputs.key))
        .unwrap_or_default();
    let decision = route::decide(
        config,
        &Facts {
            redacted_level: redacted_level(config, &sensitivity),
            endpoint: inputs.endpoint,
            model: inputs.model,
            level: sensitivity.level,
            complexity: &complexity,
            key: inputs.key,
            break_even: crate::cost::break_even(config, &task_volume),
            over_budget: budget.exceeded().then_some(config.budgets.on_exceeded),
            task_volume,
            needs: route::Needs {
                images: inputs.unscannable.images > 0,
                audio: inputs.unscannable.audio > 0,
                tokens: match inputs.endpoint {
                    Endpoint::Chat => complexity.prompt_tokens + inputs.max_tokens.unwrap_or(0),
                    Endpoint::Embeddings => 0,
                },
                tools: inputs.has_tools,
                json_schema: inputs.json_schema,
            },
        },
        state,
    );
    Assessment {
        sensitivity,
        complexity,
        task_volume,
        budget,
        decision,
    }
}

/// Cloud spend against the budgets over the last 30 days, in USD.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BudgetState {
    pub global_spent: f64,
    pub global_budget: Option<f64>,
    pub key_spent: f64,
    pub key_budget: Option<f64>,
}

impl BudgetState {
    fn read(config: &Config, volume: &crate::volume::Volume, key: Option<&str>) -> BudgetState {
        use crate::volume::{Dim, Window};
        let spent = |dim: &Dim| volume.count(dim, Window::Month).spend_micro_usd as f64 / 1e6;
        BudgetState {
            global_spent: spent(&Dim::All),
            global_budget: config.budgets.monthly_usd,
            key_spent: key.map_or(0.0, |k| spent(&Dim::Key(k.to_owned()))),
            key_budget: key
                .and_then(|k| config.keys.iter().find(|g| g.name == k))
                .and_then(|g| g.monthly_budget_usd),
        }
    }

    pub fn exceeded(&self) -> bool {
        self.global_budget.is_some_and(|b| self.global_spent >= b)
            || self.key_budget.is_some_and(|b| self.key_spent >= b)
    }
}

/// What is left of a request's level once every redactable finding is
/// replaced: unscannable content, caller and memory floors, findings that
/// redaction does not remove (privilege and code markers) or that the
/// operator forbids redacting, and medical terms when an identifier stays.
fn redacted_level(config: &Config, s: &SensitivityReport) -> crate::types::Level {
    use crate::classify::{Finding, FindingKind};
    let mut level = s.unscannable_level.unwrap_or_default();
    for f in &s.floors {
        level = level.max(f.level());
    }
    let stays = |f: &Finding| match f.kind {
        FindingKind::Builtin(k) => {
            config.policy.never_redact.contains(&k) || (!k.redactable() && k != Kind::MedicalTerm)
        }
        FindingKind::Custom(_) => false,
    };
    let identity_stays = s.findings.iter().any(|f| stays(f) && f.identifies_person());
    for f in &s.findings {
        if stays(f) || (identity_stays && f.kind == FindingKind::Builtin(Kind::MedicalTerm)) {
            level = level.max(f.level);
        }
    }
    level
}

/// The explain document: the full decision, never the request's text.
pub fn explain_json(config: &Config, a: &Assessment) -> Value {
    let findings: Vec<Value> = a
        .sensitivity
        .findings
        .iter()
        .map(|f| {
            json!({
                "kind": f.kind.name(&config.detectors),
                "category": f.category.as_str(),
                "level": f.level.as_str(),
                "message": f.message,
                "part": f.part,
                "field": f.field.describe(),
                "start": f.start,
                "end": f.end,
            })
        })
        .collect();
    let floors: Vec<Value> = a
        .sensitivity
        .floors
        .iter()
        .map(|f| match f {
            Floor::Header(l) => json!({"source": "header", "level": l.as_str()}),
            Floor::Key(l) => json!({"source": "key", "level": l.as_str()}),
            Floor::Memory(l) => json!({"source": "memory", "level": l.as_str()}),
            Floor::MemoryUnavailable(l) => {
                json!({"source": "memory_unavailable", "level": l.as_str()})
            }
        })
        .collect();
    let un = &a.sensitivity.unscannable;
    let allowed = config.policy.allowed_tiers(a.sensitivity.level);
    let mut doc = json!({
        "sensitivity": {
            "level": a.sensitivity.level.as_str(),
            "findings": findings,
            "unscannable": {"images": un.images, "audio": un.audio, "files": un.files, "other": un.other},
            "unscannable_level": a.sensitivity.unscannable_level.map(|l| l.as_str()),
            "floors": floors,
        },
        "complexity": {
            "score": (a.complexity.score * 1000.0).round() / 1000.0,
            "task": a.complexity.task.as_str(),
            "features": a.complexity.features.iter().map(|c| json!({
                "name": c.feature.as_str(),
                "value": (c.value * 1000.0).round() / 1000.0,
                "contribution": (c.contribution * 1000.0).round() / 1000.0,
            })).collect::<Vec<_>>(),
            "prompt_tokens": a.complexity.prompt_tokens,
        },
        "volume": {
            "task": a.complexity.task.as_str(),
            "break_even_tokens_per_day": crate::cost::break_even(config, &a.task_volume)
                .map(f64::round),
            "windows": crate::volume::Window::ALL
                .into_iter()
                .map(|w| {
                    let c = a.task_volume[w as usize];
                    (
                        w.as_str().to_owned(),
                        json!({"requests": c.requests, "tokens": c.tokens(),
                            "input_tokens": c.input_tokens, "output_tokens": c.output_tokens}),
                    )
                })
                .collect::<serde_json::Map<String, Value>>(),
        },
        "budget": {
            "global_spent_usd": a.budget.global_spent,
            "global_budget_usd": a.budget.global_budget,
            "key_spent_usd": a.budget.key_spent,
            "key_budget_usd": a.budget.key_budget,
            "exceeded": a.budget.exceeded(),
        },
        "allowed_tiers": allowed.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
    });
    match &a.decision {
        Ok(d) => {
            let first = d.candidates.first().map(|t| {
                let b = config.backend(t.backend);
                json!({"tier": b.tier.as_str(), "backend": b.name, "model": t.model})
            });
            doc["rule"] = json!(d.rule);
            doc["pool"] = json!(d.pool);
            doc["rerouted"] = json!(d.rerouted);
            doc["redact"] = json!(d.redact);
            doc["offline_fallback"] = json!(d.offline_fallback);
            doc["budget_downgraded"] = json!(d.budget_downgraded);
            doc["decision"] = first.unwrap_or(Value::Null);
            doc["candidates"] = d
                .candidates
                .iter()
                .map(|t| {
                    let b = config.backend(t.backend);
                    json!({"tier": b.tier.as_str(), "backend": b.name, "model": t.model})
                })
                .collect();
            doc["skipped_rules"] = d
                .skipped
                .iter()
                .map(|s| json!({"rule": s.rule, "reason": s.reason}))
                .collect();
        }
        Err(e) => {
            let api: crate::api::ApiError = e.clone().into();
            doc["rule"] = Value::Null;
            doc["pool"] = Value::Null;
            doc["decision"] = Value::Null;
            doc["error"] = json!({"code": api.code(), "status": api.status().as_u16(), "message": api.to_string()});
        }
    }
    doc
}
