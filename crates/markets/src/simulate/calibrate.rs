//! How a stock moves, measured from its daily closes, as a jump diffusion (Merton's model): most
//! days the log price drifts and wiggles with normally distributed moves, and now and then it
//! jumps (an earnings surprise, a crash). A plain geometric Brownian motion fitted to the same
//! history would spread the jumps into a higher everyday volatility and never produce a gap.
//!
//! Jumps are told apart from ordinary days with a robust yardstick: the median absolute
//! deviation of the daily log returns, which the jumps themselves barely move (a standard
//! deviation would be inflated by the very outliers it is meant to find). A day further than
//! `JUMP_THRESHOLD` of those robust deviations from the median is a jump; the rest is diffusion.

use serde::{Deserialize, Serialize};

/// Trading days in a year: daily figures are annualised with it.
pub const TRADING_DAYS: f64 = 252.0;

/// How many robust standard deviations make a day a jump. Four: a normal day goes that far about
/// once in 60 years, so what crosses it is not the diffusion.
const JUMP_THRESHOLD: f64 = 4.0;

/// Scales a median absolute deviation to a standard deviation for normally distributed data.
const MAD_TO_SIGMA: f64 = 1.4826;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Calibration {
    /// Yearly drift of the log price on days without a jump.
    pub drift: f64,
    /// Yearly volatility of the log price on days without a jump.
    pub volatility: f64,
    /// Jumps per year.
    pub jumps_per_year: f64,
    /// Mean and standard deviation of one jump's log move.
    pub jump_mean: f64,
    pub jump_stdev: f64,
    /// The last close, where a simulation picks up.
    pub last_close: f64,
}

impl Calibration {
    /// `None` with fewer than three closes: two returns say nothing about a spread.
    pub fn from_closes(closes: &[f64]) -> Option<Calibration> {
        let returns: Vec<f64> = closes
            .windows(2)
            .map(|pair| (pair[1] / pair[0]).ln())
            .collect();
        if returns.len() < 2 {
            return None;
        }
        let center = median(&returns);
        let robust_sigma = MAD_TO_SIGMA
            * median(
                &returns
                    .iter()
                    .map(|r| (r - center).abs())
                    .collect::<Vec<_>>(),
            );
        let is_jump =
            |r: &f64| robust_sigma > 0.0 && (r - center).abs() > JUMP_THRESHOLD * robust_sigma;
        let (jumps, ordinary): (Vec<f64>, Vec<f64>) = returns.iter().partition(|r| is_jump(r));
        let (daily_drift, daily_stdev) = mean_stdev(&ordinary);
        let (jump_mean, jump_stdev) = mean_stdev(&jumps);
        Some(Calibration {
            drift: daily_drift * TRADING_DAYS,
            volatility: daily_stdev * TRADING_DAYS.sqrt(),
            jumps_per_year: jumps.len() as f64 / returns.len() as f64 * TRADING_DAYS,
            jump_mean,
            jump_stdev,
            last_close: *closes.last()?,
        })
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

/// Mean and sample standard deviation; (0, 0) for no values, a stdev of 0 for one.
fn mean_stdev(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() == 1 {
        return (mean, 0.0);
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, variance.sqrt())
}
