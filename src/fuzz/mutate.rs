//! Inputs for the fuzz driver. A mutation is a list of `(kind, a, b)`
//! operations applied to a corpus seed: the byte-level ones a coverage
//! fuzzer uses (flip, set, insert, delete, duplicate, truncate, splice, a
//! dictionary of tokens the parsers care about) and structure-aware ones
//! that read the input as its format (JSON, SSE events, NDJSON lines,
//! event-stream messages, text), change one element and write it back, so
//! most mutants get past the framing into the code behind it. Operations
//! are plain numbers, so proptest shrinks a failure to the fewest and
//! smallest of them.

use crate::providers::bedrock::eventstream::{self as es, HeaderValue};
use crate::providers::sse::SseDecoder;
use serde_json::{Map, Number, Value};

/// How a target's input is structured.
#[derive(Debug, Clone, Copy)]
pub(super) enum Format {
    Json,
    Sse,
    Ndjson,
    EventStream,
    Text,
}

/// One operation: its kind, and two numbers that pick where and what.
pub(super) type Op = (u8, u32, u32);

/// Kinds of operation: below `STRUCTURE` byte-level, the rest (half of
/// them) structural.
pub(super) const KINDS: u8 = 20;
const STRUCTURE: u8 = 10;

/// Tokens worth inserting: framing, JSON edge cases, bad UTF-8, and text
/// the scanner reads.
const DICT: &[&[u8]] = &[
    b"\r\n",
    b"\n\n",
    b"\r",
    b"data: ",
    b"event: ",
    b": ping\n",
    b"id: ",
    b"retry: 1\n",
    b"\xEF\xBB\xBF",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"\\udc00\\ud800",
    b":",
    b",",
    b"null",
    b"true",
    b"1e999",
    b"-0",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"1.7976931348623157e309",
    b"0.0000000000000000000001",
    b"\xFF",
    b"\xC3",
    b"\xE2\x80",
    b"\xF0\x9F\x98",
    b"[DONE]",
    b"\"model\":",
    b"\"messages\":",
    b"\"content\":",
    b"\"role\":\"tool\"",
    b"\"type\":\"text\"",
    b"\"tool_calls\":[",
    b"\"done\":true",
    b"\"stream\":true",
    b"@",
    b"4111 1111 1111 1111",
    b"%40",
    b"\xE2\x80\x8B",
    b"\xEF\xBC\x91",
    b"<EMAIL_1>",
    b"\0",
    b"\t",
    b" ",
];

/// JSON keys of every protocol airlock reads.
pub(super) const KEYS: &[&str] = &[
    "model",
    "messages",
    "role",
    "content",
    "name",
    "tool_calls",
    "function",
    "arguments",
    "type",
    "text",
    "image_url",
    "url",
    "stream",
    "stream_options",
    "include_usage",
    "tools",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "response_format",
    "input",
    "refusal",
    "tool_call_id",
    "index",
    "id",
    "delta",
    "message",
    "content_block",
    "usage",
    "input_tokens",
    "output_tokens",
    "stop_reason",
    "partial_json",
    "thinking",
    "candidates",
    "parts",
    "functionCall",
    "args",
    "finishReason",
    "usageMetadata",
    "promptTokenCount",
    "promptFeedback",
    "blockReason",
    "done",
    "done_reason",
    "prompt_eval_count",
    "eval_count",
    "contentBlockIndex",
    "start",
    "toolUse",
    "toolUseId",
    "stopReason",
    "metrics",
    "inputTokens",
    "outputTokens",
    "choices",
    "finish_reason",
    "error",
    "object",
    "prompt_filter_results",
    "content_filter_results",
    "encoding_format",
    "dimensions",
];

