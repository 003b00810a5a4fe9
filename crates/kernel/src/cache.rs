//! Exact-match response cache: the same model, rendered messages, tools and settings return the
//! stored answer without a model call. Keyed by a SHA-256 of all four, so keys are fixed-size.

use std::{num::NonZeroUsize, sync::Mutex};

use lru::LruCache;
use sha2::{Digest, Sha256};

use crate::chat::{ChatRequest, ChatResponse};

pub struct ResponseCache {
    entries: Mutex<LruCache<[u8; 32], ChatResponse>>,
}

impl ResponseCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity.max(1)).expect("at least 1"),
            )),
        }
    }

    pub fn key(model: &str, request: &ChatRequest) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(model.as_bytes());
        hasher.update([0]);
        hasher.update(serde_json::to_vec(&request.messages).expect("messages serialize"));
        hasher.update([0]);
        hasher.update(serde_json::to_vec(&request.tools).expect("tools serialize"));
        hasher.update([0]);
        hasher.update(serde_json::to_vec(&request.settings).expect("settings serialize"));
        hasher.finalize().into()
    }

    pub fn get(&self, key: &[u8; 32]) -> Option<ChatResponse> {
        self.entries.lock().expect("cache lock").get(key).cloned()
    }

    pub fn put(&self, key: [u8; 32], response: ChatResponse) {
        self.entries.lock().expect("cache lock").put(key, response);
    }
}
