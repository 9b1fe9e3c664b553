//! What serving keeps of an answer once it is sent: the assistant text (for
//! conversation memory) and the token usage (for volume counters), read
//! from a JSON body or from the SSE events as they pass through unchanged.
//! A stream that ends early, because the upstream broke or the client left,
//! still reports what it carried so far, and how it ended.
//!
//! Must not: change, delay or buffer the bytes it passes on, or keep more
//! than `MAX_TEXT` bytes of text.

use crate::providers::ByteStream;
use crate::providers::sse::SseDecoder;
use futures_util::StreamExt;
use serde_json::Value;

/// Longest completion text kept to fingerprint (longer ones are cut).
const MAX_TEXT: usize = 1 << 20;

/// What an answer carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// The first choice's assistant text.
    pub text: String,
    /// `usage.prompt_tokens` and `usage.completion_tokens`, when reported.
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// `usage.prompt_tokens_details.cached_tokens` (part of `prompt_tokens`).
    pub cached_tokens: Option<u64>,
    /// Streams: the stream ran to its end or passed `[DONE]` (not dropped
    /// by a client that left before).
    pub ended: bool,
    /// Streams: the `code` of an in-band error event, if one passed.
    pub error_code: Option<String>,
    /// Streams: when the first chunk passed.
    pub first_at: Option<std::time::Instant>,
}

impl Answer {
    /// `(input, output)` tokens to count: the reported usage, else
    /// estimates (the prompt estimate; the text at 4 bytes a token).
    pub fn tokens(&self, prompt_estimate: u64) -> (u64, u64) {
        (
            self.prompt_tokens.unwrap_or(prompt_estimate),
            self.completion_tokens
                .unwrap_or_else(|| (self.text.len() as u64).div_ceil(4)),
        )
    }

    fn read(&mut self, v: &Value, path: &str) {
        if let Some(piece) = v.pointer(path).and_then(Value::as_str)
            && self.text.len() + piece.len() <= MAX_TEXT
        {
            self.text.push_str(piece);
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.prompt_tokens = u.get("prompt_tokens").and_then(Value::as_u64);
            self.completion_tokens = u.get("completion_tokens").and_then(Value::as_u64);
            self.cached_tokens = u
                .pointer("/prompt_tokens_details/cached_tokens")
                .and_then(Value::as_u64);
        }
        if let Some(e) = v.get("error").filter(|e| e.is_object()) {
            // A fixed-length code, never the message (it may quote the prompt).
            let code = e.get("code").and_then(Value::as_str).unwrap_or("error");
            self.error_code = Some(code.chars().take(64).collect());
        }
    }
}

/// The answer in a non-streamed `chat.completion` or embeddings body. Read
/// into typed fields, so an embeddings body's vectors are skipped, not
/// built into a JSON tree.
pub fn json_answer(body: &[u8]) -> Answer {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        choices: Vec<Choice>,
        usage: Option<Usage>,
    }
    #[derive(serde::Deserialize)]
    struct Choice {
        message: Option<Message>,
    }
    #[derive(serde::Deserialize)]
    struct Message {
        // Any shape (a string, null, or parts): only a string is text.
        content: Option<Value>,
    }
    #[derive(serde::Deserialize)]
    struct Usage {
        prompt_tokens: Option<u64>,
        completion_tokens: Option<u64>,
        prompt_tokens_details: Option<Details>,
    }
    #[derive(serde::Deserialize)]
    struct Details {
        cached_tokens: Option<u64>,
    }
    let Ok(b) = serde_json::from_slice::<Body>(body) else {
        return Answer::default();
    };
    let mut text = b
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message)
        .and_then(|m| match m.content {
            Some(Value::String(s)) => Some(s),
            _ => None,
        })
        .unwrap_or_default();
    if text.len() > MAX_TEXT {
        text.clear();
    }
    Answer {
        text,
        prompt_tokens: b.usage.as_ref().and_then(|u| u.prompt_tokens),
        completion_tokens: b.usage.as_ref().and_then(|u| u.completion_tokens),
        cached_tokens: b
            .usage
            .and_then(|u| u.prompt_tokens_details)
            .and_then(|d| d.cached_tokens),
        ended: true,
        ..Answer::default()
    }
}

