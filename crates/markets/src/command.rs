//! What a book accepts. A command is data, so the journal is just the commands in the order the
//! book took them, and replaying it rebuilds the book (see `Book::execute`).

use serde::{Deserialize, Serialize};

use crate::units::{OrderId, Owner, Price, Qty, Side};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "camelCase")]
pub enum Command {
    Place(NewOrder),
    /// Removes what is left of a resting order.
    Cancel {
        id: OrderId,
        owner: Owner,
    },
    /// Changes a resting order's price and open quantity. A smaller quantity at the same price
    /// keeps the order's place in the queue; anything else sends it to the back, as if it were
    /// new (and it may trade at once if the new price crosses).
    Replace {
        id: OrderId,
        owner: Owner,
        price: Price,
        qty: Qty,
    },
    /// Stops trading: new orders and replaces are refused, cancels still go through, so a person
    /// can always get out of an order.
    Halt,
    Resume,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOrder {
    pub id: OrderId,
    pub owner: Owner,
    pub side: Side,
    pub qty: Qty,
    #[serde(flatten)]
    pub kind: OrderKind,
    #[serde(default)]
    pub self_trade: SelfTrade,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum OrderKind {
    /// Trades at `price` or better; `tif` says what happens to the rest.
    Limit {
        price: Price,
        #[serde(rename = "timeInForce")]
        tif: TimeInForce,
    },
    /// Trades at whatever prices rest now; the rest is cancelled, never left in the book.
    Market,
}

/// What a limit order does with the part that does not trade on arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TimeInForce {
    /// Good till cancelled: rests in the book.
    Gtc,
    /// Immediate or cancel: trades what it can now, the rest is cancelled.
    Ioc,
    /// Fill or kill: trades all of it now, or the order is refused and nothing happens.
    Fok,
    /// Only adds liquidity: refused if it would trade on arrival, otherwise rests.
    PostOnly,
}

/// What happens when an incoming order meets a resting order of the same owner. The incoming
/// order's choice decides, as on most exchanges; either way the two never trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SelfTrade {
    /// Cancel the resting order and keep matching against the rest of the book.
    #[default]
    CancelResting,
    /// Stop matching and cancel what is left of the incoming order.
    CancelIncoming,
    /// Cancel both.
    CancelBoth,
}
