//! The BERT encoder of a sentence-transformers model, run on sentence batches on the CPU.
//!
//! Nearly all of an encoder's arithmetic is its four linear layers per block, so where the CPU
//! has AVX-512 VNNI they are 8-bit products, four times the multiply-adds per instruction of f32
//! (`linear.rs`). The sentences of a batch are packed end to end, not padded to the longest, so
//! a short sentence costs only its own tokens; each attends over its own tokens only, which is
//! what a padding mask achieves. candle's `BertModel`, which this replaces, ran in f32 at
//! onnxruntime's speed on an older machine and at 0.29× it on the latest (BENCHMARKS.md).

use std::{collections::HashMap, path::Path};

use anyhow::{bail, Context};
use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;
use serde::Deserialize;

use super::linear::Linear;
use crate::attention::{exp, Head};

/// The fields of a Hugging Face `config.json` this encoder reads.
#[derive(Debug, Deserialize)]
pub struct Config {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub max_position_embeddings: usize,
    pub layer_norm_eps: f32,
    pub hidden_act: String,
}

pub struct Bert {
    hidden: usize,
    heads: usize,
    /// Embedding tables, a row of `hidden` per token id, position and token type.
    words: Vec<f32>,
    positions: Vec<f32>,
    types: Vec<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
}

struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

struct Layer {
    /// Queries, keys and values in one product: `[tokens, 3 × hidden]`.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    up: Linear,
    down: Linear,
    output_norm: LayerNorm,
}

/// One sentence's token ids and token type ids.
pub struct Sentence<'a> {
    pub ids: &'a [u32],
    pub types: &'a [u32],
}

/// The named tensors of a safetensors file, as f32 vectors.
struct Weights {
    tensors: HashMap<String, Tensor>,
    prefix: &'static str,
}

impl Weights {
    fn get(&self, name: &str) -> anyhow::Result<Vec<f32>> {
        let name = format!("{}{name}", self.prefix);
        let tensor = self
            .tensors
            .get(&name)
            .with_context(|| format!("the weights have no tensor {name}"))?;
        Ok(tensor.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?)
    }

    fn norm(&self, name: &str, eps: f32) -> anyhow::Result<LayerNorm> {
        Ok(LayerNorm {
            weight: self.get(&format!("{name}.weight"))?,
            bias: self.get(&format!("{name}.bias"))?,
            eps,
        })
    }

    /// The linear layers `names` stacked into one, their outputs side by side.
    fn linear(&self, names: &[String], inputs: usize) -> anyhow::Result<Linear> {
        let (mut weights, mut bias) = (vec![], vec![]);
        for name in names {
            weights.extend(self.get(&format!("{name}.weight"))?);
            bias.extend(self.get(&format!("{name}.bias"))?);
        }
        if weights.len() != inputs * bias.len() {
            bail!(
                "{names:?}: {} weights for {} outputs of {inputs} inputs",
                weights.len(),
                bias.len()
            );
        }
        Ok(Linear::new(weights, inputs, bias)?)
    }
}

