//! Many rows times a weight matrix in 8 bits: the linear layers of the sentence encoder, where a
//! batch is hundreds of token rows and arithmetic, not memory, sets the speed.
//!
//! Decoding's [`Int8Matrix`](super::Int8Matrix) scales every 64 weights on their own and pays a
//! float multiply-add per block. Here each output column has one scale and each input row one,
//! so a whole dot product is integer arithmetic, scaled once at the end: with AVX-512 VNNI, one
//! instruction per 64 multiply-adds, four times what an f32 fused multiply-add does. The price is
//! precision: one large value in a row coarsens the rounding of the rest of that row (how far
//! the embeddings move is in BENCHMARKS.md, and held by a test).
//!
//! The weights are packed as `vpdpbusd` takes them: in panels of 16 output columns, where each
//! group of four inputs is 64 bytes, the four weights of every column side by side. One
//! instruction multiplies four bytes of an input row, broadcast to all 16 lanes, by a group, and
//! adds each column's four products into that column's lane.
//!
//! VNNI multiplies unsigned bytes by signed ones, so an input row is rounded to 256 levels from
//! its smallest value to its largest, with the level of 0 as its zero point: each column's sum
//! thereby gains zero point × the sum of the column's weights, subtracted once at the end. Using
//! the row's own range, not ± its largest magnitude, doubles the precision of GELU's outputs,
//! which are almost all positive (measured on 16 sentences: the embeddings' cosine to the f32
//! model's went from 0.993–0.998 to 0.998–0.999).

use rayon::prelude::*;

/// Output columns in one panel: one AVX-512 register of 32-bit sums.
const PANEL: usize = 16;
/// Input rows and panels in one tile: 8 × 2 registers of sums stay in registers while the
/// weights stream past, each weight register serving 8 rows.
const TILE_ROWS: usize = 8;
const TILE_PANELS: usize = 2;
/// Rows handed to one task, each task rounding its own rows: enough work to outweigh scheduling.
const ROWS_PER_TASK: usize = 32;

/// A linear layer, `y = x Wᵀ + b`, with `W` (`[outputs, inputs]`, as PyTorch stores it) in 8
/// bits, one scale per output.
#[derive(Debug, Clone)]
pub struct Int8Linear {
    inputs: usize,
    outputs: usize,
    /// Groups of four inputs (the last padded with zero weights).
    groups: usize,
    /// `[panel][group][column][4]`; panels padded with zero columns to a whole tile.
    weights: Box<[i8]>,
    /// Per padded column: its scale, the sum of its weights, its bias.
    scales: Box<[f32]>,
    sums: Box<[i32]>,
    bias: Box<[f32]>,
}

/// Input rows rounded for one product: `[row][group * 4]` bytes, each row's rounding.
struct RoundedRows {
    bytes: Vec<u8>,
    roundings: Vec<Rounding>,
}

/// How a row was rounded: value ≈ (byte − zero) × scale.
#[derive(Debug, Clone, Copy, Default)]
struct Rounding {
    scale: f32,
    zero: i32,
}

impl Rounding {
    /// 256 levels over `[smallest, largest]`, widened to hold 0 so that 0 is a level.
    fn new(smallest: f32, largest: f32) -> Self {
        let (low, high) = (smallest.min(0.0), largest.max(0.0));
        let scale = (high - low) / 255.0;
        let zero = if scale == 0.0 {
            0
        } else {
            round(-low / scale) as i32
        };
        Self { scale, zero }
    }

    fn inverse(self) -> f32 {
        if self.scale == 0.0 {
            0.0
        } else {
            1.0 / self.scale
        }
    }
}

/// Adding and subtracting 1.5·2²³ rounds a float to the nearest integer, in arithmetic the
/// compiler vectorises (`f32::round` is a call per value).
#[inline(always)]
fn round(v: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0;
    (v + ROUND) - ROUND
}

