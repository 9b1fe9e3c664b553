//! Conversation memory: once an exchange was sensitive, its messages and the
//! completion returned stay sensitive when a client resends them later, even
//! after the message that carried the finding has dropped out of the
//! history. Stored are keyed (salted) 64-bit hashes of whitespace-trimmed
//! texts per gateway key, with the level they carried, in a bounded map with
//! a TTL; never the text. System prompts are not remembered (they are shared
//! by every conversation of an app) and neither are texts shorter than
//! `min_chars` ("ok", "thanks"), so one sensitive chat cannot taint all.
//! Texts that carry findings themselves are not remembered either: a resend
//! finds them again (and redaction can replace them); memory covers the
//! rest of the exchange, which no scan would flag.
//!
//! Limits: memory is per process (replicas sharing it through Redis come
//! later). A streamed completion is remembered when its stream ends.

use crate::openai::{Role, Segment};
use crate::types::Level;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct MemorySettings {
    pub enabled: bool,
    pub ttl: Duration,
    pub max_entries: usize,
    pub min_chars: usize,
}

impl Default for MemorySettings {
    fn default() -> Self {
        MemorySettings {
            enabled: true,
            ttl: Duration::from_secs(24 * 3600),
            max_entries: 100_000,
            min_chars: 24,
        }
    }
}

