//! The exchange core of Miyagi's markets. Pure: no I/O and no clock; the book draws no random
//! numbers, and the simulator draws its own from a seed.
//!
//! - [`Book`]: one symbol's order book. Price-time priority in integer ticks and lots; limit and
//!   market orders, immediate-or-cancel, fill-or-kill and post-only; cancel and replace; self-trade
//!   prevention; halts. Deterministic, so a journal of [`Command`]s replayed over a [`Snapshot`]
//!   rebuilds the book exactly.
//! - [`account`]: a paper-trading account: cash, positions, average cost and profit, fees, and
//!   the checks an order passes before it reaches a book (buying power, shares held, position
//!   limits, a price band against typos).
//! - [`history`]: daily closing prices; three years of 20 S&P 500 stocks ship with the crate.
//! - [`simulate`]: a market to trade against: a jump diffusion calibrated per symbol from its
//!   history moves a fair price, and simulated traders quote and take around it.
//!
//! The service (`crates/services/markets`) owns everything around it: the journal on the event
//! log, accounts and risk checks, market data, and the HTTP API.

pub mod account;
mod book;
mod command;
pub mod history;
mod outcome;
pub mod simulate;
mod units;

pub use book::{Book, Depth, DepthLevel, Limits, RestingOrder, Snapshot, SnapshotError};
pub use command::{Command, NewOrder, OrderKind, SelfTrade, TimeInForce};
pub use outcome::{CancelReason, Event, Reject, Trade};
pub use units::{OrderId, Owner, Price, Qty, Side};
