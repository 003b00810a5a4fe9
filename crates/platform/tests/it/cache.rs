//! The cache seam's promises, checked on both implementations: in process, and on the
//! machine's Redis (`TEST_REDIS_URL`).

use std::time::Duration;

use miyagi_platform::cache::{Cache, MemoryCache, RedisCache};

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// A cache in its own namespace, so test runs sharing a Redis never see each other's keys.
async fn cache(ttl: Duration) -> RedisCache {
    let namespace = format!("test-{}", uuid::Uuid::new_v4().simple());
    RedisCache::connect(&redis_url(), &namespace, ttl)
        .await
        .expect("Redis is reachable")
}

/// `cache` was made with `ttl`.
async fn a_stored_value_comes_back_until_its_ttl_ends(cache: &dyn Cache, ttl: Duration) {
    cache.put("k", b"advice", "profile-1").await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(b"advice".to_vec()));
    // Redis counts expiry in whole seconds, so wait a second past the TTL.
    tokio::time::sleep(ttl * 2 + Duration::from_millis(100)).await;
    assert_eq!(cache.get("k").await.unwrap(), None);
}

async fn invalidating_a_tag_drops_its_entries_and_keeps_the_rest(cache: &dyn Cache) {
    cache.put("a1", b"1", "alice").await.unwrap();
    cache.put("a2", b"2", "alice").await.unwrap();
    cache.put("b1", b"3", "bob").await.unwrap();
    cache.invalidate("alice").await.unwrap();
    assert_eq!(cache.get("a1").await.unwrap(), None);
    assert_eq!(cache.get("a2").await.unwrap(), None);
    assert_eq!(cache.get("b1").await.unwrap(), Some(b"3".to_vec()));
}

#[tokio::test]
async fn in_memory_a_stored_value_comes_back_until_its_ttl_ends() {
    let ttl = Duration::from_millis(30);
    a_stored_value_comes_back_until_its_ttl_ends(&MemoryCache::new(10, ttl), ttl).await;
}

#[tokio::test]
async fn in_redis_a_stored_value_comes_back_until_its_ttl_ends() {
    let ttl = Duration::from_secs(1);
    a_stored_value_comes_back_until_its_ttl_ends(&cache(ttl).await, ttl).await;
}

#[tokio::test]
async fn in_memory_invalidating_a_tag_drops_its_entries_and_keeps_the_rest() {
    let cache = MemoryCache::new(10, Duration::from_secs(60));
    invalidating_a_tag_drops_its_entries_and_keeps_the_rest(&cache).await;
}

#[tokio::test]
async fn in_redis_invalidating_a_tag_drops_its_entries_and_keeps_the_rest() {
    let cache = cache(Duration::from_secs(60)).await;
    invalidating_a_tag_drops_its_entries_and_keeps_the_rest(&cache).await;
}

#[tokio::test]
async fn replicas_share_entries_and_invalidations() {
    let namespace = format!("test-{}", uuid::Uuid::new_v4().simple());
    let ttl = Duration::from_secs(60);
    let one = RedisCache::connect(&redis_url(), &namespace, ttl)
        .await
        .unwrap();
    let two = RedisCache::connect(&redis_url(), &namespace, ttl)
        .await
        .unwrap();
    one.put("k", b"v", "t").await.unwrap();
    assert_eq!(two.get("k").await.unwrap(), Some(b"v".to_vec()));
    two.invalidate("t").await.unwrap();
    assert_eq!(one.get("k").await.unwrap(), None);
}

#[tokio::test]
async fn an_unreachable_redis_is_refused_at_start_naming_the_key() {
    let config = miyagi_platform::config::CacheConfig {
        url: miyagi_platform::config::Secret::new("redis://127.0.0.1:1/"),
        ttl_secs: 60,
        capacity: 10,
    };
    let err = miyagi_platform::cache::open(&config, "test")
        .await
        .err()
        .expect("no Redis on port 1")
        .to_string();
    assert!(err.contains("cache.url"), "{err}");
}