pub struct Memory {
    settings: MemorySettings,
    /// Per-process random keys: the salt of every fingerprint.
    salt: RandomState,
    entries: Mutex<HashMap<u64, (Level, Instant)>>,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("settings", &self.settings)
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

impl Memory {
    pub fn new(settings: MemorySettings) -> Memory {
        Memory {
            settings,
            salt: RandomState::new(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn fingerprint(&self, key: Option<&str>, text: &str) -> Option<u64> {
        let text = text.trim();
        if text.chars().count() < self.settings.min_chars {
            return None;
        }
        let mut h = self.salt.build_hasher();
        h.write(key.unwrap_or("").as_bytes());
        h.write_u8(0xff);
        h.write(text.as_bytes());
        Some(h.finish())
    }

    fn remembered_role(role: Role) -> bool {
        !matches!(role, Role::System)
    }

    /// The highest level remembered for any of these texts, if any.
    pub fn recall(&self, key: Option<&str>, segments: &[Segment<'_>]) -> Option<Level> {
        if !self.settings.enabled {
            return None;
        }
        let prints: Vec<u64> = segments
            .iter()
            .filter(|s| Self::remembered_role(s.role))
            .filter_map(|s| self.fingerprint(key, s.text))
            .collect();
        if prints.is_empty() {
            return None;
        }
        let now = Instant::now();
        let entries = self.entries.lock().ok()?;
        prints
            .iter()
            .filter_map(|p| entries.get(p))
            .filter(|(_, expires)| *expires > now)
            .map(|(level, _)| *level)
            .max()
    }

    /// Remembers the texts of an exchange at `level` (only above `public`).
    pub fn remember<'a>(
        &self,
        key: Option<&str>,
        level: Level,
        texts: impl IntoIterator<Item = (Role, &'a str)>,
    ) {
        if !self.settings.enabled || level == Level::Public {
            return;
        }
        let prints: Vec<u64> = texts
            .into_iter()
            .filter(|(role, _)| Self::remembered_role(*role))
            .filter_map(|(_, t)| self.fingerprint(key, t))
            .collect();
        if prints.is_empty() {
            return;
        }
        let now = Instant::now();
        let expires = now + self.settings.ttl;
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() + prints.len() > self.settings.max_entries {
            entries.retain(|_, (_, e)| *e > now);
            // Still full: drop the entries closest to expiry.
            let excess = (entries.len() + prints.len()).saturating_sub(self.settings.max_entries);
            if excess > 0 {
                let mut by_expiry: Vec<(u64, Instant)> =
                    entries.iter().map(|(k, (_, e))| (*k, *e)).collect();
                by_expiry.sort_by_key(|(_, e)| *e);
                for (k, _) in by_expiry.into_iter().take(excess) {
                    entries.remove(&k);
                }
            }
        }
        for p in prints {
            let slot = entries.entry(p).or_insert((level, expires));
            slot.0 = slot.0.max(level);
            slot.1 = expires;
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The assistant text of a non-streamed `chat.completion` body, if any.
pub fn completion_text(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let content = v.pointer("/choices/0/message/content")?.as_str()?;
    Some(content.to_owned())
}

/// Longest streamed completion kept to fingerprint (longer ones are cut).
const MAX_STREAMED_COMPLETION: usize = 1 << 20;

/// Passes an OpenAI SSE stream through unchanged while collecting the first
/// choice's `delta.content`; when the stream ends, `on_end` gets the text.
pub fn tap_completion(
    upstream: crate::providers::ByteStream,
    max_event_bytes: usize,
    on_end: impl FnOnce(String) + Send + 'static,
) -> crate::providers::ByteStream {
    use crate::providers::sse::SseDecoder;
    use futures_util::StreamExt;

    struct Tap<F> {
        upstream: crate::providers::ByteStream,
        decoder: SseDecoder,
        text: String,
        on_end: Option<F>,
    }
    let state = Tap {
        upstream,
        decoder: SseDecoder::new(max_event_bytes),
        text: String::new(),
        on_end: Some(on_end),
    };
    Box::pin(futures_util::stream::unfold(state, |mut t| async move {
        match t.upstream.next().await {
            Some(Ok(chunk)) => {
                if t.decoder.push(&chunk).is_ok() {
                    while let Some(ev) = t.decoder.next_event() {
                        let Ok(v) = serde_json::from_str::<serde_json::Value>(&ev.data) else {
                            continue;
                        };
                        if let Some(piece) = v
                            .pointer("/choices/0/delta/content")
                            .and_then(|c| c.as_str())
                            && t.text.len() + piece.len() <= MAX_STREAMED_COMPLETION
                        {
                            t.text.push_str(piece);
                        }
                    }
                }
                Some((Ok(chunk), t))
            }
            Some(Err(never)) => match never {},
            None => {
                if let Some(f) = t.on_end.take() {
                    f(std::mem::take(&mut t.text));
                }
                None
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::Field;

    fn seg(role: Role, text: &str) -> Segment<'_> {
        Segment {
            message: 0,
            part: None,
            field: Field::Content,
            role,
            text,
        }
    }

    const LONG: &str = "please file the claim for the patient we discussed";

    #[test]
    fn remembers_per_key_and_ignores_short_and_system_texts() {
        let m = Memory::new(MemorySettings::default());
        m.remember(
            Some("a"),
            Level::Restricted,
            [
                (Role::User, LONG),
                (Role::User, "ok"),
                (Role::System, "You are a helpful assistant for the team."),
            ],
        );
        assert_eq!(
            m.recall(Some("a"), &[seg(Role::User, LONG)]),
            Some(Level::Restricted)
        );
        assert_eq!(
            m.recall(Some("a"), &[seg(Role::Assistant, &format!("  {LONG}\n"))]),
            Some(Level::Restricted),
            "whitespace-trimmed, any non-system role"
        );
        assert_eq!(
            m.recall(Some("b"), &[seg(Role::User, LONG)]),
            None,
            "per key"
        );
        assert_eq!(m.recall(Some("a"), &[seg(Role::User, "ok")]), None);
        assert_eq!(
            m.recall(
                Some("a"),
                &[seg(
                    Role::System,
                    "You are a helpful assistant for the team."
                )]
            ),
            None
        );
    }

    #[test]
    fn public_is_not_remembered_and_levels_only_rise() {
        let m = Memory::new(MemorySettings::default());
        m.remember(None, Level::Public, [(Role::User, LONG)]);
        assert!(m.is_empty());
        m.remember(None, Level::Restricted, [(Role::User, LONG)]);
        m.remember(None, Level::Confidential, [(Role::User, LONG)]);
        assert_eq!(
            m.recall(None, &[seg(Role::User, LONG)]),
            Some(Level::Restricted)
        );
    }

    #[test]
    fn bounded_and_expiring() {
        let m = Memory::new(MemorySettings {
            max_entries: 10,
            ..MemorySettings::default()
        });
        let texts: Vec<String> = (0..25).map(|i| format!("{LONG} number {i}")).collect();
        for t in &texts {
            m.remember(None, Level::Confidential, [(Role::User, t.as_str())]);
        }
        assert!(m.len() <= 10);
        assert_eq!(
            m.recall(None, &[seg(Role::User, &texts[24])]),
            Some(Level::Confidential),
            "the newest survive"
        );
        let m = Memory::new(MemorySettings {
            ttl: Duration::ZERO,
            ..MemorySettings::default()
        });
        m.remember(None, Level::Restricted, [(Role::User, LONG)]);
        assert_eq!(m.recall(None, &[seg(Role::User, LONG)]), None, "expired");
    }

    #[test]
    fn disabled_does_nothing() {
        let m = Memory::new(MemorySettings {
            enabled: false,
            ..MemorySettings::default()
        });
        m.remember(None, Level::Restricted, [(Role::User, LONG)]);
        assert_eq!(m.recall(None, &[seg(Role::User, LONG)]), None);
    }

    #[test]
    fn completion_text_reads_the_first_choice() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":"hello there"}}]}"#;
        assert_eq!(completion_text(body).as_deref(), Some("hello there"));
        assert_eq!(completion_text(b"not json"), None);
    }
}
