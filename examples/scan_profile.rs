//! Scans the classify bench's text (detectors and evasion views, then
//! medical vocabulary, as serving does for a text with an identifier in it)
//! repeatedly, for profilers (`valgrind --tool=callgrind`)
//! and for the latency spread criterion does not print: p50, p99 and the
//! worst round on one core. Not part of the suite.
//!
//! `SIZE_KB` (default 16) and `ROUNDS` (default 200) set the work; `--names`
//! adds person names and street addresses.
use airlock::classify::evasion;
use airlock::classify::sensitivity::Scanner;
use std::time::{Duration, Instant};

#[path = "../benches/support/prompt.rs"]
mod support;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let text = support::prompt(env("SIZE_KB", 16) * 1024);
    let names = std::env::args().any(|a| a == "--names");
    let scanner = if names {
        Scanner::new()
    } else {
        Scanner::without_names()
    };
    let rounds = env("ROUNDS", 200).max(1);
    let mut out = Vec::new();
    let mut took = Vec::with_capacity(rounds);
    let mut n = 0;
    for _ in 0..rounds {
        out.clear();
        let t = Instant::now();
        evasion::scan(&scanner, std::hint::black_box(&text), &mut out);
        evasion::scan_medical(&scanner, std::hint::black_box(&text), &mut out);
        took.push(t.elapsed());
        n += out.len();
    }
    took.sort_unstable();
    let at = |q: f64| took[((took.len() - 1) as f64 * q).round() as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{} bytes x {rounds}: p50 {:.1} us, p99 {:.1} us, max {:.1} us ({n} findings)",
        text.len(),
        us(at(0.5)),
        us(at(0.99)),
        us(at(1.0)),
    );
}
