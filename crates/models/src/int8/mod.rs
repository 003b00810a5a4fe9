//! A weight matrix in 8 bits, for the one-row products of decoding. (The many-row products of
//! the sentence encoder scale their weights differently: [`Int8Linear`].)
//!
//! Decoding multiplies one row by every weight matrix per token, reading each weight once and
//! doing two flops with it, so its speed is memory bandwidth ÷ weight bytes: one byte a weight
//! is a quarter of f32's. Each run of [`BLOCK`] weights in a row shares an f32 scale (its largest
//! magnitude ÷ 127), so an outlier costs precision only within its own block. The input row is
//! rounded the same way, once per product, and each block's dot product is then exact integer
//! arithmetic scaled once — the scheme llama.cpp uses for Q8_0. Integer products matter because
//! at one byte a weight a float kernel (widen, convert, multiply) cannot keep up with memory,
//! while one AVX-512 VNNI instruction multiplies and sums 64 bytes.
//!
//! Weights are stored offset by 128 (`u8`) because VNNI multiplies unsigned bytes by signed
//! ones; the offset adds 128 × the block's input sum, which each block's integer sum starts
//! below by as much. Rows are padded with zero weights to whole blocks, so no kernel has a tail.
//!
//! Kernels are chosen at run time (AVX-512 VNNI, else AVX2, else portable) because a portable
//! build must run fast on the CPU it finds; candle's quantized kernels are chosen at compile time
//! and would run as scalar code here. All three compute the same integer sums.

use rayon::prelude::*;

mod gemm;
pub use gemm::Int8Linear;

/// Weights (and inputs) sharing one scale: one AVX-512 register of bytes.
pub const BLOCK: usize = 64;

/// Rows of the matrix handed to one task: enough work to outweigh scheduling it.
const ROWS_PER_TASK: usize = 64;

/// A row-major `[rows, cols]` matrix of 8-bit weights with one scale per [`BLOCK`] of a row.
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    cols: usize,
    blocks: usize,
    /// Each weight + 128, rows padded to `blocks * BLOCK` with 128 (a zero weight).
    values: Box<[u8]>,
    /// `scales[row * blocks + block]`.
    scales: Box<[f32]>,
}

/// A vector rounded to 8 bits by block, as [`Int8Matrix`] rows are.
struct Int8Vector {
    values: Vec<i8>,
    scales: Vec<f32>,
    /// Per block, where its integer sum starts: −128 × the sum of its values in the first lane,
    /// which cancels what the weights' offset adds (the other 15 lanes are 0).
    starts: Vec<[i32; 16]>,
}

/// The scale for a block, and each value rounded to it (to ±127, so negating never overflows).
fn round_block(block: &[f32]) -> (f32, impl Iterator<Item = i8> + '_) {
    let largest = block.iter().fold(0f32, |m, w| m.max(w.abs()));
    let scale = largest / 127.0;
    let inverse = if scale == 0.0 { 0.0 } else { 1.0 / scale };
    (
        scale,
        block.iter().map(move |w| (w * inverse).round() as i8),
    )
}

impl Int8Matrix {
    /// Rounds each weight to the nearest of 255 levels spread over its block's largest magnitude.
    pub fn quantize(weights: &[f32], cols: usize) -> Self {
        assert!(
            cols > 0 && weights.len().is_multiple_of(cols),
            "{} weights do not make rows of {cols}",
            weights.len()
        );
        let blocks = cols.div_ceil(BLOCK);
        let mut values = Vec::with_capacity(weights.len() / cols * blocks * BLOCK);
        let mut scales = Vec::with_capacity(weights.len() / cols * blocks);
        for row in weights.chunks(cols) {
            for block in row.chunks(BLOCK) {
                let (scale, rounded) = round_block(block);
                values.extend(rounded.map(|w| (i16::from(w) + 128) as u8));
                values.resize(values.len() + BLOCK - block.len(), 128);
                scales.push(scale);
            }
        }
        Self {
            cols,
            blocks,
            values: values.into(),
            scales: scales.into(),
        }
    }

    pub fn rows(&self) -> usize {
        self.scales.len() / self.blocks
    }

    /// This matrix times `input` (`[cols]`): one output per row, rows split across the cores.
    pub fn gemv(&self, input: &[f32]) -> Vec<f32> {
        assert_eq!(
            input.len(),
            self.cols,
            "input length must match the columns"
        );
        let dot = dot_kernel();
        let x = self.round_input(input);
        let width = self.blocks * BLOCK;
        let mut output = vec![0.0; self.rows()];
        output
            .par_chunks_mut(ROWS_PER_TASK)
            .enumerate()
            .for_each(|(task, out)| {
                for (i, y) in out.iter_mut().enumerate() {
                    let row = task * ROWS_PER_TASK + i;
                    let values = &self.values[row * width..][..width];
                    *y = dot(values, &self.scales[row * self.blocks..][..self.blocks], &x);
                }
            });
        output
    }

