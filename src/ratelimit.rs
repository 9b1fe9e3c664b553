//! Per-key rate limits: requests and tokens per minute (`[[keys]]`
//! `requests_per_minute`, `tokens_per_minute`).
//!
//! Each limit is a sliding-window counter: this minute's count plus the
//! last minute's, weighted by how much of it still lies within the last 60
//! seconds. A request is let in while the requests so counted stay within
//! the limit, and while the tokens counted are below theirs; its prompt
//! tokens (estimated) count when it is let in, its answer's tokens when the
//! answer is known.
//!
//! Counts live in this process, and in Redis when `[state] redis_url` is
//! set, so that replicas share one budget per key (a counter per key, kind
//! and minute, expiring after two). When Redis does not answer, the local
//! counts decide: the gateway keeps serving and limits per process.

use crate::state::Redis;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A key's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
}

impl Limits {
    pub fn is_set(&self) -> bool {
        self.requests_per_minute.is_some() || self.tokens_per_minute.is_some()
    }
}

/// Why a request was not let in.
#[derive(Debug, Clone, PartialEq)]
pub struct Limited {
    /// "requests" or "tokens".
    pub what: &'static str,
    pub limit: u64,
    /// Until enough of the window has passed.
    pub retry_after: Duration,
}

#[derive(Debug, Default, Clone, Copy)]
struct Window {
    minute: u64,
    current: u64,
    previous: u64,
}

impl Window {
    /// Moves to `minute`, dropping counts older than the last one.
    fn roll(&mut self, minute: u64) {
        if minute == self.minute {
            return;
        }
        self.previous = if minute == self.minute + 1 {
            self.current
        } else {
            0
        };
        self.current = 0;
        self.minute = minute;
    }
}

/// The sliding estimate from this minute's and the last minute's counts,
/// `elapsed` seconds into this minute.
fn estimate(current: u64, previous: u64, elapsed: f64) -> f64 {
    current as f64 + previous as f64 * (1.0 - elapsed / 60.0).max(0.0)
}

/// How long until the estimate falls to `room` below `limit`: the share of
/// the last minute still counted must shrink by the excess.
fn wait(current: u64, previous: u64, elapsed: f64, limit: u64, room: u64) -> Duration {
    let target = limit.saturating_sub(room) as f64;
    if previous == 0 || current as f64 > target {
        // Only this minute's own counts are over: wait for the next minute.
        return Duration::from_secs_f64((60.0 - elapsed).max(1.0));
    }
    let need = (estimate(current, previous, elapsed) - target) / previous as f64 * 60.0;
    Duration::from_secs_f64(need.clamp(1.0, 60.0))
}

#[derive(Default)]
struct Counts {
    requests: Window,
    tokens: Window,
}

pub struct RateLimiter {
    local: Mutex<HashMap<String, Counts>>,
    redis: Option<Redis>,
}

fn now() -> (u64, f64) {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let minute = (t / 60.0) as u64;
    (minute, t - minute as f64 * 60.0)
}

impl RateLimiter {
    pub fn new(redis: Option<Redis>) -> RateLimiter {
        RateLimiter {
            local: Mutex::new(HashMap::new()),
            redis,
        }
    }

    /// Lets a request of `key` in, counting it and its `prompt_tokens`, or
    /// says which limit it is over.
    pub async fn admit(
        &self,
        key: &str,
        limits: Limits,
        prompt_tokens: u64,
    ) -> Result<(), Limited> {
        if !limits.is_set() {
            return Ok(());
        }
        let (minute, elapsed) = now();
        // Over in this process alone is over everywhere.
        self.admit_local(key, limits, prompt_tokens, minute, elapsed)?;
        let Some(redis) = &self.redis else {
            return Ok(());
        };
        match admit_shared(redis, key, limits, prompt_tokens, minute, elapsed).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "rate limit counts from this process only");
                Ok(())
            }
        }
    }

    fn admit_local(
        &self,
        key: &str,
        limits: Limits,
        prompt_tokens: u64,
        minute: u64,
        elapsed: f64,
    ) -> Result<(), Limited> {
        let mut map = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let c = map.entry(key.to_owned()).or_default();
        c.requests.roll(minute);
        c.tokens.roll(minute);
        check(
            limits,
            (c.requests.current, c.requests.previous),
            (c.tokens.current, c.tokens.previous),
            elapsed,
        )?;
        c.requests.current += 1;
        c.tokens.current += prompt_tokens;
        Ok(())
    }

    /// Counts `tokens` more for `key` (an answer's output tokens); the
    /// Redis count is updated in the background.
    pub fn add_tokens(&self, key: &str, limits: Limits, tokens: u64) {
        if limits.tokens_per_minute.is_none() || tokens == 0 {
            return;
        }
        let (minute, _) = now();
        {
            let mut map = self.local.lock().unwrap_or_else(|p| p.into_inner());
            let c = map.entry(key.to_owned()).or_default();
            c.tokens.roll(minute);
            c.tokens.current += tokens;
        }
        if let Some(redis) = self.redis.clone() {
            let k = redis.key(&format!("rl:{key}:tokens:{minute}"));
            tokio::spawn(async move {
                let mut conn = redis.conn();
                let r: Result<(), _> = redis
                    .timed(
                        redis::pipe()
                            .incr(&k, tokens)
                            .ignore()
                            .expire(&k, 120)
                            .ignore()
                            .query_async(&mut conn),
                    )
                    .await;
                if let Err(e) = r {
                    tracing::debug!(error = %e, "rate limit tokens counted in this process only");
                }
            });
        }
    }
}

