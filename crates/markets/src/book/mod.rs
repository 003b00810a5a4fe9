//! An order book for one symbol, and the matching that runs in it.
//!
//! The book is a deterministic state machine: `execute` takes one command at a time and the same
//! commands from the same start always give the same events and the same book, down to the
//! bytes of its snapshot. Nothing in it reads a clock, draws a random number or iterates a hash
//! map. That is what lets the service acknowledge an order once its command is journaled and
//! rebuild the book after a crash by replaying the journal over the last snapshot.
//!
//! Matching is price-time priority: an incoming order trades against the best price first and,
//! within a price, the oldest order first, always at the resting order's price. What a command
//! checks it checks before changing anything, so a refused command leaves the book as it was.

mod ladder;
mod orders;
mod snapshot;

use serde::{Deserialize, Serialize};

use self::ladder::Ladder;
use self::orders::{Orders, Resting, NIL};
use crate::command::{Command, NewOrder, OrderKind, SelfTrade, TimeInForce};
use crate::outcome::{CancelReason, Event, Reject, Trade};
use crate::units::{OrderId, Owner, Price, Qty, Side};

pub use snapshot::{RestingOrder, Snapshot, SnapshotError};

/// The largest order and the highest price a book takes: a fat finger stops here even if the
/// service's own checks missed it, and quantities times prices stay far from overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub max_qty: Qty,
    pub max_price: Price,
}

pub struct Book {
    limits: Limits,
    halted: bool,
    bids: Ladder,
    asks: Ladder,
    orders: Orders,
    /// Trades so far; the next trade's id is one more.
    trades: u64,
}

/// One side's aggregated queue at a price, as market data shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DepthLevel {
    pub price: Price,
    pub qty: Qty,
    pub orders: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Depth {
    /// Best (highest) first.
    pub bids: Vec<DepthLevel>,
    /// Best (lowest) first.
    pub asks: Vec<DepthLevel>,
}

/// An order while it is being matched: what is left of it and what it asked for.
struct Taker {
    id: OrderId,
    owner: Owner,
    side: Side,
    limit: Option<Price>,
    open: Qty,
    post_only: bool,
    self_trade: SelfTrade,
}

