//! Conversation memory in Redis, so that replicas agree: a conversation
//! found sensitive through one replica stays sensitive through every other.
//! Each fingerprint is one key, `{prefix}mem:{16 hex digits}`, holding the
//! level's index with the memory TTL; levels only rise (one Lua script per
//! exchange). The fingerprint salt lives in Redis too (`{prefix}mem:salt`,
//! set once with `NX`), so every replica hashes alike and no salt has to be
//! configured. Nothing but fingerprints and levels is written.
//!
//! Redis bounds the store through the TTL and its own `maxmemory` policy
//! (`volatile-ttl` evicts the entries closest to expiry first).
//!
//! Must not: block a request longer than the configured timeout, or write
//! text, key names or the salt anywhere but Redis.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::types::Level;

/// Why Redis could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("redis holds a malformed salt at {0}")]
    BadSalt(String),
}

pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    salt: OnceCell<(u64, u64)>,
    raise: redis::Script,
}

/// Sets each key but the first to `ARGV[1]` unless it holds a higher level
/// already, and renews its TTL (`ARGV[2]` seconds) either way. The first
/// key is the salt, set to `ARGV[3]` if missing (a flushed or restarted
/// Redis gets back the salt the running replicas use).
const RAISE: &str = r"
redis.call('SET', KEYS[1], ARGV[3], 'NX')
for i = 2, #KEYS do
  local k = KEYS[i]
  local cur = tonumber(redis.call('GET', k) or '-1')
  if cur == nil or cur < tonumber(ARGV[1]) then
    redis.call('SET', k, ARGV[1], 'EX', ARGV[2])
  else
    redis.call('EXPIRE', k, ARGV[2])
  end
end
return #KEYS - 1
";

impl RedisStore {
    /// Builds the client; the connection is made on first use, so a Redis
    /// that is down at start-up does not stop the gateway. Must run inside
    /// a Tokio runtime.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(RedisStore {
            conn,
            prefix: prefix.to_owned(),
            timeout,
            salt: OnceCell::new(),
            raise: redis::Script::new(RAISE),
        })
    }

    async fn timed<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(StoreError::Timeout(self.timeout)),
        }
    }

    /// The salt shared by every replica: created by whichever asks first.
    pub async fn salt(&self) -> Result<(u64, u64), StoreError> {
        self.salt
            .get_or_try_init(|| async {
                let key = self.salt_key();
                let fresh = format!(
                    "{:016x}{:016x}",
                    rand::random::<u64>(),
                    rand::random::<u64>()
                );
                let mut c = self.conn.clone();
                let _: Option<String> = self
                    .timed(
                        redis::cmd("SET")
                            .arg(&key)
                            .arg(&fresh)
                            .arg("NX")
                            .query_async(&mut c),
                    )
                    .await?;
                let stored: Option<String> = self
                    .timed(redis::cmd("GET").arg(&key).query_async(&mut c))
                    .await?;
                stored
                    .as_deref()
                    .and_then(parse_salt)
                    .ok_or(StoreError::BadSalt(key))
            })
            .await
            .copied()
    }

    fn salt_key(&self) -> String {
        format!("{}mem:salt", self.prefix)
    }

    fn key(&self, print: u64) -> String {
        format!("{}mem:{print:016x}", self.prefix)
    }

    /// The level remembered for each fingerprint, in order.
    pub async fn get(&self, prints: &[u64]) -> Result<Vec<Option<Level>>, StoreError> {
        let keys: Vec<String> = prints.iter().map(|&p| self.key(p)).collect();
        let mut c = self.conn.clone();
        let values: Vec<Option<u8>> = self
            .timed(redis::cmd("MGET").arg(&keys).query_async(&mut c))
            .await?;
        Ok(values
            .into_iter()
            .map(|v| v.and_then(|i| Level::ALL.get(usize::from(i)).copied()))
            .collect())
    }

    /// Raises each fingerprint to `level` and renews its TTL.
    pub async fn raise(
        &self,
        prints: &[u64],
        level: Level,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let salt = self.salt().await?;
        let mut inv = self.raise.prepare_invoke();
        inv.key(self.salt_key());
        for &p in prints {
            inv.key(self.key(p));
        }
        inv.arg(level.index())
            .arg(ttl.as_secs().max(1))
            .arg(format!("{:016x}{:016x}", salt.0, salt.1));
        let mut c = self.conn.clone();
        let _: i64 = self.timed(inv.invoke_async(&mut c)).await?;
        Ok(())
    }
}

fn parse_salt(s: &str) -> Option<(u64, u64)> {
    if s.len() != 32 {
        return None;
    }
    let a = u64::from_str_radix(s.get(..16)?, 16).ok()?;
    let b = u64::from_str_radix(s.get(16..)?, 16).ok()?;
    Some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salt_parsing() {
        assert_eq!(parse_salt("00000000000000010000000000000002"), Some((1, 2)));
        assert_eq!(parse_salt("xyz"), None);
        assert_eq!(parse_salt("0000000000000001000000000000000g"), None);
    }
}
