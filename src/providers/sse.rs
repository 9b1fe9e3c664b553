//! Incremental Server-Sent-Events decoder for upstream responses, following the
//! WHATWG "event stream interpretation" rules: `\n`, `\r\n` and `\r` line
//! endings (a `\r\n` split across two chunks counts once), one optional space
//! after the colon, `data:` lines joined with `\n`, `event:` and `id:` fields
//! (`retry:` and unknown fields are ignored), comment lines (`:` first) dropped
//! but counted, one UTF-8 byte-order mark at the start of the stream skipped,
//! and events with no data never dispatched.
//!
//! It must not buffer without bound: the bytes held for one event (its data and
//! type so far, plus the line being read) never exceed `max_event_bytes`, else
//! [`FrameError::TooLarge`]. It must not reconnect, retry or do any I/O: the
//! caller pushes bytes and pulls events. Errors are sticky: after one, every
//! `push` returns it again.

use std::collections::VecDeque;
use std::fmt;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// One dispatched event. Only events with at least one `data:` line exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `None` means the default type, `message`.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last event id seen on the stream so far (`id:` persists across
    /// events, as the spec says); `None` while it is empty.
    pub id: Option<String>,
}

/// Why a byte stream could not be framed. Shared with the NDJSON splitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// One event (SSE) or one line (NDJSON) grew past the configured limit.
    TooLarge { limit: usize },
    /// A complete line was not valid UTF-8.
    InvalidUtf8,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { limit } => write!(f, "frame larger than {limit} bytes"),
            Self::InvalidUtf8 => f.write_str("frame is not valid UTF-8"),
        }
    }
}

impl std::error::Error for FrameError {}

/// How a stream ended, as told by [`SseDecoder::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// Nothing was pending: every event was terminated by a blank line.
    Clean,
    /// Bytes or fields of an unterminated event were discarded (the spec's rule
    /// at end of stream); the caller should treat the stream as truncated.
    Truncated,
}

/// Decoder state for one response body.
#[derive(Debug)]
pub struct SseDecoder {
    max: usize,
    /// Bytes of a BOM prefix seen at the very start, while undecided.
    bom_seen: usize,
    started: bool,
    /// The line being read (no terminator yet).
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: skip a leading `\n`.
    skip_lf: bool,
    data: String,
    event: String,
    last_id: String,
    /// A field line was read since the last blank line.
    pending: bool,
    ready: VecDeque<SseEvent>,
    comments: u64,
    failed: Option<FrameError>,
}

