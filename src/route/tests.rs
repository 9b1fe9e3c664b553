use super::*;
use crate::classify::Task;
use crate::config::from_toml_str;
use crate::types::Tier;

const TOML: &str = r#"
[[backends]]
name = "ollama"
protocol = "ollama"
base_url = "http://127.0.0.1:11434"
tier = "local"
models = ["llama3.1:8b", "nomic-embed-text"]

[[backends]]
name = "lmstudio"
protocol = "openai"
base_url = "http://127.0.0.1:1234/v1"
tier = "local"
models = ["qwen2.5-7b", "shared-model"]

[[backends]]
name = "azure"
protocol = "openai"
base_url = "https://example.openai.azure.com/v1"
tier = "private_cloud"
models = ["gpt-4o", "shared-model"]

[[backends]]
name = "openai"
protocol = "openai"
base_url = "https://api.openai.com/v1"
api_key_env = "OPENAI_API_KEY"
tier = "public_cloud"
models = ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]

[pools]
local = ["ollama/llama3.1:8b", "lmstudio/qwen2.5-7b"]
frontier = ["openai/gpt-4o"]
private = ["azure/gpt-4o"]
embeddings = ["openai/text-embedding-3-small"]

[[rules]]
name = "code-private"
when = { task = ["code"] }
pool = "private"

[[rules]]
name = "complex-to-frontier"
when = { complexity_at_least = 0.6 }
pool = "frontier"

[[rules]]
name = "vip"
when = { key = ["vip"] }
pool = "frontier"

[[rules]]
name = "default"
pool = "local"
"#;

fn config(extra: &str) -> Config {
    from_toml_str(&format!("{TOML}\n{extra}"), &|v| {
        (v == "OPENAI_API_KEY").then(|| "sk".into())
    })
    .expect("valid config")
    .config
}

fn cx(score: f64, task: Task) -> Complexity {
    Complexity {
        score,
        task,
        features: vec![],
        prompt_tokens: 10,
    }
}

fn up(_: BackendId) -> BackendState {
    BackendState::Up
}

fn run(
    c: &Config,
    model: &str,
    level: Level,
    cx: &Complexity,
    state: &dyn Fn(BackendId) -> BackendState,
) -> Result<Decision, RouteError> {
    decide(
        c,
        &Facts {
            endpoint: Endpoint::Chat,
            model,
            level,
            complexity: cx,
            key: None,
            redacted_level: Level::Public,
            task_volume: Default::default(),
            needs: Default::default(),
            break_even: None,
            over_budget: None,
        },
        state,
    )
}

fn names(c: &Config, d: &Decision) -> Vec<String> {
    d.candidates
        .iter()
        .map(|t| format!("{}/{}", c.backend(t.backend).name, t.model))
        .collect()
}

#[test]
fn model_resolution_order() {
    let c = config("");
    assert_eq!(resolve(&c, "auto"), Ok(Requested::Auto));
    assert!(matches!(resolve(&c, "local"), Ok(Requested::Pool(_))));
    let Ok(Requested::Target(t)) = resolve(&c, "openai/gpt-4o") else {
        panic!("backend/model")
    };
    assert_eq!(c.backend(t.backend).name, "openai");
    let Ok(Requested::Target(t)) = resolve(&c, "gpt-4o-mini") else {
        panic!("bare model")
    };
    assert_eq!(t.model, "gpt-4o-mini");
    assert!(matches!(
        resolve(&c, "gpt-4o"),
        Err(RouteError::AmbiguousModel { .. })
    ));
    assert!(matches!(
        resolve(&c, "nope"),
        Err(RouteError::ModelNotFound { .. })
    ));
    assert!(matches!(
        resolve(&c, "openai/gpt-9"),
        Err(RouteError::ModelNotFound { .. })
    ));
    // A slash whose prefix is not a backend is a bare model name.
    assert!(matches!(
        resolve(&c, "meta-llama/x"),
        Err(RouteError::ModelNotFound { .. })
    ));
}

