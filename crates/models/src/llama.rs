//! The Llama forward pass: candle-transformers' `quantized_llama` (MIT/Apache-2.0), trimmed to
//! what a dense GGUF model needs, with one change that is the reason this copy exists: its
//! linear layers are [`Linear`]s.
//!
//! Decoding feeds the model one token at a time, so every linear layer multiplies one row by a
//! weight matrix: it reads every weight once per token and does two flops with each, so decode
//! speed is memory bandwidth ÷ weight bytes (measured: f32 weights decode at the bandwidth this
//! machine has). [`Linear`] keeps an 8-bit copy of each matrix ([`Int8Matrix`]) for those
//! one-row products — a quarter of the bytes. Several rows (the prompt) still go through
//! candle's f32 matrix product, which is compute-bound and fast there. A new token's attention
//! runs over each layer's growing key/value cache in [`crate::attention`], without tensors.

use std::sync::Arc;

use candle_core::{
    quantized::{gguf_file, QMatMul, QTensor},
    DType, Device, IndexOp, Module, Result, Tensor,
};
use candle_nn::Embedding;

use crate::{
    attention::{self, KvCache},
    int8::Int8Matrix,
};

/// Longest sequence the rotary tables cover.
pub const MAX_SEQ_LEN: usize = 4096;

/// A weight matrix `[out, in]` applied as `x · Wᵀ`.
#[derive(Debug, Clone)]
pub enum Linear {
    /// Row-major f32 for the prompt's matrix products, and the same values in 8 bits for the
    /// one-row products of decoding: those only read weights, so fewer bytes is more speed.
    Dense {
        weight: Tensor,
        bytes: Arc<Int8Matrix>,
    },
    /// Kept in the GGUF's quantized format (models too large to hold as f32).
    Quantized(QMatMul),
}

impl Linear {
    fn dense(weight: Tensor) -> Result<Self> {
        let weight = weight.to_dtype(DType::F32)?.contiguous()?;
        let (_, cols) = weight.dims2()?;
        let bytes = Int8Matrix::quantize(&weight.flatten_all()?.to_vec1::<f32>()?, cols);
        Ok(Self::Dense {
            weight,
            bytes: Arc::new(bytes),
        })
    }

    fn load(weight: QTensor, dequantize: bool) -> Result<Self> {
        if dequantize {
            Self::dense(weight.dequantize(&weight.device())?)
        } else {
            Ok(Self::Quantized(QMatMul::from_qtensor(weight)?))
        }
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (weight, bytes) = match self {
            Self::Quantized(q) => return q.forward(x),
            Self::Dense { weight, bytes } => (weight, bytes),
        };
        let rows = x.dims()[..x.rank() - 1].iter().product::<usize>();
        if rows == 1 && x.device().is_cpu() {
            let output = bytes.gemv(&x.flatten_all()?.to_vec1::<f32>()?);
            let mut dims = x.dims().to_vec();
            *dims.last_mut().expect("a matmul input has dimensions") = output.len();
            return Tensor::from_vec(output, dims, x.device());
        }
        let w = match *x.dims() {
            [b1, b2, _, _] => weight.broadcast_left((b1, b2))?.t()?,
            [batch, _, _] => weight.broadcast_left(batch)?.t()?,
            _ => weight.t()?,
        };
        x.matmul(&w)
    }
}

#[derive(Debug, Clone)]
struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

impl RmsNorm {
    fn new(weight: QTensor, eps: f32) -> Result<Self> {
        let weight = weight.dequantize(&weight.device())?;
        Ok(Self { weight, eps })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::rms_norm(x, &self.weight, self.eps)
    }
}

#[derive(Debug, Clone)]
struct Mlp {
    gate: Linear,
    down: Linear,
    up: Linear,
}

impl Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let gate = candle_nn::ops::silu(&self.gate.forward(x)?)?;
        self.down.forward(&(gate * self.up.forward(x)?)?)
    }
}

#[derive(Debug)]
struct Layer {
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    attention_norm: RmsNorm,
    mlp: Mlp,
    ffn_norm: RmsNorm,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
    cos: Tensor,
    sin: Tensor,
    kv_cache: KvCache,
}

impl Layer {
    fn rotary(&self, x: &Tensor, position: usize) -> Result<Tensor> {
        let (_batch, _heads, seq_len, _dim) = x.dims4()?;
        let cos = self.cos.narrow(0, position, seq_len)?;
        let sin = self.sin.narrow(0, position, seq_len)?;
        candle_nn::rotary_emb::rope_i(&x.contiguous()?, &cos, &sin)
    }