    fn round_input(&self, input: &[f32]) -> Int8Vector {
        let mut x = Int8Vector {
            values: Vec::with_capacity(self.blocks * BLOCK),
            scales: Vec::with_capacity(self.blocks),
            starts: Vec::with_capacity(self.blocks),
        };
        for block in input.chunks(BLOCK) {
            let (scale, rounded) = round_block(block);
            let first = x.values.len();
            x.values.extend(rounded);
            x.values.resize(first + BLOCK, 0);
            let sum: i32 = x.values[first..].iter().map(|&v| i32::from(v)).sum();
            let mut start = [0; 16];
            start[0] = -128 * sum;
            x.scales.push(scale);
            x.starts.push(start);
        }
        x
    }
}

/// One row times the input: its offset weights, their block scales, the rounded input.
type Dot = fn(&[u8], &[f32], &Int8Vector) -> f32;

/// The fastest kernel this CPU runs; `is_x86_feature_detected!` caches what it finds.
fn dot_kernel() -> Dot {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512vnni")
            && std::arch::is_x86_feature_detected!("avx512f")
        {
            return |w, s, x| {
                // SAFETY: the CPU was just checked for AVX-512F and VNNI.
                unsafe { dot_vnni(w, s, x) }
            };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return |w, s, x| {
                // SAFETY: the CPU was just checked for AVX2 and FMA.
                unsafe { dot_avx2(w, s, x) }
            };
        }
    }
    dot_portable
}

fn dot_portable(weights: &[u8], scales: &[f32], x: &Int8Vector) -> f32 {
    let blocks = weights.chunks(BLOCK).zip(x.values.chunks(BLOCK));
    blocks
        .zip(scales.iter().zip(&x.scales))
        .zip(&x.starts)
        .map(|(((w, v), (ws, xs)), start)| {
            let sum = w
                .iter()
                .zip(v)
                .fold(start[0], |sum, (&w, &v)| sum + i32::from(w) * i32::from(v));
            ws * xs * sum as f32
        })
        .sum()
}

/// One instruction a block: `vpdpbusd` multiplies 64 weight bytes by 64 input bytes and adds
/// each four neighbouring products into one of 16 lanes, starting from the block's start. The
/// lanes are then scaled into one of two float totals (two, so that consecutive blocks do not
/// wait on each other's addition), and summed once per row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
fn dot_vnni(weights: &[u8], scales: &[f32], x: &Int8Vector) -> f32 {
    use std::arch::x86_64::*;
    let (w, v) = (weights.as_ptr(), x.values.as_ptr());
    let mut totals = [_mm512_setzero_ps(); 2];
    for (b, (start, scale)) in x
        .starts
        .iter()
        .zip(scales.iter().zip(&x.scales))
        .enumerate()
    {
        // SAFETY: the row and the input hold `starts.len()` whole blocks (both are padded), so
        // the 64 bytes at b * BLOCK are in bounds, as is a start's 16 i32s; the loads are the
        // unaligned kind.
        let lanes = unsafe {
            _mm512_dpbusd_epi32(
                _mm512_loadu_si512(start.as_ptr().cast()),
                _mm512_loadu_si512(w.add(b * BLOCK).cast()),
                _mm512_loadu_si512(v.add(b * BLOCK).cast()),
            )
        };
        let scale = _mm512_set1_ps(scale.0 * scale.1);
        totals[b % 2] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lanes), scale, totals[b % 2]);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(totals[0], totals[1]))
}