#[test]
fn auto_follows_rules_in_order() {
    let c = config("");
    let d = run(&c, "auto", Level::Public, &cx(0.1, Task::Chat), &up).expect("ok");
    assert_eq!(d.rule, "default");
    assert_eq!(names(&c, &d), ["ollama/llama3.1:8b", "lmstudio/qwen2.5-7b"]);
    let d = run(&c, "auto", Level::Public, &cx(0.7, Task::Chat), &up).expect("ok");
    assert_eq!(d.rule, "complex-to-frontier");
    let d = run(&c, "auto", Level::Public, &cx(0.7, Task::Code), &up).expect("ok");
    assert_eq!(d.rule, "code-private");
}

#[test]
fn rules_skip_on_tier_grounds_only() {
    let c = config("");
    // Restricted: code-private and frontier are skipped for their tier.
    let d = run(&c, "auto", Level::Restricted, &cx(0.9, Task::Code), &up).expect("ok");
    assert_eq!(d.rule, "default");
    assert_eq!(d.skipped.len(), 2);
    for t in &d.candidates {
        assert_eq!(c.backend(t.backend).tier, Tier::Local);
    }
    // Confidential: the private pool is fine.
    let d = run(&c, "auto", Level::Confidential, &cx(0.9, Task::Code), &up).expect("ok");
    assert_eq!(d.rule, "code-private");
}

#[test]
fn key_condition() {
    let c = config("");
    let d = decide(
        &c,
        &Facts {
            endpoint: Endpoint::Chat,
            model: "auto",
            level: Level::Public,
            complexity: &cx(0.1, Task::Chat),
            key: Some("vip"),
            redacted_level: Level::Public,
            task_volume: Default::default(),
            needs: Default::default(),
            break_even: None,
            over_budget: None,
        },
        &up,
    )
    .expect("ok");
    assert_eq!(d.rule, "vip");
}

#[test]
fn down_backends_go_last_never_out_of_tier() {
    let c = config("");
    let ollama = c.backend_by_name("ollama").expect("exists");
    let state = move |id: BackendId| {
        if id == ollama {
            BackendState::Down
        } else {
            BackendState::Up
        }
    };
    let d = run(&c, "auto", Level::Restricted, &cx(0.1, Task::Chat), &state).expect("ok");
    assert_eq!(names(&c, &d), ["lmstudio/qwen2.5-7b", "ollama/llama3.1:8b"]);
}

#[test]
fn restricted_with_no_local_pool_fails_closed() {
    let c = config("");
    let cfg_no_local = from_toml_str(
        &TOML.replace(
            "name = \"default\"\npool = \"local\"",
            "name = \"default\"\npool = \"frontier\"",
        ),
        &|_| Some("sk".into()),
    )
    .expect("valid")
    .config;
    let e = run(
        &cfg_no_local,
        "auto",
        Level::Restricted,
        &cx(0.1, Task::Chat),
        &up,
    )
    .expect_err("must fail closed");
    assert!(matches!(e, RouteError::NoEligibleBackend { .. }), "{e:?}");
    drop(c);
}

#[test]
fn violation_reroutes_or_rejects() {
    let c = config("");
    let d = run(
        &c,
        "openai/gpt-4o",
        Level::Restricted,
        &cx(0.1, Task::Chat),
        &up,
    )
    .expect("rerouted");
    assert!(d.rerouted);
    assert_eq!(d.rule, "default");
    assert!(
        d.candidates
            .iter()
            .all(|t| c.backend(t.backend).tier == Tier::Local)
    );
    let d = run(&c, "frontier", Level::Public, &cx(0.1, Task::Chat), &up).expect("ok");
    assert_eq!(d.rule, EXPLICIT_RULE);
    assert!(!d.rerouted);

    let c = config("[policy]\non_violation = \"reject\"");
    let e = run(
        &c,
        "frontier",
        Level::Confidential,
        &cx(0.1, Task::Chat),
        &up,
    )
    .expect_err("rejected");
    assert!(matches!(e, RouteError::PolicyViolation { .. }));
}

#[test]
fn pool_members_are_filtered_by_tier() {
    let c = config("");
    // A pool mixing tiers keeps only the allowed members.
    let mut c2 = c;
    let openai = c2.backend_by_name("openai").expect("x");
    c2.pools[0].members.push(Target {
        backend: openai,
        model: "gpt-4o".into(),
    });
    let d = run(
        &c2,
        "frontier",
        Level::Restricted,
        &cx(0.1, Task::Chat),
        &up,
    )
    .expect("ok");
    assert!(
        d.candidates
            .iter()
            .all(|t| c2.backend(t.backend).tier == Tier::Local)
    );
}