    fn attention(&mut self, x: &Tensor, position: usize) -> Result<Tensor> {
        let (batch, seq_len, n_embd) = x.dims3()?;
        if batch != 1 {
            candle_core::bail!("the model runs one sequence at a time, not {batch}");
        }
        self.kv_cache.truncate(position);
        let heads = |t: Tensor, n: usize| {
            t.reshape((batch, seq_len, n, self.head_dim))?
                .transpose(1, 2)
        };
        let q = self.rotary(&heads(self.wq.forward(x)?, self.n_head)?, position)?;
        let k = self.rotary(&heads(self.wk.forward(x)?, self.n_kv_head)?, position)?;
        let v = heads(self.wv.forward(x)?, self.n_kv_head)?;
        // Cached rows are `[position][kv head][dim]`.
        let rows = |t: Tensor| {
            t.squeeze(0)?
                .transpose(0, 1)?
                .flatten_all()?
                .to_vec1::<f32>()
        };
        self.kv_cache.append(&rows(k)?, &rows(v)?);
        let y = if seq_len == 1 {
            let y = self.kv_cache.attend(&q.flatten_all()?.to_vec1::<f32>()?);
            Tensor::from_vec(y, (batch, seq_len, n_embd), x.device())?
        } else {
            self.attend_prompt(&q, position)?
        };
        self.wo.forward(&y)
    }

    /// Several new tokens (a prompt) at once, as matrix products over the whole cache: each
    /// token sees the positions up to its own.
    fn attend_prompt(&self, q: &Tensor, position: usize) -> Result<Tensor> {
        let (batch, _, seq_len, dim) = q.dims4()?;
        let context = self.kv_cache.len();
        let device = q.device();
        let cached = |rows: &[f32]| {
            Tensor::from_slice(rows, (context, self.n_kv_head, dim), device)?
                .transpose(0, 1)?
                .unsqueeze(0)
        };
        let (keys, values) = self.kv_cache.rows();
        let (k, v) = (cached(keys)?, cached(values)?.contiguous()?);
        // Grouped-query attention: the query heads sharing a key/value head are stacked as rows
        // of one matrix product with it, instead of copying that head once per query head.
        let group = self.n_head / self.n_kv_head;
        let q = q.reshape((batch, self.n_kv_head, group * seq_len, dim))?;
        let scores = (q.matmul(&k.t()?)? / (dim as f64).sqrt())?;
        let mut scores = scores.flatten_all()?.to_vec1::<f32>()?;
        attention::causal_softmax(&mut scores, seq_len, position);
        let weights = Tensor::from_vec(
            scores,
            (batch, self.n_kv_head, group * seq_len, context),
            device,
        )?;
        weights
            .matmul(&v)?
            .reshape((batch, self.n_head, seq_len, dim))?
            .transpose(1, 2)?
            .reshape((batch, seq_len, self.n_head * dim))
    }
}

#[derive(Debug)]
pub struct Llama {
    embeddings: Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: Linear,
}