impl Bert {
    /// Loads `model.safetensors` (tensors named as `transformers` saves a `BertModel`, with or
    /// without a `bert.` prefix) and prepares the linear layers for this CPU.
    pub fn load(weights: &Path, config: &Config) -> anyhow::Result<Self> {
        if config.hidden_act != "gelu" {
            bail!(
                "hidden_act {:?} is not supported (only gelu)",
                config.hidden_act
            );
        }
        let tensors = candle_core::safetensors::load(weights, &Device::Cpu)
            .with_context(|| format!("reading {}", weights.display()))?;
        let prefix = if tensors.contains_key("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        let w = Weights { tensors, prefix };
        let (hidden, eps) = (config.hidden_size, config.layer_norm_eps);
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let at = |name: &str| format!("encoder.layer.{i}.{name}");
                let qkv = ["query", "key", "value"].map(|p| at(&format!("attention.self.{p}")));
                let up = w.linear(&[at("intermediate.dense")], hidden)?;
                Ok(Layer {
                    qkv: w.linear(&qkv, hidden)?,
                    attention_out: w.linear(&[at("attention.output.dense")], hidden)?,
                    attention_norm: w.norm(&at("attention.output.LayerNorm"), eps)?,
                    down: w.linear(&[at("output.dense")], up.outputs())?,
                    up,
                    output_norm: w.norm(&at("output.LayerNorm"), eps)?,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            hidden,
            heads: config.num_attention_heads,
            words: w.get("embeddings.word_embeddings.weight")?,
            positions: w.get("embeddings.position_embeddings.weight")?,
            types: w.get("embeddings.token_type_embeddings.weight")?,
            embedding_norm: w.norm("embeddings.LayerNorm", eps)?,
            layers,
        })
    }

    /// The last layer's hidden states of every token of every sentence, in order:
    /// `[tokens, hidden]`.
    pub fn forward(&self, sentences: &[Sentence]) -> anyhow::Result<Vec<f32>> {
        let mut x = self.embed(sentences)?;
        let lengths: Vec<usize> = sentences.iter().map(|s| s.ids.len()).collect();
        for layer in &self.layers {
            let context = self.attend(&layer.qkv.forward(&x)?, &lengths);
            layer
                .attention_norm
                .add_and_normalise(&mut x, &layer.attention_out.forward(&context)?);
            let mut inner = layer.up.forward(&x)?;
            gelu(&mut inner);
            layer
                .output_norm
                .add_and_normalise(&mut x, &layer.down.forward(&inner)?);
        }
        Ok(x)
    }

    /// Each token's word, position and type embeddings, summed and normalised.
    fn embed(&self, sentences: &[Sentence]) -> anyhow::Result<Vec<f32>> {
        let d = self.hidden;
        let table_rows = |table: &[f32]| table.len() / d;
        let mut x = Vec::with_capacity(sentences.iter().map(|s| s.ids.len()).sum::<usize>() * d);
        for sentence in sentences {
            if sentence.ids.len() > table_rows(&self.positions) {
                bail!(
                    "{} tokens is more than the model's {} positions",
                    sentence.ids.len(),
                    table_rows(&self.positions)
                );
            }
            for (position, (&id, &kind)) in sentence.ids.iter().zip(sentence.types).enumerate() {
                let (id, kind) = (id as usize, kind as usize);
                if id >= table_rows(&self.words) || kind >= table_rows(&self.types) {
                    bail!("token {id} (type {kind}) is outside the model's vocabulary");
                }
                let (word, place, kind) = (
                    &self.words[id * d..][..d],
                    &self.positions[position * d..][..d],
                    &self.types[kind * d..][..d],
                );
                x.extend((0..d).map(|i| word[i] + place[i] + kind[i]));
            }
        }
        self.embedding_norm.add_and_normalise(&mut x, &[]);
        Ok(x)
    }

    /// Self-attention of each sentence over its own tokens, from the rows of queries, keys and
    /// values: `[tokens, hidden]`, the heads side by side. One task per sentence.
    fn attend(&self, qkv: &[f32], lengths: &[usize]) -> Vec<f32> {
        let (d, width) = (self.hidden, 3 * self.hidden);
        let dim = d / self.heads;
        let mut context = vec![0.0; lengths.iter().sum::<usize>() * d];
        let mut parts = Vec::with_capacity(lengths.len());
        let (mut rest, mut start) = (context.as_mut_slice(), 0);
        for &len in lengths {
            let (part, tail) = rest.split_at_mut(len * d);
            parts.push((&qkv[start * width..(start + len) * width], part));
            (rest, start) = (tail, start + len);
        }
        parts.into_par_iter().for_each(|(rows, out)| {
            let tokens = out.len() / d;
            for h in 0..self.heads {
                let head = Head {
                    keys: &rows[d..],
                    values: &rows[2 * d..],
                    offset: h * dim,
                    width,
                    positions: tokens,
                };
                for t in 0..tokens {
                    let query = &rows[t * width + h * dim..][..dim];
                    head.attend(query, &mut out[t * d + h * dim..][..dim]);
                }
            }
        });
        context
    }
}

impl LayerNorm {
    /// `x = norm(x + residual)` row by row (`residual` empty: `x = norm(x)`), rows split across
    /// the cores.
    fn add_and_normalise(&self, x: &mut [f32], residual: &[f32]) {
        // Rows per task: a few microseconds of work each.
        const ROWS: usize = 64;
        let d = self.weight.len();
        x.par_chunks_mut(ROWS * d)
            .enumerate()
            .for_each(|(task, rows)| {
                widest(|| {
                    for (r, row) in rows.chunks_mut(d).enumerate() {
                        if !residual.is_empty() {
                            let residual = &residual[(task * ROWS + r) * d..][..d];
                            row.iter_mut().zip(residual).for_each(|(x, r)| *x += r);
                        }
                        let mean = lanes_sum(row, |x| x) / d as f32;
                        let variance = lanes_sum(row, |x| (x - mean) * (x - mean)) / d as f32;
                        let inverse = 1.0 / (variance + self.eps).sqrt();
                        for ((x, w), b) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
                            *x = (*x - mean) * inverse * w + b;
                        }
                    }
                })
            });
    }
}

