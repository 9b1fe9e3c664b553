//! Per-backend concurrency limits: a local GPU serves a few requests at
//! once, and a call beyond that waits in a bounded queue for a bounded
//! time instead of piling onto the server. Backends without
//! `max_concurrency` are unlimited and cost nothing here.
//!
//! A permit is held for the whole call, a stream included: it is released
//! when the answer's body is dropped (finished, failed, or the client went
//! away).

use crate::config::{BackendId, Config};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Capacity {
    gates: Vec<Option<Gate>>,
}

struct Gate {
    slots: Arc<Semaphore>,
    limit: crate::config::Capacity,
    waiting: Arc<AtomicU32>,
}

/// Why no slot was had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Every slot is taken and the caller would rather go elsewhere.
    Full,
    /// The queue is as long as allowed.
    QueueFull,
    /// Waited `queue_timeout` without a slot coming free.
    QueueTimeout,
}

impl Busy {
    pub fn as_str(self) -> &'static str {
        match self {
            Busy::Full => "busy",
            Busy::QueueFull => "queue_full",
            Busy::QueueTimeout => "queue_timeout",
        }
    }
}

/// A slot on a limited backend (or nothing, on an unlimited one); the slot
/// is free again when this is dropped.
pub type Permit = Option<OwnedSemaphorePermit>;

/// Counts one waiting call for as long as it lives.
struct Waiting(Arc<AtomicU32>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Capacity {
    pub fn new(config: &Config) -> Capacity {
        Capacity {
            gates: config
                .backends
                .iter()
                .map(|b| {
                    b.capacity.map(|limit| Gate {
                        slots: Arc::new(Semaphore::new(limit.max_concurrency as usize)),
                        limit,
                        waiting: Arc::new(AtomicU32::new(0)),
                    })
                })
                .collect(),
        }
    }

    /// A slot on `id`. When all are taken: with `wait` false the answer is
    /// `Busy::Full` at once (the caller has another backend to try);
    /// otherwise the call queues, if the queue has room, for at most the
    /// backend's `queue_timeout`.
    pub async fn acquire(&self, id: BackendId, wait: bool) -> Result<Permit, Busy> {
        let Some(Some(gate)) = self.gates.get(id.0) else {
            return Ok(None);
        };
        if let Ok(p) = Arc::clone(&gate.slots).try_acquire_owned() {
            return Ok(Some(p));
        }
        if !wait {
            return Err(Busy::Full);
        }
        let queued = gate
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < gate.limit.max_queue).then_some(n + 1)
            });
        if queued.is_err() {
            return Err(Busy::QueueFull);
        }
        let _waiting = Waiting(Arc::clone(&gate.waiting));
        match tokio::time::timeout(
            gate.limit.queue_timeout,
            Arc::clone(&gate.slots).acquire_owned(),
        )
        .await
        {
            Ok(Ok(p)) => Ok(Some(p)),
            // The semaphore is never closed; a closed one counts as a timeout.
            Ok(Err(_)) | Err(_) => Err(Busy::QueueTimeout),
        }
    }

    /// Calls in flight and calls waiting on `id` (`None`: unlimited).
    pub fn load(&self, id: BackendId) -> Option<(u32, u32)> {
        let gate = self.gates.get(id.0)?.as_ref()?;
        let free = gate.slots.available_permits() as u32;
        Some((
            gate.limit.max_concurrency.saturating_sub(free),
            gate.waiting.load(Ordering::Relaxed),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn capacity(max_concurrency: u32, max_queue: u32, queue_ms: u64) -> Capacity {
        Capacity {
            gates: vec![
                Some(Gate {
                    slots: Arc::new(Semaphore::new(max_concurrency as usize)),
                    limit: crate::config::Capacity {
                        max_concurrency,
                        max_queue,
                        queue_timeout: Duration::from_millis(queue_ms),
                    },
                    waiting: Arc::new(AtomicU32::new(0)),
                }),
                None,
            ],
        }
    }

    const LIMITED: BackendId = BackendId(0);
    const OPEN: BackendId = BackendId(1);

    #[tokio::test]
    async fn unlimited_backends_always_admit() {
        let c = capacity(1, 0, 10);
        let held: Vec<_> = futures_util::future::join_all((0..100).map(|_| c.acquire(OPEN, true)))
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("unlimited");
        assert_eq!(held.len(), 100);
        assert_eq!(c.load(OPEN), None);
    }

    #[tokio::test]
    async fn a_full_backend_refuses_at_once_when_the_caller_can_go_elsewhere() {
        let c = capacity(2, 4, 1_000);
        let a = c.acquire(LIMITED, false).await.expect("first");
        let _b = c.acquire(LIMITED, false).await.expect("second");
        assert_eq!(c.load(LIMITED), Some((2, 0)));
        assert_eq!(c.acquire(LIMITED, false).await.err(), Some(Busy::Full));
        drop(a);
        assert!(c.acquire(LIMITED, false).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_calls_get_the_slot_a_finished_one_frees() {
        let c = Arc::new(capacity(1, 4, 5_000));
        let held = c.acquire(LIMITED, true).await.expect("first");
        let waiter = {
            let c = Arc::clone(&c);
            tokio::spawn(async move { c.acquire(LIMITED, true).await.map(|p| p.is_some()) })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(c.load(LIMITED), Some((1, 1)));
        drop(held);
        assert_eq!(waiter.await.expect("join"), Ok(true));
        assert_eq!(c.load(LIMITED), Some((0, 0)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_queue_is_bounded_in_length_and_time() {
        let c = Arc::new(capacity(1, 1, 2_000));
        let _held = c.acquire(LIMITED, true).await.expect("first");
        let waiter = {
            let c = Arc::clone(&c);
            tokio::spawn(async move { c.acquire(LIMITED, true).await.err() })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        // One waits already: the next is turned away.
        assert_eq!(c.acquire(LIMITED, true).await.err(), Some(Busy::QueueFull));
        // The waiter gives up after queue_timeout, and stops counting.
        assert_eq!(waiter.await.expect("join"), Some(Busy::QueueTimeout));
        assert_eq!(c.load(LIMITED), Some((1, 0)));
    }
}
