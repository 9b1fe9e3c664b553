//! The data-flow audit: one record per request in an embedded SQLite
//! database (`[audit]`), saying what went where and what it cost, never
//! what was said: levels, finding counts by category and kind, task,
//! complexity, rule, tier, backend, model, tokens, cost, timings, outcome,
//! and a salted hash of the conversation's opening.
//!
//! **Never on the request path.** [`Audit::record`] hands the record to a
//! bounded queue and returns; one writer thread stores records in batches.
//! A full queue, a full disk or a broken database drops records: each drop
//! is counted ([`Audit::dropped`]) and logged, and no request fails for it.
//!
//! **Tamper evidence.** Records are chained: each one's hash is the SHA-256
//! of the previous hash and its own canonical JSON, so that `airlock audit
//! verify` finds an edited, inserted or deleted record (see [`store`]).
//!
//! **Crash safety.** The database runs in write-ahead-log mode: a committed
//! batch survives a crash of the process; records still queued (at most
//! `BATCH_WAIT`, 200 ms, of traffic) do not. A graceful shutdown stores
//! them before the process exits.
//!
//! Must not: store prompt or completion text, or any finding's value.

pub mod report;
pub mod store;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::time::{Duration, Instant};

/// One request, as the audit keeps it. Field order is the canonical JSON
/// order the chain hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AuditRow {
    /// Unix time of arrival, milliseconds.
    pub time_ms: i64,
    pub request_id: String,
    /// The gateway key's name.
    pub key: Option<String>,
    /// `chat`, `embeddings`, `messages`...
    pub endpoint: String,
    /// The sensitivity level: `public` .. `restricted`.
    pub level: String,
    /// Findings per category (`pii`, `secret`...), counts only.
    pub categories: BTreeMap<String, u32>,
    /// Findings per kind (`email`, `credit_card`...), counts only.
    pub kinds: BTreeMap<String, u32>,
    pub task: String,
    pub complexity: f64,
    pub rule: Option<String>,
    pub tier: Option<String>,
    pub backend: Option<String>,
    pub model: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    /// Whether the token counts are estimates (the upstream reported none).
    pub tokens_estimated: bool,
    pub cost_usd: f64,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub status: u16,
    /// `ok`, `blocked`, `upstream_error`, ...
    pub outcome: String,
    /// Salted SHA-256 (hex) of the conversation's opening: requests of one
    /// conversation share it; the text cannot be read back from it.
    pub conversation: Option<String>,
    /// The texts, only for a rule with `audit_content = true` (absent from
    /// the JSON otherwise, so rows without text hash as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion: Option<String>,
}

/// `[audit]`.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    pub enabled: bool,
    pub path: PathBuf,
    /// Records older than this are deleted (the chain keeps an anchor).
    pub retention_days: u32,
    /// Records waiting for the writer, at most.
    pub queue: usize,
    /// The conversation-hash salt, from this env var; else one is made and
    /// kept in the database.
    pub salt: Option<secrecy::SecretString>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            enabled: true,
            path: PathBuf::from("airlock-audit.sqlite"),
            retention_days: 90,
            queue: 10_000,
            salt: None,
        }
    }
}

/// Longest a record waits in the writer before its batch is stored.
pub const BATCH_WAIT: Duration = Duration::from_millis(200);
/// Most records stored in one transaction.
const BATCH_MAX: usize = 512;
/// How often old records are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The handle the gateway records through. Cheap to clone.
#[derive(Clone)]
pub struct Audit {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    /// The writer thread, to unpark.
    writer: std::thread::Thread,
    /// Queued rows that make the sender wake the writer.
    wake_at: usize,
}

struct Shared {
    /// Rows sent since the writer last drained the queue (approximate):
    /// the sender that fills a batch wakes the writer.
    queued: AtomicUsize,
    dropped: AtomicU64,
    written: AtomicU64,
    salt: Vec<u8>,
}

