//! The other traders in a simulated market. Two kinds give a person's order a realistic life: a
//! market maker that keeps a ladder of quotes around the fair price (so there is depth, a spread
//! and a queue to join), and liquidity takers that send market orders at random times (so resting
//! orders fill, and trades follow the fair price). A person's order priced better than the
//! maker's quotes is what the takers meet first, as on a real exchange.

use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::{Distribution, Poisson};
use serde::{Deserialize, Serialize};

use super::calibrate::Calibration;
use super::path::{PricePath, TRADING_SECOND};
use crate::book::Book;
use crate::command::{Command, NewOrder, OrderKind, SelfTrade, TimeInForce};
use crate::units::{OrderId, Owner, Price, Qty, Side};

/// The accounts of the simulated traders, at the top of the range so they never meet a person's.
pub const MARKET_MAKER: Owner = Owner(u64::MAX);
pub const LIQUIDITY_TAKER: Owner = Owner(u64::MAX - 1);

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowConfig {
    /// Dollars a tick.
    pub tick: f64,
    /// Quotes a side.
    pub levels: usize,
    /// Half the quoted spread, as a fraction of the price (one tick at least).
    pub half_spread: f64,
    /// Between two quotes on a side, as a fraction of the price (one tick at least).
    pub level_gap: f64,
    /// Lots a quote, drawn evenly from this range.
    pub quote_lots: (u64, u64),
    /// Market orders a second of trading, on average.
    pub takers_per_second: f64,
    /// Lots a market order, drawn evenly from this range.
    pub taker_lots: (u64, u64),
}

impl Default for FlowConfig {
    /// A liquid large-cap stock: 5 basis points either side, ten levels, a trade every two seconds.
    fn default() -> Self {
        Self {
            tick: 0.01,
            levels: 10,
            half_spread: 0.0005,
            level_gap: 0.0005,
            quote_lots: (50, 500),
            takers_per_second: 0.5,
            taker_lots: (1, 100),
        }
    }
}

pub struct Flow {
    config: FlowConfig,
    path: PricePath,
    rng: StdRng,
    /// The maker's quote at each level, bids then asks, best first.
    quotes: [Vec<Option<OrderId>>; 2],
}

impl Flow {
    pub fn new(calibration: Calibration, config: FlowConfig, seed: u64) -> Self {
        Self {
            config,
            path: PricePath::new(calibration, seed),
            rng: StdRng::seed_from_u64(seed.wrapping_add(1)),
            quotes: [vec![None; config.levels], vec![None; config.levels]],
        }
    }

    pub fn fair_price(&self) -> f64 {
        self.path.price()
    }

    /// A dollar price in the book's ticks, never below one tick.
    pub fn ticks(&self, dollars: f64) -> Price {
        Price(((dollars / self.config.tick).round() as i64).max(1))
    }

    /// Moves the fair price `dt` years on and returns what the other traders send in that time,
    /// in order, given the book as it is now. `next_id` numbers new orders (the caller's journal
    /// owns the numbering).
    pub fn step(
        &mut self,
        book: &Book,
        dt: f64,
        mut next_id: impl FnMut() -> OrderId,
    ) -> Vec<Command> {
        let before = self.path.price();
        let fair = self.path.advance(dt);
        let mut commands = Vec::new();
        // The side moving away from the other goes first, so the maker never crosses itself.
        let sides = if fair >= before {
            [Side::Sell, Side::Buy]
        } else {
            [Side::Buy, Side::Sell]
        };
        for side in sides {
            self.requote(book, side, fair, &mut next_id, &mut commands);
        }
        let takers = Poisson::new(self.config.takers_per_second * dt / TRADING_SECOND)
            .map_or(0.0, |poisson| poisson.sample(&mut self.rng)) as u64;
        for _ in 0..takers {
            let side = if self.rng.random_bool(0.5) {
                Side::Buy
            } else {
                Side::Sell
            };
            let (low, high) = self.config.taker_lots;
            commands.push(Command::Place(NewOrder {
                id: next_id(),
                owner: LIQUIDITY_TAKER,
                side,
                qty: Qty(self.rng.random_range(low..=high)),
                kind: OrderKind::Market,
                self_trade: SelfTrade::CancelIncoming,
            }));
        }
        commands
    }

    /// Moves each of the maker's quotes on `side` to where it should be around `fair`; a quote
    /// that was filled is placed again.
    fn requote(
        &mut self,
        book: &Book,
        side: Side,
        fair: f64,
        next_id: &mut impl FnMut() -> OrderId,
        commands: &mut Vec<Command>,
    ) {
        let center = fair / self.config.tick;
        let half_spread = (center * self.config.half_spread).round().max(1.0) as i64;
        let gap = (center * self.config.level_gap).round().max(1.0) as i64;
        let center = center.round() as i64;
        let (low, high) = self.config.quote_lots;
        for level in 0..self.config.levels {
            let away = half_spread + level as i64 * gap;
            let price = match side {
                Side::Buy => center - away,
                Side::Sell => center + away,
            };
            if price < 1 {
                continue;
            }
            let qty = Qty(self.rng.random_range(low..=high));
            let slot = &mut self.quotes[side as usize][level];
            match slot.and_then(|id| book.order(id)) {
                Some(quote) if quote.price == Price(price) => {}
                Some(quote) => commands.push(Command::Replace {
                    id: quote.id,
                    owner: MARKET_MAKER,
                    price: Price(price),
                    qty,
                }),
                None => {
                    let id = next_id();
                    *slot = Some(id);
                    commands.push(Command::Place(NewOrder {
                        id,
                        owner: MARKET_MAKER,
                        side,
                        qty,
                        kind: OrderKind::Limit {
                            price: Price(price),
                            tif: TimeInForce::Gtc,
                        },
                        self_trade: SelfTrade::CancelResting,
                    }));
                }
            }
        }
    }
}
