//! The markets engine: the one place where books, accounts and the journal change, one request
//! or one market step at a time (the service holds it behind a FIFO mutex, which is its queue).
//!
//! Each change is worked out in memory first, on the books and accounts the engine holds, and
//! then written in one transaction: the commands the books accepted (the journal), what they did
//! to orders, fills, accounts and positions, the inbox claim of the request that caused it, and
//! the events it publishes. If that transaction fails, memory is ahead of the database, so the
//! engine reloads itself from the database (last snapshot + journal, accounts as stored) before
//! the request is tried again. That is the whole recovery story, and a restart after kill -9 runs
//! the same `load`.

mod holdings;
mod market;
mod open;
mod settle;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::Utc;
use miyagi_markets::account::{Account, Fees, OrderTicket, RiskLimits};
use miyagi_markets::history::DailyCloses;
use miyagi_markets::simulate::{Calibration, Flow, FlowConfig, MARKET_MAKER, TRADING_SECOND};
use miyagi_markets::{
    Book, Command, Limits, NewOrder, OrderId, OrderKind, Owner, Price, Qty, SelfTrade, Side,
    TimeInForce,
};
use miyagi_platform::{config::MarketsConfig, db::Db, events::inbox};
use tokio::sync::watch;
use uuid::Uuid;

use crate::model::{OrderRecord, OrderStatus, OrderType, Request};
use crate::store::{self, Pending};

use market::Market;
pub use market::{Bar, MarketView, Quote};
use open::OpenOrders;

/// Market steps (seconds of market time) between two `miyagi.markets.quotes.v1` events.
const QUOTES_EVERY_STEPS: u64 = 60;

/// Price levels a side that readers of the market view can see.
pub const MAX_DEPTH: usize = 50;

/// The consumer the engine claims requests as.
pub const CONSUMER: &str = "markets-engine";

/// What the engine needs from config, in its own units.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub starting_cash: i64,
    pub fees: Fees,
    pub risk: RiskLimits,
    pub book: Limits,
    pub simulate: bool,
    pub snapshot_every: u64,
}

impl From<&MarketsConfig> for Settings {
    fn from(config: &MarketsConfig) -> Self {
        Settings {
            starting_cash: (config.starting_cash * 100.0).round() as i64,
            fees: Fees {
                per_share_millicents: (config.fee_per_share * 100_000.0).round() as i64,
            },
            risk: RiskLimits {
                price_band_bps: i64::from(config.price_band_bps),
                max_order_qty: Qty(config.max_order_shares),
                max_position: Qty(config.max_position_shares),
            },
            // The book's own limits sit above the account's, so a simulated maker's quotes and
            // any order the risk checks let through always fit.
            book: Limits {
                max_qty: Qty(config.max_order_shares.max(1_000_000)),
                max_price: Price(100_000_000),
            },
            simulate: config.simulate,
            snapshot_every: config.snapshot_every,
        }
    }
}

/// A person's account as the engine holds it.
pub struct Held {
    pub number: u64,
    pub account: Account,
}

/// The engine's counters: the journal's last sequence number and the next ids to hand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub seq: u64,
    pub next_order: u64,
    pub next_account: u64,
}

pub struct Engine {
    db: Db,
    settings: Settings,
    history: Arc<DailyCloses>,
    markets: BTreeMap<String, Market>,
    accounts: HashMap<String, Held>,
    /// People's orders resting in a book, by their id there.
    open: OpenOrders,
    counters: Counters,
    /// The journal entry the books' snapshots were last taken at.
    snapshot_seq: u64,
    /// Market steps since the engine loaded.
    steps: u64,
    pending: Pending,
    view: watch::Sender<Arc<MarketView>>,
}