impl Book {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            halted: false,
            bids: Ladder::new(Side::Buy),
            asks: Ladder::new(Side::Sell),
            orders: Orders::default(),
            trades: 0,
        }
    }

    /// Applies one command. Accepted: its events are appended to `events` (the caller clears it
    /// between commands, so one buffer serves a whole session without allocating). Refused: the
    /// reason, and the book and `events` are untouched.
    pub fn execute(&mut self, command: &Command, events: &mut Vec<Event>) -> Result<(), Reject> {
        match command {
            Command::Place(order) => self.place(order, events),
            Command::Cancel { id, owner } => self.cancel(*id, *owner, events),
            Command::Replace {
                id,
                owner,
                price,
                qty,
            } => self.replace(*id, *owner, *price, *qty, events),
            Command::Halt => {
                if !self.halted {
                    self.halted = true;
                    events.push(Event::Halted);
                }
                Ok(())
            }
            Command::Resume => {
                if self.halted {
                    self.halted = false;
                    events.push(Event::Resumed);
                }
                Ok(())
            }
        }
    }

    fn place(&mut self, order: &NewOrder, events: &mut Vec<Event>) -> Result<(), Reject> {
        self.check_qty(order.qty)?;
        let (limit, tif) = match order.kind {
            OrderKind::Limit { price, tif } => {
                self.check_price(price)?;
                (Some(price), Some(tif))
            }
            OrderKind::Market => (None, None),
        };
        if self.halted {
            return Err(Reject::Halted);
        }
        if self.orders.contains(order.id) {
            return Err(Reject::DuplicateOrderId);
        }
        let mut taker = Taker {
            id: order.id,
            owner: order.owner,
            side: order.side,
            limit,
            open: order.qty,
            post_only: tif == Some(TimeInForce::PostOnly),
            self_trade: order.self_trade,
        };
        if taker.post_only && self.would_trade(taker.side, limit) {
            return Err(Reject::WouldTakeLiquidity);
        }
        if tif == Some(TimeInForce::Fok) && !self.fillable(&taker) {
            return Err(Reject::NotFillable);
        }
        let rests = matches!(tif, Some(TimeInForce::Gtc | TimeInForce::PostOnly));
        self.arrive(&mut taker, rests, events);
        Ok(())
    }

    fn cancel(&mut self, id: OrderId, owner: Owner, events: &mut Vec<Event>) -> Result<(), Reject> {
        let slot = self.owned_slot(id, owner)?;
        let side = self.orders[slot].side;
        let (ladder, orders) = self.side_mut(side);
        let order = ladder.remove(orders, slot);
        events.push(cancelled(&order, order.open, CancelReason::Requested));
        Ok(())
    }

    fn replace(
        &mut self,
        id: OrderId,
        owner: Owner,
        price: Price,
        qty: Qty,
        events: &mut Vec<Event>,
    ) -> Result<(), Reject> {
        self.check_qty(qty)?;
        self.check_price(price)?;
        if self.halted {
            return Err(Reject::Halted);
        }
        let slot = self.owned_slot(id, owner)?;
        let order = &self.orders[slot];
        let side = order.side;
        if price == order.price && qty <= order.open {
            let cut = order.open - qty;
            let (ladder, orders) = self.side_mut(side);
            ladder.reduce(orders, slot, cut);
            let order = &self.orders[slot];
            events.push(Event::Replaced {
                id,
                owner,
                side,
                price,
                qty: order.open,
                kept_priority: true,
            });
            return Ok(());
        }
        if order.post_only && self.would_trade(side, Some(price)) {
            return Err(Reject::WouldTakeLiquidity);
        }
        let (ladder, orders) = self.side_mut(side);
        let old = ladder.remove(orders, slot);
        let mut taker = Taker {
            id,
            owner,
            side,
            limit: Some(price),
            open: qty,
            post_only: old.post_only,
            self_trade: old.self_trade,
        };
        events.push(Event::Replaced {
            id,
            owner,
            side,
            price,
            qty,
            kept_priority: false,
        });
        self.arrive(&mut taker, true, events);
        Ok(())
    }

    /// An order arrives: it trades what it can, then what is left rests (if `rests`) or is
    /// cancelled.
    fn arrive(&mut self, taker: &mut Taker, rests: bool, events: &mut Vec<Event>) {
        let stopped = self.take(taker, events);
        if taker.open.is_zero() {
            return;
        }
        let (Some(price), false, true) = (taker.limit, stopped, rests) else {
            let reason = if stopped {
                CancelReason::SelfTrade
            } else {
                CancelReason::Unfilled
            };
            events.push(Event::Cancelled {
                id: taker.id,
                owner: taker.owner,
                side: taker.side,
                qty: taker.open,
                reason,
            });
            return;
        };
        let (ladder, orders) = self.side_mut(taker.side);
        ladder.push_back(
            orders,
            Resting {
                id: taker.id,
                owner: taker.owner,
                side: taker.side,
                price,
                open: taker.open,
                post_only: taker.post_only,
                self_trade: taker.self_trade,
                prev: NIL,
                next: NIL,
            },
        );
        events.push(Event::Rested {
            id: taker.id,
            owner: taker.owner,
            side: taker.side,
            price,
            qty: taker.open,
        });
    }

    /// Matches the taker against the other side until it is filled, the prices stop crossing,
    /// or it meets its owner's order under a rule that stops it. Returns whether self-trade
    /// prevention stopped it.
    fn take(&mut self, taker: &mut Taker, events: &mut Vec<Event>) -> bool {
        let Book {
            bids,
            asks,
            orders,
            trades,
            ..
        } = self;
        let makers = match taker.side {
            Side::Buy => asks,
            Side::Sell => bids,
        };
        while !taker.open.is_zero() {
            let Some(slot) = makers.front() else {
                break;
            };
            let maker = &orders[slot];
            if !taker.side.crosses(taker.limit, maker.price) {
                break;
            }
            if maker.owner == taker.owner {
                if taker.self_trade != SelfTrade::CancelIncoming {
                    let maker = makers.remove(orders, slot);
                    events.push(cancelled(&maker, maker.open, CancelReason::SelfTrade));
                }
                if taker.self_trade == SelfTrade::CancelResting {
                    continue;
                }
                return true;
            }
            let qty = maker.open.min(taker.open);
            *trades += 1;
            events.push(Event::Trade(Trade {
                id: *trades,
                price: maker.price,
                qty,
                aggressor: taker.side,
                maker: maker.id,
                maker_owner: maker.owner,
                taker: taker.id,
                taker_owner: taker.owner,
            }));
            makers.reduce(orders, slot, qty);
            taker.open -= qty;
        }
        false
    }

    /// Whether the taker could be filled in full right now, walking the book as `take` would
    /// (including the orders self-trade prevention would cancel or stop at) without changing it.
    fn fillable(&self, taker: &Taker) -> bool {
        let makers = self.ladder(taker.side.opposite());
        let mut wanted = taker.open;
        for (price, level) in makers.levels() {
            if !taker.side.crosses(taker.limit, price) {
                break;
            }
            for slot in makers.queue(level, &self.orders) {
                let maker = &self.orders[slot];
                if maker.owner == taker.owner {
                    if taker.self_trade == SelfTrade::CancelResting {
                        continue;
                    }
                    return false;
                }
                if maker.open >= wanted {
                    return true;
                }
                wanted -= maker.open;
            }
        }
        false
    }

    fn would_trade(&self, side: Side, limit: Option<Price>) -> bool {
        self.ladder(side.opposite())
            .best_price()
            .is_some_and(|best| side.crosses(limit, best))
    }

    fn owned_slot(&self, id: OrderId, owner: Owner) -> Result<usize, Reject> {
        self.orders
            .slot(id)
            .filter(|&slot| self.orders[slot].owner == owner)
            .ok_or(Reject::UnknownOrder)
    }

    fn check_qty(&self, qty: Qty) -> Result<(), Reject> {
        if qty.is_zero() {
            return Err(Reject::ZeroQuantity);
        }
        if qty > self.limits.max_qty {
            return Err(Reject::QuantityTooLarge {
                max: self.limits.max_qty,
            });
        }
        Ok(())
    }

    fn check_price(&self, price: Price) -> Result<(), Reject> {
        if price.0 <= 0 {
            return Err(Reject::PriceNotPositive);
        }
        if price > self.limits.max_price {
            return Err(Reject::PriceTooHigh {
                max: self.limits.max_price,
            });
        }
        Ok(())
    }

    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// One side's ladder with the orders its queues thread through, borrowed together.
    fn side_mut(&mut self, side: Side) -> (&mut Ladder, &mut Orders) {
        match side {
            Side::Buy => (&mut self.bids, &mut self.orders),
            Side::Sell => (&mut self.asks, &mut self.orders),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn is_halted(&self) -> bool {
        self.halted
    }

    pub fn best_bid(&self) -> Option<Price> {
        self.bids.best_price()
    }

    pub fn best_ask(&self) -> Option<Price> {
        self.asks.best_price()
    }

    /// How many orders rest in the book.
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.len() == 0
    }

    /// A resting order, as its owner would see it.
    pub fn order(&self, id: OrderId) -> Option<RestingOrder> {
        self.orders
            .slot(id)
            .map(|slot| RestingOrder::from(&self.orders[slot]))
    }

    /// The best `levels` prices of each side with the quantity and number of orders at each.
    pub fn depth(&self, levels: usize) -> Depth {
        let side = |ladder: &Ladder| {
            ladder
                .levels()
                .take(levels)
                .map(|(price, level)| DepthLevel {
                    price,
                    qty: level.open,
                    orders: level.orders,
                })
                .collect()
        };
        Depth {
            bids: side(&self.bids),
            asks: side(&self.asks),
        }
    }
}

fn cancelled(order: &Resting, qty: Qty, reason: CancelReason) -> Event {
    Event::Cancelled {
        id: order.id,
        owner: order.owner,
        side: order.side,
        qty,
        reason,
    }
}
