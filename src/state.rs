//! State shared by replicas (`[state]`): one Redis connection, made on
//! first use and remade after failures, used by conversation memory and the
//! volume counters. Every call is bounded by `timeout`, so a slow or absent
//! Redis costs a request at most that long; callers decide what a failure
//! means (memory fails closed, volume falls back to local counts).
//!
//! Must not: print the URL (it may hold a password).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Where shared state lives (`[state]`).
#[derive(Clone, Default)]
pub struct StateSettings {
    /// `redis://` or `unix://` URL; may hold a password, so never printed.
    pub redis_url: Option<secrecy::SecretString>,
    /// Prefix of every Redis key airlock writes.
    pub key_prefix: String,
    /// How long a request may wait for Redis.
    pub timeout: Duration,
    /// How often volume counters are exchanged with Redis.
    pub sync_interval: Duration,
}

impl std::fmt::Debug for StateSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSettings")
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .field("sync_interval", &self.sync_interval)
            .finish()
    }
}

/// Why Redis could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis holds a malformed value at {0}")]
    Malformed(String),
}

/// The shared Redis connection. Cheap to clone.
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl Redis {
    /// The connection `[state]` asks for, if any. The connection is made on
    /// first use, so a Redis that is down at start-up does not stop the
    /// gateway. Must run inside a Tokio runtime.
    pub fn from_settings(s: &StateSettings) -> Result<Option<Redis>, String> {
        use secrecy::ExposeSecret;
        let Some(url) = &s.redis_url else {
            return Ok(None);
        };
        let build = || -> Result<Redis, redis::RedisError> {
            let client = redis::Client::open(url.expose_secret())?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(s.timeout))
                .set_response_timeout(Some(s.timeout))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_secs(1));
            Ok(Redis {
                conn: ConnectionManager::new_lazy_with_config(client, config)?,
                prefix: s.key_prefix.clone(),
                timeout: s.timeout,
            })
        };
        // The error may quote the URL: name the key, not the value.
        build()
            .map(Some)
            .map_err(|_| "state.redis_url: not a usable Redis URL".to_owned())
    }

    /// `{prefix}{name}`.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A connection handle for one call.
    pub fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Runs one Redis call, bounded by the timeout.
    pub async fn timed<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StateError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(StateError::Timeout(self.timeout)),
        }
    }
}
