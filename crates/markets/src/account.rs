//! A paper-trading account: cash, positions and open orders, and the checks an order must pass
//! before it reaches a book. Money is in cents and quantities in shares, the units of the US stock
//! books the service runs (a tick of one cent, a lot of one share), so a price in ticks is a price
//! in cents and nothing here rounds except fees and the cost a partial sale takes with it.
//!
//! Every order reserves what it could cost while it is open: a buy its limit price times its
//! quantity plus the fee, a sell its shares. That is why two open buys can never spend the same
//! dollar and a sell can never sell a share twice (there is no short selling in a paper account).
//! A market order carries no price, so it never comes here as one: the service sends it to the
//! book as an immediate-or-cancel limit at the edge of the price band, and that edge is what it
//! reserves, so a market order cannot fill beyond what the account could pay.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::units::{OrderId, Price, Qty, Side};

/// Fees charged on each fill, per share, in thousandths of a cent ($0.005 a share is 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fees {
    pub per_share_millicents: i64,
}

impl Fees {
    /// The fee for `qty` shares, rounded up to a cent.
    pub fn on(&self, qty: Qty) -> i64 {
        (qty.0 as i64 * self.per_share_millicents + 999) / 1000
    }
}

/// Limits an order must stay within, whatever the account could afford.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskLimits {
    /// A limit price further than this from the reference price (the last trade, or the fair
    /// price before any trade) is taken for a typo: basis points, 1000 is 10%.
    pub price_band_bps: i64,
    /// The most shares one order may ask for.
    pub max_order_qty: Qty,
    /// The most shares of one symbol the account may hold, counting open buys.
    pub max_position: Qty,
}

/// An order as the account sees it before the book does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderTicket {
    pub id: OrderId,
    pub symbol: String,
    pub side: Side,
    pub qty: Qty,
    pub price: Price,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "camelCase")]
pub enum RiskReject {
    #[error("the order asks for {} shares; one order may ask for at most {}", qty.0, max.0)]
    OrderTooLarge { qty: Qty, max: Qty },
    #[error("the price is outside the band of {band_bps} basis points around the reference price ({low}¢ to {high}¢)")]
    OutsidePriceBand { band_bps: i64, low: i64, high: i64 },
    #[error("the order needs {needed}¢ and {available}¢ is free to spend")]
    InsufficientFunds { needed: i64, available: i64 },
    #[error("the order sells {} shares and {} are held and not already offered", wanted.0, free.0)]
    InsufficientShares { wanted: Qty, free: Qty },
    #[error("the position would reach {} shares; the limit is {}", would_hold.0, max.0)]
    PositionLimit { would_hold: Qty, max: Qty },
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Position {
    pub shares: u64,
    /// What the shares held cost, fees included, in cents.
    pub cost: i64,
    /// Profit taken on sales so far, after fees, in cents.
    pub realised: i64,
}

impl Position {
    /// Average cost a share, in cents (fractional).
    pub fn average_cost(&self) -> Option<f64> {
        (self.shares > 0).then(|| self.cost as f64 / self.shares as f64)
    }

    /// What holding the shares has made or lost at `mark`, in cents.
    pub fn unrealised(&self, mark: Price) -> i64 {
        self.shares as i64 * mark.0 - self.cost
    }
}

/// What an open order holds back. A buy's reservation shrinks with each fill by what the fill
/// was reserved at, so a fill at a better price frees the difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenOrder {
    pub symbol: String,
    pub side: Side,
    pub price: Price,
    pub open: Qty,
    /// Filled so far: each fill pays the fee of the whole filled quantity less what was paid,
    /// so the fees of an order's fills add up to the fee of one fill of all of it.
    pub filled: Qty,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Cents.
    pub cash: i64,
    pub fees_paid: i64,
    pub positions: BTreeMap<String, Position>,
    pub open_orders: BTreeMap<OrderId, OpenOrder>,
}

impl Account {
    pub fn with_cash(cash: i64) -> Self {
        Self {
            cash,
            ..Self::default()
        }
    }

    /// Cash not held back by open buys.
    pub fn buying_power(&self, fees: Fees) -> i64 {
        self.cash - self.reserved_cash(fees)
    }

    fn reserved_cash(&self, fees: Fees) -> i64 {
        self.open_orders
            .values()
            .filter(|order| order.side == Side::Buy)
            .map(|order| cost_of(order.price, order.open, fees))
            .sum()
    }

