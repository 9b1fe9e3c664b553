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
//! The store is in process by default: a bounded map with a TTL. With
//! `[state] redis_url` it is Redis (`redis`), so replicas agree; when Redis
//! cannot answer in time, a request with texts to look up is treated as if
//! its memory said `policy.unscannable` (fail closed), and the outage is
//! logged. A streamed completion is remembered when its stream ends.

mod redis;

use crate::openai::{Field, Role, Segment};
use crate::types::Level;
use siphasher::sip::SipHasher13;
use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{Arc, Mutex};
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

/// Where a segment sits in its request.
pub type Place = (usize, Option<usize>, Field);

/// What memory knows about one request's texts.
#[derive(Debug, Clone, Default)]
pub struct Recall {
    /// Each text that was looked up, with the level remembered for it.
    pub seen: Vec<(Place, Option<Level>)>,
    /// The store could not answer, so `seen` holds no levels.
    pub unavailable: bool,
}

impl Recall {
    /// The highest level remembered for the texts `counts` selects.
    pub fn level(&self, counts: impl Fn(Place) -> bool) -> Option<Level> {
        self.seen
            .iter()
            .filter(|(p, _)| counts(*p))
            .filter_map(|(_, l)| *l)
            .max()
    }

    /// Whether the store failed while a text `counts` selects needed it.
    pub fn failed_for(&self, counts: impl Fn(Place) -> bool) -> bool {
        self.unavailable && self.seen.iter().any(|(p, _)| counts(*p))
    }
}

enum Store {
    Local {
        keys: (u64, u64),
        entries: Mutex<HashMap<u64, (Level, Instant)>>,
    },
    Redis(Arc<redis::RedisStore>),
}

pub struct Memory {
    settings: MemorySettings,
    store: Store,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = match self.store {
            Store::Local { .. } => "local",
            Store::Redis(_) => "redis",
        };
        f.debug_struct("Memory")
            .field("settings", &self.settings)
            .field("store", &store)
            .finish_non_exhaustive()
    }
}

impl Memory {
    /// An in-process memory with fresh random salt keys.
    pub fn new(settings: MemorySettings) -> Memory {
        Memory {
            settings,
            store: Store::Local {
                keys: (rand::random(), rand::random()),
                entries: Mutex::new(HashMap::new()),
            },
        }
    }

    /// A memory in Redis (`[state] redis_url`), shared by replicas.
    pub fn shared(settings: MemorySettings, redis: crate::state::Redis) -> Memory {
        Memory {
            settings,
            store: Store::Redis(Arc::new(redis::RedisStore::new(redis))),
        }
    }

    /// Whether memory covers a text: not a system prompt, and long enough.
    fn covers(&self, role: Role, text: &str) -> bool {
        !matches!(role, Role::System) && text.trim().chars().count() >= self.settings.min_chars
    }