impl Engine {
    /// The engine as the database last knew it: each book from its snapshot and the journal
    /// after it, the accounts with the orders still open. Simulated market makers' quotes that
    /// survived in a book are cancelled (through the journal), since the makers that would have
    /// moved them are gone; new makers quote on the next step.
    pub async fn load(
        db: Db,
        settings: Settings,
        history: Arc<DailyCloses>,
        view: watch::Sender<Arc<MarketView>>,
    ) -> anyhow::Result<Engine> {
        let counters = store::engine::counters(&db).await?;
        let snapshots = store::engine::snapshots(&db).await?;
        let mut markets = BTreeMap::new();
        for (index, symbol) in history.symbols().iter().enumerate() {
            let closes = history.closes(symbol).expect("a listed symbol has closes");
            let calibration = Calibration::from_closes(closes)
                .ok_or_else(|| anyhow::anyhow!("{symbol}: too little history to calibrate"))?;
            let previous_close = (calibration.last_close * 100.0).round() as i64;
            let (book, last) = match snapshots.get(symbol) {
                Some((book, last, _)) => (
                    Book::restore(book).map_err(|e| {
                        anyhow::anyhow!("{symbol}: the stored snapshot is damaged: {e}")
                    })?,
                    *last,
                ),
                None => (Book::new(settings.book), None),
            };
            let flow = settings.simulate.then(|| {
                let start = Calibration {
                    last_close: last.map_or(calibration.last_close, |cents| cents as f64 / 100.0),
                    ..calibration
                };
                Flow::new(
                    start,
                    FlowConfig {
                        levels: 5,
                        ..FlowConfig::default()
                    },
                    // A new path each start, and one per symbol.
                    counters.seq ^ ((index as u64 + 1) << 32),
                )
            });
            markets.insert(
                symbol.clone(),
                Market {
                    book,
                    flow,
                    previous_close,
                    last,
                    volume: 0,
                    bar: None,
                },
            );
        }
        // Every book is snapshotted at once; a symbol without one (new since) starts at zero.
        let snapshot_seq = markets
            .keys()
            .map(|symbol| snapshots.get(symbol).map_or(0, |(_, _, seq)| *seq))
            .min()
            .unwrap_or(0);
        for (seq, symbol, command) in store::engine::journal_after(&db, snapshot_seq).await? {
            if snapshots
                .get(&symbol)
                .is_some_and(|(_, _, taken)| *taken >= seq)
            {
                continue;
            }
            let market = markets
                .get_mut(&symbol)
                .ok_or_else(|| anyhow::anyhow!("the journal names an unknown symbol {symbol}"))?;
            let mut events = Vec::new();
            market
                .book
                .execute(&command, &mut events)
                .map_err(|reject| {
                    anyhow::anyhow!(
                        "{symbol}: the journal does not replay ({command:?} refused: {reject})"
                    )
                })?;
            for event in &events {
                if let miyagi_markets::Event::Trade(trade) = event {
                    market.last = Some(trade.price.0);
                }
            }
        }
        let (accounts, open) = store::engine::accounts(&db, None).await?;
        let mut engine = Engine {
            db,
            settings,
            history,
            markets,
            accounts,
            open: open.into_iter().collect(),
            counters,
            snapshot_seq,
            steps: 0,
            pending: Pending::default(),
            view,
        };
        engine.retire_old_quotes();
        if !engine.pending.is_empty() {
            engine.value_holdings();
            let mut tx = engine.db.begin().await?;
            store::engine::write(
                &mut tx,
                &mut engine.pending,
                engine.counters,
                &engine.accounts,
            )
            .await?;
            miyagi_platform::events::outbox::commit(&engine.db, tx).await?;
        }
        engine.publish_view();
        Ok(engine)
    }

    fn retire_old_quotes(&mut self) {
        let symbols: Vec<String> = self.markets.keys().cloned().collect();
        for symbol in symbols {
            let market = &self.markets[&symbol];
            let snapshot = market.book.snapshot();
            let stale: Vec<OrderId> = snapshot
                .bids
                .iter()
                .chain(&snapshot.asks)
                .filter(|order| order.owner == MARKET_MAKER)
                .map(|order| order.id)
                .collect();
            for id in stale {
                let _ = self.execute(
                    &symbol,
                    Command::Cancel {
                        id,
                        owner: MARKET_MAKER,
                    },
                );
            }
        }
    }

