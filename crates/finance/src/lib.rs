//! The finance engine. Every number the advisor shows comes from here; the language model only
//! explains them. Pure functions of their inputs (the projection's randomness is seeded), so the
//! same profile and portfolio always give the same advice.
//!
//! The method, in order:
//! 1. [`risk`]: a risk score in [0, 1] from the capacity to bear risk (horizon, debt, future
//!    earnings against savings) and the stated willingness, weighted toward the lower of the two.
//! 2. [`allocation`]: a target mix of stocks, bonds, cash and real estate from a glide path by
//!    years to retirement, tilted by the risk score; drift of the current mix from it, and
//!    Buy/Sell/Hold per asset class when the drift passes a threshold.
//! 3. [`stocks`]: each holding's weight, the portfolio's concentration, volatility from price
//!    history when given, and a per-stock action.
//! 4. [`projection`]: a Monte Carlo projection of wealth at retirement, as percentiles per year.
//!
//! With the `profile` feature, [`profile`] reads a person's profile (the users service's
//! contract) into these inputs, and [`figures`] states what the engine makes of it in sentences
//! a model is given (the coach's tools, the eval runner's finance functions).
//!
//! [`words`] puts the numbers into prose the same way wherever they are written.

pub mod allocation;
#[cfg(feature = "profile")]
pub mod figures;
#[cfg(feature = "profile")]
pub mod profile;
pub mod projection;
pub mod risk;
pub mod stocks;
pub mod words;

pub use allocation::{Action, Allocation, AssetClass, Drift};
pub use risk::{Household, RiskProfile, Tolerance};
