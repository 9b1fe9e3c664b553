//! The fuzz driver: for each target, the corpus is replayed (the fixtures
//! it starts from and every file under `tests/fuzz/corpus/<target>/`), then
//! proptest feeds it random bytes, mutants of the corpus and inputs built
//! from the target's format, from a fixed seed.
//!
//! Bounded by default (CI). `AIRLOCK_FUZZ_CASES` sets the cases per target,
//! `AIRLOCK_FUZZ_SECONDS` runs batches until that many seconds passed,
//! `AIRLOCK_FUZZ_SEED` changes the seed (`scripts/fuzz.sh` sets all three).
//! A failure is shrunk, saved under `AIRLOCK_FUZZ_ARTIFACTS` (default: the
//! temp dir's `airlock-fuzz/`) to copy into the corpus, and fails the test.

use super::mutate::{self, Format, KEYS, Op, STRINGS};
use super::{SplitMix, TARGETS, Target, fnv1a};
use crate::providers::bedrock::eventstream::{self as es, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use serde_json::{Map, Number, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// One target's plan: its format, the fixtures it starts from, and its
/// case count in the bounded (CI) run.
struct Plan {
    name: &'static str,
    format: Format,
    fixtures: &'static [&'static str],
    cases: u32,
}

const SSE_FIXTURES: &[&str] = &[
    "sse/openai_chat_stream.sse",
    "sse/mixed_endings.sse",
    "anthropic/stream.sse",
    "anthropic/stream_tools.sse",
    "gemini/stream_tools.sse",
];
const ANTHROPIC: &[&str] = &[
    "anthropic/stream.sse",
    "anthropic/stream_tools.sse",
    "anthropic/stream_error.sse",
];
const GEMINI: &[&str] = &[
    "gemini/stream.sse",
    "gemini/stream_tools.sse",
    "gemini/stream_error.sse",
    "gemini/stream_blocked.sse",
];
const OLLAMA: &[&str] = &[
    "ollama/chat_stream.ndjson",
    "ollama/chat_stream_tools.ndjson",
    "ollama/chat_stream_error.ndjson",
];
const BEDROCK: &[&str] = &[
    "bedrock/stream.bin",
    "bedrock/stream_tools.bin",
    "bedrock/stream_error.bin",
];

fn plan(name: &str) -> Plan {
    let (format, fixtures, cases): (Format, &'static [&'static str], u32) = match name {
        "request" => (
            Format::Json,
            &["anthropic/request.json", "gemini/request.json"],
            4000,
        ),
        "scanner" => (Format::Text, &[], 8000),
        "sse" => (Format::Sse, SSE_FIXTURES, 8000),
        "ndjson" => (Format::Ndjson, OLLAMA, 8000),
        "eventstream" => (Format::EventStream, BEDROCK, 8000),
        "stream_openai" | "stream_azure" => (Format::Sse, &["sse/openai_chat_stream.sse"], 5000),
        "stream_anthropic" => (Format::Sse, ANTHROPIC, 5000),
        "stream_gemini" => (Format::Sse, GEMINI, 5000),
        "stream_ollama" => (Format::Ndjson, OLLAMA, 5000),
        "stream_bedrock" => (Format::EventStream, BEDROCK, 5000),
        _ => panic!("no plan for fuzz target {name}"),
    };
    let name = TARGETS
        .iter()
        .map(|(n, _)| *n)
        .find(|n| *n == name)
        .expect("a known target");
    Plan {
        name,
        format,
        fixtures,
        cases,
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The fixtures, then the corpus files (sorted), with their paths.
fn corpus(plan: &Plan) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for f in plan.fixtures {
        let path = root().join("tests/fixtures").join(f);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.push((path, bytes));
    }
    let dir = root().join("tests/fuzz/corpus").join(plan.name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    for path in files.into_iter().filter(|p| p.is_file()) {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.push((path, bytes));
    }
    out
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={v:?} is not a number"),
    }
}

/// Replays the corpus, then fuzzes; the figures go to stderr.
fn fuzz(name: &str) {
    let plan = plan(name);
    let target: Target = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .expect("a known target");
    let start = Instant::now();
    let corpus = corpus(&plan);
    for (path, bytes) in &corpus {
        let replay = std::panic::catch_unwind(|| target(bytes));
        if let Err(e) = replay {
            eprintln!("fuzz {name}: corpus input {} fails", path.display());
            std::panic::resume_unwind(e);
        }
    }
    let seeds: Arc<Vec<Vec<u8>>> = Arc::new(corpus.into_iter().map(|(_, b)| b).collect());
    let strategy = inputs(plan.format, seeds);
    let cases =
        env_u64("AIRLOCK_FUZZ_CASES").map_or(plan.cases, |n| n.min(u64::from(u32::MAX)) as u32);
    let seconds = env_u64("AIRLOCK_FUZZ_SECONDS");
    let seed = env_u64("AIRLOCK_FUZZ_SEED").unwrap_or(0x5EED_A1A1);
    let mut executions: u64 = 0;
    for round in 0u64.. {
        let batch = if seconds.is_some() {
            cases.min(2000)
        } else {
            cases
        };
        let mut rng = SplitMix(seed ^ fnv1a(name.as_bytes()) ^ round.wrapping_mul(0x9E37));
        let key: Vec<u8> = (0..4).flat_map(|_| rng.next().to_le_bytes()).collect();
        let config = Config {
            cases: batch,
            failure_persistence: None,
            max_shrink_iters: 4096,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
        match runner.run(&strategy, |input| {
            target(&input);
            Ok(())
        }) {
            Ok(()) => executions += u64::from(batch),
            Err(TestError::Fail(why, input)) => fail(name, &why.to_string(), &input, seed, round),
            Err(TestError::Abort(why)) => panic!("fuzz {name}: aborted: {why}"),
        }
        match seconds {
            Some(s) if start.elapsed().as_secs() < s => {}
            _ => break,
        }
    }
    eprintln!(
        "fuzz {name}: {executions} executions, {} corpus inputs replayed, 0 crashes, seed {seed:#x}, {:.1}s",
        plan.fixtures.len() + seeds_in_dir(&plan),
        start.elapsed().as_secs_f64()
    );
}

fn seeds_in_dir(plan: &Plan) -> usize {
    std::fs::read_dir(root().join("tests/fuzz/corpus").join(plan.name))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Saves the shrunk input and fails with where it is.
fn fail(name: &str, why: &str, input: &[u8], seed: u64, round: u64) -> ! {
    let dir = std::env::var_os("AIRLOCK_FUZZ_ARTIFACTS")
        .map_or_else(|| std::env::temp_dir().join("airlock-fuzz"), PathBuf::from);
    let path = dir.join(format!("{name}-{:016x}", fnv1a(input)));
    let saved = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, input));
    let shown = String::from_utf8_lossy(&input[..input.len().min(2000)]).into_owned();
    panic!(
        "fuzz {name} (seed {seed:#x}, round {round}): {why}\ninput ({} bytes, saved to {}: {saved:?}): {shown:?}",
        input.len(),
        path.display()
    );
}

/// Random bytes, mutants of the seeds, and inputs built from the format.
fn inputs(format: Format, seeds: Arc<Vec<Vec<u8>>>) -> BoxedStrategy<Vec<u8>> {
    let ops = proptest::collection::vec((0..mutate::KINDS, any::<u32>(), any::<u32>()), 1..6);
    let n = seeds.len().max(1);
    let mutants = (0..n, ops)
        .prop_map(move |(pick, ops): (usize, Vec<Op>)| mutate::apply(format, &seeds, pick, &ops));
    let raw = proptest::collection::vec(any::<u8>(), 0..300);
    prop_oneof![1 => raw, 6 => mutants, 3 => fresh(format)].boxed()
}

fn fresh(format: Format) -> BoxedStrategy<Vec<u8>> {
    match format {
        Format::Json => chat_like()
            .prop_map(|v| serde_json::to_vec(&v).unwrap_or_default())
            .boxed(),
        Format::Text => text().prop_map(String::into_bytes).boxed(),
        Format::Sse => sse_lines().boxed(),
        Format::Ndjson => proptest::collection::vec(json(), 0..6)
            .prop_map(|vs| {
                let mut out = Vec::new();
                for v in vs {
                    out.extend(serde_json::to_vec(&v).unwrap_or_default());
                    out.push(b'\n');
                }
                out
            })
            .boxed(),
        Format::EventStream => messages().boxed(),
    }
}

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = String> {
    (0..list.len()).prop_map(move |i| list[i].to_owned())
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        pick(STRINGS).prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        let key = prop_oneof![3 => pick(KEYS), 1 => "\\PC{0,6}"];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key, inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A chat request in shape, with arbitrary values in its places.
fn chat_like() -> impl Strategy<Value = Value> {
    let role = prop_oneof![
        4 => pick(&["system", "user", "assistant", "tool", "developer"]),
        1 => "\\PC{0,5}"
    ];
    let part = (
        pick(&["text", "image_url", "input_audio", "file", "refusal"]),
        text(),
    )
        .prop_map(|(t, text)| serde_json::json!({"type": t, "text": text, "refusal": text}));
    let content = prop_oneof![
        3 => text().prop_map(Value::String),
        1 => proptest::collection::vec(part, 0..4).prop_map(Value::Array),
        1 => json(),
    ];
    let call = (text(), text()).prop_map(|(name, args)| {
        serde_json::json!({"id": "c1", "type": "function", "function": {"name": name, "arguments": args}})
    });
    let message = (
        role,
        content,
        proptest::option::of(text()),
        proptest::collection::vec(call, 0..2),
    )
        .prop_map(|(role, content, name, calls)| {
            let mut m = Map::new();
            m.insert("role".into(), role.into());
            m.insert("content".into(), content);
            if let Some(name) = name {
                m.insert("name".into(), name.into());
            }
            if !calls.is_empty() {
                m.insert("tool_calls".into(), Value::Array(calls));
            }
            Value::Object(m)
        });
    let model = prop_oneof![4 => Just(Value::String("auto".into())), 1 => json()];
    let extra = proptest::collection::vec((pick(KEYS), json()), 0..3);
    (
        model,
        proptest::collection::vec(message, 1..5),
        any::<bool>(),
        extra,
    )
        .prop_map(|(model, messages, stream, extra)| {
            let mut body: Map<String, Value> = extra.into_iter().collect();
            body.insert("model".into(), model);
            body.insert("messages".into(), Value::Array(messages.clone()));
            body.insert("input".into(), Value::Array(messages));
            body.insert("stream".into(), stream.into());
            Value::Object(body)
        })
}

/// Text with sensitive values, digits, base64-looking runs and any chars.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        pick(STRINGS),
        "\\PC{0,16}",
        "[0-9 ./-]{0,24}",
        "[a-zA-Z0-9+/=_-]{0,48}",
        pick(&[
            "ssn ",
            "card ",
            "patient ",
            "DOB ",
            "password=",
            "api_key: ",
            "Bearer ",
            "iban "
        ]),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

fn sse_lines() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        4 => json().prop_map(|v| format!("data: {v}")),
        1 => pick(STRINGS).prop_map(|s| format!("event: {s}")),
        1 => Just(String::new()),
        1 => Just(": ping".to_owned()),
        1 => Just("data: [DONE]".to_owned()),
        1 => "[a-z:]{0,6} ?\\PC{0,8}",
    ];
    let end = pick(&["\n", "\r\n", "\r"]);
    (proptest::collection::vec(line, 0..14), end).prop_map(|(lines, end)| {
        let mut out = String::new();
        for l in lines {
            out.push_str(&l);
            out.push_str(&end);
        }
        out.into_bytes()
    })
}

