//! Per-request cost of observability: counting one finished request in the
//! Prometheus metrics (the hot path the 1 µs budget is about), and the
//! whole emit (span, metrics, one JSON log event) with logs written to a
//! sink. Run with `cargo bench --bench metrics`.

use airlock::classify::Task;
use airlock::config::{BackendId, from_toml_str};
use airlock::observe::logging::{LogFormat, subscriber};
use airlock::observe::{Endpoint, Metrics, Observer, Outcome, Record, request_span};
use airlock::types::{Level, Tier};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

const CONFIG: &str = include_str!("../config/airlock.toml");

fn record(config: &airlock::config::Config, i: usize) -> Record {
    let b = BackendId(i % config.backends.len());
    let backend = config.backend(b);
    Record {
        request_id: format!("{i:032x}"),
        endpoint: Endpoint::Chat,
        key: Some("team-a".into()),
        level: Some(Level::ALL[i % 4]),
        task: Some(Task::ALL[i % Task::COUNT]),
        complexity: Some(0.3),
        rule: config
            .rules
            .get(i % config.rules.len().max(1))
            .map(|r| r.name.clone()),
        tier: Some(backend.tier),
        backend: Some(backend.name.clone()),
        backend_id: Some(b),
        protocol: Some(backend.protocol),
        model: backend
            .models
            .first()
            .cloned()
            .or(Some("some-model".into())),
        attempts: 1,
        input_tokens: 900,
        output_tokens: 120,
        cost_usd: if backend.tier == Tier::Local {
            0.0
        } else {
            0.0035
        },
        latency: Duration::from_millis(420),
        ttft: Some(Duration::from_millis(90)),
        upstream: Duration::from_millis(419),
        overhead: Duration::from_micros(130),
        status: 200,
        outcome: Outcome::Ok,
        ..Record::default()
    }
}

fn bench(c: &mut Criterion) {
    let config = from_toml_str(CONFIG, &|_| Some("sk-bench".into()))
        .expect("shipped config is valid")
        .config;
    // 64 distinct label combinations, as a busy gateway sees.
    let records: Vec<Record> = (0..64).map(|i| record(&config, i)).collect();

    let metrics = Metrics::new(&config);
    let mut i = 0;
    c.bench_function("metrics_record", |b| {
        b.iter(|| {
            i = (i + 1) % records.len();
            metrics.record(black_box(&records[i]));
        })
    });

    let observer = Observer::new(Metrics::new(&config), Vec::new());
    let _logs = tracing::subscriber::set_default(subscriber(
        LogFormat::Json,
        "info",
        std::io::sink,
        false,
        None,
    ));
    c.bench_function("emit_with_json_log", |b| {
        b.iter(|| {
            i = (i + 1) % records.len();
            let r = records[i].clone();
            let span = request_span(&r.request_id, Endpoint::Chat, r.key.as_deref());
            observer.begin();
            observer.emit(&span, black_box(r));
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
