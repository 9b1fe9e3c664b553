//! Incremental newline-delimited JSON line splitter for upstream bodies such
//! as Ollama's streaming `/api/chat`. It cuts lines at `\n`, drops one `\r`
//! before it, skips blank (whitespace-only) lines, and hands back each line
//! as [`Bytes`] without its terminator.
//!
//! It must not parse JSON, check UTF-8 (the JSON parser does both) or do I/O,
//! and it must not buffer without bound: a line longer than `max_line_bytes`
//! (terminator excluded) is refused with [`FrameError::TooLarge`] as soon as
//! it is known to be too long, even before its newline arrives. Errors are
//! sticky: after one, every call returns it again.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

pub use super::sse::FrameError;

/// Splitter state for one response body.
#[derive(Debug)]
pub struct NdjsonSplitter {
    max: usize,
    /// The line being read (no `\n` yet).
    partial: BytesMut,
    ready: VecDeque<Bytes>,
    failed: Option<FrameError>,
}

impl NdjsonSplitter {
    /// A splitter that refuses lines longer than `max_line_bytes`.
    pub fn new(max_line_bytes: usize) -> Self {
        Self {
            max: max_line_bytes,
            partial: BytesMut::new(),
            ready: VecDeque::new(),
            failed: None,
        }
    }

    /// Feeds the next chunk of the body. Complete lines become available from
    /// [`next_line`](Self::next_line); drain them after each push. Lines
    /// completed before an error in the same chunk stay available.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), FrameError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            let line = self.partial.split().freeze();
            self.accept(line)?;
        }
        // A `\r` may still be half of a `\r\n`, so allow one byte more here.
        if self.partial.len() + rest.len() > self.max.saturating_add(1) {
            return Err(self.fail());
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// The next complete, non-blank line, without `\n` or `\r\n`.
    pub fn next_line(&mut self) -> Option<Bytes> {
        self.ready.pop_front()
    }

    /// Marks the end of the body and returns the last line if it had no
    /// newline (`None` when nothing but whitespace was left). Drain
    /// [`next_line`](Self::next_line) first. The splitter is then reset.
    pub fn finish(&mut self) -> Result<Option<Bytes>, FrameError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        let line = self.partial.split().freeze();
        self.partial = BytesMut::new();
        self.trim(line)
    }

    fn accept(&mut self, line: Bytes) -> Result<(), FrameError> {
        if let Some(line) = self.trim(line)? {
            self.ready.push_back(line);
        }
        Ok(())
    }

    /// Drops a final `\r`, checks the limit, and turns blank lines into `None`.
    fn trim(&mut self, mut line: Bytes) -> Result<Option<Bytes>, FrameError> {
        if line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        if line.len() > self.max {
            return Err(self.fail());
        }
        Ok((!line.iter().all(u8::is_ascii_whitespace)).then_some(line))
    }

    fn fail(&mut self) -> FrameError {
        let err = FrameError::TooLarge { limit: self.max };
        self.failed = Some(err);
        self.partial = BytesMut::new();
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: [&[u8]; 3] = [
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ollama/chat_stream.ndjson"
        )),
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ollama/chat_stream_tools.ndjson"
        )),
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ollama/chat_stream_error.ndjson"
        )),
    ];

    type Outcome = (Vec<Bytes>, Result<Option<Bytes>, FrameError>);

    fn split(chunks: &[&[u8]], max: usize) -> Outcome {
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

    fn assert_split_invariant(input: &[u8], max: usize) -> Outcome {
        let whole = split(&[input], max);
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(split(&[a, b], max), whole, "split at {at}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(split(&bytes, max), whole, "byte at a time");
        whole
    }

    #[test]
    fn fixtures_every_split() {
        for fixture in FIXTURES {
            let (lines, tail) = assert_split_invariant(fixture, 1 << 16);
            assert!(lines.len() >= 2);
            assert_eq!(tail, Ok(None), "fixtures end with a newline");
            for line in lines {
                let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
                assert!(value.is_object());
            }
        }
    }

    #[test]
    fn crlf_blank_lines_and_trailing_line() {
        let input = b"{\"a\":1}\r\n\r\n  \n\n{\"b\":2}\n{\"c\":3}";
        let (lines, tail) = assert_split_invariant(input, 64);
        assert_eq!(lines, vec![&b"{\"a\":1}"[..], &b"{\"b\":2}"[..]]);
        assert_eq!(tail, Ok(Some(Bytes::from_static(b"{\"c\":3}"))));
        let (lines, tail) = split(&[b"{}\r"], 64);
        assert!(lines.is_empty());
        assert_eq!(tail, Ok(Some(Bytes::from_static(b"{}"))));
        assert_eq!(split(&[b"\n \r\n"], 64), (vec![], Ok(None)));
    }

    #[test]
    fn line_limit_is_exact_and_split_invariant() {
        let limit = FrameError::TooLarge { limit: 4 };
        assert_eq!(split(&[b"1234\r\n12345\n"], 4).1, Err(limit));
        assert_eq!(split(&[b"1234\r\n12345\n"], 4).0, vec![&b"1234"[..]]);
        assert_eq!(assert_split_invariant(b"1234\r\n12345\n", 4).1, Err(limit));
        let (lines, tail) = assert_split_invariant(b"1234\n1234\r", 4);
        assert_eq!(lines, vec![&b"1234"[..]]);
        assert_eq!(tail, Ok(Some(Bytes::from_static(b"1234"))));
        assert_eq!(
            split(&[b"1234\r"], 4).1,
            Ok(Some(Bytes::from_static(b"1234")))
        );
        assert_eq!(split(&[b"12345"], 4).1, Err(limit), "trailing line too");
        // An endless line is refused before its newline arrives.
        let mut s = NdjsonSplitter::new(4);
        assert_eq!(s.push(b"123456"), Err(limit));
        assert_eq!(s.push(b"\n"), Err(limit), "sticky");
        assert_eq!(s.finish(), Err(limit));
    }
}
