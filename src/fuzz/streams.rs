//! Each provider's stream framer, fed upstream bytes as the transport
//! would (push each chunk, stop at the first error, finish at EOF): the
//! bytes out, the outcome and whether the stream started are the same
//! whatever the chunk boundaries. What goes out is well-formed SSE: the
//! translators send `chat.completion.chunk` objects and one `[DONE]` last,
//! exactly when the stream ended well; Azure's re-framer sends `[DONE]`
//! when it ended well and no Azure-only field; OpenAI's pass-through sends
//! the upstream bytes unchanged.

use super::{chunkings, fnv1a};
use crate::providers::sse::{SseDecoder, StreamEnd};
use crate::providers::{Framer, anthropic, azure, bedrock, gemini, ollama, openai};
use bytes::BytesMut;
use serde_json::Value;

/// What one run produced: the bytes out (as text, which they must be, for
/// readable failures), the outcome, whether the framer said it started,
/// and whether it had a refusal to give.
type Outcome = (String, Result<(), String>, bool, bool);

fn run<F: Framer>(mut framer: F, chunks: &[&[u8]]) -> Outcome {
    let mut out = BytesMut::new();
    for chunk in chunks {
        if let Err(e) = framer.push(chunk, &mut out) {
            let refusal = framer.refusal().is_some();
            return (text(&out), Err(e), framer.started(), refusal);
        }
    }
    let end = framer.finish(&mut out);
    (text(&out), end, framer.started(), false)
}

fn text(out: &[u8]) -> String {
    match std::str::from_utf8(out) {
        Ok(s) => s.to_owned(),
        Err(e) => panic!("output is not UTF-8: {e}"),
    }
}

/// Limits and flags chosen by the bytes, so a replay is the same run.
fn params(data: &[u8]) -> (usize, bool) {
    let h = fnv1a(data);
    let max = if h.is_multiple_of(4) { 160 } else { 1 << 16 };
    (max, !h.is_multiple_of(3))
}

/// Runs `make()` over every chunking of `data`; the outcomes must agree.
fn same_everywhere<F: Framer>(data: &[u8], make: impl Fn() -> F) -> Outcome {
    let whole = run(make(), &[data]);
    for chunks in chunkings(data).iter().skip(1) {
        let got = run(make(), chunks);
        assert_eq!(got, whole, "{}", super::describe(chunks));
    }
    whole
}

/// The events of the bytes a framer sent, which must be whole SSE.
fn events_out(out: &str) -> Vec<String> {
    let mut dec = SseDecoder::new(usize::MAX);
    assert!(dec.push(out.as_bytes()).is_ok(), "output is not SSE");
    let mut events = Vec::new();
    while let Some(ev) = dec.next_event() {
        events.push(ev.data);
    }
    assert_eq!(
        dec.finish(),
        StreamEnd::Clean,
        "output ends inside an event"
    );
    events
}

/// The checks every translator (not the pass-through) must pass.
fn translated(outcome: &Outcome) {
    let (out, end, started, _) = outcome;
    let events = events_out(out);
    let done = events.iter().filter(|e| *e == "[DONE]").count();
    assert!(done <= 1, "[DONE] twice");
    assert_eq!(done == 1, end.is_ok(), "[DONE] iff the stream ended well");
    if done == 1 {
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    }
    for data in events.iter().filter(|e| *e != "[DONE]") {
        let v: Value = serde_json::from_str(data).expect("chunks are JSON");
        assert_eq!(v["object"], "chat.completion.chunk", "{data}");
        assert!(v["choices"].is_array(), "{data}");
    }
    if !events.is_empty() && events[0] != "[DONE]" {
        assert!(started, "chunks sent before the stream started");
    }
}

/// OpenAI's pass-through: events forwarded whole, each checked to be JSON;
/// upstream comments go on as keep-alives, where among the events depends
/// on how the chunks fell, so they are left out of the comparison.
pub fn stream_openai(data: &[u8]) {
    let (max, _) = params(data);
    let strip = |o: Outcome| (o.0.replace(": keep-alive\n\n", ""), o.1, o.2, o.3);
    let whole = run(openai::stream_framer(max), &[data]);
    for chunks in chunkings(data).iter().skip(1) {
        let got = run(openai::stream_framer(max), chunks);
        assert_eq!(
            strip(got),
            strip(whole.clone()),
            "{}",
            super::describe(chunks)
        );
    }
    let (out, end, started, _) = &whole;
    let events = events_out(out);
    let done = events.iter().filter(|e| *e == "[DONE]").count();
    assert!(done <= 1, "[DONE] twice");
    if end.is_ok() {
        assert_eq!(
            events.last().map(String::as_str),
            Some("[DONE]"),
            "Ok without [DONE]"
        );
    }
    for data in events.iter().filter(|e| *e != "[DONE]") {
        assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(data).is_ok(),
            "a non-JSON event was forwarded: {data}"
        );
    }
    if !events.is_empty() {
        assert!(started, "events sent before the stream started");
    }
}

/// Azure's re-framer (OpenAI's chunks less Azure's fields).
pub fn stream_azure(data: &[u8]) {
    let (max, _) = params(data);
    let (out, end, _, _) = same_everywhere(data, || azure::stream_framer(max));
    let events = events_out(&out);
    if end.is_ok() {
        assert!(events.iter().any(|e| e == "[DONE]"), "Ok without [DONE]");
    }
    for data in &events {
        if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(data) {
            assert!(!o.contains_key("prompt_filter_results"), "Azure field sent");
        }
    }
}

/// Anthropic's Messages stream.
pub fn stream_anthropic(data: &[u8]) {
    let (max, usage) = params(data);
    let make = || anthropic::stream_framer(max, "chatcmpl-f", 1, "m", usage);
    translated(&same_everywhere(data, make));
}

/// Gemini's streamGenerateContent (SSE).
pub fn stream_gemini(data: &[u8]) {
    let (max, usage) = params(data);
    let make = || gemini::stream_framer(max, "chatcmpl-f", 1, "m", usage);
    translated(&same_everywhere(data, make));
}

/// Ollama's NDJSON `/api/chat` stream.
pub fn stream_ollama(data: &[u8]) {
    let (max, usage) = params(data);
    let make = || ollama::stream_framer(max, "chatcmpl-f", 1, "m", usage);
    translated(&same_everywhere(data, make));
}

/// Bedrock's ConverseStream (AWS event stream).
pub fn stream_bedrock(data: &[u8]) {
    let (max, usage) = params(data);
    let make = || bedrock::stream_framer(max, "chatcmpl-f", 1, "m", usage);
    translated(&same_everywhere(data, make));
}
