//! Sentence embeddings with all-MiniLM-L6-v2 (or any sentence-transformers BERT folder):
//! tokenize a batch padded to its longest sentence, run BERT, mean-pool over real tokens only,
//! L2-normalise — the sentence-transformers recipe.

use std::{path::Path, sync::Arc};

use anyhow::Context;
use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use miyagi_kernel::{EmbeddingModel, KernelError};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

pub struct LocalEmbedder {
    inner: Arc<Inner>,
    id: String,
}

struct Inner {
    model: BertModel,
    tokenizer: Tokenizer,
    dimensions: usize,
}

/// Sentences per forward pass: large enough to use the cores, small enough to bound memory.
const BATCH: usize = 32;

impl LocalEmbedder {
    /// Loads `model.safetensors`, `config.json` and `tokenizer.json` from `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let config: Config =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json"))?)
                .with_context(|| format!("{}/config.json is not a BERT config", dir.display()))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| anyhow::anyhow!("{}/tokenizer.json: {e}", dir.display()))?;
        // The shipped tokenizer pads every input to 128; pad each batch to its longest instead.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: config.max_position_embeddings.min(512),
                ..Default::default()
            }))
            .map_err(|e| anyhow::anyhow!("truncation: {e}"))?;
        let weights = dir.join("model.safetensors");
        let vb =
            unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &Device::Cpu)? };
        let dimensions = config.hidden_size;
        let model = BertModel::load(vb, &config).context("loading BERT weights")?;
        let id = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("bert")
            .to_string();
        Ok(Self {
            inner: Arc::new(Inner {
                model,
                tokenizer,
                dimensions,
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
        let device = Device::Cpu;
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> Vec<u32>| -> candle_core::Result<Tensor> {
            let rows: Vec<Tensor> = encodings
                .iter()
                .map(|e| Tensor::new(f(e).as_slice(), &device))
                .collect::<candle_core::Result<_>>()?;
            Tensor::stack(&rows, 0)
        };
        let ids = rows(&|e| e.get_ids().to_vec())?;
        let type_ids = rows(&|e| e.get_type_ids().to_vec())?;
        let mask = rows(&|e| e.get_attention_mask().to_vec())?;
        // [batch, seq, dim]
        let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?;
        // Mean over real tokens: padding must not dilute short sentences.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        Ok(mean.broadcast_div(&norms)?.to_vec2::<f32>()?)
    }
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
