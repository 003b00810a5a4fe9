//! One symbol's market: its book, the simulated traders around it, and the figures a quote
//! shows (last trade, the day's volume, the minute's bar).

use chrono::{DateTime, Timelike, Utc};
use miyagi_markets::simulate::Flow;
use miyagi_markets::{Book, Depth, Price, Trade};
use serde::{Deserialize, Serialize};

pub struct Market {
    pub book: Book,
    /// The simulated traders; none when `markets.simulate` is off.
    pub flow: Option<Flow>,
    /// The last close of the bundled history, cents: what "change" is measured from.
    pub previous_close: i64,
    pub last: Option<i64>,
    /// Shares traded since the process started.
    pub volume: u64,
    /// The current minute's bar, written with each step and started afresh each minute.
    pub bar: Option<Bar>,
}

/// A one-minute bar of trades, in cents and shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub minute: DateTime<Utc>,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub volume: u64,
}

/// What a quote shows, in cents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    pub symbol: String,
    pub bid: Option<i64>,
    pub ask: Option<i64>,
    pub last: Option<i64>,
    pub previous_close: i64,
    pub volume: u64,
}

impl Market {
    /// The price the price band is measured from: the last trade, else the middle of the book,
    /// else the last close.
    pub fn reference(&self) -> Price {
        if let Some(last) = self.last {
            return Price(last);
        }
        match (self.book.best_bid(), self.book.best_ask()) {
            (Some(bid), Some(ask)) => Price((bid.0 + ask.0) / 2),
            _ => Price(self.previous_close),
        }
    }

    /// A trade in this market: last price, volume and the minute's bar move.
    pub fn traded(&mut self, trade: &Trade, now: DateTime<Utc>) {
        let price = trade.price.0;
        self.last = Some(price);
        self.volume += trade.qty.0;
        let minute = now
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(now);
        match &mut self.bar {
            Some(bar) if bar.minute == minute => {
                bar.high = bar.high.max(price);
                bar.low = bar.low.min(price);
                bar.close = price;
                bar.volume += trade.qty.0;
            }
            bar => {
                *bar = Some(Bar {
                    minute,
                    open: price,
                    high: price,
                    low: price,
                    close: price,
                    volume: trade.qty.0,
                })
            }
        }
    }

    pub fn quote(&self, symbol: &str) -> Quote {
        Quote {
            symbol: symbol.to_string(),
            bid: self.book.best_bid().map(|p| p.0),
            ask: self.book.best_ask().map(|p| p.0),
            last: self.last,
            previous_close: self.previous_close,
            volume: self.volume,
        }
    }
}

/// Every symbol's quote and depth after the engine's latest change, for readers that must not
/// wait for the engine (the API, the live stream).
#[derive(Debug, Clone, Default)]
pub struct MarketView {
    pub quotes: Vec<Quote>,
    pub depth: std::collections::BTreeMap<String, Depth>,
}
