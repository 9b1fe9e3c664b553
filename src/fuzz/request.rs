//! Request bodies and the classifiers that read them.
//!
//! `request`: `Body` accepts exactly the JSON objects serde_json reads, less
//! those with a key twice, and reads them to the same map; splicing a model
//! into the original bytes gives a body that parses to the map with that
//! model; chat and embeddings parsing refuse with a `RequestError` or give
//! segments whose findings sit inside their text; every provider's request
//! conversion and redaction take any accepted body without panicking.
//!
//! `scanner`: every finding of the scanner, its evasion views and the
//! medical pass is a non-empty span on char boundaries inside the text; the
//! plain scan's findings come sorted, and each is inside an evasion finding
//! of its kind; the complexity score stays in 0..=1.

use crate::classify::sensitivity::{Match, Scanner};
use crate::classify::{Shape, complexity, evasion};
use crate::config::Policy;
use crate::openai::{Body, ChatRequest, EmbeddingsRequest, Field, Segment};
use crate::providers::{anthropic, bedrock, gemini, ollama};
use serde_json::{Map, Value};
use std::sync::OnceLock;

fn scanner_instance() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(Scanner::new)
}

/// A model name that needs escaping in JSON.
const MODEL: &str = "fuzz-\"m\"\\\u{e9}";

/// Request parsing, the body round trip, classification, redaction and
/// the provider conversions.
pub fn request(data: &[u8]) {
    let body = body(data);
    if let Ok(req) = ChatRequest::parse(data) {
        assert!(body.is_some(), "a chat request from a body Body refuses");
        chat(&req);
    }
    if let Ok(req) = EmbeddingsRequest::parse(data) {
        assert!(body.is_some(), "an embeddings request from a refused body");
        let (segments, _) = req.segments();
        scan_segments(&segments);
        let again = EmbeddingsRequest::parse(&req.body.with_model(MODEL));
        assert!(again.is_ok_and(|r| r.model == MODEL), "model splice");
        let _ = ollama::convert::embed_request(&req.body, MODEL);
    }
}

/// `Body::parse` against serde_json; the map when accepted.
fn body(data: &[u8]) -> Option<Map<String, Value>> {
    use crate::openai::BodyError;
    let plain = serde_json::from_slice::<Value>(data);
    let body = match Body::parse(data) {
        Ok(b) => b,
        Err(BodyError::NotObject) => {
            assert!(
                plain.is_ok_and(|v| !v.is_object()),
                "NotObject for {data:?}"
            );
            return None;
        }
        Err(BodyError::Json(e)) => {
            if plain.is_ok() {
                assert!(e.to_string().contains("duplicate key"), "refused: {e}");
            }
            return None;
        }
    };
    match plain {
        Ok(Value::Object(m)) => assert_eq!(*body, m, "Body and serde_json differ"),
        other => panic!("Body accepted what serde_json reads as {other:?}"),
    }
    // The model spliced into the bytes (or the map serialised).
    let out = body.with_model(MODEL);
    let again = match Body::parse(&out) {
        Ok(b) => b,
        Err(e) => panic!("with_model gave a body that does not parse: {e:?}"),
    };
    let mut want = (*body).clone();
    if let Some(m) = want.get_mut("model") {
        *m = Value::String(MODEL.into());
    }
    assert_eq!(*again, want, "with_model changed more than the model");
    Some(want)
}

