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

use tokio::sync::OnceCell;

use crate::state::{Redis, StateError};
use crate::types::Level;

pub struct RedisStore {
    redis: Redis,
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
    pub fn new(redis: Redis) -> RedisStore {
        RedisStore {
            redis,
            salt: OnceCell::new(),
            raise: redis::Script::new(RAISE),
        }
    }

    /// The salt shared by every replica: created by whichever asks first.
    pub async fn salt(&self) -> Result<(u64, u64), StateError> {
        self.salt
            .get_or_try_init(|| async {
                let key = self.salt_key();
                let fresh = format!(
                    "{:016x}{:016x}",
                    rand::random::<u64>(),
                    rand::random::<u64>()
                );
                let mut c = self.redis.conn();
                let _: Option<String> = self
                    .redis
                    .timed(
                        redis::cmd("SET")
                            .arg(&key)
                            .arg(&fresh)
                            .arg("NX")
                            .query_async(&mut c),
                    )
                    .await?;
                let stored: Option<String> = self
                    .redis
                    .timed(redis::cmd("GET").arg(&key).query_async(&mut c))
                    .await?;
                stored
                    .as_deref()
                    .and_then(parse_salt)
                    .ok_or(StateError::Malformed(key))
            })
            .await
            .copied()
    }

    fn salt_key(&self) -> String {
        self.redis.key("mem:salt")
    }

    fn key(&self, print: u64) -> String {
        self.redis.key(&format!("mem:{print:016x}"))
    }

    /// The level remembered for each fingerprint, in order.
    pub async fn get(&self, prints: &[u64]) -> Result<Vec<Option<Level>>, StateError> {
        let keys: Vec<String> = prints.iter().map(|&p| self.key(p)).collect();
        let mut c = self.redis.conn();
        let values: Vec<Option<u8>> = self
            .redis
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
    ) -> Result<(), StateError> {
        let salt = self.salt().await?;
        let mut inv = self.raise.prepare_invoke();
        inv.key(self.salt_key());
        for &p in prints {
            inv.key(self.key(p));
        }
        inv.arg(level.index())
            .arg(ttl.as_secs().max(1))
            .arg(format!("{:016x}{:016x}", salt.0, salt.1));
        let mut c = self.redis.conn();
        let _: i64 = self.redis.timed(inv.invoke_async(&mut c)).await?;
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