/// Passes an OpenAI SSE stream through unchanged; `on_end` gets what it
/// carried when it ends or is dropped, whichever comes first.
pub fn tap_stream(
    upstream: ByteStream,
    max_event_bytes: usize,
    on_end: impl FnOnce(Answer) + Send + 'static,
) -> ByteStream {
    struct Tap<F: FnOnce(Answer)> {
        upstream: ByteStream,
        decoder: SseDecoder,
        answer: Answer,
        on_end: Option<F>,
    }
    impl<F: FnOnce(Answer)> Tap<F> {
        fn finish(&mut self) {
            if let Some(f) = self.on_end.take() {
                f(std::mem::take(&mut self.answer));
            }
        }
    }
    impl<F: FnOnce(Answer)> Drop for Tap<F> {
        fn drop(&mut self) {
            self.finish();
        }
    }
    let state = Tap {
        upstream,
        decoder: SseDecoder::new(max_event_bytes),
        answer: Answer::default(),
        on_end: Some(on_end),
    };
    Box::pin(futures_util::stream::unfold(state, |mut t| async move {
        match t.upstream.next().await {
            Some(Ok(chunk)) => {
                if t.answer.first_at.is_none() {
                    t.answer.first_at = Some(std::time::Instant::now());
                }
                if t.decoder.push(&chunk).is_ok() {
                    while let Some(ev) = t.decoder.next_event() {
                        if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                            t.answer.read(&v, "/choices/0/delta/content");
                        } else if ev.data.trim() == "[DONE]" {
                            // Complete, even if whatever reads on (the
                            // Anthropic translation) stops here.
                            t.answer.ended = true;
                        }
                    }
                }
                Some((Ok(chunk), t))
            }
            Some(Err(never)) => match never {},
            None => {
                t.answer.ended = true;
                t.finish();
                None
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::sync::{Arc, Mutex};

    #[test]
    fn json_answer_reads_text_and_usage() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":"hello there"}}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#;
        let a = json_answer(body);
        assert_eq!(a.text, "hello there");
        assert_eq!(a.tokens(100), (5, 2));
        let emb = br#"{"object":"list","data":[{"embedding":[0.1,0.2]}],"usage":{"prompt_tokens":4,"total_tokens":4}}"#;
        assert_eq!(
            json_answer(emb).tokens(99),
            (4, 0),
            "embeddings: usage, no text"
        );
        let a = json_answer(b"not json");
        assert_eq!(a, Answer::default());
        assert_eq!(a.tokens(10), (10, 0), "estimates without usage");
    }

    fn stream(pieces: Vec<&'static str>) -> ByteStream {
        Box::pin(futures_util::stream::iter(pieces.into_iter().map(|p| {
            Ok::<_, std::convert::Infallible>(Bytes::from_static(p.as_bytes()))
        })))
    }

    #[tokio::test]
    async fn stream_passes_bytes_and_reports_at_the_end() {
        let got = Arc::new(Mutex::new(None));
        let g = got.clone();
        let events = vec![
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2}}\n\n",
            "data: [DONE]\n\n",
        ];
        let out: Vec<_> = tap_stream(stream(events.clone()), 1 << 16, move |a| {
            *g.lock().expect("lock") = Some(a);
        })
        .collect()
        .await;
        let bytes: Vec<u8> = out
            .into_iter()
            .flat_map(|c| c.expect("ok").to_vec())
            .collect();
        assert_eq!(bytes, events.concat().into_bytes(), "unchanged");
        let a = got.lock().expect("lock").clone().expect("reported");
        assert_eq!((a.text.as_str(), a.tokens(0)), ("Hello", (7, 2)));
        assert!(a.ended && a.first_at.is_some() && a.error_code.is_none());
    }

    #[tokio::test]
    async fn an_error_event_is_reported_by_code_only() {
        let got = Arc::new(Mutex::new(None));
        let g = got.clone();
        let events = vec![
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
            "data: {\"error\":{\"message\":\"backend x: secret prompt quoted\",\"type\":\"api_error\",\"param\":null,\"code\":\"upstream_timeout\"}}\n\n",
        ];
        let _: Vec<_> = tap_stream(stream(events), 1 << 16, move |a| {
            *g.lock().expect("lock") = Some(a);
        })
        .collect()
        .await;
        let a = got.lock().expect("lock").clone().expect("reported");
        assert_eq!(a.error_code.as_deref(), Some("upstream_timeout"));
        assert!(a.ended);
    }

    #[tokio::test]
    async fn a_dropped_stream_reports_what_it_carried() {
        let got = Arc::new(Mutex::new(None));
        let g = got.clone();
        let mut s = tap_stream(
            stream(vec![
                "data: {\"choices\":[{\"delta\":{\"content\":\"partial\"}}]}\n\n",
                "data: {\"choices\":[{\"delta\":{\"content\":\" more\"}}]}\n\n",
            ]),
            1 << 16,
            move |a| *g.lock().expect("lock") = Some(a),
        );
        let _ = s.next().await;
        drop(s);
        let a = got.lock().expect("lock").clone().expect("reported on drop");
        assert_eq!(a.text, "partial");
        assert!(!a.ended, "dropped, not ended");
    }
}