/// [`dot_vnni`] without VNNI: sixteen bytes at a time widened to 16 bits, multiplied and summed
/// in pairs (`vpmaddwd`), where weights up to 255 times inputs up to 127 cannot overflow as they
/// would in `vpmaddubsw`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2(weights: &[u8], scales: &[f32], x: &Int8Vector) -> f32 {
    use std::arch::x86_64::*;
    let (w, v) = (weights.as_ptr(), x.values.as_ptr());
    let mut total = _mm256_setzero_ps();
    for (b, (start, scale)) in x
        .starts
        .iter()
        .zip(scales.iter().zip(&x.scales))
        .enumerate()
    {
        // SAFETY: as in `dot_vnni`; the start's first 8 lanes hold all of it.
        let mut lanes = unsafe { _mm256_loadu_si256(start.as_ptr().cast()) };
        for at in (b * BLOCK..(b + 1) * BLOCK).step_by(16) {
            // SAFETY: as in `dot_vnni`, the 16 bytes at `at` lie inside a whole block.
            unsafe {
                let w16 = _mm256_cvtepu8_epi16(_mm_loadu_si128(w.add(at).cast()));
                let v16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(v.add(at).cast()));
                lanes = _mm256_add_epi32(lanes, _mm256_madd_epi16(w16, v16));
            }
        }
        let scale = _mm256_set1_ps(scale.0 * scale.1);
        total = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), scale, total);
    }
    let mut out = [0f32; 8];
    // SAFETY: `out` holds exactly eight f32s.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), total) };
    out.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: usize, cols: usize) -> Vec<f32> {
        // Magnitudes that differ by block, with an outlier, as trained weights have.
        (0..rows * cols)
            .map(|i| {
                let base = ((i * 7919) % 13) as f32 - 6.0;
                let block_scale = 1.0 + ((i / BLOCK) % 5) as f32;
                if i % 97 == 0 {
                    base * 40.0
                } else {
                    base * 0.01 * block_scale
                }
            })
            .collect()
    }

    fn input(cols: usize) -> Vec<f32> {
        (0..cols).map(|i| (i % 5) as f32 * 0.25 - 0.6).collect()
    }

    fn exact(weights: &[f32], input: &[f32]) -> Vec<f32> {
        weights
            .chunks(input.len())
            .map(|row| row.iter().zip(input).map(|(w, x)| w * x).sum())
            .collect()
    }

    fn step(block: &[f32]) -> f32 {
        block.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0
    }

    /// The most rounding both sides to half a step can move a row's product:
    /// Σ (|x|·Δw + |w|·Δx + Δw·Δx/2) / 2.
    fn bound(row: &[f32], input: &[f32]) -> f32 {
        let l1 = |v: &[f32]| v.iter().map(|v| v.abs()).sum::<f32>();
        row.chunks(BLOCK)
            .zip(input.chunks(BLOCK))
            .map(|(w, x)| {
                let (dw, dx) = (step(w), step(x));
                (l1(x) * dw + l1(w) * dx + w.len() as f32 * dw * dx / 2.0) / 2.0
            })
            .sum::<f32>()
            * 1.001
            + 1e-4
    }

    #[test]
    fn a_product_differs_from_the_exact_one_by_no_more_than_rounding_for_awkward_sizes() {
        for (rows, cols) in [(1, 1), (3, 31), (65, 65), (130, 576), (7, 1536), (2, 100)] {
            let (weights, input) = (matrix(rows, cols), input(cols));
            let got = Int8Matrix::quantize(&weights, cols).gemv(&input);
            let want = exact(&weights, &input);
            assert_eq!(got.len(), rows);
            for (r, (g, w)) in got.iter().zip(&want).enumerate() {
                let row = &weights[r * cols..][..cols];
                assert!(
                    (g - w).abs() <= bound(row, &input),
                    "{rows}x{cols} row {r}: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn every_kernel_this_cpu_runs_agrees_with_the_portable_one() {
        let (rows, cols) = (9, 576 + 17);
        let m = Int8Matrix::quantize(&matrix(rows, cols), cols);
        let x = m.round_input(&input(cols));
        let mut kernels: Vec<(&str, Dot)> = vec![];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512vnni")
                && std::arch::is_x86_feature_detected!("avx512f")
            {
                // SAFETY: the CPU was just checked for AVX-512F and VNNI.
                kernels.push(("vnni", |w, s, x| unsafe { dot_vnni(w, s, x) }));
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU was just checked for AVX2 and FMA.
                kernels.push(("avx2", |w, s, x| unsafe { dot_avx2(w, s, x) }));
            }
        }
        let width = m.blocks * BLOCK;
        for row in 0..rows {
            let w = &m.values[row * width..][..width];
            let s = &m.scales[row * m.blocks..][..m.blocks];
            let want = dot_portable(w, s, &x);
            for (name, dot) in &kernels {
                let got = dot(w, s, &x);
                let close = (got - want).abs() <= 1e-4 * want.abs().max(1.0);
                assert!(close, "{name}, row {row}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn zero_weights_and_a_zero_input_give_zeros() {
        assert_eq!(
            Int8Matrix::quantize(&[0.0; 64], 64).gemv(&[1.0; 64]),
            vec![0.0]
        );
        assert_eq!(
            Int8Matrix::quantize(&[1.0; 64], 64).gemv(&[0.0; 64]),
            vec![0.0]
        );
    }
}
