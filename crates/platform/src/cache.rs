//! The cache seam: bytes under a key for a limited time, grouped under a tag so that an event
//! can drop everything derived from one aggregate at once.
//!
//! [`MemoryCache`] lives in one process (`miyagi up`); [`RedisCache`] is shared by every replica
//! of a service, so an event handled by one replica invalidates the entry for all of them.
//! A cache is never the source of truth: callers fall back to their store when it misses or
//! fails, so a Redis outage costs speed, not correctness.

use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use lru::LruCache;

use crate::config::CacheConfig;

#[async_trait]
pub trait Cache: Send + Sync + 'static {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
    /// Stores `value` under `key` for the configured TTL, filed under `tag`.
    async fn put(&self, key: &str, value: &[u8], tag: &str) -> anyhow::Result<()>;
    /// Drops every entry filed under `tag`.
    async fn invalidate(&self, tag: &str) -> anyhow::Result<()>;
    /// Readiness probe.
    async fn ping(&self) -> anyhow::Result<()>;
}

/// `cache.url = "memory"` gives the in-process cache, a `redis://` URL the shared one.
/// `namespace` keeps one service's keys apart from another's in a shared Redis.
pub async fn open(config: &CacheConfig, namespace: &str) -> anyhow::Result<Arc<dyn Cache>> {
    let ttl = Duration::from_secs(config.ttl_secs);
    Ok(match config.url.expose() {
        "memory" => Arc::new(MemoryCache::new(config.capacity, ttl)),
        url => Arc::new(
            RedisCache::connect(url, namespace, ttl)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("key `cache.url`: cannot reach Redis ({e:#}); is it running?")
                })?,
        ),
    })
}

struct Entry {
    value: Vec<u8>,
    tag: String,
    expires: Instant,
}

/// A bounded LRU with per-entry expiry; tags are found by scanning, which at the configured
/// capacity (thousands) costs less than keeping a second index consistent.
pub struct MemoryCache {
    entries: Mutex<LruCache<String, Entry>>,
    ttl: Duration,
}

impl MemoryCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = NonZeroUsize::new(capacity.max(1)).expect("at least 1");
        Self {
            entries: Mutex::new(LruCache::new(capacity)),
            ttl,
        }
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut entries = self.entries.lock().expect("cache lock");
        match entries.get(key) {
            Some(entry) if entry.expires > Instant::now() => Ok(Some(entry.value.clone())),
            Some(_) => {
                entries.pop(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn put(&self, key: &str, value: &[u8], tag: &str) -> anyhow::Result<()> {
        let entry = Entry {
            value: value.to_vec(),
            tag: tag.to_string(),
            expires: Instant::now() + self.ttl,
        };
        self.entries
            .lock()
            .expect("cache lock")
            .put(key.to_string(), entry);
        Ok(())
    }

    async fn invalidate(&self, tag: &str) -> anyhow::Result<()> {
        let mut entries = self.entries.lock().expect("cache lock");
        let doomed: Vec<String> = entries
            .iter()
            .filter(|(_, e)| e.tag == tag)
            .map(|(k, _)| k.clone())
            .collect();
        for key in doomed {
            entries.pop(&key);
        }
        Ok(())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Values at `<namespace>:v:<key>` with `SET … EX`; each tag is a set of its keys at
/// `<namespace>:t:<tag>` that lives as long as its newest entry. Writes and invalidations are
/// `MULTI` transactions, so a tag never names a key it does not know about.
pub struct RedisCache {
    connection: redis::aio::ConnectionManager,
    namespace: String,
    ttl: Duration,
}

impl RedisCache {
    pub async fn connect(url: &str, namespace: &str, ttl: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        // Reconnecting gives up soon: while Redis is away every command fails fast (see
        // `answered`), and the next one tries again.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let connection = redis::aio::ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            connection,
            namespace: namespace.to_string(),
            ttl,
        })
    }

    fn value_key(&self, key: &str) -> String {
        format!("{}:v:{key}", self.namespace)
    }

    fn tag_key(&self, tag: &str) -> String {
        format!("{}:t:{tag}", self.namespace)
    }
}

/// How long a cache command may take. A cache that does not answer at once is worth less than
/// the store behind it: every request reading through it would wait this long while Redis is
/// unreachable.
const COMMAND_LIMIT: Duration = Duration::from_millis(500);

async fn answered<T>(
    command: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(COMMAND_LIMIT, command).await {
        Ok(result) => Ok(result?),
        Err(_) => anyhow::bail!("Redis did not answer within {COMMAND_LIMIT:?}"),
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut connection = self.connection.clone();
        answered(
            redis::cmd("GET")
                .arg(self.value_key(key))
                .query_async(&mut connection),
        )
        .await
    }

    async fn put(&self, key: &str, value: &[u8], tag: &str) -> anyhow::Result<()> {
        let mut connection = self.connection.clone();
        let (value_key, tag_key) = (self.value_key(key), self.tag_key(tag));
        let ttl = self.ttl.as_secs().max(1);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(&value_key)
            .arg(value)
            .arg("EX")
            .arg(ttl)
            .ignore()
            .cmd("SADD")
            .arg(&tag_key)
            .arg(&value_key)
            .ignore()
            .cmd("EXPIRE")
            .arg(&tag_key)
            .arg(ttl)
            .ignore();
        answered(pipe.query_async::<()>(&mut connection)).await
    }

    async fn invalidate(&self, tag: &str) -> anyhow::Result<()> {
        let mut connection = self.connection.clone();
        let tag_key = self.tag_key(tag);
        let keys: Vec<String> = answered(
            redis::cmd("SMEMBERS")
                .arg(&tag_key)
                .query_async(&mut connection),
        )
        .await?;
        // A key added between SMEMBERS and DEL stays in the set and goes with the next
        // invalidation; it was written after the event, so it is not stale.
        let mut pipe = redis::pipe();
        pipe.atomic();
        for key in &keys {
            pipe.cmd("DEL").arg(key).ignore();
            pipe.cmd("SREM").arg(&tag_key).arg(key).ignore();
        }
        answered(pipe.query_async::<()>(&mut connection)).await
    }

    async fn ping(&self) -> anyhow::Result<()> {
        let mut connection = self.connection.clone();
        let _: String = answered(redis::cmd("PING").query_async(&mut connection)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_least_recently_used_entry_goes_first_when_full() {
        let cache = MemoryCache::new(2, Duration::from_secs(60));
        cache.put("a", b"1", "t").await.unwrap();
        cache.put("b", b"2", "t").await.unwrap();
        cache.get("a").await.unwrap();
        cache.put("c", b"3", "t").await.unwrap();
        assert!(cache.get("a").await.unwrap().is_some());
        assert!(cache.get("b").await.unwrap().is_none());
    }
}
