//! Preferences among candidates the router already cleared: latency and
//! conversation stickiness. They only reorder `Decision::candidates`, never
//! add to them, so no preference can move a request to another tier.
//!
//! - **Latency:** a moving average (EWMA, weight 0.2) of each backend and
//!   model's time to first byte (time to the first event of a stream, or
//!   to the whole JSON answer). A request with `x-airlock-max-latency-ms`
//!   tries the candidates that meet it first, fastest first, then those not
//!   measured yet, then the rest.
//! - **Stickiness:** a conversation (its gateway key and first user or
//!   system text, hashed) goes back to the backend and model that served it
//!   while that one is still a candidate, so local prompt caches are reused.
//!   At most `MAX_CONVERSATIONS` are remembered, each for `STICKY_TTL`.
//!
//! Must not: keep text (only salted 64-bit hashes), or drop a candidate.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::Target;
use crate::openai::{Role, Segment};

const MAX_CONVERSATIONS: usize = 50_000;
const STICKY_TTL: Duration = Duration::from_secs(3600);
const EWMA_WEIGHT: f64 = 0.2;
/// Bytes of the first text that identify a conversation.
const PREFIX: usize = 512;

#[derive(Default)]
pub struct Affinity {
    ttfb_ms: Mutex<HashMap<Target, f64>>,
    sticky: Mutex<HashMap<u64, (Target, Instant)>>,
    salt: RandomState,
}

impl std::fmt::Debug for Affinity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Affinity").finish_non_exhaustive()
    }
}

impl Affinity {
    /// Records one time to first byte.
    pub fn observe(&self, target: &Target, took: Duration) {
        let ms = took.as_secs_f64() * 1000.0;
        if let Ok(mut m) = self.ttfb_ms.lock() {
            m.entry(target.clone())
                .and_modify(|avg| *avg += EWMA_WEIGHT * (ms - *avg))
                .or_insert(ms);
        }
    }

    /// The moving average for `target`, if measured.
    pub fn ttfb_ms(&self, target: &Target) -> Option<f64> {
        self.ttfb_ms.lock().ok()?.get(target).copied()
    }

    /// The conversation a request belongs to: its key and the start (up to
    /// `PREFIX` bytes) of its first user or system text, which is what a
    /// prompt cache keys on too. `None` without such a text.
    pub fn conversation(&self, key: Option<&str>, segments: &[Segment<'_>]) -> Option<u64> {
        let first = segments
            .iter()
            .find(|s| matches!(s.role, Role::System | Role::User))?;
        let text = first.text.trim();
        let mut end = text.len().min(PREFIX);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut h = self.salt.build_hasher();
        h.write(key.unwrap_or("").as_bytes());
        h.write_u8(0xff);
        h.write(&text.as_bytes()[..end]);
        Some(h.finish())
    }

    /// Remembers which target served a conversation.
    pub fn stick(&self, conversation: u64, target: &Target) {
        let Ok(mut m) = self.sticky.lock() else {
            return;
        };
        let now = Instant::now();
        if m.len() >= MAX_CONVERSATIONS {
            m.retain(|_, (_, at)| now.duration_since(*at) < STICKY_TTL);
            if m.len() >= MAX_CONVERSATIONS {
                m.clear();
            }
        }
        m.insert(conversation, (target.clone(), now));
    }

    /// `candidates` in the order to try them.
    pub fn order(
        &self,
        candidates: &[Target],
        max_latency_ms: Option<u64>,
        conversation: Option<u64>,
    ) -> Vec<Target> {
        let mut out = candidates.to_vec();
        if let Some(limit) = max_latency_ms {
            let rank = |t: &Target| match self.ttfb_ms(t) {
                Some(ms) if ms <= limit as f64 => (0, ms),
                None => (1, 0.0),
                Some(ms) => (2, ms),
            };
            // Stable: equal ranks keep the pool's order.
            out.sort_by(|a, b| {
                let (ra, rb) = (rank(a), rank(b));
                ra.0.cmp(&rb.0).then(ra.1.total_cmp(&rb.1))
            });
            return out;
        }
        let sticky = conversation.and_then(|c| {
            let m = self.sticky.lock().ok()?;
            m.get(&c)
                .filter(|(_, at)| at.elapsed() < STICKY_TTL)
                .map(|(t, _)| t.clone())
        });
        if let Some(t) = sticky
            && let Some(i) = out.iter().position(|c| *c == t)
        {
            let t = out.remove(i);
            out.insert(0, t);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BackendId;
    use crate::openai::Field;

    fn t(b: usize) -> Target {
        Target {
            backend: BackendId(b),
            model: "m".into(),
        }
    }

    #[test]
    fn latency_orders_by_measured_time_and_keeps_everyone() {
        let a = Affinity::default();
        a.observe(&t(0), Duration::from_millis(900));
        a.observe(&t(1), Duration::from_millis(40));
        a.observe(&t(2), Duration::from_millis(120));
        let order = a.order(&[t(0), t(1), t(2), t(3)], Some(150), None);
        assert_eq!(order, vec![t(1), t(2), t(3), t(0)]);
        assert_eq!(a.order(&[t(0), t(1)], None, None), vec![t(0), t(1)]);
        // The average moves by a fifth of each new sample.
        a.observe(&t(1), Duration::from_millis(140));
        assert!((a.ttfb_ms(&t(1)).unwrap_or(0.0) - 60.0).abs() < 1e-9);
    }

    #[test]
    fn conversations_stick_while_their_target_is_a_candidate() {
        let a = Affinity::default();
        let seg = |text| Segment {
            message: 0,
            part: None,
            field: Field::Content,
            role: Role::User,
            text,
        };
        let c = a
            .conversation(Some("k"), &[seg("plan my trip")])
            .expect("id");
        assert_eq!(a.conversation(Some("k"), &[seg(" plan my trip ")]), Some(c));
        assert_ne!(a.conversation(Some("j"), &[seg("plan my trip")]), Some(c));
        a.stick(c, &t(2));
        assert_eq!(
            a.order(&[t(0), t(1), t(2)], None, Some(c)),
            vec![t(2), t(0), t(1)]
        );
        // Gone from the candidates (down, or not allowed): no effect.
        assert_eq!(a.order(&[t(0), t(1)], None, Some(c)), vec![t(0), t(1)]);
    }
}