/// Whether one more request fits `limits` given the counts.
fn check(
    limits: Limits,
    requests: (u64, u64),
    tokens: (u64, u64),
    elapsed: f64,
) -> Result<(), Limited> {
    if let Some(limit) = limits.requests_per_minute
        && estimate(requests.0, requests.1, elapsed) + 1.0 > limit as f64
    {
        return Err(Limited {
            what: "requests",
            limit,
            retry_after: wait(requests.0, requests.1, elapsed, limit, 1),
        });
    }
    if let Some(limit) = limits.tokens_per_minute
        && estimate(tokens.0, tokens.1, elapsed) >= limit as f64
    {
        return Err(Limited {
            what: "tokens",
            limit,
            retry_after: wait(tokens.0, tokens.1, elapsed, limit, 1),
        });
    }
    Ok(())
}

/// The shared check: reads this and the last minute's counts of `key` in
/// Redis and, when the request fits, counts it there (a request let in by
/// two replicas at the same moment may pass a limit by one).
async fn admit_shared(
    redis: &Redis,
    key: &str,
    limits: Limits,
    prompt_tokens: u64,
    minute: u64,
    elapsed: f64,
) -> Result<Result<(), Limited>, crate::state::StateError> {
    let k = |what: &str, m: u64| redis.key(&format!("rl:{key}:{what}:{m}"));
    let mut conn = redis.conn();
    let (rc, rp, tc, tp): (Option<u64>, Option<u64>, Option<u64>, Option<u64>) = redis
        .timed(
            redis::pipe()
                .get(k("requests", minute))
                .get(k("requests", minute.saturating_sub(1)))
                .get(k("tokens", minute))
                .get(k("tokens", minute.saturating_sub(1)))
                .query_async(&mut conn),
        )
        .await?;
    let verdict = check(
        limits,
        (rc.unwrap_or(0), rp.unwrap_or(0)),
        (tc.unwrap_or(0), tp.unwrap_or(0)),
        elapsed,
    );
    if verdict.is_ok() {
        let (rk, tk) = (k("requests", minute), k("tokens", minute));
        let _: () = redis
            .timed(
                redis::pipe()
                    .incr(&rk, 1u64)
                    .ignore()
                    .expire(&rk, 120)
                    .ignore()
                    .incr(&tk, prompt_tokens)
                    .ignore()
                    .expire(&tk, 120)
                    .ignore()
                    .query_async(&mut conn),
            )
            .await?;
    }
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_minute_counts_less_as_it_slides_out() {
        assert_eq!(estimate(10, 60, 0.0), 70.0);
        assert_eq!(estimate(10, 60, 30.0), 40.0);
        assert_eq!(estimate(10, 60, 59.999).round(), 10.0);
    }

    #[test]
    fn requests_are_let_in_up_to_the_limit_and_told_when_to_retry() {
        let limits = Limits {
            requests_per_minute: Some(3),
            tokens_per_minute: None,
        };
        let l = RateLimiter::new(None);
        for _ in 0..3 {
            assert!(l.admit_local("k", limits, 10, 100, 5.0).is_ok());
        }
        let e = l.admit_local("k", limits, 10, 100, 6.0).expect_err("over");
        assert_eq!((e.what, e.limit), ("requests", 3));
        assert_eq!(e.retry_after, Duration::from_secs(54));
        // Another key has its own count.
        assert!(l.admit_local("other", limits, 10, 100, 6.0).is_ok());
        // Next minute, 30 s in: 3 * 0.5 = 1.5 still counted, room for 1.
        assert!(l.admit_local("k", limits, 10, 101, 30.0).is_ok());
        assert!(l.admit_local("k", limits, 10, 101, 30.0).is_err());
        // Two minutes on, the old counts are gone.
        assert!(l.admit_local("k", limits, 10, 103, 0.0).is_ok());
    }

    #[test]
    fn tokens_count_prompts_when_let_in_and_answers_later() {
        let limits = Limits {
            requests_per_minute: None,
            tokens_per_minute: Some(1_000),
        };
        let l = RateLimiter::new(None);
        assert!(l.admit_local("k", limits, 600, 7, 1.0).is_ok());
        // 600 counted, under 1000: let in, now 1200.
        assert!(l.admit_local("k", limits, 600, 7, 2.0).is_ok());
        let e = l.admit_local("k", limits, 1, 7, 3.0).expect_err("over");
        assert_eq!(e.what, "tokens");
    }

    #[tokio::test]
    async fn answer_tokens_add_to_the_count() {
        let limits = Limits {
            requests_per_minute: None,
            tokens_per_minute: Some(100),
        };
        let l = RateLimiter::new(None);
        assert!(l.admit("k", limits, 10).await.is_ok());
        l.add_tokens("k", limits, 500);
        assert!(l.admit("k", limits, 10).await.is_err());
    }

    #[tokio::test]
    async fn keys_without_limits_cost_nothing() {
        let l = RateLimiter::new(None);
        for _ in 0..1000 {
            assert!(l.admit("k", Limits::default(), 1_000_000).await.is_ok());
        }
        assert!(l.local.lock().expect("lock").is_empty());
    }
}