/// The sum of `f` of each value, in sixteen independent lanes, which the compiler can vectorise
/// (a float sum added in order cannot be).
#[inline(always)]
fn lanes_sum(values: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; 16];
    let chunks = values.chunks_exact(16);
    let rest: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        lanes.iter_mut().zip(chunk).for_each(|(l, &v)| *l += f(v));
    }
    lanes.iter().sum::<f32>() + rest
}

/// GELU as BERT defines it, x·Φ(x) with the exact normal CDF, in place, across the cores.
fn gelu(values: &mut [f32]) {
    values
        .par_chunks_mut(16 * 1024)
        .for_each(|chunk| widest(|| chunk.iter_mut().for_each(|v| *v = gelu_one(*v))));
}

/// Runs `f` compiled for AVX-512, or else AVX2, where the CPU has them, so that its loops are
/// vectorised sixteen or eight floats wide (a portable build may assume only SSE2).
#[inline(always)]
fn widest<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,fma")]
        fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU was just checked for AVX-512F and FMA.
            return unsafe { avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU was just checked for AVX2 and FMA.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// x·½(1 + erf(x/√2)), with erf by Abramowitz and Stegun 7.1.26 (absolute error ≤ 1.5e-7):
/// erf(z) = 1 − t(a₁ + t(a₂ + …))·e^(−z²), t = 1/(1 + p·z), for z ≥ 0, odd in z.
#[inline(always)]
fn gelu_one(x: f32) -> f32 {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let series = t
        * (0.254_829_6
            + t * (-0.284_496_72 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    let erf = (1.0 - series * exp(-z * z)).copysign(x);
    0.5 * x * (1.0 + erf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf by its Maclaurin series in f64, exact to f32 precision for |z| ≤ 3.
    fn erf(z: f64) -> f64 {
        let (mut term, mut sum) = (z, z);
        for n in 1..120 {
            term *= -z * z / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn gelu_matches_the_exact_definition_across_the_activations_range() {
        for i in -400..=400 {
            let x = i as f32 / 100.0;
            let want = 0.5 * f64::from(x) * (1.0 + erf(f64::from(x) / 2f64.sqrt()));
            let got = gelu_one(x);
            assert!(
                (f64::from(got) - want).abs() < 1e-6,
                "gelu({x}) = {got}, not {want}"
            );
        }
        let mut many = vec![-2.0, -0.5, 0.0, 0.5, 2.0];
        gelu(&mut many);
        assert_eq!(many, [-2.0, -0.5, 0.0, 0.5, 2.0].map(gelu_one));
    }

    #[test]
    fn layer_norm_centres_and_scales_each_row() {
        let norm = LayerNorm {
            weight: vec![2.0; 4],
            bias: vec![1.0; 4],
            eps: 1e-12,
        };
        let mut x = vec![1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 4.0];
        norm.add_and_normalise(&mut x, &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        let step = 2.0 / 1.25f32.sqrt();
        let want = [
            1.0 - 1.5 * step,
            1.0 - 0.5 * step,
            1.0 + 0.5 * step,
            1.0 + 1.5 * step,
        ];
        for (g, w) in x[..4].iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{g} vs {w}");
        }
        assert_eq!(&x[4..], &[1.0; 4], "a constant row becomes the bias");
    }
}
