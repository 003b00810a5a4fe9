//! A market to trade against: each symbol's fair price follows a jump diffusion calibrated from
//! its daily history (`calibrate`, `path`), and simulated traders turn that price into orders in
//! the book (`flow`), so a person's paper orders meet a queue, a spread and fills as they would
//! on an exchange, rather than filling at a quoted price by fiat.

mod calibrate;
mod flow;
mod path;

pub use calibrate::{Calibration, TRADING_DAYS};
pub use flow::{Flow, FlowConfig, LIQUIDITY_TAKER, MARKET_MAKER};
pub use path::{PricePath, TRADING_SECOND};
