//! Labels stay bounded; series are reused; the text is well formed.

use super::*;
use std::time::Duration;

fn config() -> Config {
    let toml = r#"
[[backends]]
name = "local"
protocol = "ollama"
base_url = "http://127.0.0.1:1"
tier = "local"

[[backends]]
name = "cloud"
protocol = "openai"
base_url = "http://127.0.0.1:2/v1"
tier = "public_cloud"
models = ["gpt-4o"]

[pools]
small = ["local/llama3"]
big = ["cloud/gpt-4o"]

[[rules]]
name = "default"
pool = "small"
"#;
    crate::config::from_toml_str(toml, &|_| None)
        .map(|l| l.config)
        .unwrap_or_else(|e| panic!("config: {e:?}"))
}

fn served(model: &str) -> Record {
    Record {
        endpoint: Endpoint::Chat,
        level: Some(Level::Public),
        task: Some(Task::Chat),
        rule: Some("default".into()),
        tier: Some(Tier::Local),
        backend: Some("local".into()),
        backend_id: Some(BackendId(0)),
        model: Some(model.into()),
        input_tokens: 9,
        output_tokens: 5,
        latency: Duration::from_millis(20),
        overhead: Duration::from_micros(80),
        status: 200,
        ..Record::default()
    }
}

#[test]
fn models_outside_the_config_are_other() {
    let c = config();
    let m = Metrics::new(&c);
    let h = Health::new(&c);
    m.record(&served("llama3"));
    m.record(&served("caller-made-this-up"));
    let text = m.render(&h).expect("render");
    assert!(text.contains("model=\"llama3\""), "{text}");
    assert!(!text.contains("caller-made-this-up"), "{text}");
    assert!(
        text.contains(
            r#"airlock_tokens_total{tier="local",backend="local",model="other",type="input"} 9"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"airlock_requests_total{endpoint="chat",tier="local",backend="local",model="other",level="public",rule="default",task="chat",outcome="ok"} 1"#), "{text}");
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn unknown_rules_are_other_and_missing_parts_none() {
    let c = config();
    let m = Metrics::new(&c);
    let mut r = served("llama3");
    r.rule = Some("not-a-rule".into());
    m.record(&r);
    m.record(&Record {
        outcome: Outcome::Unauthorized,
        status: 401,
        ..Record::default()
    });
    let text = m.render(&Health::new(&c)).expect("render");
    assert!(text.contains("rule=\"other\""), "{text}");
    assert!(text.contains(r#"airlock_requests_total{endpoint="chat",tier="none",backend="none",model="none",level="none",rule="none",task="none",outcome="unauthorized"} 1"#), "{text}");
}

#[test]
fn repeated_records_reuse_one_series() {
    let c = config();
    let m = Metrics::new(&c);
    for _ in 0..3 {
        m.request_started();
        m.record(&served("llama3"));
    }
    let text = m.render(&Health::new(&c)).expect("render");
    assert!(
        text.contains(
            r#"model="llama3",level="public",rule="default",task="chat",outcome="ok"} 3"#
        ),
        "{text}"
    );
    assert!(text.contains("airlock_requests_in_flight 0"), "{text}");
    assert!(
        text.contains(
            r#"airlock_cost_usd_total{tier="public_cloud",backend="cloud",model="gpt-4o"} 0"#
        ),
        "{text}"
    );
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}