impl Int8Linear {
    /// Rounds each weight to the nearest of 255 levels spread over its output's largest
    /// magnitude. `bias` has one value per output.
    pub fn quantize(weights: &[f32], inputs: usize, bias: &[f32]) -> Self {
        let outputs = bias.len();
        assert!(
            inputs > 0 && weights.len() == inputs * outputs,
            "{} weights do not make {outputs} rows of {inputs}",
            weights.len()
        );
        let groups = inputs.div_ceil(4);
        let panels = outputs.div_ceil(PANEL * TILE_PANELS) * TILE_PANELS;
        let columns = panels * PANEL;
        let mut packed = vec![0i8; columns * groups * 4];
        let (mut scales, mut sums) = (vec![0.0; columns], vec![0; columns]);
        let mut padded_bias = vec![0.0; columns];
        padded_bias[..outputs].copy_from_slice(bias);
        for (column, row) in weights.chunks(inputs).enumerate() {
            let largest = row.iter().fold(0f32, |m, w| m.max(w.abs()));
            scales[column] = largest / 127.0;
            let inverse = if largest == 0.0 { 0.0 } else { 127.0 / largest };
            let (panel, lane) = (column / PANEL, column % PANEL);
            for (input, w) in row.iter().enumerate() {
                let q = round(w * inverse) as i8;
                let (group, within) = (input / 4, input % 4);
                packed[((panel * groups + group) * PANEL + lane) * 4 + within] = q;
                sums[column] += i32::from(q);
            }
        }
        Self {
            inputs,
            outputs,
            groups,
            weights: packed.into(),
            scales: scales.into(),
            sums: sums.into(),
            bias: padded_bias.into(),
        }
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Whether this CPU has the instructions that make 8-bit products fast (AVX-512 VNNI);
    /// without them [`Int8Linear::forward`] runs a correct but slow portable loop.
    pub fn has_fast_kernel() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512vnni")
                && std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    fn panels(&self) -> usize {
        self.scales.len() / PANEL
    }

    /// `input` (`[rows, inputs]`) times the weights plus the bias: `[rows, outputs]`, rows split
    /// across the cores.
    pub fn forward(&self, input: &[f32]) -> Vec<f32> {
        assert!(
            input.len().is_multiple_of(self.inputs),
            "{} values do not make rows of {}",
            input.len(),
            self.inputs
        );
        let product = product_kernel();
        let mut output = vec![0.0; input.len() / self.inputs * self.outputs];
        output
            .par_chunks_mut(ROWS_PER_TASK * self.outputs)
            .zip(input.par_chunks(ROWS_PER_TASK * self.inputs))
            .for_each(|(out, rows)| product(self, rows, out));
        output
    }

    /// Rounds rows to bytes, padded with zero rows to whole tiles; `round_row` rounds one row
    /// into its bytes.
    #[inline(always)]
    fn round_rows(
        &self,
        input: &[f32],
        round_row: impl Fn(&[f32], &mut [u8]) -> Rounding,
    ) -> RoundedRows {
        let rows = input.len() / self.inputs;
        let width = self.groups * 4;
        let mut bytes = vec![0u8; rows.next_multiple_of(TILE_ROWS) * width];
        let mut roundings = vec![Rounding::default(); rows.next_multiple_of(TILE_ROWS)];
        for ((row, out), rounding) in input
            .chunks(self.inputs)
            .zip(bytes.chunks_mut(width))
            .zip(&mut roundings)
        {
            *rounding = round_row(row, out);
        }
        RoundedRows { bytes, roundings }
    }

    /// The float output of a column's integer sum for a row.
    #[inline(always)]
    fn finish(&self, sum: i32, row: Rounding, column: usize) -> f32 {
        let sum = sum - row.zero * self.sums[column];
        sum as f32 * (row.scale * self.scales[column]) + self.bias[column]
    }
}

/// One task's rows times the whole matrix, written to its `[rows, outputs]` slice.
type Product = fn(&Int8Linear, &[f32], &mut [f32]);

/// The fastest kernel this CPU runs; `is_x86_feature_detected!` caches what it finds.
fn product_kernel() -> Product {
    #[cfg(target_arch = "x86_64")]
    if Int8Linear::has_fast_kernel() {
        return |m, x, out| {
            // SAFETY: the CPU was just checked for AVX-512F and VNNI.
            unsafe { vnni::product(m, x, out) }
        };
    }
    product_portable
}

/// A row rounded over its own range into `out`.
fn round_row(row: &[f32], out: &mut [u8]) -> Rounding {
    let smallest = row.iter().fold(0f32, |m, &v| m.min(v));
    let largest = row.iter().fold(0f32, |m, &v| m.max(v));
    let rounding = Rounding::new(smallest, largest);
    round_row_by(row, rounding, out);
    rounding
}

fn round_row_by(row: &[f32], rounding: Rounding, out: &mut [u8]) {
    let inverse = rounding.inverse();
    for (b, v) in out.iter_mut().zip(row) {
        *b = (round(v * inverse) as i32 + rounding.zero).clamp(0, 255) as u8;
    }
}

fn product_portable(m: &Int8Linear, input: &[f32], out: &mut [f32]) {
    let x = m.round_rows(input, round_row);
    let width = m.groups * 4;
    for (r, row) in out.chunks_mut(m.outputs).enumerate() {
        let bytes = &x.bytes[r * width..][..width];
        for (column, y) in row.iter_mut().enumerate() {
            let (panel, lane) = (column / PANEL, column % PANEL);
            let mut sum = 0i32;
            for (group, b) in bytes.chunks(4).enumerate() {
                let w = &m.weights[((panel * m.groups + group) * PANEL + lane) * 4..][..4];
                sum += w
                    .iter()
                    .zip(b)
                    .map(|(&w, &b)| i32::from(w) * i32::from(b))
                    .sum::<i32>();
            }
            *y = m.finish(sum, x.roundings[r], column);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    use super::{Int8Linear, Rounding, PANEL, TILE_PANELS, TILE_ROWS};

    /// [`super::round_row`] sixteen values at a time (the compiler keeps the portable loops
    /// scalar: `f32::max` must order NaN, and a float-to-integer `as` must saturate).
    #[target_feature(enable = "avx512f")]
    fn round_row(row: &[f32], out: &mut [u8]) -> Rounding {
        let whole = row.len() / 16 * 16;
        let (mut smallest, mut largest) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        for at in (0..whole).step_by(16) {
            // SAFETY: at + 16 <= whole <= row.len().
            let v = unsafe { _mm512_loadu_ps(row.as_ptr().add(at)) };
            smallest = _mm512_min_ps(smallest, v);
            largest = _mm512_max_ps(largest, v);
        }
        let rest = &row[whole..];
        let rounding = Rounding::new(
            rest.iter()
                .fold(_mm512_reduce_min_ps(smallest), |m, &v| m.min(v)),
            rest.iter()
                .fold(_mm512_reduce_max_ps(largest), |m, &v| m.max(v)),
        );
        let (scale, zero) = (
            _mm512_set1_ps(rounding.inverse()),
            _mm512_set1_epi32(rounding.zero),
        );
        let (floor, ceiling) = (_mm512_setzero_si512(), _mm512_set1_epi32(255));
        for at in (0..whole).step_by(16) {
            // SAFETY: at + 16 <= whole <= row.len() <= out.len() (a row's bytes are padded).
            unsafe {
                let v = _mm512_mul_ps(_mm512_loadu_ps(row.as_ptr().add(at)), scale);
                // Rounds to nearest, as MXCSR is by default.
                let q = _mm512_add_epi32(_mm512_cvtps_epi32(v), zero);
                let q = _mm512_min_epi32(_mm512_max_epi32(q, floor), ceiling);
                _mm_storeu_si128(out.as_mut_ptr().add(at).cast(), _mm512_cvtepi32_epi8(q));
            }
        }
        super::round_row_by(rest, rounding, &mut out[whole..]);
        rounding
    }

    /// Tile by tile: 8 rows × 2 panels of sums in 16 registers, two weight registers loaded per
    /// group of four inputs, each input word broadcast once and used twice.
    #[target_feature(enable = "avx512f,avx512vnni")]
    pub fn product(m: &Int8Linear, input: &[f32], out: &mut [f32]) {
        let x = m.round_rows(input, |row, out| round_row(row, out));
        let rows = input.len() / m.inputs;
        let width = m.groups * 4;
        let panel_bytes = m.groups * PANEL * 4;
        for panel in (0..m.panels()).step_by(TILE_PANELS) {
            let first_column = panel * PANEL;
            for first_row in (0..rows).step_by(TILE_ROWS) {
                let mut sums = [[_mm512_setzero_si512(); TILE_PANELS]; TILE_ROWS];
                // SAFETY: the weights hold whole tiles of panels (padded), `groups` 64-byte
                // groups each; the rounded rows hold whole tiles of rows (padded), `width`
                // bytes each, so every load below is in bounds. The loads are the unaligned kind.
                unsafe {
                    let w = m.weights.as_ptr().add(panel * panel_bytes);
                    let a = x.bytes.as_ptr().add(first_row * width);
                    for group in 0..m.groups {
                        let weights = [
                            _mm512_loadu_si512(w.add(group * 64).cast()),
                            _mm512_loadu_si512(w.add(panel_bytes + group * 64).cast()),
                        ];
                        for (i, sums) in sums.iter_mut().enumerate() {
                            let word = a.add(i * width + group * 4).cast::<i32>().read_unaligned();
                            let word = _mm512_set1_epi32(word);
                            for (sum, weights) in sums.iter_mut().zip(weights) {
                                *sum = _mm512_dpbusd_epi32(*sum, word, weights);
                            }
                        }
                    }
                }
                for (i, sums) in sums.iter().enumerate().take(rows - first_row) {
                    let row = first_row + i;
                    let rounding = x.roundings[row];
                    let (scale, zero) = (
                        _mm512_set1_ps(rounding.scale),
                        _mm512_set1_epi32(rounding.zero),
                    );
                    for (p, sum) in sums.iter().enumerate() {
                        let column = first_column + p * PANEL;
                        if column >= m.outputs {
                            break;
                        }
                        let keep = (m.outputs - column).min(PANEL);
                        // SAFETY: the scale, sum and bias arrays hold every padded column; the
                        // store writes only the `keep` columns inside this row of `out`.
                        unsafe {
                            let sums = _mm512_loadu_si512(m.sums.as_ptr().add(column).cast());
                            let offsets = _mm512_mullo_epi32(zero, sums);
                            let scales = _mm512_loadu_ps(m.scales.as_ptr().add(column));
                            let bias = _mm512_loadu_ps(m.bias.as_ptr().add(column));
                            let value = _mm512_cvtepi32_ps(_mm512_sub_epi32(*sum, offsets));
                            let y = _mm512_fmadd_ps(value, _mm512_mul_ps(scale, scales), bias);
                            let mask = (((1u32 << keep) - 1) & 0xffff) as u16;
                            let at = out.as_mut_ptr().add(row * m.outputs + column);
                            _mm512_mask_storeu_ps(at, mask, y);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(n: usize, seed: usize) -> Vec<f32> {
        // Varied magnitudes with an occasional outlier, as trained weights and activations have.
        (0..n)
            .map(|i| {
                let base = (((i + seed) * 7919) % 23) as f32 - 11.0;
                if (i + seed).is_multiple_of(89) {
                    base * 3.0
                } else {
                    base * 0.05
                }
            })
            .collect()
    }

    fn exact(x: &[f32], w: &[f32], bias: &[f32]) -> Vec<f32> {
        let inputs = w.len() / bias.len();
        x.chunks(inputs)
            .flat_map(|row| {
                w.chunks(inputs)
                    .zip(bias)
                    .map(move |(col, b)| col.iter().zip(row).map(|(w, x)| w * x).sum::<f32>() + b)
            })
            .collect()
    }

    fn largest(v: &[f32]) -> f32 {
        v.iter().fold(0f32, |m, v| m.max(v.abs()))
    }

    #[test]
    fn a_product_differs_from_the_exact_one_by_no_more_than_rounding_for_awkward_sizes() {
        for (rows, inputs, outputs) in [(1, 1, 1), (3, 5, 17), (9, 64, 33), (40, 384, 48)] {
            let (x, w) = (numbers(rows * inputs, 1), numbers(outputs * inputs, 2));
            let bias = numbers(outputs, 3);
            let got = Int8Linear::quantize(&w, inputs, &bias).forward(&x);
            let want = exact(&x, &w, &bias);
            assert_eq!(got.len(), rows * outputs);
            for (at, (g, e)) in got.iter().zip(&want).enumerate() {
                let (row, column) = (&x[at / outputs * inputs..][..inputs], at % outputs);
                let col = &w[column * inputs..][..inputs];
                // Half a step of each side's rounding, times the other side's magnitudes.
                let (dx, dw) = (largest(row) / 254.0, largest(col) / 254.0);
                let l1 = |v: &[f32]| v.iter().map(|v| v.abs()).sum::<f32>();
                let bound = l1(row) * dw + l1(col) * dx + inputs as f32 * dx * dw + 1e-4;
                assert!(
                    (g - e).abs() <= bound,
                    "{rows}x{inputs}x{outputs} at {at}: {g} vs {e}"
                );
            }
        }
    }

    #[test]
    fn the_kernel_this_cpu_runs_agrees_with_the_portable_one() {
        let (rows, inputs, outputs) = (37, 388, 80);
        let m = Int8Linear::quantize(&numbers(outputs * inputs, 4), inputs, &numbers(outputs, 5));
        let x = numbers(rows * inputs, 6);
        let mut want = vec![0.0; rows * outputs];
        product_portable(&m, &x, &mut want);
        let got = m.forward(&x);
        for (at, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                "at {at}: {g} vs {w}"
            );
        }
    }

    #[test]
    fn zero_rows_give_the_bias() {
        let m = Int8Linear::quantize(&[1.0; 8], 4, &[0.5, -2.0]);
        assert_eq!(m.forward(&[0.0; 8]), vec![0.5, -2.0, 0.5, -2.0]);
    }
}
