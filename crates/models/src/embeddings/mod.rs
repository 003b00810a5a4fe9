//! Sentence embeddings with all-MiniLM-L6-v2 (or any sentence-transformers BERT folder):
//! tokenize, run BERT (`bert`: sentences packed without padding, 8-bit linear layers where the
//! CPU has AVX-512 VNNI),
//! mean-pool each sentence's tokens, L2-normalise — the sentence-transformers recipe.

use std::{path::Path, sync::Arc};

use anyhow::Context;
use async_trait::async_trait;
use miyagi_kernel::{EmbeddingModel, KernelError};
use tokenizers::{Tokenizer, TruncationParams};

mod bert;
mod linear;

use bert::{Bert, Config, Sentence};

pub struct LocalEmbedder {
    inner: Arc<Inner>,
    id: String,
}

struct Inner {
    model: Bert,
    tokenizer: Tokenizer,
    dimensions: usize,
}

/// Sentences per forward pass: hundreds of token rows per product, which keeps both cores busy,
/// while memory stays bounded.
const BATCH: usize = 32;

impl LocalEmbedder {
    /// Loads `model.safetensors`, `config.json` and `tokenizer.json` from `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let config: Config =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json"))?)
                .with_context(|| format!("{}/config.json is not a BERT config", dir.display()))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| anyhow::anyhow!("{}/tokenizer.json: {e}", dir.display()))?;
        // The shipped tokenizer pads every input to 128; the encoder packs sentences unpadded.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: config.max_position_embeddings.min(512),
                ..Default::default()
            }))
            .map_err(|e| anyhow::anyhow!("truncation: {e}"))?;
        let model =
            Bert::load(&dir.join("model.safetensors"), &config).context("loading BERT weights")?;
        let id = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("bert")
            .to_string();
        Ok(Self {
            inner: Arc::new(Inner {
                model,
                tokenizer,
                dimensions: config.hidden_size,
            }),
            id,
        })
    }

    /// Embeds synchronously (the async trait method runs this on a blocking thread).
    pub fn embed_blocking(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            out.extend(self.inner.embed_batch(chunk)?);
        }
        Ok(out)
    }
}

impl Inner {
    fn embed_batch(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
        let sentences: Vec<Sentence> = encodings
            .iter()
            .map(|e| Sentence {
                ids: e.get_ids(),
                types: e.get_type_ids(),
            })
            .collect();
        let hidden = self.model.forward(&sentences)?;
        let d = self.dimensions;
        let mut rows = hidden.chunks(d);
        Ok(sentences
            .iter()
            .map(|s| mean_normalised(rows.by_ref().take(s.ids.len()), d))
            .collect())
    }
}

/// The mean of a sentence's token rows, scaled to unit length.
fn mean_normalised<'a>(rows: impl Iterator<Item = &'a [f32]>, d: usize) -> Vec<f32> {
    let mut mean = vec![0.0; d];
    let mut count = 0;
    for row in rows {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        count += 1;
    }
    let count = count.max(1) as f32;
    mean.iter_mut().for_each(|m| *m /= count);
    let norm = mean.iter().map(|m| m * m).sum::<f32>().sqrt().max(1e-12);
    mean.iter_mut().for_each(|m| *m /= norm);
    mean
}

#[async_trait]
impl EmbeddingModel for LocalEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, KernelError> {
        let this = Self {
            inner: self.inner.clone(),
            id: self.id.clone(),
        };
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || this.embed_blocking(&texts))
            .await
            .map_err(|e| KernelError::BadResponse(format!("embedding task failed: {e}")))?
            .map_err(|e| KernelError::BadResponse(format!("local embedding failed: {e:#}")))
    }
}
