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

/// Mixed realistic text: prose, a little code, and a few identifiers.
fn prompt(bytes: usize) -> String {
    let pieces = [
        "Please review the quarterly report and summarise the main risks for the board. ",
        "The customer wrote in about a late delivery and asked for a refund by Friday. ",
        "fn total(items: &[Item]) -> u64 { items.iter().map(|i| i.price).sum() }\n",
        "Contact the account manager at jane.doe@example.com or +1 (415) 555-0132. ",
        "Explain step by step why the cache misses increase after the deploy. ",
        "Order 88412 shipped on 2024-03-14 with tracking 1Z999AA10123456784. ",
    ];
    let mut s = String::with_capacity(bytes + 128);
    let mut i = 0;
    while s.len() < bytes {
        s.push_str(pieces[i % pieces.len()]);
        i += 1;
    }
    s.truncate(bytes);
    s
}

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
