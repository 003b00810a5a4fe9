//! A layer's key/value cache and the attention of one new token over it.
//!
//! Each decoded token attends over every position before it, so past a few hundred positions
//! attention costs a token more than its weights do. Run as tensor operations, it copied the
//! whole cache per token (a concatenation, then each key/value head repeated for the query heads
//! sharing it) and repacked the operands of small matrix products (measured: more than half of
//! each token's time after an 856-token prompt). Here the cache is one growing buffer that new
//! positions are appended to, and a new token's attention is two passes over it per query head:
//! scores, then the weighted sum of values.

use rayon::prelude::*;

/// Keys and values of every position so far, each row `[kv head][dim]`.
#[derive(Debug)]
pub struct KvCache {
    kv_heads: usize,
    dim: usize,
    keys: Vec<f32>,
    values: Vec<f32>,
}

impl KvCache {
    pub fn new(kv_heads: usize, dim: usize) -> Self {
        Self {
            kv_heads,
            dim,
            keys: vec![],
            values: vec![],
        }
    }

    fn width(&self) -> usize {
        self.kv_heads * self.dim
    }

    /// Positions cached.
    pub fn len(&self) -> usize {
        self.keys.len() / self.width()
    }

    /// Forgets every position from `positions` on.
    pub fn truncate(&mut self, positions: usize) {
        self.keys.truncate(positions * self.width());
        self.values.truncate(positions * self.width());
    }

    /// Appends positions given as rows `[position][kv head][dim]`.
    pub fn append(&mut self, keys: &[f32], values: &[f32]) {
        debug_assert_eq!(keys.len(), values.len());
        debug_assert_eq!(keys.len() % self.width(), 0);
        self.keys.extend_from_slice(keys);
        self.values.extend_from_slice(values);
    }

    /// Every cached key and value, `[position][kv head][dim]`.
    pub fn rows(&self) -> (&[f32], &[f32]) {
        (&self.keys, &self.values)
    }

    /// Attention of one new token (its query heads `[head][dim]`, already rotated) over every
    /// cached position, its own included: `[head][dim]`. Query head `h` reads key/value head
    /// `h / (heads / kv_heads)`, as grouped-query attention lays them out. One task per query
    /// head: nine tasks balance two cores better than three (a key/value head each), and the
    /// heads sharing keys find them in cache.
    pub fn attend(&self, queries: &[f32]) -> Vec<f32> {
        let dim = self.dim;
        let group = queries.len() / dim / self.kv_heads;
        let mut output = vec![0.0; queries.len()];
        output
            .par_chunks_mut(dim)
            .zip(queries.par_chunks(dim))
            .enumerate()
            .for_each(|(h, (out, query))| {
                let head = Head {
                    keys: &self.keys,
                    values: &self.values,
                    offset: h / group * dim,
                    width: self.width(),
                    positions: self.len(),
                };
                head.attend(query, out);
            });
        output
    }
}

/// One key/value head: its `dim` values at `offset` in each of `positions` rows `width` apart
/// (in the cache, or in an encoder's rows of queries, keys and values side by side).
pub(crate) struct Head<'a> {
    pub keys: &'a [f32],
    pub values: &'a [f32],
    pub offset: usize,
    pub width: usize,
    pub positions: usize,
}

impl<'a> Head<'a> {
    fn row(&self, rows: &'a [f32], position: usize, dim: usize) -> &'a [f32] {
        &rows[position * self.width + self.offset..][..dim]
    }

    fn positions(&self) -> usize {
        self.positions
    }

    /// Scores against every key, their softmax, and the weighted sum of values into `out`
    /// (zeros when called).
    pub fn attend(&self, query: &[f32], out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU was just checked for AVX2 and FMA.
            let done = unsafe { avx2::attend(self, query, out) };
            if done {
                return;
            }
        }
        let scale = 1.0 / (query.len() as f32).sqrt();
        let mut weights: Vec<f32> = (0..self.positions())
            .map(|p| {
                let key = self.row(self.keys, p, query.len());
                key.iter().zip(query).map(|(k, q)| k * q).sum::<f32>() * scale
            })
            .collect();
        softmax(&mut weights);
        for (p, weight) in weights.into_iter().enumerate() {
            let value = self.row(self.values, p, query.len());
            out.iter_mut()
                .zip(value)
                .for_each(|(o, v)| *o += weight * v);
        }
    }
}

