//! The engine's units. Everything in a book is an integer: a price is a count of ticks and a
//! quantity a count of lots, so no rounding can move a fill by a cent and the same commands give
//! the same book on every machine. The service converts to dollars and shares at its edge.

use serde::{Deserialize, Serialize};

/// A price in ticks (for US stocks, one tick is one cent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Price(pub i64);

/// A quantity in lots (for US stocks, one lot is one share).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Qty(pub u64);

impl Qty {
    pub const ZERO: Qty = Qty(0);

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::Add for Qty {
    type Output = Qty;
    fn add(self, other: Qty) -> Qty {
        Qty(self.0 + other.0)
    }
}

impl std::ops::Sub for Qty {
    type Output = Qty;
    fn sub(self, other: Qty) -> Qty {
        Qty(self.0 - other.0)
    }
}

impl std::ops::AddAssign for Qty {
    fn add_assign(&mut self, other: Qty) {
        self.0 += other.0;
    }
}

impl std::ops::SubAssign for Qty {
    fn sub_assign(&mut self, other: Qty) {
        self.0 -= other.0;
    }
}

/// An order's id, chosen by whoever feeds the book (the service numbers orders as it journals
/// them), so a replay of the journal gives every order the id it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(pub u64);

/// Whose order it is: an account number (the service gives each person's paper account one,
/// and each simulated trader another). The book uses it for two things only: a cancel or replace
/// must come from the owner, and an owner's orders never trade with each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Owner(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// Whether an order on this side with `limit` (none: a market order) would trade against a
    /// resting order at `resting`.
    pub fn crosses(self, limit: Option<Price>, resting: Price) -> bool {
        match (self, limit) {
            (_, None) => true,
            (Side::Buy, Some(limit)) => resting <= limit,
            (Side::Sell, Some(limit)) => resting >= limit,
        }
    }
}