enum Msg {
    Row(Box<AuditRow>),
    /// Store what is queued now and answer.
    Flush(SyncSender<()>),
}

impl Audit {
    /// Opens (or creates) the database and starts the writer thread.
    pub fn open(settings: &AuditSettings) -> Result<Audit, store::StoreError> {
        let mut db = store::Store::open(&settings.path)?;
        let salt = match &settings.salt {
            Some(s) => {
                use secrecy::ExposeSecret;
                s.expose_secret().as_bytes().to_vec()
            }
            None => db.salt()?,
        };
        let (tx, rx) = sync_channel(settings.queue.max(1));
        let shared = Arc::new(Shared {
            queued: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
            salt,
        });
        let retention = Duration::from_secs(u64::from(settings.retention_days) * 86_400);
        let writer = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("airlock-audit".into())
            .spawn(move || write_loop(&mut db, &rx, &writer, retention))
            .map_err(|e| store::StoreError::Io(e.to_string()))?;
        Ok(Audit {
            tx,
            shared,
            writer: handle.thread().clone(),
            // A full batch, or half the queue when that is smaller.
            wake_at: BATCH_MAX.min(settings.queue.max(2) / 2),
        })
    }

    /// Queues `row` for storage; never blocks. A full queue drops it
    /// (counted).
    pub fn record(&self, row: AuditRow) {
        match self.tx.try_send(Msg::Row(Box::new(row))) {
            Ok(()) => {
                if self.shared.queued.fetch_add(1, Ordering::Relaxed) + 1 == self.wake_at {
                    self.writer.unpark();
                }
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let n = self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                // The first drop, then one line per 1000.
                if n.is_multiple_of(1000) {
                    tracing::warn!(dropped = n + 1, "audit queue full: records dropped");
                }
            }
        }
    }

    /// Waits until everything queued so far is stored (tests, shutdown).
    pub fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = sync_channel(1);
        if self.tx.send(Msg::Flush(tx)).is_err() {
            return false;
        }
        self.writer.unpark();
        rx.recv_timeout(timeout).is_ok()
    }

    /// Records dropped so far (queue full, storage failing).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Records stored so far by this process.
    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }

    /// The salted hash (hex) of a conversation's opening texts.
    pub fn conversation_hash<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> String {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(&(self.shared.salt.len() as u64).to_le_bytes());
        ctx.update(&self.shared.salt);
        for t in texts {
            ctx.update(&(t.len() as u64).to_le_bytes());
            ctx.update(t.as_bytes());
        }
        store::hex(ctx.finish().as_ref())
    }
}

fn write_loop(db: &mut store::Store, rx: &Receiver<Msg>, shared: &Shared, retention: Duration) {
    let mut batch: Vec<AuditRow> = Vec::with_capacity(BATCH_MAX);
    let mut waiters: Vec<SyncSender<()>> = Vec::new();
    let mut last_prune: Option<Instant> = None;
    loop {
        // Block for the first message after an idle spell. Then gather for
        // up to BATCH_WAIT without waiting on the channel: a sender only
        // wakes a receiver blocked in `recv`, so while this thread sleeps
        // in `park_timeout` requests queue their rows without a wake-up
        // (a futex call and two context switches each, on the cores that
        // serve them). `Audit::record` unparks it early once a batch is
        // full, `Audit::flush` at once.
        let first = match rx.recv() {
            Ok(m) => m,
            Err(_) => return,
        };
        let deadline = Instant::now() + BATCH_WAIT;
        let mut next = Some(first);
        let mut closed = false;
        loop {
            while let Some(m) = next.take() {
                match m {
                    Msg::Row(r) => batch.push(*r),
                    Msg::Flush(w) => waiters.push(w),
                }
                if batch.len() >= BATCH_MAX {
                    break;
                }
                next = try_next(rx, &mut closed);
            }
            shared.queued.store(0, Ordering::Relaxed);
            let left = deadline.saturating_duration_since(Instant::now());
            if closed || !waiters.is_empty() || batch.len() >= BATCH_MAX || left.is_zero() {
                break;
            }
            std::thread::park_timeout(left);
            next = try_next(rx, &mut closed);
        }
        store_batch(db, &mut batch, shared);
        for w in waiters.drain(..) {
            let _ = w.try_send(());
        }
        if closed {
            return;
        }
        if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(Instant::now());
            let cutoff = now_ms() - retention.as_millis() as i64;
            if let Err(e) = db.prune_before(cutoff) {
                tracing::warn!(error = %e, "audit: pruning old records failed");
            }
        }
    }
}