/// Softmax of each row of the scores of `tokens` new tokens after `first` cached ones
/// (`[head][token][position]`, `first + tokens` positions a row), where token `i` sees the
/// positions up to `first + i`: those beyond get weight 0, and their exponentials are never
/// computed.
pub fn causal_softmax(scores: &mut [f32], tokens: usize, first: usize) {
    let positions = first + tokens;
    let rows: Vec<&mut [f32]> = scores.chunks_mut(positions).collect();
    rows.into_par_iter().enumerate().for_each(|(r, row)| {
        let (seen, hidden) = row.split_at_mut((first + r % tokens + 1).min(positions));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU was just checked for AVX2 and FMA.
            unsafe { avx2::softmax(seen) };
            hidden.fill(0.0);
            return;
        }
        softmax(seen);
        hidden.fill(0.0);
    });
}

fn softmax(scores: &mut [f32]) {
    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
    scores.iter_mut().for_each(|s| *s = exp(*s - max));
    let inverse = 1.0 / scores.iter().sum::<f32>();
    scores.iter_mut().for_each(|s| *s *= inverse);
}

/// The same arithmetic eight lanes at a time. The compiler does not vectorise these loops on its
/// own (a float sum must be added in order), and a portable build may only assume SSE2.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::Head;

    /// [`Head::attend`] for the head sizes models use; false for any other.
    #[target_feature(enable = "avx2,fma")]
    pub fn attend(head: &Head, query: &[f32], out: &mut [f32]) -> bool {
        match query.len() {
            32 => attend_in_registers::<4>(head, query, out),
            64 => attend_in_registers::<8>(head, query, out),
            128 => attend_in_registers::<16>(head, query, out),
            _ => return false,
        }
        true
    }

    /// The query (scaled) and the output stay in `N` registers each while the rows stream past:
    /// a key row costs `N` multiply-adds and one sum across lanes, a value row `N` multiply-adds,
    /// and nothing is stored until the end.
    #[target_feature(enable = "avx2,fma")]
    fn attend_in_registers<const N: usize>(head: &Head, query: &[f32], out: &mut [f32]) {
        let dim = N * 8;
        assert!(query.len() == dim && out.len() == dim);
        let scale = _mm256_set1_ps(1.0 / (dim as f32).sqrt());
        let mut q = [_mm256_setzero_ps(); N];
        for (i, q) in q.iter_mut().enumerate() {
            // SAFETY: i * 8 + 8 <= dim = query.len().
            *q = _mm256_mul_ps(scale, unsafe { _mm256_loadu_ps(query.as_ptr().add(i * 8)) });
        }
        let mut weights = vec![0.0; head.positions()];
        for (p, weight) in weights.iter_mut().enumerate() {
            let key = head.row(head.keys, p, dim).as_ptr();
            let mut sum = _mm256_setzero_ps();
            for (i, q) in q.iter().enumerate() {
                // SAFETY: a row is `dim` floats long.
                sum = _mm256_fmadd_ps(*q, unsafe { _mm256_loadu_ps(key.add(i * 8)) }, sum);
            }
            *weight = lanes_sum(sum);
        }
        softmax(&mut weights);
        let mut o = [_mm256_setzero_ps(); N];
        for (p, weight) in weights.iter().enumerate() {
            let value = head.row(head.values, p, dim).as_ptr();
            let weight = _mm256_set1_ps(*weight);
            for (i, o) in o.iter_mut().enumerate() {
                // SAFETY: a row is `dim` floats long.
                *o = _mm256_fmadd_ps(weight, unsafe { _mm256_loadu_ps(value.add(i * 8)) }, *o);
            }
        }
        for (i, o) in o.iter().enumerate() {
            // SAFETY: i * 8 + 8 <= dim = out.len().
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(i * 8), *o) };
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn lanes_sum(v: __m256) -> f32 {
        let half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
        _mm_cvtss_f32(_mm_add_ss(quarter, _mm_shuffle_ps(quarter, quarter, 1)))
    }

    #[target_feature(enable = "avx2,fma")]
    pub fn softmax(scores: &mut [f32]) {
        let whole = scores.len() / 8 * 8;
        let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
        let (shift, mut total) = (_mm256_set1_ps(max), _mm256_setzero_ps());
        for i in (0..whole).step_by(8) {
            // SAFETY: i + 8 <= whole <= scores.len().
            unsafe {
                let at = scores.as_mut_ptr().add(i);
                let e = exp(_mm256_sub_ps(_mm256_loadu_ps(at), shift));
                total = _mm256_add_ps(total, e);
                _mm256_storeu_ps(at, e);
            }
        }
        let mut sum = lanes_sum(total);
        for s in &mut scores[whole..] {
            *s = super::exp(*s - max);
            sum += *s;
        }
        let inverse = 1.0 / sum;
        scores.iter_mut().for_each(|s| *s *= inverse);
    }

    /// [`super::exp`], eight at a time.
    #[target_feature(enable = "avx2,fma")]
    fn exp(x: __m256) -> __m256 {
        let x = _mm256_max_ps(x, _mm256_set1_ps(-87.0));
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)),
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(super::LN2_HIGH), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(super::LN2_LOW), r);
        let mut p = _mm256_set1_ps(1.0 / 5040.0);
        for c in [
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
        }
        let n = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
        _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32::<23>(n)))
    }
}