/// Strings worth putting in a value: protocol words, sensitive values in
/// plain and disguised forms, placeholders, odd Unicode.
pub(super) const STRINGS: &[&str] = &[
    "",
    "user",
    "assistant",
    "system",
    "tool",
    "developer",
    "text",
    "image_url",
    "input_audio",
    "file",
    "function",
    "tool_use",
    "text_delta",
    "input_json_delta",
    "thinking_delta",
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
    "end_turn",
    "max_tokens",
    "STOP",
    "SAFETY",
    "stop",
    "length",
    "tool_calls",
    "json_schema",
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
    "jane.doe@example.com",
    "4111 1111 1111 1111",
    "123-45-6789",
    "AKIAIOSFODNN7EXAMPLE",
    "DE89 3704 0044 0532 0130 00",
    "４１１１ １１１１ １１１１ １１１１",
    "4111\u{200b}1111\u{200b}1111\u{200b}1111",
    "jane%2Edoe%40example%2Ecom",
    "d3JpdGUgdG8gamFuZS5kb2VAZXhhbXBsZS5jb20=",
    "patient DOB 03/14/1962 has diabetes",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n",
    "<EMAIL_1>",
    "<CREDIT_CARD_1",
    "{\"x\":",
    "é",
    "\u{feff}",
    "\u{0}",
    "a\u{301}",
    "🦀🦀",
    "\r\n\r\n",
    "data: x\n\n",
];

/// Applies `ops` to `seeds[pick % len]` as `format` reads it.
pub(super) fn apply(format: Format, seeds: &[Vec<u8>], pick: usize, ops: &[Op]) -> Vec<u8> {
    let mut data = seeds
        .get(pick % seeds.len().max(1))
        .cloned()
        .unwrap_or_default();
    for &(kind, a, b) in ops {
        if kind < STRUCTURE {
            bytes_op(&mut data, seeds, kind, a as usize, b as usize);
        } else {
            structure_op(format, &mut data, a as usize, b as usize);
        }
    }
    data
}

fn bytes_op(data: &mut Vec<u8>, seeds: &[Vec<u8>], kind: u8, a: usize, b: usize) {
    let len = data.len();
    let at = if len == 0 { 0 } else { a % (len + 1) };
    match kind {
        0 if len > 0 => data[a % len] ^= 1 << (b % 8),
        1 if len > 0 => data[a % len] = b as u8,
        2 => {
            let n = 1 + (b >> 8) % 4;
            data.splice(at..at, std::iter::repeat_n(b as u8, n));
        }
        3 => {
            let end = (at + 1 + b % 32).min(len);
            data.drain(at.min(end)..end);
        }
        4 if len > 0 => {
            let from = a % len;
            let piece = data[from..(from + 1 + b % 64).min(len)].to_vec();
            let to = (b >> 8) % (len + 1);
            data.splice(to..to, piece);
        }
        5 | 6 => {
            let token = DICT[b % DICT.len()];
            data.splice(at..at, token.iter().copied());
        }
        7 => data.truncate(at),
        8 if !seeds.is_empty() => {
            let other = &seeds[b % seeds.len()];
            let from = (b >> 8) % (other.len() + 1);
            data.truncate(at);
            data.extend_from_slice(&other[from..]);
        }
        9 => {
            // Deep nesting: brackets or braces, closed or not.
            let depth = 1 + (b >> 2) % 200;
            let (open, close): (&[u8], &[u8]) = match b % 4 {
                0 => (b"[", b"]"),
                1 => (b"{\"a\":", b"}"),
                2 => (b"[", b""),
                _ => (b"{\"content\":[", b"]}"),
            };
            let mut nest = open.repeat(depth);
            nest.extend_from_slice(b"1");
            nest.extend_from_slice(&close.repeat(depth));
            data.splice(at..at, nest);
        }
        _ => {}
    }
}

fn structure_op(format: Format, data: &mut Vec<u8>, a: usize, b: usize) {
    match format {
        Format::Json => {
            if let Ok(mut v) = serde_json::from_slice::<Value>(data) {
                mutate_json(&mut v, a, b);
                *data = render_json(&v, b);
            }
        }
        Format::Sse => sse_op(data, a, b),
        Format::Ndjson => ndjson_op(data, a, b),
        Format::EventStream => eventstream_op(data, a, b),
        Format::Text => {
            let s = STRINGS[b % STRINGS.len()].as_bytes();
            let at = a % (data.len() + 1);
            data.splice(at..at, s.iter().copied());
        }
    }
}

fn render_json(v: &Value, b: usize) -> Vec<u8> {
    let out = if (b >> 20).is_multiple_of(4) {
        serde_json::to_vec_pretty(v)
    } else {
        serde_json::to_vec(v)
    };
    out.unwrap_or_default()
}

