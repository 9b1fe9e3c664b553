//! In-process cost of one request's decision: parse the body, scan every
//! message, score complexity, and decide, for 1 KB, 16 KB and 100 KB chat
//! requests. Run with `cargo bench --bench classify`; CI runs it in quick
//! mode (`-- --quick`) only to keep it compiling and get a rough figure.

use airlock::classify::sensitivity::Scanner;
use airlock::classify::sensitivity::names::NameDetector;
use airlock::config::{BackendId, from_toml_str};
use airlock::openai::ChatRequest;
use airlock::pipeline::{Caller, assess_chat};
use airlock::route::BackendState;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const CONFIG: &str = include_str!("../config/airlock.toml");

#[path = "support/prompt.rs"]
mod support;
use support::prompt;

fn body(bytes: usize) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "model": "auto",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": prompt(bytes)}
        ]
    }))
    .expect("json")
}

fn bench(c: &mut Criterion) {
    let config = from_toml_str(CONFIG, &|_| Some("sk-bench".into()))
        .expect("shipped config is valid")
        .config;
    // As the gateway runs with the shipped config ([detectors] names = false).
    let scanner = Scanner::without_names();
    let with_names = Scanner::new();
    let names = NameDetector::new();
    let state = |_: BackendId| BackendState::Up;
    let mut group = c.benchmark_group("classify_decide");
    for (label, size) in [("1KB", 1024), ("16KB", 16 * 1024), ("100KB", 100 * 1024)] {
        let raw = body(size);
        group.throughput(Throughput::Bytes(raw.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("parse+classify+decide", label),
            &raw,
            |b, raw| {
                b.iter(|| {
                    let req = ChatRequest::parse(black_box(raw)).expect("valid");
                    let a = assess_chat(&config, &scanner, &req, &Caller::default(), &state);
                    black_box(a.sensitivity.level)
                })
            },
        );
        let req = ChatRequest::parse(&raw).expect("valid");
        group.bench_with_input(
            BenchmarkId::new("classify+decide", label),
            &req,
            |b, req| {
                b.iter(|| {
                    let a = assess_chat(&config, &scanner, req, &Caller::default(), &state);
                    black_box(a.sensitivity.level)
                })
            },
        );
    }
    group.finish();

    // The sensitivity scan alone, per text (issue 3: <= 5 us per KB median).
    let mut group = c.benchmark_group("scan");
    for (label, size) in [("1KB", 1024), ("16KB", 16 * 1024), ("100KB", 100 * 1024)] {
        let text = prompt(size);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("detectors", label), &text, |b, t| {
            let mut out = Vec::new();
            b.iter(|| {
                out.clear();
                scanner.scan(black_box(t), &mut out);
                out.len()
            })
        });
        group.bench_with_input(
            BenchmarkId::new("detectors+evasion", label),
            &text,
            |b, t| {
                let mut out = Vec::new();
                b.iter(|| {
                    out.clear();
                    airlock::classify::evasion::scan(&scanner, black_box(t), &mut out);
                    out.len()
                })
            },
        );
        // With an identifier in the text (the bench text has an e-mail and
        // a phone), serving also reads medical vocabulary: the whole scan.
        group.bench_with_input(
            BenchmarkId::new("detectors+evasion+medical", label),
            &text,
            |b, t| {
                let mut out = Vec::new();
                b.iter(|| {
                    out.clear();
                    airlock::classify::evasion::scan(&scanner, black_box(t), &mut out);
                    airlock::classify::evasion::scan_medical(&scanner, black_box(t), &mut out);
                    out.len()
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("names-only", label), &text, |b, t| {
            let mut out = Vec::new();
            b.iter(|| {
                out.clear();
                names.detect(black_box(t), &mut out);
                out.len()
            })
        });
        group.bench_with_input(BenchmarkId::new("detectors+names", label), &text, |b, t| {
            let mut out = Vec::new();
            b.iter(|| {
                out.clear();
                with_names.scan(black_box(t), &mut out);
                out.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
