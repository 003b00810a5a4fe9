//! The Llama forward pass: candle-transformers' `quantized_llama` (MIT/Apache-2.0), trimmed to
//! what a dense GGUF model needs, with one change that is the reason this copy exists: its
//! linear layers are [`Linear`]s.
//!
//! Decoding feeds the model one token at a time, so every linear layer multiplies one row by a
//! weight matrix: it reads every weight once per token and does two flops with each, so decode
//! speed is memory bandwidth ÷ weight bytes (measured: f32 weights decode at the bandwidth this
//! machine has). [`Linear`] keeps an f16 copy of each matrix for those one-row products — half
//! the bytes — and runs them as a matrix-vector product split across the cores, converting
//! f16 to f32 in registers with a SIMD kernel chosen at run time (candle's own SIMD kernels are
//! chosen at compile time, so a portable build gets none). Several rows (the prompt) still go
//! through candle's f32 matrix product, which is compute-bound and fast there.

use std::{collections::HashMap, sync::Arc};

use candle_core::{
    quantized::{gguf_file, QMatMul, QTensor},
    DType, Device, IndexOp, Module, Result, Tensor,
};
use candle_nn::Embedding;
use half::f16;
use rayon::prelude::*;

/// Longest sequence the rotary tables cover.
pub const MAX_SEQ_LEN: usize = 4096;

/// A weight matrix `[out, in]` applied as `x · Wᵀ`.
#[derive(Debug, Clone)]
pub enum Linear {
    /// Row-major f32 for the prompt's matrix products, and the same values as f16 for the
    /// one-row products of decoding: those only read weights, so half the bytes is nearly
    /// twice the speed.
    Dense { weight: Tensor, half: Arc<[f16]> },
    /// Kept in the GGUF's quantized format (models too large to hold as f32).
    Quantized(QMatMul),
}

impl Linear {
    fn dense(weight: Tensor) -> Result<Self> {
        let weight = weight.to_dtype(DType::F32)?.contiguous()?;
        let half = weight
            .flatten_all()?
            .to_vec1::<f32>()?
            .into_iter()
            .map(f16::from_f32)
            .collect();
        Ok(Self::Dense { weight, half })
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
        let (weight, half) = match self {
            Self::Quantized(q) => return q.forward(x),
            Self::Dense { weight, half } => (weight, half),
        };
        let rows = x.dims()[..x.rank() - 1].iter().product::<usize>();
        if rows == 1 && x.device().is_cpu() {
            let output = gemv(half, &x.flatten_all()?.to_vec1::<f32>()?);
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

/// Rows of the weight matrix handed to one task: enough work to outweigh scheduling it.
const ROWS_PER_TASK: usize = 64;

/// `weights` (`[out, in]`, row-major, f16) times `input` (`[in]`), one output per weight row.
pub fn gemv(weights: &[f16], input: &[f32]) -> Vec<f32> {
    let dot = dot_kernel();
    let mut output = vec![0.0; weights.len() / input.len()];
    output
        .par_chunks_mut(ROWS_PER_TASK)
        .enumerate()
        .for_each(|(task, out)| {
            let first = task * ROWS_PER_TASK;
            for (i, y) in out.iter_mut().enumerate() {
                let row = &weights[(first + i) * input.len()..][..input.len()];
                *y = dot(row, input);
            }
        });
    output
}

type Dot = fn(&[f16], &[f32]) -> f32;

/// The fastest dot product this CPU runs, decided once per call of [`gemv`].
fn dot_kernel() -> Dot {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
        {
            return |a, b| {
                // SAFETY: the CPU was just checked for AVX2, FMA and F16C.
                unsafe { dot_avx2(a, b) }
            };
        }
    }
    dot_portable
}

fn dot_portable(a: &[f16], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(w, x)| w.to_f32() * x).sum()
}

/// Sixteen weights a step: converted f16 → f32 in registers (F16C), multiplied and added in
/// one instruction (FMA) into two independent accumulators.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_avx2(a: &[f16], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let body = n - n % 16;
    let (pa, pb) = (a.as_ptr() as *const __m128i, b.as_ptr());
    let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut i = 0;
    while i < body {
        // SAFETY: i + 16 <= n, so both loads stay inside the slices; loadu needs no alignment.
        unsafe {
            let w0 = _mm256_cvtph_ps(_mm_loadu_si128(pa.add(i / 8)));
            let w1 = _mm256_cvtph_ps(_mm_loadu_si128(pa.add(i / 8 + 1)));
            acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(pb.add(i + 8)), acc1);
        }
        i += 16;
    }
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds exactly eight f32s.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(acc0, acc1)) };
    lanes.iter().sum::<f32>() + dot_portable(&a[body..n], &b[body..n])
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

#[derive(Debug, Clone)]
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
    neg_inf: Tensor,
    kv_cache: Option<(Tensor, Tensor)>,
}

impl Layer {
    fn rotary(&self, x: &Tensor, position: usize) -> Result<Tensor> {
        let (_batch, _heads, seq_len, _dim) = x.dims4()?;
        let cos = self.cos.narrow(0, position, seq_len)?;
        let sin = self.sin.narrow(0, position, seq_len)?;
        candle_nn::rotary_emb::rope_i(&x.contiguous()?, &cos, &sin)
    }