/// Counts the nodes of `v` (itself included).
fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// The `n`th node of `v` in pre-order.
fn nth_mut<'a>(v: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(v);
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|x| nth_mut(x, n)),
        Value::Object(o) => o.values_mut().find_map(|x| nth_mut(x, n)),
        _ => None,
    }
}

/// A value picked by `b`: scalars at the edges, protocol strings, empty
/// and nested containers.
fn pick_value(b: usize) -> Value {
    match b % 12 {
        0 => Value::Null,
        1 => Value::Bool(b & 16 != 0),
        2 => Value::Number(u64::MAX.into()),
        3 => Value::Number(i64::MIN.into()),
        4 => Number::from_f64(f64::MAX).map_or(Value::Null, Value::Number),
        5 => Value::Number(((b >> 4) % 5).into()),
        6 => Value::Object(Map::new()),
        7 => Value::Array(Vec::new()),
        8 => Value::String("x".repeat((b >> 4) % 5000)),
        _ => Value::String(STRINGS[(b >> 4) % STRINGS.len()].into()),
    }
}

/// Changes one node of `v`: replaces it, empties or fills a container,
/// removes or duplicates a member, wraps it, or adds a protocol key.
pub(super) fn mutate_json(v: &mut Value, a: usize, b: usize) {
    let mut n = a % count(v);
    let Some(node) = nth_mut(v, &mut n) else {
        return;
    };
    let inner = b >> 4;
    match b % 8 {
        0 | 1 => *node = pick_value(inner),
        2 => match node {
            Value::Array(items) if !items.is_empty() => {
                let at = inner % items.len();
                items.remove(at);
            }
            Value::Object(o) if !o.is_empty() => {
                let key = o.keys().nth(inner % o.len()).cloned().unwrap_or_default();
                o.remove(&key);
            }
            _ => *node = pick_value(inner),
        },
        3 => match node {
            Value::Array(items) if !items.is_empty() => {
                let copy = items[inner % items.len()].clone();
                items.push(copy);
            }
            Value::Object(o) => {
                let key = KEYS[inner % KEYS.len()];
                o.insert(key.into(), pick_value(inner >> 6));
            }
            _ => *node = Value::Array(vec![node.take()]),
        },
        4 => {
            if let Value::Object(o) = node {
                // Same members, another key: a type or a role changes.
                let key = KEYS[inner % KEYS.len()];
                o.insert(
                    key.into(),
                    Value::String(STRINGS[(inner >> 6) % STRINGS.len()].into()),
                );
            } else {
                *node = pick_value(inner);
            }
        }
        5 => {
            let mut wrapped = node.take();
            for _ in 0..inner % 140 {
                wrapped = Value::Array(vec![wrapped]);
            }
            *node = wrapped;
        }
        6 => {
            if let Value::String(s) = node {
                let cut = inner % (s.len() + 1);
                let cut = (0..=cut)
                    .rev()
                    .find(|&i| s.is_char_boundary(i))
                    .unwrap_or(0);
                s.insert_str(cut, STRINGS[(inner >> 8) % STRINGS.len()]);
            } else {
                *node = pick_value(inner);
            }
        }
        _ => {
            if let Value::Number(_) = node {
                *node = Value::String("12".into());
            } else {
                *node = Value::Number((inner as u64).into());
            }
        }
    }
}

/// Reorders, drops, duplicates or edits one item of a list.
fn list_op<T: Clone>(items: &mut Vec<T>, a: usize, b: usize, edit: impl FnOnce(&mut T)) {
    if items.is_empty() {
        return;
    }
    let i = a % items.len();
    match (b >> 2) % 5 {
        0 => {
            items.remove(i);
        }
        1 => {
            let copy = items[i].clone();
            items.insert(i, copy);
        }
        2 => {
            let j = (b >> 5) % items.len();
            items.swap(i, j);
        }
        _ => edit(&mut items[i]),
    }
}