#[test]
fn embeddings_are_never_rerouted() {
    let c = config("");
    let emb = Complexity {
        score: 0.0,
        task: Task::Embedding,
        features: vec![],
        prompt_tokens: 1,
    };
    let f = |model| Facts {
        endpoint: Endpoint::Embeddings,
        model,
        level: Level::Restricted,
        complexity: &emb,
        key: None,
        redacted_level: Level::Public,
        task_volume: Default::default(),
        needs: Default::default(),
        break_even: None,
        over_budget: None,
    };
    let e = decide(&c, &f("auto"), &up).expect_err("forbidden");
    assert!(matches!(e, RouteError::PolicyViolation { .. }));
    let e = decide(&c, &f("text-embedding-3-small"), &up).expect_err("forbidden");
    assert!(matches!(e, RouteError::PolicyViolation { .. }));
    let d = decide(&c, &f("ollama/nomic-embed-text"), &up).expect("local ok");
    assert_eq!(d.candidates.len(), 1);
}

#[test]
fn unconfigured_backends_are_never_candidates() {
    let c = config("");
    let openai = c.backend_by_name("openai").expect("x");
    let state = move |id: BackendId| {
        if id == openai {
            BackendState::Unconfigured
        } else {
            BackendState::Up
        }
    };
    let e = run(
        &c,
        "openai/gpt-4o-mini",
        Level::Public,
        &cx(0.1, Task::Chat),
        &state,
    )
    .expect_err("unconfigured");
    assert!(matches!(e, RouteError::NoEligibleBackend { .. }));
    let d =
        run(&c, "auto", Level::Public, &cx(0.9, Task::Chat), &state).expect("falls to next rule");
    assert_eq!(d.rule, "default");
}

