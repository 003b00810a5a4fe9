//! What a book's events mean for people: fills move their accounts and orders, a cancel releases
//! what an order held, and every trade moves its market's last price and bar.

use chrono::{DateTime, Utc};
use miyagi_markets::{CancelReason, Event, OrderId, Trade};

use super::Engine;
use crate::model::OrderStatus;
use crate::store::Fill;

impl Engine {
    pub(super) fn settle(&mut self, symbol: &str, events: &[Event], now: DateTime<Utc>) {
        for event in events {
            match event {
                Event::Trade(trade) => {
                    let market = self.markets.get_mut(symbol).expect("known symbol");
                    market.traded(trade, now);
                    if let Some(bar) = &market.bar {
                        self.pending.bars.insert(symbol.to_string(), bar.clone());
                    }
                    self.fill(symbol, trade.maker.0, trade, "maker", now);
                    self.fill(symbol, trade.taker.0, trade, "taker", now);
                }
                Event::Rested { id, .. } => {
                    if let Some(order) = self.open.get(id.0) {
                        self.pending.order_changed(order.clone());
                    }
                }
                Event::Cancelled { id, reason, .. } => {
                    let Some(mut order) = self.open.remove(id.0) else {
                        continue;
                    };
                    if let Some(held) = self.accounts.get_mut(&order.owner) {
                        held.account.close(*id);
                    }
                    order.status = OrderStatus::Cancelled;
                    order.reason = Some(
                        match reason {
                            CancelReason::Requested => "cancelled at your request",
                            CancelReason::SelfTrade => {
                                "it would have traded with another of your orders"
                            }
                            CancelReason::Unfilled => "nothing more to trade with within its price",
                        }
                        .to_string(),
                    );
                    self.pending.touch_account(&order.owner);
                    self.pending.order_changed(order);
                }
                Event::Replaced { id, price, qty, .. } => {
                    if let Some(order) = self.open.get_mut(id.0) {
                        order.price = Some(price.0);
                        order.qty = order.filled + qty.0;
                        order.reason = None;
                        let order = order.clone();
                        self.pending.order_changed(order);
                    }
                }
                Event::Halted | Event::Resumed => {}
            }
        }
    }

    /// One side of a trade, if it is a person's order.
    fn fill(
        &mut self,
        symbol: &str,
        number: u64,
        trade: &Trade,
        liquidity: &'static str,
        now: DateTime<Utc>,
    ) {
        let Some(order) = self.open.get_mut(number) else {
            return;
        };
        let Some(held) = self.accounts.get_mut(&order.owner) else {
            return;
        };
        let fees_before = held.account.fees_paid;
        held.account
            .fill(OrderId(number), trade.price, trade.qty, self.settings.fees);
        let fee = held.account.fees_paid - fees_before;
        order.filled += trade.qty.0;
        order.notional += trade.price.0 * trade.qty.0 as i64;
        order.fees += fee;
        self.pending.fills.push(Fill {
            symbol: symbol.to_string(),
            trade: trade.id,
            order_id: order.id,
            owner: order.owner.clone(),
            side: order.side,
            price: trade.price.0,
            qty: trade.qty.0,
            fee,
            liquidity,
            at: now,
        });
        let owner = order.owner.clone();
        if order.filled >= order.qty {
            order.status = OrderStatus::Filled;
            order.reason = None;
            let order = self.open.remove(number).expect("present");
            self.pending.order_changed(order);
        } else {
            let order = order.clone();
            self.pending.order_changed(order);
        }
        self.pending.touch_account(&owner);
    }
}
