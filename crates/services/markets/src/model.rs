//! The service's vocabulary: orders as their owners see them (the API and the order events), and
//! the requests the engine takes from the request topic. Money crosses the API in dollars and is
//! cents everywhere inside, where `cents` converts it exactly or refuses.

use chrono::{DateTime, Utc};
use miyagi_markets::{Side, TimeInForce};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum OrderSide {
    Buy,
    Sell,
}

impl OrderSide {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }
}

impl From<OrderSide> for Side {
    fn from(side: OrderSide) -> Side {
        match side {
            OrderSide::Buy => Side::Buy,
            OrderSide::Sell => Side::Sell,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum OrderType {
    /// Trades at the price given or better.
    Limit,
    /// Trades at the best prices there are now, never further than the price band from the last
    /// trade; what does not trade at once is cancelled.
    Market,
}

/// What a limit order does with what does not trade at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum OrderTimeInForce {
    /// Good till cancelled: it rests in the book.
    Gtc,
    /// Immediate or cancel.
    Ioc,
    /// Fill or kill: all of it at once, or nothing.
    Fok,
    /// Refused if it would trade at once; otherwise it rests.
    PostOnly,
}

impl From<OrderTimeInForce> for TimeInForce {
    fn from(tif: OrderTimeInForce) -> TimeInForce {
        match tif {
            OrderTimeInForce::Gtc => TimeInForce::Gtc,
            OrderTimeInForce::Ioc => TimeInForce::Ioc,
            OrderTimeInForce::Fok => TimeInForce::Fok,
            OrderTimeInForce::PostOnly => TimeInForce::PostOnly,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum OrderStatus {
    /// Accepted and journaled; the engine has not taken it yet.
    Received,
    /// In the book, perhaps partly filled.
    Open,
    Filled,
    /// Cancelled by its owner, or what was left of a market or immediate order; `filled` says
    /// how much traded before.
    Cancelled,
    /// Refused before it reached the book, or by the book; `reason` says why.
    Rejected,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Open => "open",
            Self::Filled => "filled",
            Self::Cancelled => "cancelled",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Received,
            Self::Open,
            Self::Filled,
            Self::Cancelled,
            Self::Rejected,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Filled | Self::Cancelled | Self::Rejected)
    }
}

/// An order, in cents, as the store and the engine keep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRecord {
    pub id: Uuid,
    pub owner: String,
    /// The order's id in the book, once the engine took it.
    pub number: Option<u64>,
    pub symbol: String,
    pub side: OrderSide,
    pub kind: OrderType,
    pub time_in_force: OrderTimeInForce,
    /// Cents; none for a market order.
    pub price: Option<i64>,
    pub qty: u64,
    pub filled: u64,
    /// Cents paid or received for what filled, before fees.
    pub notional: i64,
    pub fees: i64,
    pub status: OrderStatus,
    pub reason: Option<String>,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An order as its owner reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: Uuid,
    pub symbol: String,
    pub side: OrderSide,
    #[serde(rename = "type")]
    pub kind: OrderType,
    pub time_in_force: OrderTimeInForce,
    /// The limit price in dollars; none for a market order.
    pub price: Option<f64>,
    /// Shares asked for.
    pub qty: u64,
    /// Shares filled so far.
    pub filled: u64,
    /// Dollars a share over what filled.
    pub average_price: Option<f64>,
    /// Dollars of fees paid on the fills.
    pub fees: f64,
    pub status: OrderStatus,
    /// Why it was rejected or cancelled, or why a change to it was refused.
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&OrderRecord> for Order {
    fn from(record: &OrderRecord) -> Self {
        Order {
            id: record.id,
            symbol: record.symbol.clone(),
            side: record.side,
            kind: record.kind,
            time_in_force: record.time_in_force,
            price: record.price.map(dollars),
            qty: record.qty,
            filled: record.filled,
            average_price: (record.filled > 0)
                .then(|| record.notional as f64 / record.filled as f64 / 100.0),
            fees: dollars(record.fees),
            status: record.status,
            reason: record.reason.clone(),
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// What the engine takes from the request topic. The API has checked its shape; the engine
/// checks it against the account and the book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "camelCase")]
pub enum Request {
    #[serde(rename_all = "camelCase")]
    Place { order: OrderRecord },
    #[serde(rename_all = "camelCase")]
    Cancel {
        id: Uuid,
        owner: String,
        symbol: String,
    },
    /// `qty` is the new open quantity (what is still to fill), `price` in cents.
    #[serde(rename_all = "camelCase")]
    Replace {
        id: Uuid,
        owner: String,
        symbol: String,
        price: i64,
        qty: u64,
    },
}

impl Request {
    pub fn owner(&self) -> &str {
        match self {
            Request::Place { order } => &order.owner,
            Request::Cancel { owner, .. } | Request::Replace { owner, .. } => owner,
        }
    }
}

pub fn dollars(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// Dollars to cents, when they are a whole number of cents (a price of 10.005 is refused, not
/// rounded: an order goes in at the price its owner wrote or not at all).
pub fn cents(dollars: f64) -> Option<i64> {
    let cents = dollars * 100.0;
    let whole = cents.round();
    (dollars.is_finite() && (cents - whole).abs() < 1e-6 && whole.abs() < 1e15)
        .then_some(whole as i64)
}
