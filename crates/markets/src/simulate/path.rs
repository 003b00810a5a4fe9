//! A fair price that moves as the calibration says, one small step of time at a time. Seeded, so
//! a market (and a test) can be replayed.

use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::{Distribution, Normal, Poisson};

use super::calibrate::{Calibration, TRADING_DAYS};

/// A trading day is 6.5 hours: one second of it, in years, is the step an intraday market takes.
pub const TRADING_SECOND: f64 = 1.0 / (TRADING_DAYS * 6.5 * 3600.0);

pub struct PricePath {
    calibration: Calibration,
    log_price: f64,
    rng: StdRng,
}

impl PricePath {
    /// Starts at the calibration's last close.
    pub fn new(calibration: Calibration, seed: u64) -> Self {
        Self {
            calibration,
            log_price: calibration.last_close.ln(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn price(&self) -> f64 {
        self.log_price.exp()
    }

    /// Moves `dt` years on and returns the new price. The calibration's drift is already the
    /// drift of the log price (measured on log returns), so it is added as it is, with no
    /// -σ²/2 correction.
    pub fn advance(&mut self, dt: f64) -> f64 {
        let c = self.calibration;
        let z: f64 = self.rng.sample(rand_distr::StandardNormal);
        let mut step = c.drift * dt + c.volatility * dt.sqrt() * z;
        let expected_jumps = c.jumps_per_year * dt;
        if expected_jumps > 0.0 {
            let count =
                Poisson::new(expected_jumps).map_or(0.0, |poisson| poisson.sample(&mut self.rng));
            if count > 0.0 {
                let size =
                    Normal::new(c.jump_mean, c.jump_stdev).expect("a stdev is never negative");
                step += (0..count as u64)
                    .map(|_| size.sample(&mut self.rng))
                    .sum::<f64>();
            }
        }
        self.log_price += step;
        self.price()
    }
}
