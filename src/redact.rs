//! Redaction (`on_violation = "redact"`): findings are replaced with stable
//! placeholders (`<EMAIL_1>`, `<CREDIT_CARD_2>`; the same value always gets
//! the same placeholder) before a request goes to a tier its level does not
//! allow, and the originals are put back in the answer: in JSON, and in
//! streams even when a placeholder is split across chunks. Pure: no I/O.
//! The originals live only in the `Restorer` of one request, in memory.

use crate::classify::Finding;
use crate::config::detectors::CustomDetector;
use crate::openai::{ChatRequest, Field};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Placeholders to originals, for one request.
#[derive(Debug, Default, Clone)]
pub struct Restorer {
    originals: HashMap<String, String>,
    longest: usize,
}

impl Restorer {
    pub fn len(&self) -> usize {
        self.originals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.originals.is_empty()
    }

    /// Replaces every known placeholder in `text`.
    pub fn restore(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            out.push_str(&rest[..open]);
            let tail = &rest[open..];
            match tail.find('>').map(|close| &tail[..=close]) {
                Some(token) if self.originals.contains_key(token) => {
                    out.push_str(&self.originals[token]);
                    rest = &tail[token.len()..];
                }
                _ => {
                    out.push('<');
                    rest = &tail[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// Restores every string inside `v`, recursively.
    pub fn restore_value(&self, v: &mut Value) {
        match v {
            Value::String(s) if s.contains('<') => *s = self.restore(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.restore_value(x)),
            Value::Object(o) => o.values_mut().for_each(|x| self.restore_value(x)),
            _ => {}
        }
    }
}

/// Restores placeholders in a stream of text pieces, holding back a tail
/// that may be the start of a placeholder until it is complete.
#[derive(Debug, Default)]
pub struct StreamRestorer {
    pending: String,
}

impl StreamRestorer {
    /// Text ready to send after `piece`.
    pub fn push(&mut self, r: &Restorer, piece: &str) -> String {
        self.pending.push_str(piece);
        let cut = match self.pending.rfind('<') {
            Some(i)
                if self.pending[i..].len() <= r.longest
                    && !self.pending[i..].contains('>')
                    && self.pending[i + 1..]
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') =>
            {
                i
            }
            _ => self.pending.len(),
        };
        let ready: String = self.pending.drain(..cut).collect();
        r.restore(&ready)
    }

    /// Whatever is held back, at the end of the text.
    pub fn finish(&mut self, r: &Restorer) -> String {
        let rest = std::mem::take(&mut self.pending);
        r.restore(&rest)
    }
}

fn label(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The request with every finding replaced, and how to undo it in answers.
pub fn redact(
    req: &ChatRequest,
    findings: &[Finding],
    custom: &[CustomDetector],
) -> (ChatRequest, Restorer) {
    let mut restorer = Restorer::default();
    let mut by_value: HashMap<String, String> = HashMap::new();
    let mut counters: HashMap<String, usize> = HashMap::new();
    // Group spans by the string they sit in.
    let mut places: HashMap<(usize, Option<usize>, Field), Vec<&Finding>> = HashMap::new();
    for f in findings.iter().filter(|f| f.redactable()) {
        places
            .entry((f.message, f.part, f.field))
            .or_default()
            .push(f);
    }
    let mut body = req.body.clone();
    for ((message, part, field), mut fs) in places {
        let Some(slot) = string_at(body.map_mut(), message, part, field) else {
            continue;
        };
        let original = slot.clone();
        fs.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
        let mut out = String::with_capacity(original.len());
        let mut at = 0;
        for f in fs {
            // Overlaps merge into the span already replaced.
            if f.start < at
                || f.end > original.len()
                || !original.is_char_boundary(f.start)
                || !original.is_char_boundary(f.end)
            {
                continue;
            }
            out.push_str(&original[at..f.start]);
            let value = &original[f.start..f.end];
            let placeholder = by_value.entry(value.to_owned()).or_insert_with(|| {
                let l = label(f.kind.name(custom));
                let n = counters.entry(l.clone()).or_insert(0);
                *n += 1;
                format!("<{l}_{n}>")
            });
            restorer.longest = restorer.longest.max(placeholder.len());
            restorer
                .originals
                .insert(placeholder.clone(), value.to_owned());
            out.push_str(placeholder);
            at = f.end;
        }
        out.push_str(&original[at..]);
        *slot = out;
    }
    let redacted = ChatRequest {
        body,
        ..req.clone()
    };
    (redacted, restorer)
}

/// The string a finding points into, for editing.
fn string_at(
    body: &mut Map<String, Value>,
    message: usize,
    part: Option<usize>,
    field: Field,
) -> Option<&mut String> {
    let m = body.get_mut("messages")?.get_mut(message)?;
    let v = match (field, part) {
        (Field::Content, None) => m.get_mut("content")?,
        (Field::Content, Some(j)) => {
            let p = m.get_mut("content")?.get_mut(j)?;
            if p.get("refusal").is_some() {
                p.get_mut("refusal")?
            } else {
                p.get_mut("text")?
            }
        }
        (Field::Name, _) => m.get_mut("name")?,
        (Field::ToolArguments(j), _) => m
            .get_mut("tool_calls")?
            .get_mut(j)?
            .get_mut("function")?
            .get_mut("arguments")?,
        (Field::ToolName(j), _) => m
            .get_mut("tool_calls")?
            .get_mut(j)?
            .get_mut("function")?
            .get_mut("name")?,
    };
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// Restores placeholders in an OpenAI SSE stream (`chat.completion.chunk`
/// events): `delta.content` and tool-call argument deltas, per choice, with
/// split placeholders held back until complete. Other events pass unchanged.
pub fn restore_sse(
    upstream: crate::providers::ByteStream,
    restorer: Restorer,
    max_event_bytes: usize,
) -> crate::providers::ByteStream {
    use crate::providers::sse::SseDecoder;
    use bytes::Bytes;
    use futures_util::StreamExt;

    struct State {
        upstream: crate::providers::ByteStream,
        decoder: SseDecoder,
        restorer: Restorer,
        texts: HashMap<(u64, i64), StreamRestorer>,
    }
    let state = State {
        upstream,
        decoder: SseDecoder::new(max_event_bytes),
        restorer,
        texts: HashMap::new(),
    };
    let s = futures_util::stream::unfold(state, |mut st| async move {
        loop {
            let chunk = match st.upstream.next().await {
                Some(Ok(c)) => c,
                Some(Err(never)) => match never {},
                None => return None,
            };
            if st.decoder.push(&chunk).is_err() {
                // Our own output is well formed; anything else passes as is.
                return Some((Ok(chunk), st));
            }
            let mut out = String::new();
            while let Some(ev) = st.decoder.next_event() {
                let data = restore_event(&ev.data, &st.restorer, &mut st.texts);
                out.push_str("data: ");
                out.push_str(&data);
                out.push_str("\n\n");
            }
            if !out.is_empty() {
                return Some((Ok(Bytes::from(out)), st));
            }
        }
    });
    Box::pin(s)
}

fn restore_event(
    data: &str,
    r: &Restorer,
    texts: &mut HashMap<(u64, i64), StreamRestorer>,
) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(data) else {
        return data.to_owned();
    };
    if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
        for c in choices {
            let index = c.get("index").and_then(Value::as_u64).unwrap_or(0);
            let finished = c.get("finish_reason").is_some_and(|f| !f.is_null());
            let Some(delta) = c.get_mut("delta") else {
                continue;
            };
            let mut fix = |slot: Option<&mut Value>, key: i64| {
                let state = texts.entry((index, key)).or_default();
                let mut text = match slot.as_deref() {
                    Some(Value::String(s)) => state.push(r, s),
                    _ => String::new(),
                };
                if finished {
                    text.push_str(&state.finish(r));
                }
                match slot {
                    Some(v) => *v = Value::String(text),
                    None if !text.is_empty() => return Some(text),
                    None => {}
                }
                None
            };
            if let Some(rest) = fix(delta.get_mut("content"), -1)
                && let Some(d) = delta.as_object_mut()
            {
                d.insert("content".into(), Value::String(rest));
            }
            if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
                for call in calls {
                    let k = call.get("index").and_then(Value::as_i64).unwrap_or(0);
                    let args = call
                        .get_mut("function")
                        .and_then(|f| f.get_mut("arguments"));
                    if args.is_some() {
                        let _ = fix(args, k);
                    }
                }
            }
        }
    }
    serde_json::to_string(&v).unwrap_or_else(|_| data.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::sensitivity::Scanner;
    use crate::config::Policy;

    fn findings(req: &ChatRequest) -> Vec<Finding> {
        let (segments, un) = req.segments();
        crate::classify::sensitivity(&Scanner::new(), &Policy::default(), &[], &segments, un, &[])
            .findings
    }

    fn chat(body: Value) -> ChatRequest {
        ChatRequest::parse(&serde_json::to_vec(&body).expect("json")).expect("valid")
    }

    #[test]
    fn replaces_every_finding_with_stable_placeholders() {
        let req = chat(serde_json::json!({"model": "m", "messages": [
            {"role": "user", "content": "mail jane@example.com and bob@example.org, again jane@example.com"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "1", "type": "function",
                "function": {"name": "pay", "arguments": "{\"card\": \"4111 1111 1111 1111\"}"}}]},
            {"role": "user", "content": [{"type": "text", "text": "cc jane@example.com"}]}]}));
        let (red, restorer) = redact(&req, &findings(&req), &[]);
        let text = serde_json::to_string(&*red.body).expect("json");
        for secret in ["jane@example.com", "bob@example.org", "4111"] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert_eq!(
            red.body["messages"][0]["content"],
            "mail <EMAIL_1> and <EMAIL_2>, again <EMAIL_1>"
        );
        assert_eq!(
            red.body["messages"][2]["content"][0]["text"],
            "cc <EMAIL_1>"
        );
        assert!(text.contains("<CREDIT_CARD_1>"));
        assert_eq!(
            restorer.restore("Sent to <EMAIL_2> and <EMAIL_1>; <UNKNOWN_9> stays"),
            "Sent to bob@example.org and jane@example.com; <UNKNOWN_9> stays"
        );
    }

    #[test]
    fn stream_restores_placeholders_split_across_pieces() {
        let req = chat(serde_json::json!({"model": "m", "messages": [
            {"role": "user", "content": "write to jane@example.com"}]}));
        let (_, r) = redact(&req, &findings(&req), &[]);
        let answer = "Dear <EMAIL_1>, a < b and <b>bold</b>. Bye <EMAIL_1>";
        for size in 1..=answer.len() {
            let mut s = StreamRestorer::default();
            let mut out = String::new();
            let bytes = answer.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                let mut j = (i + size).min(bytes.len());
                while !answer.is_char_boundary(j) {
                    j += 1;
                }
                out.push_str(&s.push(&r, &answer[i..j]));
                i = j;
            }
            out.push_str(&s.finish(&r));
            assert_eq!(
                out, "Dear jane@example.com, a < b and <b>bold</b>. Bye jane@example.com",
                "piece size {size}"
            );
        }
    }
}