fn rotary_tables(head_dim: usize, base: f32, device: &Device) -> Result<(Tensor, Tensor)> {
    let theta: Vec<f32> = (0..head_dim)
        .step_by(2)
        .map(|i| 1.0 / base.powf(i as f32 / head_dim as f32))
        .collect();
    let theta = Tensor::new(theta.as_slice(), device)?;
    let angles = Tensor::arange(0, MAX_SEQ_LEN as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((MAX_SEQ_LEN, 1))?
        .matmul(&theta.reshape((1, theta.elem_count()))?)?;
    Ok((angles.cos()?, angles.sin()?))
}

impl Llama {
    /// Builds the model from GGUF tensors; `dequantize` turns every matrix into f32.
    pub fn from_gguf<R: std::io::Seek + std::io::Read>(
        content: &gguf_file::Content,
        reader: &mut R,
        device: &Device,
        dequantize: bool,
    ) -> Result<Self> {
        let metadata = |key: &str| match content.metadata.get(key) {
            Some(value) => Ok(value),
            None => candle_core::bail!("the GGUF has no `{key}`"),
        };
        if metadata("llama.expert_count")
            .and_then(|v| v.to_u32())
            .unwrap_or(0)
            > 1
        {
            candle_core::bail!("mixture-of-experts Llama models are not supported");
        }
        let head_count = metadata("llama.attention.head_count")?.to_u32()? as usize;
        let head_count_kv = metadata("llama.attention.head_count_kv")?.to_u32()? as usize;
        let block_count = metadata("llama.block_count")?.to_u32()? as usize;
        let embedding_length = metadata("llama.embedding_length")?.to_u32()? as usize;
        let rope_dim = metadata("llama.rope.dimension_count")?.to_u32()? as usize;
        let eps = metadata("llama.attention.layer_norm_rms_epsilon")?.to_f32()?;
        let rope_base = metadata("llama.rope.freq_base")
            .and_then(|v| v.to_f32())
            .unwrap_or(10_000.0);
        let (cos, sin) = rotary_tables(rope_dim, rope_base, device)?;

        let mut tensor = |name: &str| content.tensor(reader, name, device);
        let linear = |weight: QTensor| Linear::load(weight, dequantize);
        let embeddings_q = tensor("token_embd.weight")?;
        let embeddings = embeddings_q.dequantize(device)?;
        let norm = RmsNorm::new(tensor("output_norm.weight")?, eps)?;
        // Models with tied embeddings reuse the embedding matrix as the output layer.
        let output = linear(tensor("output.weight").unwrap_or(embeddings_q))?;
        let mut layers = Vec::with_capacity(block_count);
        for i in 0..block_count {
            let name = |part: &str| format!("blk.{i}.{part}.weight");
            layers.push(Layer {
                wq: linear(tensor(&name("attn_q"))?)?,
                wk: linear(tensor(&name("attn_k"))?)?,
                wv: linear(tensor(&name("attn_v"))?)?,
                wo: linear(tensor(&name("attn_output"))?)?,
                attention_norm: RmsNorm::new(tensor(&name("attn_norm"))?, eps)?,
                mlp: Mlp {
                    gate: linear(tensor(&name("ffn_gate"))?)?,
                    down: linear(tensor(&name("ffn_down"))?)?,
                    up: linear(tensor(&name("ffn_up"))?)?,
                },
                ffn_norm: RmsNorm::new(tensor(&name("ffn_norm"))?, eps)?,
                n_head: head_count,
                n_kv_head: head_count_kv,
                head_dim: embedding_length / head_count,
                cos: cos.clone(),
                sin: sin.clone(),
                kv_cache: KvCache::new(head_count_kv, embedding_length / head_count),
            });
        }
        Ok(Self {
            embeddings: Embedding::new(embeddings, embedding_length),
            layers,
            norm,
            output,
        })
    }

    /// Logits for the token after `tokens` (`[1, len]`), which start at `position` in the
    /// sequence: each layer's cache keeps its positions before it and forgets any after.
    pub fn forward(&mut self, tokens: &Tensor, position: usize) -> Result<Tensor> {
        // Run the whole pass on a thread of rayon's pool. From any other thread, each of the
        // ~200 matrix products a token takes would hand its halves to the pool and sleep on a
        // lock until they were done (a futex wait and a wake-up per product); from a pool thread
        // the product splits with a work-stealing join and the caller works on one half itself.
        rayon::scope(|_| self.pass(tokens, position))
    }

    fn pass(&mut self, tokens: &Tensor, position: usize) -> Result<Tensor> {
        let (_batch, len) = tokens.dims2()?;
        let mut x = self.embeddings.forward(tokens)?;
        for layer in &mut self.layers {
            let attention = layer.attention(&layer.attention_norm.forward(&x)?, position)?;
            let x1 = (attention + &x)?;
            x = (layer.mlp.forward(&layer.ffn_norm.forward(&x1)?)? + x1)?;
        }
        let last = self.norm.forward(&x)?.i((.., len - 1, ..))?;
        self.output.forward(&last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_row_gives_the_same_result_as_the_matrix_product() {
        let device = Device::Cpu;
        let weight = Tensor::arange(0f32, 24.0, &device)
            .unwrap()
            .reshape((4, 6))
            .unwrap();
        let weight = (weight / 10.0).unwrap();
        let linear = Linear::dense(weight.clone()).unwrap();
        let x = Tensor::new(&[[[0.5f32, -1.0, 2.0, 0.0, 1.5, -0.5]]], &device).unwrap();
        let single = linear.forward(&x).unwrap();
        let batched = x
            .matmul(&weight.broadcast_left(1).unwrap().t().unwrap())
            .unwrap();
        // The single row rounds the weights and the input to 8 bits: equal to the f32 product
        // within that rounding, at most (Σ|x|·Δw + Σ|w|·Δx) / 2 = 0.147 for the last row
        // (Δ = a block's largest magnitude / 127).
        assert_eq!(single.dims(), &[1, 1, 4]);
        let (a, b) = (
            single.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            batched.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 0.15, "{a:?} vs {b:?}");
        }
    }
}