/// Exhaustive: for every level, model, complexity, task, health state,
/// violation policy, offline fallback and budget state, no candidate is
/// ever outside the level's allowed tiers.
#[test]
fn no_decision_ever_leaves_the_allowed_tiers() {
    for (violation, offline) in ["reroute", "reject", "redact"]
        .into_iter()
        .flat_map(|v| [(v, false), (v, true)])
    {
        let c = config(&format!(
            "[policy]\non_violation = \"{violation}\"\noffline_fallback = {offline}"
        ));
        let models: Vec<String> = ["auto", "local", "frontier", "private", "embeddings"]
            .into_iter()
            .map(String::from)
            .chain(
                c.backends
                    .iter()
                    .flat_map(|b| b.models.iter().map(move |m| format!("{}/{m}", b.name))),
            )
            .collect();
        for level in Level::ALL {
            for model in &models {
                for score in [0.0, 0.5, 0.9] {
                    for task in Task::ALL {
                        for mask in 0..16u32 {
                            let state = move |id: BackendId| {
                                if mask & (1 << id.0) != 0 {
                                    BackendState::Down
                                } else {
                                    BackendState::Up
                                }
                            };
                            for (endpoint, over_budget) in [Endpoint::Chat, Endpoint::Embeddings]
                                .into_iter()
                                .flat_map(|e| {
                                    [
                                        (e, None),
                                        (e, Some(crate::config::OnBudget::Downgrade)),
                                        (e, Some(crate::config::OnBudget::Reject)),
                                    ]
                                })
                            {
                                let facts = Facts {
                                    endpoint,
                                    model,
                                    level,
                                    complexity: &cx(score, task),
                                    key: None,
                                    redacted_level: Level::Public,
                                    task_volume: Default::default(),
                                    needs: Default::default(),
                                    break_even: None,
                                    over_budget,
                                };
                                if let Ok(d) = decide(&c, &facts, &state) {
                                    // A redacted request carries only public data here.
                                    let allowed = c.policy.allowed_tiers(if d.redact {
                                        facts.redacted_level
                                    } else {
                                        level
                                    });
                                    for t in &d.candidates {
                                        assert!(allowed.contains(c.backend(t.backend).tier));
                                    }
                                    assert!(!d.candidates.is_empty());
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn complexity_below_and_sensitivity_conditions() {
    let extra = r#"
[[rules]]
name = "unused"
pool = "local"
"#;
    let toml = TOML.replace(
        "[[rules]]\nname = \"code-private\"",
        "[[rules]]\nname = \"easy\"\nwhen = { complexity_below = 0.2 }\npool = \"private\"\n\n[[rules]]\nname = \"secret-local\"\nwhen = { sensitivity_at_least = \"confidential\" }\npool = \"local\"\n\n[[rules]]\nname = \"code-private\"",
    );
    let c = from_toml_str(&format!("{toml}{extra}"), &|_| Some("sk".into()))
        .expect("valid")
        .config;
    let d = run(&c, "auto", Level::Public, &cx(0.1, Task::Chat), &up).expect("ok");
    assert_eq!(d.rule, "easy");
    let d = run(&c, "auto", Level::Public, &cx(0.3, Task::Chat), &up).expect("ok");
    assert_eq!(d.rule, "default");
    // Restricted skips "easy" (private tier) and matches secret-local.
    let d = run(&c, "auto", Level::Restricted, &cx(0.1, Task::Chat), &up).expect("ok");
    assert_eq!(d.rule, "secret-local");
    assert_eq!(d.skipped[0].rule, "easy");
}

/// The rule a complex public chat request of `task` matches, given its
/// task kind's counts and break-even.
fn rule_for(
    c: &Config,
    task: Task,
    task_volume: [crate::volume::Count; 3],
    break_even: Option<f64>,
) -> String {
    let cx = cx(0.9, task);
    decide(
        c,
        &Facts {
            endpoint: Endpoint::Chat,
            model: "auto",
            level: Level::Public,
            complexity: &cx,
            key: None,
            redacted_level: Level::Public,
            task_volume,
            needs: Default::default(),
            break_even,
            over_budget: None,
        },
        &up,
    )
    .expect("ok")
    .rule
}

#[test]
fn volume_conditions_match_the_task_counts() {
    use crate::volume::Count;
    let toml = TOML.replace(
        "[[rules]]\nname = \"code-private\"",
        "[[rules]]\nname = \"busy-extraction-local\"\nwhen = { task = [\"extraction\"], tokens_per_day_at_least = 5000000, requests_per_hour_at_least = 10 }\npool = \"local\"\n\n[[rules]]\nname = \"code-private\"",
    );
    let c = from_toml_str(&toml, &|_| Some("sk".into()))
        .expect("valid")
        .config;
    let at = |hour_requests: u64, day_tokens: u64, task| {
        let mut volume = [Count::default(); 3];
        volume[crate::volume::Window::Hour as usize].requests = hour_requests;
        volume[crate::volume::Window::Day as usize].input_tokens = day_tokens;
        rule_for(&c, task, volume, None)
    };
    assert_eq!(at(10, 5_000_000, Task::Extraction), "busy-extraction-local");
    // Each threshold must hold, and only for the named task.
    assert_ne!(at(9, 5_000_000, Task::Extraction), "busy-extraction-local");
    assert_ne!(at(10, 4_999_999, Task::Extraction), "busy-extraction-local");
    assert_ne!(at(10, 5_000_000, Task::Chat), "busy-extraction-local");
}

#[test]
fn break_even_condition_needs_a_known_break_even() {
    use crate::volume::Count;
    let toml = TOML.replace(
        "[[rules]]\nname = \"code-private\"",
        "[[rules]]\nname = \"owning-wins\"\nwhen = { volume_above_break_even = true }\npool = \"local\"\n\n[[rules]]\nname = \"code-private\"",
    );
    let c = from_toml_str(&toml, &|_| Some("sk".into()))
        .expect("valid")
        .config;
    let at = |day_tokens: u64, break_even: Option<f64>| {
        let mut volume = [Count::default(); 3];
        volume[crate::volume::Window::Day as usize].output_tokens = day_tokens;
        rule_for(&c, Task::Chat, volume, break_even)
    };
    assert_eq!(at(1_000, Some(1_000.0)), "owning-wins");
    assert_ne!(at(999, Some(1_000.0)), "owning-wins");
    assert_ne!(
        at(1_000_000, None),
        "owning-wins",
        "unknown economics never match"
    );
}
