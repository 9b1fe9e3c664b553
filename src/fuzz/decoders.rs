//! The framing decoders: SSE, NDJSON and the AWS event stream. For each,
//! the same outcome (items, error, how it ended) whatever the chunk
//! boundaries, every item within the size limit, and where a serialisation
//! exists, decode -> encode -> decode gives the items back.

use super::chunkings;
use crate::providers::bedrock::eventstream::{self as es, Decoder};
use crate::providers::ndjson::NdjsonSplitter;
use crate::providers::sse::{FrameError, SseEvent, StreamEnd};
use bytes::Bytes;

use crate::providers::sse::decode_all as decode_sse;

/// The SSE decoder.
pub fn sse(data: &[u8]) {
    for max in [32, 1 << 16] {
        let whole = decode_sse(&[data], max);
        for chunks in chunkings(data).iter().skip(1) {
            assert_eq!(
                decode_sse(chunks, max),
                whole,
                "{}",
                super::describe(chunks)
            );
        }
        let (events, error, end, _) = &whole;
        if error.is_some() {
            assert_eq!(*end, StreamEnd::Truncated, "an error is a truncation");
        }
        for ev in events {
            let name = ev.event.as_deref().unwrap_or("");
            assert!(ev.data.len() + name.len() <= max, "event over the limit");
            assert!(!ev.data.contains('\r'), "data keeps a CR");
            assert!(!name.contains(['\r', '\n']), "event name keeps a line end");
            assert!(
                ev.id
                    .as_deref()
                    .is_none_or(|id| !id.contains(['\0', '\r', '\n'])),
                "bad id"
            );
        }
        // Serialise the events again: they decode to themselves.
        let mut text = String::new();
        for ev in events {
            if let Some(name) = &ev.event {
                text.push_str("event: ");
                text.push_str(name);
                text.push('\n');
            }
            for line in ev.data.split('\n') {
                text.push_str("data: ");
                text.push_str(line);
                text.push('\n');
            }
            text.push('\n');
        }
        let (again, error, end, _) = decode_sse(&[text.as_bytes()], usize::MAX);
        assert_eq!((error, end), (None, StreamEnd::Clean));
        let strip = |e: &SseEvent| (e.event.clone(), e.data.clone());
        assert_eq!(
            again.iter().map(strip).collect::<Vec<_>>(),
            events.iter().map(strip).collect::<Vec<_>>(),
            "events serialised again"
        );
    }
}

type NdjsonOutcome = (Vec<Bytes>, Result<Option<Bytes>, FrameError>);

fn split_ndjson(chunks: &[&[u8]], max: usize) -> NdjsonOutcome {
    let mut s = NdjsonSplitter::new(max);
    let mut lines = Vec::new();
    for chunk in chunks {
        let result = s.push(chunk);
        while let Some(line) = s.next_line() {
            lines.push(line);
        }
        if let Err(err) = result {
            return (lines, Err(err));
        }
    }
    let tail = s.finish();
    (lines, tail)
}

/// The NDJSON line splitter.
pub fn ndjson(data: &[u8]) {
    for max in [16, 1 << 16] {
        let whole = split_ndjson(&[data], max);
        for chunks in chunkings(data).iter().skip(1) {
            assert_eq!(
                split_ndjson(chunks, max),
                whole,
                "{}",
                super::describe(chunks)
            );
        }
        let (lines, tail) = &whole;
        let tail = tail.as_ref().ok().and_then(Option::as_ref);
        for line in lines.iter().chain(tail) {
            assert!(line.len() <= max, "line over the limit");
            assert!(!line.contains(&b'\n'), "line keeps its newline");
            assert!(
                !line.iter().all(u8::is_ascii_whitespace),
                "blank line handed out"
            );
        }
    }
}

type EsOutcome = (Vec<es::Message>, Option<es::FrameError>, bool);

fn decode_es(chunks: &[&[u8]], limit: usize) -> EsOutcome {
    let mut d = Decoder::new(limit);
    let mut out = Vec::new();
    let mut error = None;
    for chunk in chunks {
        let result = d.push(chunk);
        while let Some(m) = d.next_message() {
            out.push(m);
        }
        if let Err(e) = result {
            error = Some(e);
            break;
        }
    }
    let partial = d.is_partial();
    (out, error, partial)
}

/// The AWS event-stream decoder (Bedrock's ConverseStream framing).
pub fn eventstream(data: &[u8]) {
    for limit in [64, 1 << 16] {
        let whole = decode_es(&[data], limit);
        for chunks in chunkings(data).iter().skip(1) {
            assert_eq!(
                decode_es(chunks, limit),
                whole,
                "{}",
                super::describe(chunks)
            );
        }
        let (messages, error, partial) = &whole;
        if error.is_some() {
            assert!(!partial, "a failed decoder holds no bytes");
        }
        // Encoding the messages again gives back the bytes they came from.
        let mut again = Vec::new();
        for m in messages {
            let headers: Vec<(&str, es::HeaderValue)> = m
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.clone()))
                .collect();
            let bytes = es::encode(&headers, &m.payload);
            assert!(bytes.len() <= limit.max(16), "message over the limit");
            again.extend_from_slice(&bytes);
        }
        assert!(data.starts_with(&again), "messages encoded again differ");
        if error.is_none() && !partial {
            assert_eq!(again.len(), data.len(), "bytes left over");
        }
    }
}
