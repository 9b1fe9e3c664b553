//! Incremental decoder of the AWS event-stream framing
//! (`application/vnd.amazon.eventstream`), in which Bedrock's
//! `ConverseStream` answers. Each message is:
//!
//! ```text
//! total length (u32 BE) | headers length (u32 BE) | prelude CRC32 (of the 8 bytes before)
//! headers               | payload                 | message CRC32 (of every byte before)
//! ```
//!
//! and each header `name length (u8) | name (UTF-8) | type (u8) | value`,
//! the value by type: 0 true and 1 false (no bytes), 2 byte, 3 i16, 4 i32,
//! 5 i64, 6 bytes and 7 string (u16 BE length, then the bytes), 8 timestamp
//! (i64 ms), 9 UUID (16 bytes); integers big-endian. CRCs are CRC-32
//! (IEEE, as zlib's).
//!
//! Bytes come in chunks cut anywhere; complete messages come out in order.
//! It must not buffer without bound: a prelude announcing a message longer
//! than the limit is refused as soon as its 12 bytes are in, before the
//! message is read. Both CRCs are checked; a message that fails either, or
//! whose headers do not parse, is an error. Errors are sticky: after one,
//! every `push` returns it again. No I/O; errors carry no payload bytes.

use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::fmt;

/// Bytes of the prelude: two lengths and the prelude CRC.
const PRELUDE: usize = 12;
/// The smallest message: a prelude and a message CRC.
const MIN_MESSAGE: usize = PRELUDE + 4;

/// One header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Bool(bool),
    Byte(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Bytes(Vec<u8>),
    String(String),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<(String, HeaderValue)>,
    pub payload: Bytes,
}

impl Message {
    /// The value of the string header `name` (e.g. `:event-type`), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|(n, v)| match v {
            HeaderValue::String(s) if n == name => Some(s.as_str()),
            _ => None,
        })
    }
}