fn messages() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        any::<bool>().prop_map(HeaderValue::Bool),
        any::<i8>().prop_map(HeaderValue::Byte),
        any::<i16>().prop_map(HeaderValue::Int16),
        any::<i32>().prop_map(HeaderValue::Int32),
        any::<i64>().prop_map(HeaderValue::Int64),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(HeaderValue::Bytes),
        pick(&[
            "event",
            "exception",
            "error",
            "messageStart",
            "contentBlockDelta",
            "messageStop"
        ])
        .prop_map(HeaderValue::String),
        any::<i64>().prop_map(HeaderValue::Timestamp),
        any::<[u8; 16]>().prop_map(HeaderValue::Uuid),
    ];
    let name = pick(&[
        ":event-type",
        ":message-type",
        ":content-type",
        ":exception-type",
        "x",
    ]);
    let payload = prop_oneof![
        json().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        proptest::collection::vec(any::<u8>(), 0..16),
    ];
    let message = (proptest::collection::vec((name, value), 0..4), payload);
    proptest::collection::vec(message, 0..5).prop_map(|ms| {
        let mut out = Vec::new();
        for (headers, payload) in ms {
            let headers: Vec<(&str, HeaderValue)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.clone()))
                .collect();
            out.extend(es::encode(&headers, &payload));
        }
        out
    })
}

#[test]
fn every_target_has_a_test() {
    for (name, _) in TARGETS {
        let _ = plan(name);
    }
}

macro_rules! fuzz_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                fuzz(stringify!($name));
            }
        )*
    };
}

fuzz_tests!(
    request,
    scanner,
    sse,
    ndjson,
    eventstream,
    stream_openai,
    stream_azure,
    stream_anthropic,
    stream_gemini,
    stream_ollama,
    stream_bedrock,
);