    fn open_qty(&self, symbol: &str, side: Side) -> u64 {
        self.open_orders
            .values()
            .filter(|order| order.side == side && order.symbol == symbol)
            .map(|order| order.open.0)
            .sum()
    }

    fn shares(&self, symbol: &str) -> u64 {
        self.positions
            .get(symbol)
            .map_or(0, |position| position.shares)
    }

    /// Checks an order against the account and the limits, and on success reserves what it
    /// needs. `reference` is the price the band is measured from.
    pub fn open(
        &mut self,
        ticket: &OrderTicket,
        reference: Price,
        limits: &RiskLimits,
        fees: Fees,
    ) -> Result<(), RiskReject> {
        if ticket.qty > limits.max_order_qty {
            return Err(RiskReject::OrderTooLarge {
                qty: ticket.qty,
                max: limits.max_order_qty,
            });
        }
        let (low, high) = band(reference, limits.price_band_bps);
        if ticket.price.0 < low || ticket.price.0 > high {
            return Err(RiskReject::OutsidePriceBand {
                band_bps: limits.price_band_bps,
                low,
                high,
            });
        }
        match ticket.side {
            Side::Buy => {
                let needed = cost_of(ticket.price, ticket.qty, fees);
                let available = self.buying_power(fees);
                if needed > available {
                    return Err(RiskReject::InsufficientFunds { needed, available });
                }
                let would_hold = self.shares(&ticket.symbol)
                    + self.open_qty(&ticket.symbol, Side::Buy)
                    + ticket.qty.0;
                if would_hold > limits.max_position.0 {
                    return Err(RiskReject::PositionLimit {
                        would_hold: Qty(would_hold),
                        max: limits.max_position,
                    });
                }
            }
            Side::Sell => {
                let free = self
                    .shares(&ticket.symbol)
                    .saturating_sub(self.open_qty(&ticket.symbol, Side::Sell));
                if ticket.qty.0 > free {
                    return Err(RiskReject::InsufficientShares {
                        wanted: ticket.qty,
                        free: Qty(free),
                    });
                }
            }
        }
        self.open_orders.insert(
            ticket.id,
            OpenOrder {
                symbol: ticket.symbol.clone(),
                side: ticket.side,
                price: ticket.price,
                open: ticket.qty,
                filled: Qty::ZERO,
            },
        );
        Ok(())
    }

    /// A fill of one of this account's orders at `price`: cash and position move, the fee is
    /// paid, and the order's reservation shrinks. A fill of an order the account does not know
    /// is ignored (it was not this account's).
    pub fn fill(&mut self, id: OrderId, price: Price, qty: Qty, fees: Fees) {
        let Some(order) = self.open_orders.get_mut(&id) else {
            return;
        };
        let qty = qty.min(order.open);
        let fee = fees.on(order.filled + qty) - fees.on(order.filled);
        order.open -= qty;
        order.filled += qty;
        let (symbol, side) = (order.symbol.clone(), order.side);
        if order.open.is_zero() {
            self.open_orders.remove(&id);
        }
        let notional = price.0 * qty.0 as i64;
        self.fees_paid += fee;
        let position = self.positions.entry(symbol.clone()).or_default();
        match side {
            Side::Buy => {
                self.cash -= notional + fee;
                position.shares += qty.0;
                position.cost += notional + fee;
            }
            Side::Sell => {
                // The shares sold take their share of the cost with them, rounded to the cent.
                let cost = ((position.cost as i128 * qty.0 as i128 + position.shares as i128 / 2)
                    / position.shares.max(1) as i128) as i64;
                self.cash += notional - fee;
                position.shares -= qty.0;
                position.cost -= cost;
                position.realised += notional - fee - cost;
            }
        }
        if position.shares == 0 && position.realised == 0 {
            self.positions.remove(&symbol);
        }
    }

    /// What is left of an order leaves the book (cancelled, or the rest of an immediate order):
    /// its reservation is released.
    pub fn close(&mut self, id: OrderId) {
        self.open_orders.remove(&id);
    }
}

/// What a buy can cost at most: every share at its limit, plus the fee.
fn cost_of(price: Price, qty: Qty, fees: Fees) -> i64 {
    price.0 * qty.0 as i64 + fees.on(qty)
}

/// The lowest and highest prices `band_bps` basis points around `reference`, at least a tick.
pub fn band(reference: Price, band_bps: i64) -> (i64, i64) {
    let width = reference.0 * band_bps / 10_000;
    ((reference.0 - width).max(1), reference.0 + width)
}