/// Why a byte stream is not a valid event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A message announced more bytes than the limit.
    TooLarge { limit: usize },
    /// The prelude's CRC does not match its lengths.
    PreludeCrc,
    /// The message's CRC does not match its bytes.
    MessageCrc,
    /// The lengths or headers do not describe a valid message.
    Malformed(&'static str),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { limit } => write!(f, "event-stream message larger than {limit} bytes"),
            Self::PreludeCrc => f.write_str("event-stream prelude CRC mismatch"),
            Self::MessageCrc => f.write_str("event-stream message CRC mismatch"),
            Self::Malformed(why) => write!(f, "malformed event-stream message: {why}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Pushes bytes in, takes messages out.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    limit: usize,
    ready: VecDeque<Message>,
    error: Option<FrameError>,
}

impl Decoder {
    /// A decoder refusing messages of more than `limit` bytes (at least the
    /// 16 of an empty message).
    pub fn new(limit: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            limit: limit.max(MIN_MESSAGE),
            ready: VecDeque::new(),
            error: None,
        }
    }

    /// Consumes a chunk; the messages it completes become available from
    /// [`Decoder::next_message`], those before an error included.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), FrameError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.buf.extend_from_slice(chunk);
        loop {
            match self.take() {
                Ok(Some(m)) => self.ready.push_back(m),
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.error = Some(e);
                    self.buf = BytesMut::new();
                    return Err(e);
                }
            }
        }
    }

    pub fn next_message(&mut self) -> Option<Message> {
        self.ready.pop_front()
    }

    /// Whether bytes of an unfinished message are held (at the end of the
    /// stream: a cut message).
    pub fn is_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next whole message in the buffer, if one is complete.
    fn take(&mut self) -> Result<Option<Message>, FrameError> {
        if self.buf.len() < PRELUDE {
            return Ok(None);
        }
        let total = be_u32(&self.buf[0..4]) as usize;
        let headers_len = be_u32(&self.buf[4..8]) as usize;
        if crc32fast::hash(&self.buf[0..8]) != be_u32(&self.buf[8..12]) {
            return Err(FrameError::PreludeCrc);
        }
        if total > self.limit {
            return Err(FrameError::TooLarge { limit: self.limit });
        }
        if total < MIN_MESSAGE || headers_len > total - MIN_MESSAGE {
            return Err(FrameError::Malformed("lengths do not fit"));
        }
        if self.buf.len() < total {
            // Room for the rest of this message only.
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        let message = self.buf.split_to(total).freeze();
        let (body, crc) = message.split_at(total - 4);
        if crc32fast::hash(body) != be_u32(crc) {
            return Err(FrameError::MessageCrc);
        }
        let headers = parse_headers(&message[PRELUDE..PRELUDE + headers_len])?;
        let payload = message.slice(PRELUDE + headers_len..total - 4);
        Ok(Some(Message { headers, payload }))
    }
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn parse_headers(mut b: &[u8]) -> Result<Vec<(String, HeaderValue)>, FrameError> {
    let short = FrameError::Malformed("a header is cut short");
    let mut out = Vec::new();
    while b.has_remaining() {
        let name_len = usize::from(b.get_u8());
        if name_len == 0 || b.remaining() < name_len + 1 {
            return Err(FrameError::Malformed("a header name is empty or cut short"));
        }
        let name = std::str::from_utf8(&b[..name_len])
            .map_err(|_| FrameError::Malformed("a header name is not UTF-8"))?
            .to_owned();
        b.advance(name_len);
        let kind = b.get_u8();
        let need = match kind {
            0 | 1 => 0,
            2 => 1,
            3 => 2,
            4 => 4,
            5 | 8 => 8,
            6 | 7 => {
                if b.remaining() < 2 {
                    return Err(short);
                }
                2 + usize::from(u16::from_be_bytes([b[0], b[1]]))
            }
            9 => 16,
            _ => return Err(FrameError::Malformed("unknown header value type")),
        };
        if b.remaining() < need {
            return Err(short);
        }
        let value =
            match kind {
                0 => HeaderValue::Bool(true),
                1 => HeaderValue::Bool(false),
                2 => HeaderValue::Byte(b.get_i8()),
                3 => HeaderValue::Int16(b.get_i16()),
                4 => HeaderValue::Int32(b.get_i32()),
                5 => HeaderValue::Int64(b.get_i64()),
                8 => HeaderValue::Timestamp(b.get_i64()),
                9 => {
                    let mut uuid = [0u8; 16];
                    b.copy_to_slice(&mut uuid);
                    HeaderValue::Uuid(uuid)
                }
                // 6 or 7: a length, then the bytes.
                _ => {
                    b.advance(2);
                    let bytes = b[..need - 2].to_vec();
                    b.advance(need - 2);
                    if kind == 6 {
                        HeaderValue::Bytes(bytes)
                    } else {
                        HeaderValue::String(String::from_utf8(bytes).map_err(|_| {
                            FrameError::Malformed("a string header value is not UTF-8")
                        })?)
                    }
                }
            };
        out.push((name, value));
    }
    Ok(out)
}

/// Encodes one message (for tests and fakes of this crate; the gateway
/// never sends event streams).
#[cfg(test)]
pub fn encode(headers: &[(&str, HeaderValue)], payload: &[u8]) -> Vec<u8> {
    use bytes::BufMut;
    let mut h = Vec::new();
    for (name, value) in headers {
        h.put_u8(u8::try_from(name.len()).expect("short header name"));
        h.put_slice(name.as_bytes());
        match value {
            HeaderValue::Bool(true) => h.put_u8(0),
            HeaderValue::Bool(false) => h.put_u8(1),
            HeaderValue::Byte(v) => {
                h.put_u8(2);
                h.put_i8(*v);
            }
            HeaderValue::Int16(v) => {
                h.put_u8(3);
                h.put_i16(*v);
            }
            HeaderValue::Int32(v) => {
                h.put_u8(4);
                h.put_i32(*v);
            }
            HeaderValue::Int64(v) => {
                h.put_u8(5);
                h.put_i64(*v);
            }
            HeaderValue::Bytes(v) => {
                h.put_u8(6);
                h.put_u16(u16::try_from(v.len()).expect("short value"));
                h.put_slice(v);
            }
            HeaderValue::String(v) => {
                h.put_u8(7);
                h.put_u16(u16::try_from(v.len()).expect("short value"));
                h.put_slice(v.as_bytes());
            }
            HeaderValue::Timestamp(v) => {
                h.put_u8(8);
                h.put_i64(*v);
            }
            HeaderValue::Uuid(v) => {
                h.put_u8(9);
                h.put_slice(v);
            }
        }
    }
    let total = MIN_MESSAGE + h.len() + payload.len();
    let mut out = Vec::with_capacity(total);
    out.put_u32(u32::try_from(total).expect("small message"));
    out.put_u32(u32::try_from(h.len()).expect("small headers"));
    let prelude_crc = crc32fast::hash(&out);
    out.put_u32(prelude_crc);
    out.put_slice(&h);
    out.put_slice(payload);
    let crc = crc32fast::hash(&out);
    out.put_u32(crc);
    out
}

#[cfg(test)]
#[path = "eventstream_tests.rs"]
pub(crate) mod tests;