fn chat(req: &ChatRequest) {
    let (segments, unscannable) = req.segments();
    let findings = scan_segments(&segments);
    let shape = Shape {
        unscannable,
        has_tools: req.has_tools,
        max_tokens: req.max_tokens,
    };
    let c = complexity::assess(&segments, shape);
    assert!((0.0..=1.0).contains(&c.score), "score {}", c.score);
    // The forwarded body is a chat request too, with the model replaced.
    let again = ChatRequest::parse(&req.body_for(MODEL));
    assert!(
        again.as_ref().is_ok_and(|r| r.model == MODEL),
        "body_for: {again:?}"
    );
    // Redaction puts placeholders where the findings were, and the
    // restorer puts the originals back.
    let (redacted, restorer) = crate::redact::redact(req, &findings, &[]);
    let again = ChatRequest::parse(&redacted.body_for(MODEL));
    assert!(again.is_ok(), "redacted body: {again:?}");
    let (after, _) = redacted.segments();
    assert_eq!(after.len(), segments.len(), "redaction moved segments");
    for (before, after) in segments.iter().zip(&after) {
        if !before.text.contains('<') {
            assert_eq!(restorer.restore(after.text), before.text, "restore");
        }
    }
    // Streamed, cut anywhere between chars, the same restoration.
    for text in after.iter().map(|s| s.text) {
        let mut rng = super::SplitMix(super::fnv1a(text.as_bytes()));
        let mut stream = crate::redact::StreamRestorer::default();
        let mut out = String::new();
        let mut start = 0;
        for (i, _) in text.char_indices().skip(1) {
            if rng.next().is_multiple_of(3) {
                out.push_str(&stream.push(&restorer, &text[start..i]));
                start = i;
            }
        }
        out.push_str(&stream.push(&restorer, &text[start..]));
        out.push_str(&stream.finish(&restorer));
        assert_eq!(out, restorer.restore(text), "stream restore");
    }
    // Every provider conversion takes any accepted body.
    let _ = anthropic::convert::chat_request(&req.body, MODEL, 1024);
    let _ = gemini::convert::chat_request(&req.body);
    let _ = ollama::convert::chat_request(&req.body, MODEL);
    let _ = bedrock::convert::chat_request(&req.body);
}

/// Runs the request's classifier over `segments`; every finding sits on
/// char boundaries inside the segment it names.
fn scan_segments(segments: &[Segment<'_>]) -> Vec<crate::classify::Finding> {
    let report = crate::classify::sensitivity(
        scanner_instance(),
        &Policy::default(),
        &[],
        segments,
        Default::default(),
        &[],
    );
    for f in &report.findings {
        let seg = segments
            .iter()
            .find(|s| s.message == f.message && s.part == f.part && s.field == f.field)
            .expect("a finding names its segment");
        assert_span(seg.text, f.start, f.end);
    }
    report.findings
}

fn assert_span(text: &str, start: usize, end: usize) {
    assert!(
        start < end && end <= text.len(),
        "span {start}..{end} of {}",
        text.len()
    );
    assert!(
        text.is_char_boundary(start) && text.is_char_boundary(end),
        "span {start}..{end} off a char boundary"
    );
}

/// The sensitivity scanner (plain, evasion views, medical) and the
/// complexity scorer, on the bytes read as UTF-8 (lossily).
pub fn scanner(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let scanner = scanner_instance();
    let mut plain: Vec<Match> = Vec::new();
    scanner.scan(&text, &mut plain);
    for m in &plain {
        assert_span(&text, m.start, m.end);
    }
    assert!(
        plain.windows(2).all(|w| w[0].start <= w[1].start),
        "plain findings not sorted"
    );
    let mut all = Vec::new();
    evasion::scan(scanner, &text, &mut all);
    evasion::scan_medical(scanner, &text, &mut all);
    for m in &all {
        assert_span(&text, m.start, m.end);
    }
    // The views only add findings (or widen one of the same kind).
    for m in &plain {
        assert!(
            all.iter()
                .any(|w| w.kind == m.kind && w.start <= m.start && m.end <= w.end),
            "evasion lost {m:?}"
        );
    }
    let seg = Segment {
        message: 0,
        part: None,
        field: Field::Content,
        role: crate::openai::Role::User,
        text: &text,
    };
    let c = complexity::assess(&[seg], Shape::default());
    assert!((0.0..=1.0).contains(&c.score), "score {}", c.score);
}
