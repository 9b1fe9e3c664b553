use super::*;

const OPENAI: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sse/openai_chat_stream.sse"
));
const MIXED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/sse/mixed_endings.sse"
));

use super::{Outcome, decode_all as decode};

fn ev(event: Option<&str>, data: &str, id: Option<&str>) -> SseEvent {
    SseEvent {
        event: event.map(str::to_owned),
        data: data.to_owned(),
        id: id.map(str::to_owned),
    }
}

/// Every split point, and byte at a time, must decode like the whole input.
fn assert_split_invariant(input: &[u8], max: usize) -> Outcome {
    let whole = decode(&[input], max);
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(decode(&[a, b], max), whole, "split at {at}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(decode(&bytes, max), whole, "byte at a time");
    whole
}

#[test]
fn openai_fixture_every_split() {
    let (events, error, end, comments) = assert_split_invariant(OPENAI, 1 << 16);
    assert_eq!(error, None);
    assert_eq!(end, StreamEnd::Clean);
    assert_eq!(comments, 2);
    assert_eq!(events.len(), 4);
    assert!(events[1].data.contains("Héllo ✓"));
    assert_eq!(events[3], ev(None, "[DONE]", None));
    assert!(events.iter().all(|e| e.event.is_none()));
}

#[test]
fn mixed_fixture_every_split() {
    let (events, error, end, comments) = assert_split_invariant(MIXED, 1 << 16);
    assert_eq!(error, None);
    assert_eq!(
        events,
        vec![
            ev(Some("message_start"), r#"{"a":1}"#, Some("7")),
            ev(None, "first\n second\n", Some("7")),
            ev(Some("delta"), "é", Some("7")),
            ev(None, "after-empty-id", None),
        ]
    );
    assert_eq!(comments, 1);
    assert_eq!(end, StreamEnd::Truncated, "last event had no blank line");
}

#[test]
fn crlf_split_between_chunks_counts_once() {
    let (events, ..) = decode(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"], 64);
    assert_eq!(events, vec![ev(None, "a\nb", None)]);
}

#[test]
fn bom_only_at_start_and_only_once() {
    let (events, ..) = decode(&[b"\xEF\xBB", b"\xBFdata: x\n\n"], 64);
    assert_eq!(events, vec![ev(None, "x", None)]);
    // A second BOM is content: the field name becomes "\u{feff}data".
    let (events, ..) = decode(&[b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n"], 64);
    assert!(events.is_empty());
    // A partial BOM followed by other bytes is content too (and not UTF-8).
    let (_, error, ..) = decode(&[b"\xEF\xBBdata: x\n\n"], 64);
    assert_eq!(error, Some(FrameError::InvalidUtf8));
}

#[test]
fn colon_and_space_rules() {
    let (events, ..) = decode(&[b"data:x\ndata: y\ndata:  z\ndata\n\n"], 64);
    assert_eq!(events, vec![ev(None, "x\ny\n z\n", None)]);
    let (events, ..) = decode(&[b"data:\n\n"], 64);
    assert_eq!(events, vec![ev(None, "", None)], "empty data is an event");
}

#[test]
fn id_with_nul_is_ignored_and_id_persists() {
    let (events, ..) = decode(&[b"id: 1\ndata: a\n\nid: 2\0\ndata: b\n\n"], 64);
    assert_eq!(
        events,
        vec![ev(None, "a", Some("1")), ev(None, "b", Some("1"))]
    );
}

#[test]
fn comments_and_empty_events_are_not_dispatched() {
    let (events, error, end, comments) = decode(&[b": ping\n\n:\n\nevent: ping\n\nid: 3\n\n"], 64);
    assert!(events.is_empty());
    assert_eq!((error, end, comments), (None, StreamEnd::Clean, 2));
}

#[test]
fn too_large_event_is_refused_at_every_split() {
    let input = b"data: 0123456789\ndata: 0123456789\n\n";
    // The first data line fits in 20 bytes, the event does not.
    let (events, error, end, _) = assert_split_invariant(input, 20);
    assert!(events.is_empty());
    assert_eq!(error, Some(FrameError::TooLarge { limit: 20 }));
    assert_eq!(end, StreamEnd::Truncated);
    // A single endless line is refused before its end arrives.
    let mut dec = SseDecoder::new(8);
    assert_eq!(
        dec.push(b"data: 0123"),
        Err(FrameError::TooLarge { limit: 8 })
    );
    assert_eq!(
        dec.push(b"\n\n"),
        Err(FrameError::TooLarge { limit: 8 }),
        "sticky"
    );
    // Exactly at the limit is fine.
    let (events, error, ..) = decode(&[b"data:123\n\n"], 8);
    assert_eq!((events.len(), error), (1, None));
}

#[test]
fn events_before_an_error_survive() {
    let (events, error, ..) = decode(&[b"data: ok\n\ndata: \xFF\n\n"], 64);
    assert_eq!(events, vec![ev(None, "ok", None)]);
    assert_eq!(error, Some(FrameError::InvalidUtf8));
}

#[test]
fn invalid_utf8_every_split() {
    let (events, error, ..) = assert_split_invariant(b"data: a\n\ndata: \xC3\x28\n\n", 64);
    assert_eq!(events.len(), 1);
    assert_eq!(error, Some(FrameError::InvalidUtf8));
}

#[test]
fn finish_reports_pending_fields_and_resets() {
    let mut dec = SseDecoder::new(64);
    dec.push(b"data: a\n").unwrap();
    assert_eq!(dec.finish(), StreamEnd::Truncated, "no blank line yet");
    assert_eq!(dec.next_event(), None, "incomplete event discarded");
    dec.push(b"data: b\n\n").unwrap();
    assert_eq!(dec.next_event(), Some(ev(None, "b", None)));
    assert_eq!(dec.finish(), StreamEnd::Clean);
    assert_eq!(SseDecoder::new(4).finish(), StreamEnd::Clean, "empty body");
    let mut dec = SseDecoder::new(4);
    dec.push(b"\xEF").unwrap();
    assert_eq!(dec.finish(), StreamEnd::Truncated, "half a BOM");
}

#[test]
fn never_panics_on_arbitrary_bytes() {
    // A cheap deterministic fuzz: every byte value in many positions.
    let mut seed: u32 = 0x9E37_79B9;
    for round in 0..300 {
        let len = round % 40;
        let mut input = Vec::with_capacity(len);
        for _ in 0..len {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let pick = [b'\n', b'\r', b':', b' ', b'd', 0xEF, 0xBB, 0xBF, 0xFF];
            input.push(if seed.is_multiple_of(3) {
                (seed >> 8) as u8
            } else {
                pick[(seed as usize >> 4) % pick.len()]
            });
        }
        assert_split_invariant(&input, 16);
    }
}