/// The next queued message, if any; sets `closed` once every sender is gone.
fn try_next(rx: &Receiver<Msg>, closed: &mut bool) -> Option<Msg> {
    match rx.try_recv() {
        Ok(m) => Some(m),
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Disconnected) => {
            *closed = true;
            None
        }
    }
}

fn store_batch(db: &mut store::Store, batch: &mut Vec<AuditRow>, shared: &Shared) {
    if batch.is_empty() {
        return;
    }
    match db.append(batch) {
        Ok(()) => {
            shared
                .written
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        Err(e) => {
            shared
                .dropped
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            tracing::warn!(error = %e, records = batch.len(), "audit: records could not be stored and were dropped");
        }
    }
    batch.clear();
}

/// The start of a `--since` window (`30m`, `24h`, `7d`, `all`) as Unix
/// milliseconds, counted back from `now_ms`.
pub fn parse_since(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    if s == "all" {
        return Ok(i64::MIN);
    }
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit (30m, 24h, 7d) or all"))?;
    let ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{s:?}: the unit must be m, h or d")),
    };
    Ok(now_ms.saturating_sub(n.saturating_mul(ms)))
}

/// Unix time now, milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Feeds the audit from the gateway's per-request records: requests that
/// can carry data somewhere (chat, embeddings, Anthropic messages), not
/// lookups (models, cost, explain, token counts).
pub struct AuditSink(pub Audit);

impl crate::observe::Sink for AuditSink {
    fn record(&self, r: &crate::observe::Record) {
        use crate::observe::Endpoint;
        if matches!(
            r.endpoint,
            Endpoint::Chat | Endpoint::Embeddings | Endpoint::Messages
        ) {
            self.0.record(AuditRow::from(r));
        }
    }
}

impl From<&crate::observe::Record> for AuditRow {
    fn from(r: &crate::observe::Record) -> AuditRow {
        AuditRow {
            time_ms: i64::try_from(r.unix_ms).unwrap_or(i64::MAX),
            request_id: r.request_id.clone(),
            key: r.key.clone(),
            endpoint: r.endpoint.as_str().to_owned(),
            level: r.level.map_or("none", |l| l.as_str()).to_owned(),
            categories: r
                .finding_categories()
                .map(|(c, n)| (c.as_str().to_owned(), n))
                .collect(),
            kinds: r.kinds.iter().cloned().collect(),
            task: r.task.map_or("none", |t| t.as_str()).to_owned(),
            complexity: r.complexity.unwrap_or(0.0),
            rule: r.rule.clone(),
            tier: r.tier.map(|t| t.as_str().to_owned()),
            backend: r.backend.clone(),
            model: r.model.clone(),
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cached_tokens: r.cached_tokens,
            tokens_estimated: r.tokens_estimated,
            cost_usd: r.cost_usd,
            latency_ms: r.latency.as_secs_f64() * 1000.0,
            ttft_ms: r.ttft.map(|d| d.as_secs_f64() * 1000.0),
            status: r.status,
            outcome: r.outcome.as_str().to_owned(),
            conversation: r.conversation.clone(),
            prompt: r.prompt_text.clone(),
            completion: r.completion_text.clone(),
        }
    }
}