fn sse_op(data: &mut Vec<u8>, a: usize, b: usize) {
    let mut dec = SseDecoder::new(usize::MAX);
    if dec.push(data).is_err() {
        return;
    }
    let mut events = Vec::new();
    while let Some(ev) = dec.next_event() {
        events.push((ev.event, ev.data));
    }
    list_op(&mut events, a, b, |(name, body)| {
        if (b >> 8).is_multiple_of(5) {
            *name = Some(STRINGS[(b >> 11) % STRINGS.len()].replace(['\r', '\n'], ""));
        } else if let Ok(mut v) = serde_json::from_str::<Value>(body) {
            mutate_json(&mut v, a >> 4, b >> 8);
            *body = String::from_utf8(render_json(&v, b)).unwrap_or_default();
        }
    });
    let end = ["\n", "\r\n", "\r"][(b >> 16) % 3];
    let mut out = String::new();
    if (b >> 18).is_multiple_of(8) {
        out.push('\u{feff}');
    }
    for (i, (name, body)) in events.iter().enumerate() {
        if (b >> 21).wrapping_add(i) % 7 == 0 {
            out.push_str(": keep-alive");
            out.push_str(end);
        }
        if let Some(name) = name {
            out.push_str("event: ");
            out.push_str(name);
            out.push_str(end);
        }
        for line in body.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push_str(end);
        }
        out.push_str(end);
    }
    *data = out.into_bytes();
}

fn ndjson_op(data: &mut Vec<u8>, a: usize, b: usize) {
    let mut lines: Vec<Vec<u8>> = data
        .split(|&c| c == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(<[u8]>::to_vec)
        .collect();
    list_op(&mut lines, a, b, |line| {
        if let Ok(mut v) = serde_json::from_slice::<Value>(line) {
            mutate_json(&mut v, a >> 4, b >> 8);
            // One line per value: never pretty.
            *line = serde_json::to_vec(&v).unwrap_or_default();
        }
    });
    let end: &[u8] = if (b >> 16).is_multiple_of(3) {
        b"\r\n"
    } else {
        b"\n"
    };
    let mut out = Vec::new();
    for line in &lines {
        out.extend_from_slice(line);
        out.extend_from_slice(end);
    }
    if (b >> 18).is_multiple_of(5) {
        out.truncate(out.len().saturating_sub(end.len()));
    }
    *data = out;
}

const EVENT_TYPES: &[&str] = &[
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
    "throttlingException",
    "modelStreamErrorException",
];

fn eventstream_op(data: &mut Vec<u8>, a: usize, b: usize) {
    let mut dec = es::Decoder::new(usize::MAX);
    let _ = dec.push(data);
    let mut messages = Vec::new();
    while let Some(m) = dec.next_message() {
        messages.push((m.headers, m.payload.to_vec()));
    }
    list_op(&mut messages, a, b, |(headers, payload)| {
        match (b >> 8) % 4 {
            0 => {
                let value = match (b >> 10) % 3 {
                    0 => EVENT_TYPES[(b >> 12) % EVENT_TYPES.len()],
                    1 => ["event", "exception", "error", "other"][(b >> 12) % 4],
                    _ => STRINGS[(b >> 12) % STRINGS.len()],
                };
                let name = [
                    ":event-type",
                    ":message-type",
                    ":exception-type",
                    ":error-code",
                ][(b >> 16) % 4];
                headers.retain(|(n, _)| n != name);
                headers.push((name.into(), HeaderValue::String(value.into())));
            }
            1 if !headers.is_empty() => {
                let i = (b >> 10) % headers.len();
                headers[i].1 = match (b >> 14) % 4 {
                    0 => HeaderValue::Bool(true),
                    1 => HeaderValue::Int64(i64::MIN),
                    2 => HeaderValue::Bytes(vec![0xFF; 3]),
                    _ => HeaderValue::Uuid([7; 16]),
                };
            }
            _ => {
                if let Ok(mut v) = serde_json::from_slice::<Value>(payload) {
                    mutate_json(&mut v, a >> 4, b >> 10);
                    *payload = serde_json::to_vec(&v).unwrap_or_default();
                }
            }
        }
    });
    let mut out = Vec::new();
    for (headers, payload) in &messages {
        let headers: Vec<(&str, HeaderValue)> = headers
            .iter()
            .filter(|(n, _)| n.len() < 256)
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        out.extend_from_slice(&es::encode(&headers, payload));
    }
    // What did not decode (a cut or a bad frame) stays at the end.
    if dec.is_partial() || messages.is_empty() {
        return;
    }
    *data = out;
}