impl SseDecoder {
    /// A decoder that refuses to hold more than `max_event_bytes` for one event.
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            max: max_event_bytes,
            bom_seen: 0,
            started: false,
            line: Vec::new(),
            skip_lf: false,
            data: String::new(),
            event: String::new(),
            last_id: String::new(),
            pending: false,
            ready: VecDeque::new(),
            comments: 0,
            failed: None,
        }
    }

    /// Feeds the next chunk of the body. Complete events become available from
    /// [`next_event`](Self::next_event); drain them after each push. Events
    /// completed before an error in the same chunk stay available.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), FrameError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        let mut rest = chunk;
        if !self.started {
            while let Some((&b, tail)) = rest.split_first() {
                if self.bom_seen < BOM.len() && b == BOM[self.bom_seen] {
                    self.bom_seen += 1;
                    rest = tail;
                } else {
                    break;
                }
            }
            if self.bom_seen < BOM.len() && rest.is_empty() {
                return Ok(()); // still possibly a BOM
            }
            self.started = true;
            if self.bom_seen < BOM.len() {
                // Not a BOM after all: those bytes are content.
                let seen = self.bom_seen;
                self.bom_seen = 0;
                self.feed(&BOM[..seen])?;
            }
        }
        self.feed(rest)
    }

    /// The next complete event, in stream order.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        self.ready.pop_front()
    }

    /// How many comment lines (`:` first, e.g. keep-alive pings) were read.
    /// They never become events; a caller may use them only as liveness.
    pub fn comments(&self) -> u64 {
        self.comments
    }

    /// Marks the end of the body. Per the spec, an unterminated event is
    /// discarded; the result says whether anything was. Already decoded events
    /// stay available. The decoder is then reset for a new stream.
    pub fn finish(&mut self) -> StreamEnd {
        let truncated = self.failed.is_some()
            || !self.line.is_empty()
            || self.pending
            || (!self.started && self.bom_seen > 0 && self.bom_seen < BOM.len());
        let ready = std::mem::take(&mut self.ready);
        let comments = self.comments;
        *self = Self::new(self.max);
        self.ready = ready;
        self.comments = comments;
        if truncated {
            StreamEnd::Truncated
        } else {
            StreamEnd::Clean
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        let mut rest = bytes;
        if self.skip_lf && !rest.is_empty() {
            self.skip_lf = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while !rest.is_empty() {
            let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
                self.check_size(rest.len())?;
                self.line.extend_from_slice(rest);
                return Ok(());
            };
            self.check_size(end)?;
            let result = if self.line.is_empty() {
                self.process_line(&rest[..end])
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&rest[..end]);
                let result = self.process_line(&line);
                line.clear();
                self.line = line; // keep the allocation
                result
            };
            if let Err(err) = result {
                return Err(self.fail(err));
            }
            let is_cr = rest[end] == b'\r';
            rest = &rest[end + 1..];
            if is_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
        }
        Ok(())
    }

    /// Fails when `extra` more bytes of the current line would make the event
    /// larger than the limit.
    fn check_size(&mut self, extra: usize) -> Result<(), FrameError> {
        let held = self.line.len() + self.data.len() + self.event.len();
        if held.saturating_add(extra) > self.max {
            return Err(self.fail(FrameError::TooLarge { limit: self.max }));
        }
        Ok(())
    }

    fn fail(&mut self, err: FrameError) -> FrameError {
        self.failed = Some(err);
        self.line = Vec::new();
        self.data = String::new();
        self.event = String::new();
        err
    }

    fn process_line(&mut self, line: &[u8]) -> Result<(), FrameError> {
        let line = std::str::from_utf8(line).map_err(|_| FrameError::InvalidUtf8)?;
        if line.is_empty() {
            self.dispatch();
            return Ok(());
        }
        if line.starts_with(':') {
            self.comments += 1;
            return Ok(());
        }
        self.pending = true;
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => value.clone_into(&mut self.last_id),
            _ => {} // `retry` and unknown fields: ignored, as the spec says
        }
        if self.data.len() + self.event.len() > self.max {
            return Err(FrameError::TooLarge { limit: self.max });
        }
        Ok(())
    }

    fn dispatch(&mut self) {
        self.pending = false;
        if self.data.is_empty() {
            self.event.clear();
            return;
        }
        self.data.pop(); // the `\n` after the last data line
        let event = std::mem::take(&mut self.event);
        self.ready.push_back(SseEvent {
            event: (!event.is_empty()).then_some(event),
            data: std::mem::take(&mut self.data),
            id: (!self.last_id.is_empty()).then(|| self.last_id.clone()),
        });
    }
}

/// What a whole decode produced: events, the error if any, how it ended
/// and how many comments were seen.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) type Outcome = (Vec<SseEvent>, Option<FrameError>, StreamEnd, u64);

/// Decodes `chunks` in order with a decoder for events of at most `max`
/// bytes, stopping at the first framing error (tests and fuzz targets).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn decode_all(chunks: &[&[u8]], max: usize) -> Outcome {
    let mut dec = SseDecoder::new(max);
    let mut events = Vec::new();
    let mut error = None;
    for chunk in chunks {
        let result = dec.push(chunk);
        while let Some(ev) = dec.next_event() {
            events.push(ev);
        }
        if let Err(err) = result {
            error = Some(err);
            break;
        }
    }
    let comments = dec.comments();
    (events, error, dec.finish(), comments)
}

#[cfg(test)]
#[path = "sse_tests.rs"]
mod tests;