    /// The fingerprint of each text memory covers, by place.
    fn prints(
        &self,
        keys: (u64, u64),
        key: Option<&str>,
        segments: &[Segment<'_>],
    ) -> Vec<(Place, u64)> {
        segments
            .iter()
            .filter(|s| self.covers(s.role, s.text))
            .map(|s| ((s.message, s.part, s.field), fingerprint(keys, key, s.text)))
            .collect()
    }

    /// Looks every text of a request up.
    pub async fn recall(&self, key: Option<&str>, segments: &[Segment<'_>]) -> Recall {
        if !self.settings.enabled {
            return Recall::default();
        }
        match &self.store {
            Store::Local { keys, entries } => {
                // Nothing remembered yet (the common case for a gateway that
                // sees little sensitive traffic): no text needs hashing.
                if entries.lock().map(|e| e.is_empty()).unwrap_or(true) {
                    return Recall::default();
                }
                let prints = self.prints(*keys, key, segments);
                let now = Instant::now();
                let Ok(entries) = entries.lock() else {
                    return Recall::default();
                };
                let seen = prints
                    .into_iter()
                    .map(|(place, p)| {
                        let level = entries
                            .get(&p)
                            .filter(|(_, expires)| *expires > now)
                            .map(|(l, _)| *l);
                        (place, level)
                    })
                    .collect();
                Recall {
                    seen,
                    unavailable: false,
                }
            }
            Store::Redis(store) => {
                let places: Vec<Place> = segments
                    .iter()
                    .filter(|s| self.covers(s.role, s.text))
                    .map(|s| (s.message, s.part, s.field))
                    .collect();
                if places.is_empty() {
                    return Recall::default();
                }
                let looked_up = async {
                    let keys = store.salt().await?;
                    let prints = self.prints(keys, key, segments);
                    let ids: Vec<u64> = prints.iter().map(|(_, p)| *p).collect();
                    store.get(&ids).await
                };
                match looked_up.await {
                    Ok(levels) => Recall {
                        seen: places.into_iter().zip(levels).collect(),
                        unavailable: false,
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "conversation memory unavailable; failing closed");
                        Recall {
                            seen: places.into_iter().map(|p| (p, None)).collect(),
                            unavailable: true,
                        }
                    }
                }
            }
        }
    }

    /// Remembers the texts of an exchange at `level` (only above `public`).
    /// With Redis the write runs in the background; a failure is logged.
    pub fn remember<'a>(
        &self,
        key: Option<&str>,
        level: Level,
        texts: impl IntoIterator<Item = (Role, &'a str)>,
    ) {
        if !self.settings.enabled || level == Level::Public {
            return;
        }
        let texts: Vec<&str> = texts
            .into_iter()
            .filter(|(role, t)| self.covers(*role, t))
            .map(|(_, t)| t)
            .collect();
        if texts.is_empty() {
            return;
        }
        match &self.store {
            Store::Local { keys, entries } => {
                let prints: Vec<u64> = texts.iter().map(|t| fingerprint(*keys, key, t)).collect();
                if let Ok(mut entries) = entries.lock() {
                    self.insert(&mut entries, &prints, level);
                }
            }
            Store::Redis(store) => {
                let texts: Vec<String> = texts.iter().map(|t| t.trim().to_owned()).collect();
                let store = Arc::clone(store);
                let key = key.map(str::to_owned);
                let ttl = self.settings.ttl;
                tokio::spawn(async move {
                    let written = async {
                        let keys = store.salt().await?;
                        let prints: Vec<u64> = texts
                            .iter()
                            .map(|t| fingerprint(keys, key.as_deref(), t))
                            .collect();
                        store.raise(&prints, level, ttl).await
                    };
                    if let Err(e) = written.await {
                        tracing::warn!(error = %e, "conversation memory write failed");
                    }
                });
            }
        }
    }

    fn insert(&self, entries: &mut HashMap<u64, (Level, Instant)>, prints: &[u64], level: Level) {
        let now = Instant::now();
        let expires = now + self.settings.ttl;
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
        for &p in prints {
            let slot = entries.entry(p).or_insert((level, expires));
            slot.0 = slot.0.max(level);
            slot.1 = expires;
        }
    }

    /// Entries held in process (0 with Redis).
    pub fn len(&self) -> usize {
        match &self.store {
            Store::Local { entries, .. } => entries.lock().map(|e| e.len()).unwrap_or(0),
            Store::Redis(_) => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A salted fingerprint of a whitespace-trimmed text under a gateway key.
fn fingerprint(keys: (u64, u64), key: Option<&str>, text: &str) -> u64 {
    let mut h = SipHasher13::new_with_keys(keys.0, keys.1);
    h.write(key.unwrap_or("").as_bytes());
    h.write_u8(0xff);
    h.write(text.trim().as_bytes());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// What `m` recalls for `segs`, as the pipeline reads it.
    async fn recalled(m: &Memory, key: Option<&str>, segs: &[Segment<'_>]) -> Option<Level> {
        m.recall(key, segs).await.level(|_| true)
    }

    #[tokio::test]
    async fn remembers_per_key_and_ignores_short_and_system_texts() {
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
            recalled(&m, Some("a"), &[seg(Role::User, LONG)]).await,
            Some(Level::Restricted)
        );
        assert_eq!(
            recalled(
                &m,
                Some("a"),
                &[seg(Role::Assistant, &format!("  {LONG}\n"))]
            )
            .await,
            Some(Level::Restricted),
            "whitespace-trimmed, any non-system role"
        );
        assert_eq!(
            recalled(&m, Some("b"), &[seg(Role::User, LONG)]).await,
            None,
            "per key"
        );
        assert_eq!(
            recalled(&m, Some("a"), &[seg(Role::User, "ok")]).await,
            None
        );
        assert_eq!(
            recalled(
                &m,
                Some("a"),
                &[seg(
                    Role::System,
                    "You are a helpful assistant for the team."
                )]
            )
            .await,
            None
        );
    }

    #[tokio::test]
    async fn public_is_not_remembered_and_levels_only_rise() {
        let m = Memory::new(MemorySettings::default());
        m.remember(None, Level::Public, [(Role::User, LONG)]);
        assert!(m.is_empty());
        m.remember(None, Level::Restricted, [(Role::User, LONG)]);
        m.remember(None, Level::Confidential, [(Role::User, LONG)]);
        assert_eq!(
            recalled(&m, None, &[seg(Role::User, LONG)]).await,
            Some(Level::Restricted)
        );
    }

    #[tokio::test]
    async fn bounded_and_expiring() {
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
            recalled(&m, None, &[seg(Role::User, &texts[24])]).await,
            Some(Level::Confidential),
            "the newest survive"
        );
        let m = Memory::new(MemorySettings {
            ttl: Duration::ZERO,
            ..MemorySettings::default()
        });
        m.remember(None, Level::Restricted, [(Role::User, LONG)]);
        assert_eq!(
            recalled(&m, None, &[seg(Role::User, LONG)]).await,
            None,
            "expired"
        );
    }

    #[tokio::test]
    async fn disabled_does_nothing() {
        let m = Memory::new(MemorySettings {
            enabled: false,
            ..MemorySettings::default()
        });
        m.remember(None, Level::Restricted, [(Role::User, LONG)]);
        assert_eq!(recalled(&m, None, &[seg(Role::User, LONG)]).await, None);
    }
}
