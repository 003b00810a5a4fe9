//! What a book says back. A command is either refused (`Reject`: the book is exactly as it was)
//! or accepted, with the events it caused in the order they happened. Every unit of quantity an
//! order brings is accounted for by them: it trades, rests, or is cancelled.

use serde::{Deserialize, Serialize};

use crate::units::{OrderId, Owner, Price, Qty, Side};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    Trade(Trade),
    /// The order (or what was left of it after trading) now rests in the book.
    Rested {
        id: OrderId,
        owner: Owner,
        side: Side,
        price: Price,
        qty: Qty,
    },
    /// `qty` of the order leaves the book (or, for an incoming order, never enters it).
    Cancelled {
        id: OrderId,
        owner: Owner,
        side: Side,
        qty: Qty,
        reason: CancelReason,
    },
    /// A resting order changed. `qty` is its new open quantity. An order that lost its place
    /// then trades and rests like a new one, and its events follow this one.
    Replaced {
        id: OrderId,
        owner: Owner,
        side: Side,
        price: Price,
        qty: Qty,
        kept_priority: bool,
    },
    Halted,
    Resumed,
}

/// One match between a resting order (the maker) and an incoming one (the taker), at the maker's
/// price: an incoming order never trades worse than its limit, and may trade better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trade {
    /// Numbered by the book from 1, so a replay numbers trades the same way.
    pub id: u64,
    pub price: Price,
    pub qty: Qty,
    /// The taker's side: a buy lifts the offer, a sell hits the bid.
    pub aggressor: Side,
    pub maker: OrderId,
    pub maker_owner: Owner,
    pub taker: OrderId,
    pub taker_owner: Owner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CancelReason {
    /// The owner asked.
    Requested,
    /// It would have traded with an order of the same owner.
    SelfTrade,
    /// A market or immediate-or-cancel order found nothing more to trade with.
    Unfilled,
}

/// Why a command was refused. The book did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "camelCase")]
pub enum Reject {
    #[error("the quantity must be at least one lot")]
    ZeroQuantity,
    #[error("the quantity is above the largest order this book takes ({} lots)", max.0)]
    QuantityTooLarge { max: Qty },
    #[error("the price must be at least one tick")]
    PriceNotPositive,
    #[error("the price is above the highest this book takes ({} ticks)", max.0)]
    PriceTooHigh { max: Price },
    #[error("an order with this id is already in the book")]
    DuplicateOrderId,
    /// Also the answer when the order exists but belongs to someone else: the book does not
    /// tell one person about another's orders.
    #[error("no such order is resting in the book")]
    UnknownOrder,
    #[error("trading is halted")]
    Halted,
    #[error("a post-only order would have traded on arrival")]
    WouldTakeLiquidity,
    #[error("a fill-or-kill order could not be filled in full")]
    NotFillable,
}
