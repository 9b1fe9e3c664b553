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
    let text = m
        .render(&h, &crate::capacity::Capacity::new(&c))
        .expect("render");
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
    let text = m
        .render(&Health::new(&c), &crate::capacity::Capacity::new(&c))
        .expect("render");
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
    let text = m
        .render(&Health::new(&c), &crate::capacity::Capacity::new(&c))
        .expect("render");
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

#[test]
fn backend_health_states_and_queues_are_read_at_render() {
    let c = config();
    let m = Metrics::new(&c);
    let h = Health::new(&c);
    let cap = crate::capacity::Capacity::new(&c);
    let local = BackendId(0);
    let line = |text: &str, name: &str, extra: &str| {
        let head = format!("{name}{{tier=\"local\",backend=\"local\"{extra}}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(head.as_str()).map(str::to_owned))
            .unwrap_or_else(|| panic!("no {head} in {text}"))
    };
    h.call_ok(local);
    let text = m.render(&h, &cap).expect("render");
    assert_eq!(line(&text, "airlock_backend_up", ""), "1");
    assert_eq!(line(&text, "airlock_backend_state", ",state=\"up\""), "1");
    assert_eq!(line(&text, "airlock_backend_queued", ""), "0");
    // Loading takes calls but is not up; exactly one state is set.
    h.call_failed(local, true);
    let text = m.render(&h, &cap).expect("render");
    assert_eq!(line(&text, "airlock_backend_up", ""), "0");
    assert_eq!(
        line(&text, "airlock_backend_state", ",state=\"loading\""),
        "1"
    );
    let set: usize = BackendState::ALL
        .iter()
        .map(|s| {
            let extra = format!(",state=\"{}\"", s.as_str());
            line(&text, "airlock_backend_state", &extra)
        })
        .filter(|v| v == "1")
        .count();
    assert_eq!(set, 1, "{text}");
    m.skipped(local, "queue_full");
    m.skipped(local, "not-a-reason");
    m.call_ended(local, CallResult::Loading);
    let text = m.render(&h, &cap).expect("render");
    let skipped = |r: &str| {
        line(
            &text,
            "airlock_backend_skipped_total",
            &format!(",reason=\"{r}\""),
        )
    };
    assert_eq!(
        (skipped("queue_full"), skipped("busy")),
        ("1".into(), "0".into())
    );
    assert!(!text.contains("not-a-reason"));
    assert_eq!(
        line(&text, "airlock_backend_calls_total", ",result=\"loading\""),
        "1"
    );
}

#[test]
fn only_requests_sent_to_backends_count_as_filtered_or_fallen_back() {
    let c = config();
    let m = Metrics::new(&c);
    for endpoint in [Endpoint::Explain, Endpoint::CountTokens, Endpoint::Messages] {
        m.record(&Record {
            endpoint,
            level: Some(Level::Confidential),
            rerouted: true,
            offline_fallback: true,
            ..Record::default()
        });
    }
    let text = m
        .render(&Health::new(&c), &crate::capacity::Capacity::new(&c))
        .expect("render");
    assert!(
        text.contains(r#"airlock_tier_filter_total{action="rerouted",level="confidential"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"airlock_fallbacks_total{reason="offline"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"endpoint="count_tokens""#), "{text}");
}

#[test]
fn every_endpoint_fits_the_request_key() {
    // `count_request` packs the endpoint into three bits.
    assert!(Endpoint::ALL.len() <= 8);
    for (i, e) in Endpoint::ALL.into_iter().enumerate() {
        assert_eq!(e as usize, i);
    }
}