/// ln 2 split so that n · `LN2_HIGH` is exact for the n an exponent can take.
const LN2_HIGH: f32 = 0.693_145_75;
const LN2_LOW: f32 = 1.428_606_8e-6;

/// e^x for x ≤ 0 (softmax's shifted scores, the encoder's GELU), in arithmetic the compiler
/// vectorises (`f32::exp` is a call per value, and a prompt's softmax makes millions), within
/// 1e-6 relative.
/// e^x = 2^n · e^r with n = round(x·log₂e) and r = x − n·ln 2 (ln 2 split in two so that n·ln 2
/// is exact), |r| ≤ ½ ln 2, and e^r by its Taylor series to r⁷.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // Below e^-87 a float is subnormal; softmax weights there are 0 for any purpose.
    let x = x.max(-87.0);
    // Adding and subtracting 1.5·2²³ rounds to the nearest integer in float arithmetic.
    const ROUND: f32 = 12_582_912.0;
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = (x - n * LN2_HIGH) - n * LN2_LOW;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    // 2^n built from its exponent bits, n + 127. Read off the float n + 127 + 2²³, whose low
    // mantissa bits hold that integer: `as i32` would have to saturate, which the compiler
    // does one value at a time.
    const MANTISSA: f32 = 8_388_608.0;
    let biased = (n + (127.0 + MANTISSA)).to_bits() - MANTISSA.to_bits();
    f32::from_bits(biased << 23) * p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Attention written out plainly, head by head.
    fn reference(queries: &[f32], cache: &KvCache) -> Vec<f32> {
        let (dim, width) = (cache.dim, cache.width());
        let group = queries.len() / dim / cache.kv_heads;
        let mut out = vec![];
        for (h, query) in queries.chunks(dim).enumerate() {
            let kv = h / group;
            let rows = |m: &[f32]| -> Vec<Vec<f32>> {
                m.chunks(width)
                    .map(|r| r[kv * dim..][..dim].to_vec())
                    .collect()
            };
            let scores: Vec<f32> = rows(&cache.keys)
                .iter()
                .map(|k| query.iter().zip(k).map(|(q, k)| q * k).sum::<f32>() / (dim as f32).sqrt())
                .collect();
            let max = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let exps: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
            let total: f32 = exps.iter().sum();
            let mut o = vec![0.0; dim];
            for (e, v) in exps.iter().zip(rows(&cache.values)) {
                for (o, v) in o.iter_mut().zip(v) {
                    *o += e / total * v;
                }
            }
            out.extend(o);
        }
        out
    }

    #[test]
    fn the_vectorised_exponential_matches_the_librarys_across_softmaxs_range() {
        for i in 0..=87_000 {
            let x = -(i as f32) / 1000.0;
            let (got, want) = (exp(x), x.exp());
            assert!((got - want).abs() <= 1e-6 * want, "e^{x}: {got} vs {want}");
        }
        assert_eq!(exp(-1000.0), (-87f32).exp());
    }

    #[test]
    fn a_prompt_token_weighs_only_the_positions_up_to_its_own() {
        // Two heads, three new tokens after two cached positions: five positions in all.
        let mut scores: Vec<f32> = (0..2 * 3 * 5).map(|i| (i % 7) as f32 * 0.3).collect();
        causal_softmax(&mut scores, 3, 2);
        for (r, row) in scores.chunks(5).enumerate() {
            let seen = 2 + r % 3 + 1;
            assert!(row[seen..].iter().all(|&w| w == 0.0), "row {r}: {row:?}");
            assert!(row[..seen].iter().all(|&w| w > 0.0), "row {r}: {row:?}");
            assert!(
                (row.iter().sum::<f32>() - 1.0).abs() < 1e-6,
                "row {r}: {row:?}"
            );
        }
    }

    #[test]
    fn the_eight_lane_softmax_matches_the_plain_one() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            let scores: Vec<f32> = numbers(901, 3).iter().map(|x| x * 40.0).collect();
            let (mut plain, mut wide) = (scores.clone(), scores);
            softmax(&mut plain);
            // SAFETY: the CPU was just checked for AVX2 and FMA.
            unsafe { avx2::softmax(&mut wide) };
            for (p, w) in plain.iter().zip(&wide) {
                assert!((p - w).abs() <= 1e-6 * p.max(1e-30), "{p} vs {w}");
            }
        }
    }

    fn numbers(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i + seed) * 7919) % 23) as f32 / 11.0 - 1.0)
            .collect()
    }

    #[test]
    fn a_new_tokens_attention_equals_attention_written_out_head_by_head() {
        // 64 takes the register kernel where the CPU has AVX2, 20 the plain loops.
        for dim in [64, 20] {
            let (heads, kv_heads) = (9, 3);
            let mut cache = KvCache::new(kv_heads, dim);
            for step in 0..3 {
                // Appended in pieces, as a prompt and then tokens are.
                let positions = [5, 1, 1][step];
                let n = positions * kv_heads * dim;
                cache.append(&numbers(n, step), &numbers(n, step + 100));
                let queries = numbers(heads * dim, step + 7);
                let (got, want) = (cache.attend(&queries), reference(&queries, &cache));
                assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-5, "dim {dim}, step {step}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn truncating_the_cache_forgets_the_last_positions() {
        let (kv_heads, dim) = (3, 8);
        let mut cache = KvCache::new(kv_heads, dim);
        for step in 0..7 {
            let row = numbers(kv_heads * dim, step);
            cache.append(&row, &row);
        }
        assert_eq!(cache.len(), 7);
        cache.truncate(5);
        assert_eq!(cache.len(), 5);
        let kept: Vec<f32> = (0..5)
            .flat_map(|step| numbers(kv_heads * dim, step))
            .collect();
        assert_eq!(cache.rows().0, &kept[..]);
    }
}