    /// Works out a person's request and writes its effects with its inbox claim, once.
    pub async fn request(&mut self, event_id: &str, request: Request) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        if !inbox::claim(&mut tx, CONSUMER, event_id).await? {
            return Ok(());
        }
        match request {
            Request::Place { order } => self.place(order),
            Request::Cancel { id, owner, .. } => self.cancel(id, &owner),
            Request::Replace {
                id,
                owner,
                price,
                qty,
                ..
            } => self.replace(id, &owner, price, qty),
        }
        self.commit(tx).await
    }

    /// One second of market time: the simulated traders act on every book.
    pub async fn step(&mut self) -> Result<(), sqlx::Error> {
        let symbols: Vec<String> = self.markets.keys().cloned().collect();
        for symbol in &symbols {
            let market = self.markets.get_mut(symbol).expect("listed");
            let Some(flow) = market.flow.as_mut() else {
                continue;
            };
            let counters = &mut self.counters;
            let commands = flow.step(&market.book, TRADING_SECOND, || {
                let id = OrderId(counters.next_order);
                counters.next_order += 1;
                id
            });
            // A simulated trader's command that a book refuses (a quote already gone) is dropped.
            for command in commands {
                let _ = self.execute(symbol, command);
            }
        }
        // Market data as an event once a minute of market time: the log keeps a record of the
        // market without a write a second (the live page follows the SSE stream instead).
        if self.steps.is_multiple_of(QUOTES_EVERY_STEPS) {
            self.pending.quotes = Some(self.quotes());
        }
        self.steps += 1;
        let tx = self.db.begin().await?;
        self.commit(tx).await
    }

    /// Deletes everything the engine holds of a person who deleted their account: their open
    /// orders leave the books (journaled like any cancel), then their rows go.
    pub async fn erase(&mut self, event_id: &str, owner: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        if !inbox::claim(&mut tx, CONSUMER, event_id).await? {
            return Ok(());
        }
        let theirs = self.open.of_owner(owner);
        for id in theirs {
            self.cancel(id, owner);
        }
        self.pending.orders.retain(|_, order| order.owner != owner);
        // An account that existed is published as holding nothing, so no service keeps a copy
        // of what it held.
        if self.accounts.remove(owner).is_some() {
            self.pending.touch_account(owner);
        } else {
            self.pending.accounts.remove(owner);
        }
        self.pending.fills.retain(|fill| fill.owner != owner);
        self.pending.erase.push(owner.to_string());
        self.commit(tx).await
    }

    fn place(&mut self, mut order: OrderRecord) {
        let Some(market) = self.markets.get(&order.symbol) else {
            let reason = format!("{} is not traded here", order.symbol);
            return self.reject(order, reason);
        };
        let reference = market.reference();
        let side = Side::from(order.side);
        let (low, high) =
            miyagi_markets::account::band(reference, self.settings.risk.price_band_bps);
        // A market order goes to the book as an immediate-or-cancel limit at the band's far edge:
        // it takes what rests within the band, and reserves no more than that could cost.
        let (price, tif) = match (order.kind, order.price) {
            (OrderType::Limit, Some(price)) => (price, TimeInForce::from(order.time_in_force)),
            _ => (if side == Side::Buy { high } else { low }, TimeInForce::Ioc),
        };
        let number = self.counters.next_order;
        let ticket = OrderTicket {
            id: OrderId(number),
            symbol: order.symbol.clone(),
            side,
            qty: Qty(order.qty),
            price: Price(price),
        };
        let (settings, owner) = (self.settings, order.owner.clone());
        let held = self.account(&owner);
        let account_number = held.number;
        if let Err(reject) = held
            .account
            .open(&ticket, reference, &settings.risk, settings.fees)
        {
            return self.reject(order, reject.to_string());
        }
        self.counters.next_order += 1;
        order.number = Some(number);
        let command = Command::Place(NewOrder {
            id: OrderId(number),
            owner: Owner(account_number),
            side,
            qty: Qty(order.qty),
            kind: OrderKind::Limit {
                price: Price(price),
                tif,
            },
            self_trade: SelfTrade::CancelResting,
        });
        let symbol = order.symbol.clone();
        order.status = OrderStatus::Open;
        self.open.insert(number, order);
        if let Err(reject) = self.execute(&symbol, command) {
            let order = self.open.remove(number).expect("just inserted");
            self.account(&owner).account.close(OrderId(number));
            return self.reject(order, reject.to_string());
        }
        self.pending.touch_account(&owner);
    }

    fn cancel(&mut self, id: Uuid, owner: &str) {
        let Some(number) = self.open.number_of(id, owner) else {
            return;
        };
        let account = self.accounts[owner].number;
        let symbol = self
            .open
            .get(number)
            .expect("found by number")
            .symbol
            .clone();
        let _ = self.execute(
            &symbol,
            Command::Cancel {
                id: OrderId(number),
                owner: Owner(account),
            },
        );
    }

    fn replace(&mut self, id: Uuid, owner: &str, price: i64, qty: u64) {
        let Some(number) = self.open.number_of(id, owner) else {
            return;
        };
        let order = self.open.get(number).expect("found by number");
        let symbol = order.symbol.clone();
        let reference = self.markets[&symbol].reference();
        let ticket = OrderTicket {
            id: OrderId(number),
            symbol: symbol.clone(),
            side: Side::from(order.side),
            qty: Qty(qty),
            price: Price(price),
        };
        let settings = self.settings;
        let held = self
            .accounts
            .get_mut(owner)
            .expect("an open order's account is held");
        // Checked as if the order were new, without what it holds now; put back if refused.
        let before = held
            .account
            .open_orders
            .remove(&OrderId(number))
            .expect("open orders are reserved");
        if let Err(reject) = held
            .account
            .open(&ticket, reference, &settings.risk, settings.fees)
        {
            held.account.open_orders.insert(OrderId(number), before);
            return self.refuse_change(number, format!("the change was refused: {reject}"));
        }
        if let Some(reserved) = held.account.open_orders.get_mut(&OrderId(number)) {
            reserved.filled = before.filled;
        }
        let command = Command::Replace {
            id: OrderId(number),
            owner: Owner(held.number),
            price: Price(price),
            qty: Qty(qty),
        };
        if let Err(reject) = self.execute(&symbol, command) {
            let held = self.accounts.get_mut(owner).expect("held");
            held.account.open_orders.insert(OrderId(number), before);
            self.refuse_change(number, format!("the change was refused: {reject}"));
        }
    }

    /// Runs a command on a book; accepted, it is journaled and its events settled.
    fn execute(&mut self, symbol: &str, command: Command) -> Result<(), miyagi_markets::Reject> {
        let market = self.markets.get_mut(symbol).expect("known symbol");
        let mut events = Vec::new();
        market.book.execute(&command, &mut events)?;
        self.counters.seq += 1;
        self.pending
            .journal
            .push((self.counters.seq, symbol.to_string(), command));
        self.settle(symbol, &events, Utc::now());
        Ok(())
    }

    /// The person's account, opened with the starting cash the first time they trade.
    fn account(&mut self, owner: &str) -> &mut Held {
        if !self.accounts.contains_key(owner) {
            let number = self.counters.next_account;
            self.counters.next_account += 1;
            self.accounts.insert(
                owner.to_string(),
                Held {
                    number,
                    account: Account::with_cash(self.settings.starting_cash),
                },
            );
            self.pending.touch_account(owner);
        }
        self.accounts.get_mut(owner).expect("just ensured")
    }

    fn reject(&mut self, mut order: OrderRecord, reason: String) {
        order.status = OrderStatus::Rejected;
        order.reason = Some(reason);
        self.pending.order_changed(order);
    }

    fn refuse_change(&mut self, number: u64, reason: String) {
        let order = self.open.get_mut(number).expect("open");
        order.reason = Some(reason);
        let order = order.clone();
        self.pending.order_changed(order);
    }

    fn quotes(&self) -> Vec<Quote> {
        self.markets
            .iter()
            .map(|(symbol, market)| market.quote(symbol))
            .collect()
    }

    async fn commit(
        &mut self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<(), sqlx::Error> {
        self.value_holdings();
        let written = async {
            store::engine::write(&mut tx, &mut self.pending, self.counters, &self.accounts).await?;
            miyagi_platform::events::outbox::commit(&self.db, tx).await
        }
        .await;
        if let Err(error) = written {
            tracing::warn!(%error, "the engine's changes were not written; reloading it from the database");
            self.pending = Pending::default();
            if let Err(reload) = self.reload().await {
                tracing::error!(error = %reload, "the engine could not reload; it will try again with the next request");
            }
            return Err(error);
        }
        self.publish_view();
        if self.counters.seq >= self.snapshot_seq + self.settings.snapshot_every {
            self.snapshot().await?;
        }
        Ok(())
    }

    async fn reload(&mut self) -> anyhow::Result<()> {
        *self = Engine::load(
            self.db.clone(),
            self.settings,
            self.history.clone(),
            self.view.clone(),
        )
        .await?;
        Ok(())
    }

    /// What each account changed since the last write holds now, for its event.
    fn value_holdings(&mut self) {
        let as_of = Utc::now();
        for owner in &self.pending.accounts {
            self.pending.holdings.push(holdings::valued(
                owner,
                self.accounts.get(owner),
                &self.markets,
                &self.history,
                as_of,
            ));
        }
    }

    /// Writes every book's snapshot at the journal's current entry and drops the journal before
    /// it: a restart then replays at most `snapshot_every` entries.
    async fn snapshot(&mut self) -> Result<(), sqlx::Error> {
        let books = self
            .markets
            .iter()
            .map(|(symbol, market)| (symbol.clone(), market.book.snapshot(), market.last))
            .collect::<Vec<_>>();
        store::engine::write_snapshots(&self.db, &books, self.counters.seq).await?;
        self.snapshot_seq = self.counters.seq;
        Ok(())
    }

    fn publish_view(&self) {
        let view = MarketView {
            quotes: self.quotes(),
            depth: self
                .markets
                .iter()
                .map(|(symbol, market)| (symbol.clone(), market.book.depth(MAX_DEPTH)))
                .collect(),
        };
        self.view.send_replace(Arc::new(view));
    }
}
