//! Volume: sliding-window counts of requests and tokens per task kind, per
//! rule and per gateway key, over the last hour (60 one-minute buckets), day
//! (24 one-hour buckets) and 30 days (30 one-day buckets). Rules match on
//! them (`tokens_per_day_at_least`, ...), so frequent tasks can go local once
//! owning beats renting.
//!
//! Every process counts what it sees in memory. With `[state] redis_url`
//! the counts are shared: a background task adds this process's new counts
//! to per-bucket Redis hashes (`{prefix}vol:{dim}:{window}:{bucket}`,
//! expiring with their window) every `state.sync_ms` and reads back the
//! totals of every dimension any replica has counted, so routing reads a
//! snapshot plus what is not flushed yet and never waits for Redis. When
//! Redis cannot be reached, routing uses this process's own counts, keeps
//! the unflushed counts for when it returns, and `/readyz` says so.
//!
//! Must not: hold a lock across an await, or lose a count on a failed sync.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::classify::Task;
use crate::state::{Redis, StateError};

/// The windows counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    Hour,
    Day,
    Month,
}

impl Window {
    pub const ALL: [Window; 3] = [Window::Hour, Window::Day, Window::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Window::Hour => "1h",
            Window::Day => "24h",
            Window::Month => "30d",
        }
    }

    /// Bucket width in seconds.
    fn width(self) -> u64 {
        match self {
            Window::Hour => 60,
            Window::Day => 3600,
            Window::Month => 86_400,
        }
    }

    /// Buckets per window.
    fn buckets(self) -> u64 {
        match self {
            Window::Hour => 60,
            Window::Day => 24,
            Window::Month => 30,
        }
    }

    /// Whether bucket `b` of this window is inside the window ending at `now`.
    fn live(self, b: u64, now: u64) -> bool {
        let cur = now / self.width();
        b <= cur && b + self.buckets() > cur
    }
}

/// Requests and tokens (prompt and completion apart: they are priced apart).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Cloud spend in millionths of a USD (priced by `prices`).
    pub spend_micro_usd: u64,
}

impl Count {
    pub fn tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

impl std::ops::AddAssign for Count {
    fn add_assign(&mut self, o: Count) {
        self.requests += o.requests;
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.spend_micro_usd += o.spend_micro_usd;
    }
}

/// What a counter counts: one task kind, one rule, one gateway key, or
/// everything (for the global budget).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dim {
    Task(Task),
    Rule(String),
    Key(String),
    All,
}

impl Dim {
    /// Stable id, used in Redis keys (`task:code`, `rule:default`, `key:team-a`).
    pub fn id(&self) -> String {
        match self {
            Dim::Task(t) => format!("task:{}", t.as_str()),
            Dim::Rule(r) => format!("rule:{r}"),
            Dim::Key(k) => format!("key:{k}"),
            Dim::All => "all".to_owned(),
        }
    }
}

/// Bucketed counts of one dimension: `(bucket index, count)` per window.
#[derive(Debug, Default, Clone)]
struct Series {
    buckets: [HashMap<u64, Count>; 3],
}

impl Series {
    fn add(&mut self, now: u64, c: Count) {
        for (i, w) in Window::ALL.into_iter().enumerate() {
            let map = &mut self.buckets[i];
            *map.entry(now / w.width()).or_default() += c;
            if map.len() as u64 > w.buckets() + 1 {
                map.retain(|&b, _| w.live(b, now));
            }
        }
    }

    fn sum(&self, w: Window, now: u64) -> Count {
        let mut out = Count::default();
        for (&b, &c) in &self.buckets[w as usize] {
            if w.live(b, now) {
                out += c;
            }
        }
        out
    }
}

/// Counts shared through Redis.
struct Shared {
    redis: Redis,
    /// Counts not yet added to Redis, and those being added right now.
    pending: HashMap<String, Series>,
    flushing: HashMap<String, Series>,
    /// Window totals of every dimension, as Redis last reported them.
    totals: HashMap<String, [Count; 3]>,
}

pub struct Volume {
    local: Mutex<HashMap<String, Series>>,
    shared: Option<Mutex<Shared>>,
    redis_ok: AtomicBool,
}

