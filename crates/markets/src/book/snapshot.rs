//! A book as data: every resting order in priority order, plus the counters a replay needs. The
//! journal's recovery is `Book::restore(last snapshot)` and then the commands after it; because
//! the listing is canonical (best price first, oldest first within a price), two books that
//! would behave the same have byte-identical snapshots, which is how the tests compare them.

use serde::{Deserialize, Serialize};

use super::orders::{Resting, NIL};
use super::{Book, Limits};
use crate::command::SelfTrade;
use crate::units::{OrderId, Owner, Price, Qty, Side};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub limits: Limits,
    pub halted: bool,
    /// Trades so far, so the next trade after a restore gets the id it would have had.
    pub trades: u64,
    /// Best (highest) price first, oldest first within a price.
    pub bids: Vec<RestingOrder>,
    /// Best (lowest) price first, oldest first within a price.
    pub asks: Vec<RestingOrder>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestingOrder {
    pub id: OrderId,
    pub owner: Owner,
    pub side: Side,
    pub price: Price,
    /// What is still open, not what was first asked for.
    pub qty: Qty,
    pub post_only: bool,
    pub self_trade: SelfTrade,
}

impl From<&Resting> for RestingOrder {
    fn from(order: &Resting) -> Self {
        Self {
            id: order.id,
            owner: order.owner,
            side: order.side,
            price: order.price,
            qty: order.open,
            post_only: order.post_only,
            self_trade: order.self_trade,
        }
    }
}

/// Why a snapshot cannot be a book. A snapshot the engine wrote never fails; one read back from
/// storage might, and then recovery must stop rather than trade on a wrong book.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("order {} is listed twice", .0 .0)]
    DuplicateOrder(OrderId),
    #[error("order {} is listed with the other side's orders", .0 .0)]
    WrongSide(OrderId),
    #[error("order {} has nothing open or a price outside the book's limits", .0 .0)]
    OutOfLimits(OrderId),
    #[error("order {} is out of priority order", .0 .0)]
    OutOfOrder(OrderId),
    #[error("the best bid is at or above the best offer")]
    Crossed,
}

impl Book {
    pub fn snapshot(&self) -> Snapshot {
        let side = |ladder: &super::Ladder| {
            ladder
                .levels()
                .flat_map(|(_, level)| ladder.queue(level, &self.orders))
                .map(|slot| RestingOrder::from(&self.orders[slot]))
                .collect()
        };
        Snapshot {
            limits: self.limits,
            halted: self.halted,
            trades: self.trades,
            bids: side(&self.bids),
            asks: side(&self.asks),
        }
    }

    pub fn restore(snapshot: &Snapshot) -> Result<Book, SnapshotError> {
        let mut book = Book::new(snapshot.limits);
        book.halted = snapshot.halted;
        book.trades = snapshot.trades;
        for (side, listed) in [(Side::Buy, &snapshot.bids), (Side::Sell, &snapshot.asks)] {
            let mut previous: Option<Price> = None;
            for order in listed {
                if order.side != side {
                    return Err(SnapshotError::WrongSide(order.id));
                }
                if order.qty.is_zero()
                    || order.qty > book.limits.max_qty
                    || order.price.0 <= 0
                    || order.price > book.limits.max_price
                {
                    return Err(SnapshotError::OutOfLimits(order.id));
                }
                let in_order = previous.is_none_or(|before| match side {
                    Side::Buy => order.price <= before,
                    Side::Sell => order.price >= before,
                });
                if !in_order {
                    return Err(SnapshotError::OutOfOrder(order.id));
                }
                if book.orders.contains(order.id) {
                    return Err(SnapshotError::DuplicateOrder(order.id));
                }
                previous = Some(order.price);
                let (ladder, orders) = book.side_mut(side);
                ladder.push_back(
                    orders,
                    Resting {
                        id: order.id,
                        owner: order.owner,
                        side,
                        price: order.price,
                        open: order.qty,
                        post_only: order.post_only,
                        self_trade: order.self_trade,
                        prev: NIL,
                        next: NIL,
                    },
                );
            }
        }
        if let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) {
            if bid >= ask {
                return Err(SnapshotError::Crossed);
            }
        }
        Ok(book)
    }
}