    fn attention(&mut self, x: &Tensor, mask: Option<&Tensor>, position: usize) -> Result<Tensor> {
        let (batch, seq_len, n_embd) = x.dims3()?;
        let heads = |t: Tensor, n: usize| {
            t.reshape((batch, seq_len, n, self.head_dim))?
                .transpose(1, 2)
        };
        let q = self.rotary(&heads(self.wq.forward(x)?, self.n_head)?, position)?;
        let k = self.rotary(&heads(self.wk.forward(x)?, self.n_kv_head)?, position)?;
        let v = heads(self.wv.forward(x)?, self.n_kv_head)?.contiguous()?;
        let (k, v) = match &self.kv_cache {
            Some((k_cache, v_cache)) if position > 0 => (
                Tensor::cat(&[k_cache, &k], 2)?,
                Tensor::cat(&[v_cache, &v], 2)?,
            ),
            _ => (k, v),
        };
        self.kv_cache = Some((k.clone(), v.clone()));
        let repeat = self.n_head / self.n_kv_head;
        let k = repeat_kv(k, repeat)?;
        let v = repeat_kv(v, repeat)?;
        let scores = (q.matmul(&k.t()?)? / (self.head_dim as f64).sqrt())?;
        let scores = match mask {
            None => scores,
            Some(mask) => mask
                .broadcast_as(scores.shape())?
                .where_cond(&self.neg_inf.broadcast_as(scores.shape())?, &scores)?,
        };
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let y = weights.matmul(&v.contiguous()?)?;
        let y = y.transpose(1, 2)?.reshape((batch, seq_len, n_embd))?;
        self.wo.forward(&y)
    }
}

/// Key/value heads shared by several query heads, repeated to line up with them.
fn repeat_kv(x: Tensor, times: usize) -> Result<Tensor> {
    if times == 1 {
        return Ok(x);
    }
    let (batch, n_kv_head, seq_len, head_dim) = x.dims4()?;
    Tensor::cat(&vec![&x; times], 2)?.reshape((batch, n_kv_head * times, seq_len, head_dim))
}

#[derive(Debug, Clone)]
pub struct Llama {
    embeddings: Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: Linear,
    masks: HashMap<usize, Tensor>,
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
        let neg_inf = Tensor::new(f32::NEG_INFINITY, device)?;

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
                neg_inf: neg_inf.clone(),
                kv_cache: None,
            });
        }
        Ok(Self {
            embeddings: Embedding::new(embeddings, embedding_length),
            layers,
            norm,
            output,
            masks: HashMap::new(),
        })
    }

    /// Causal mask for `len` new tokens: each sees itself and those before it.
    fn mask(&mut self, len: usize, device: &Device) -> Result<Tensor> {
        if let Some(mask) = self.masks.get(&len) {
            return Ok(mask.clone());
        }
        let mask: Vec<u8> = (0..len)
            .flat_map(|i| (0..len).map(move |j| u8::from(j > i)))
            .collect();
        let mask = Tensor::from_slice(&mask, (len, len), device)?;
        self.masks.insert(len, mask.clone());
        Ok(mask)
    }

    /// Logits for the token after `tokens` (`[batch, len]`), which start at `position` in the
    /// sequence; the KV cache holds everything before it.
    pub fn forward(&mut self, tokens: &Tensor, position: usize) -> Result<Tensor> {
        let (_batch, len) = tokens.dims2()?;
        let mask = if len == 1 {
            None
        } else {
            Some(self.mask(len, tokens.device())?)
        };
        let mut x = self.embeddings.forward(tokens)?;
        for layer in &mut self.layers {
            let attention =
                layer.attention(&layer.attention_norm.forward(&x)?, mask.as_ref(), position)?;
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

    fn reference(weights: &[f16], input: &[f32]) -> Vec<f32> {
        weights
            .chunks(input.len())
            .map(|row| row.iter().zip(input).map(|(w, x)| w.to_f32() * x).sum())
            .collect()
    }

    #[test]
    fn gemv_matches_a_plain_matrix_vector_product_for_awkward_sizes() {
        for (rows, cols) in [(1, 1), (3, 31), (65, 33), (130, 576), (7, 1536)] {
            let weights: Vec<f16> = (0..rows * cols)
                .map(|i| f16::from_f32(((i * 7919) % 13) as f32 - 6.0))
                .collect();
            let input: Vec<f32> = (0..cols).map(|i| (i % 5) as f32 * 0.25 - 0.5).collect();
            let got = gemv(&weights, &input);
            let want = reference(&weights, &input);
            assert_eq!(got.len(), rows);
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-3 * w.abs().max(1.0),
                    "{rows}x{cols}: {g} vs {w}"
                );
            }
        }
    }

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
        // The single row reads f16 weights: equal to the f32 product within f16's precision.
        assert_eq!(single.dims(), &[1, 1, 4]);
        let (a, b) = (
            single.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            batched.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-2 * y.abs().max(1.0), "{a:?} vs {b:?}");
        }
    }
}