impl std::fmt::Debug for Volume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Volume")
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Volume {
    /// Counts kept in this process only.
    pub fn local() -> Volume {
        Volume {
            local: Mutex::default(),
            shared: None,
            redis_ok: AtomicBool::new(false),
        }
    }

    /// Counts shared through Redis; call `sync` periodically (`run_sync`).
    pub fn shared(redis: Redis) -> Volume {
        Volume {
            local: Mutex::default(),
            shared: Some(Mutex::new(Shared {
                redis,
                pending: HashMap::new(),
                flushing: HashMap::new(),
                totals: HashMap::new(),
            })),
            redis_ok: AtomicBool::new(false),
        }
    }

    /// `"off"`, `"ok"` or `"unreachable"`: what routing reads from.
    pub fn redis_state(&self) -> &'static str {
        match (&self.shared, self.redis_ok.load(Ordering::Relaxed)) {
            (None, _) => "off",
            (Some(_), true) => "ok",
            (Some(_), false) => "unreachable",
        }
    }

    /// Adds `c` to each dimension.
    pub fn record(&self, dims: &[Dim], c: Count) {
        self.record_at(dims, c, now_secs());
    }

    fn record_at(&self, dims: &[Dim], c: Count, now: u64) {
        if c == Count::default() {
            return;
        }
        let ids: Vec<String> = dims.iter().map(Dim::id).collect();
        if let Ok(mut local) = self.local.lock() {
            for id in &ids {
                local.entry(id.clone()).or_default().add(now, c);
            }
        }
        if let Some(shared) = &self.shared
            && let Ok(mut s) = shared.lock()
        {
            for id in ids {
                s.pending.entry(id).or_default().add(now, c);
            }
        }
    }

    /// The count of `dim` over `w`: shared totals plus what is not flushed
    /// yet when Redis answers, else this process's own count.
    pub fn count(&self, dim: &Dim, w: Window) -> Count {
        self.count_at(&dim.id(), w, now_secs())
    }

    fn count_at(&self, id: &str, w: Window, now: u64) -> Count {
        if let Some(shared) = &self.shared
            && self.redis_ok.load(Ordering::Relaxed)
            && let Ok(s) = shared.lock()
        {
            let mut c = s.totals.get(id).map(|t| t[w as usize]).unwrap_or_default();
            for map in [&s.pending, &s.flushing] {
                if let Some(series) = map.get(id) {
                    c += series.sum(w, now);
                }
            }
            return c;
        }
        self.local
            .lock()
            .ok()
            .and_then(|l| l.get(id).map(|s| s.sum(w, now)))
            .unwrap_or_default()
    }

    /// One exchange with Redis: add the pending counts, read every total.
    /// On failure the counts go back to pending and local counts rule.
    pub async fn sync(&self) -> Result<(), StateError> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let (redis, batch) = {
            let Ok(mut s) = shared.lock() else {
                return Ok(());
            };
            let batch = std::mem::take(&mut s.pending);
            s.flushing = batch.clone();
            (s.redis.clone(), batch)
        };
        let now = now_secs();
        let result = exchange(&redis, &batch, now).await;
        let Ok(mut s) = shared.lock() else {
            return Ok(());
        };
        s.flushing.clear();
        match result {
            Ok(totals) => {
                s.totals = totals;
                self.redis_ok.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                for (id, series) in batch {
                    let p = s.pending.entry(id).or_default();
                    for (i, map) in series.buckets.into_iter().enumerate() {
                        for (b, c) in map {
                            *p.buckets[i].entry(b).or_default() += c;
                        }
                    }
                }
                self.redis_ok.store(false, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Syncs every `interval` until the process ends; logs each change
    /// between reachable and unreachable once.
    pub async fn run_sync(self: std::sync::Arc<Self>, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut was_ok = true;
        loop {
            tick.tick().await;
            match self.sync().await {
                Ok(()) if !was_ok => {
                    tracing::info!("volume counters shared through redis again");
                    was_ok = true;
                }
                Err(e) if was_ok => {
                    tracing::warn!(error = %e, "redis unreachable; routing on this process's volume counts");
                    was_ok = false;
                }
                _ => {}
            }
        }
    }
}

fn bucket_key(redis: &Redis, id: &str, w: Window, b: u64) -> String {
    redis.key(&format!("vol:{id}:{}:{b}", w.as_str()))
}

/// Adds `batch` to Redis and reads the window totals of every dimension.
async fn exchange(
    redis: &Redis,
    batch: &HashMap<String, Series>,
    now: u64,
) -> Result<HashMap<String, [Count; 3]>, StateError> {
    let dims_key = redis.key("vol:dims");
    let mut conn = redis.conn();
    if !batch.is_empty() {
        let mut pipe = redis::pipe();
        for (id, series) in batch {
            pipe.sadd(&dims_key, id).ignore();
            for (i, w) in Window::ALL.into_iter().enumerate() {
                for (&b, &c) in &series.buckets[i] {
                    if !w.live(b, now) {
                        continue;
                    }
                    let key = bucket_key(redis, id, w, b);
                    pipe.hincr(&key, "r", c.requests).ignore();
                    pipe.hincr(&key, "i", c.input_tokens).ignore();
                    pipe.hincr(&key, "o", c.output_tokens).ignore();
                    pipe.hincr(&key, "s", c.spend_micro_usd).ignore();
                    pipe.expire(&key, ((w.buckets() + 1) * w.width()) as i64)
                        .ignore();
                }
            }
        }
        let () = redis.timed(pipe.query_async(&mut conn)).await?;
    }
    let ids: Vec<String> = redis
        .timed(redis::cmd("SMEMBERS").arg(&dims_key).query_async(&mut conn))
        .await?;
    let mut pipe = redis::pipe();
    let mut slots = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        for w in Window::ALL {
            let cur = now / w.width();
            for b in (cur + 1 - w.buckets())..=cur {
                pipe.cmd("HMGET")
                    .arg(bucket_key(redis, id, w, b))
                    .arg("r")
                    .arg("i")
                    .arg("o")
                    .arg("s");
                slots.push((n, w));
            }
        }
    }
    type Fields = (Option<u64>, Option<u64>, Option<u64>, Option<u64>);
    let values: Vec<Fields> = if slots.is_empty() {
        Vec::new()
    } else {
        redis.timed(pipe.query_async(&mut conn)).await?
    };
    let mut totals: HashMap<String, [Count; 3]> = HashMap::new();
    for ((n, w), (r, i, o, s)) in slots.into_iter().zip(values) {
        let entry = totals.entry(ids[n].clone()).or_default();
        entry[w as usize] += Count {
            requests: r.unwrap_or(0),
            input_tokens: i.unwrap_or(0),
            output_tokens: o.unwrap_or(0),
            spend_micro_usd: s.unwrap_or(0),
        };
    }
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn one(tokens: u64) -> Count {
        Count {
            requests: 1,
            input_tokens: tokens,
            ..Count::default()
        }
    }

    #[test]
    fn windows_slide() {
        let v = Volume::local();
        let code = Dim::Task(Task::Code);
        let id = code.id();
        v.record_at(std::slice::from_ref(&code), one(100), T0);
        v.record_at(std::slice::from_ref(&code), one(50), T0 + 30 * 60);
        let at = |now, w| v.count_at(&id, w, now);
        assert_eq!(
            at(T0 + 30 * 60, Window::Hour),
            Count {
                requests: 2,
                input_tokens: 150,
                ..Count::default()
            }
        );
        // 61 minutes later the first is out of the hour, still in the day.
        assert_eq!(at(T0 + 61 * 60, Window::Hour).requests, 1);
        assert_eq!(at(T0 + 61 * 60, Window::Day).requests, 2);
        // After two days only the month holds them; after 31, nothing.
        assert_eq!(at(T0 + 2 * 86_400, Window::Day).requests, 0);
        assert_eq!(at(T0 + 2 * 86_400, Window::Month).requests, 2);
        assert_eq!(at(T0 + 31 * 86_400, Window::Month), Count::default());
    }

    #[test]
    fn dimensions_are_separate_and_named() {
        let v = Volume::local();
        let dims = [
            Dim::Task(Task::Extraction),
            Dim::Rule("default".into()),
            Dim::Key("team-a".into()),
        ];
        v.record_at(&dims, one(10), T0);
        v.record_at(&dims[..1], one(10), T0);
        assert_eq!(v.count_at("task:extraction", Window::Hour, T0).requests, 2);
        assert_eq!(v.count_at("rule:default", Window::Hour, T0).requests, 1);
        assert_eq!(v.count_at("key:team-a", Window::Hour, T0).tokens(), 10);
        assert_eq!(v.count_at("key:team-b", Window::Hour, T0), Count::default());
    }

    #[test]
    fn buckets_stay_bounded() {
        let v = Volume::local();
        let d = [Dim::Task(Task::Chat)];
        for i in 0..10_000 {
            v.record_at(&d, one(1), T0 + i * 60);
        }
        let local = v.local.lock().expect("lock");
        let s = &local["task:chat"];
        for w in Window::ALL {
            assert!(
                s.buckets[w as usize].len() as u64 <= w.buckets() + 1,
                "{w:?}"
            );
        }
    }
}
