//! The engine's side of the tables: what it loads at start, and the one write that follows each
//! of its changes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use miyagi_domain::markets::PositionsUpdated;
use miyagi_markets::account::{Account, OpenOrder, Position};
use miyagi_markets::{Command, OrderId, Price, Qty, Snapshot};
use miyagi_platform::{
    db::{timestamp, Db},
    events::outbox,
};
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use super::{order_from_row, ORDER_COLUMNS};
use crate::domain::{Bar, Counters, Held, Quote};
use crate::events;
use crate::model::OrderRecord;

/// One side of a trade that was a person's order.
#[derive(Debug, Clone)]
pub struct Fill {
    pub symbol: String,
    pub trade: u64,
    pub order_id: Uuid,
    pub owner: String,
    pub side: crate::model::OrderSide,
    pub price: i64,
    pub qty: u64,
    pub fee: i64,
    pub liquidity: &'static str,
    pub at: DateTime<Utc>,
}

/// What the engine changed since its last write.
#[derive(Default)]
pub struct Pending {
    pub journal: Vec<(u64, String, Command)>,
    /// Owners whose account or positions changed.
    pub accounts: BTreeSet<String>,
    pub orders: BTreeMap<Uuid, OrderRecord>,
    pub fills: Vec<Fill>,
    pub bars: BTreeMap<String, Bar>,
    pub quotes: Option<Vec<Quote>>,
    /// What the changed accounts hold now, valued when the change is written.
    pub holdings: Vec<PositionsUpdated>,
    /// Owners whose data is to be deleted.
    pub erase: Vec<String>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.journal.is_empty()
            && self.accounts.is_empty()
            && self.orders.is_empty()
            && self.erase.is_empty()
    }

    pub fn touch_account(&mut self, owner: &str) {
        self.accounts.insert(owner.to_string());
    }

    pub fn order_changed(&mut self, order: OrderRecord) {
        self.orders.insert(order.id, order);
    }
}

pub async fn counters(db: &Db) -> Result<Counters, sqlx::Error> {
    let row = sqlx::query("SELECT seq, next_order, next_account FROM markets_engine WHERE id = 1")
        .fetch_one(db.pool())
        .await?;
    Ok(Counters {
        seq: row.try_get::<i64, _>("seq")? as u64,
        next_order: row.try_get::<i64, _>("next_order")? as u64,
        next_account: row.try_get::<i64, _>("next_account")? as u64,
    })
}

/// Each symbol's last snapshot: the book, its last trade price and the journal entry it was
/// taken at.
pub async fn snapshots(db: &Db) -> anyhow::Result<HashMap<String, (Snapshot, Option<i64>, u64)>> {
    let rows = sqlx::query("SELECT symbol, seq, book, last_price FROM markets_snapshots")
        .fetch_all(db.pool())
        .await?;
    let mut snapshots = HashMap::new();
    for row in rows {
        let symbol: String = row.try_get("symbol")?;
        let book: Snapshot = serde_json::from_str(&row.try_get::<String, _>("book")?)?;
        let last: Option<i64> = row.try_get("last_price")?;
        let seq = row.try_get::<i64, _>("seq")? as u64;
        snapshots.insert(symbol, (book, last, seq));
    }
    Ok(snapshots)
}

pub async fn journal_after(db: &Db, seq: u64) -> anyhow::Result<Vec<(u64, String, Command)>> {
    let rows =
        sqlx::query("SELECT seq, symbol, command FROM markets_journal WHERE seq > $1 ORDER BY seq")
            .bind(seq as i64)
            .fetch_all(db.pool())
            .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get::<i64, _>("seq")? as u64,
                row.try_get("symbol")?,
                serde_json::from_str(&row.try_get::<String, _>("command")?)?,
            ))
        })
        .collect()
}

/// Every account (or `only` one) with its positions, and people's orders still open in a book
/// (which are also what the accounts hold back).
pub async fn accounts(
    db: &Db,
    only: Option<&str>,
) -> Result<(HashMap<String, Held>, HashMap<u64, OrderRecord>), sqlx::Error> {
    let filter = if only.is_some() {
        " WHERE owner = $1"
    } else {
        ""
    };
    let select = |columns: &str, table: &str, extra: &str| {
        let joiner = if filter.is_empty() {
            " WHERE "
        } else {
            " AND "
        };
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!("{joiner}{extra}")
        };
        format!("SELECT {columns} FROM {table}{filter}{extra}")
    };
    let mut accounts = HashMap::new();
    let sql = select("owner, number, cash, fees_paid", "markets_accounts", "");
    for row in scoped(&sql, only).fetch_all(db.pool()).await? {
        let account = Account {
            cash: row.try_get("cash")?,
            fees_paid: row.try_get("fees_paid")?,
            ..Account::default()
        };
        let number = row.try_get::<i64, _>("number")? as u64;
        accounts.insert(row.try_get::<String, _>("owner")?, Held { number, account });
    }
    let sql = select(
        "owner, symbol, shares, cost, realised",
        "markets_positions",
        "",
    );
    for row in scoped(&sql, only).fetch_all(db.pool()).await? {
        let owner: String = row.try_get("owner")?;
        if let Some(held) = accounts.get_mut(&owner) {
            held.account.positions.insert(
                row.try_get("symbol")?,
                Position {
                    shares: row.try_get::<i64, _>("shares")? as u64,
                    cost: row.try_get("cost")?,
                    realised: row.try_get("realised")?,
                },
            );
        }
    }
    let mut open = HashMap::new();
    let sql = select(ORDER_COLUMNS, "markets_orders", "status = 'open'");
    for row in scoped(&sql, only).fetch_all(db.pool()).await? {
        let order = order_from_row(&row)?;
        let (Some(number), Some(price)) = (order.number, order.price) else {
            continue;
        };
        if let Some(held) = accounts.get_mut(&order.owner) {
            held.account.open_orders.insert(
                OrderId(number),
                OpenOrder {
                    symbol: order.symbol.clone(),
                    side: order.side.into(),
                    price: Price(price),
                    open: Qty(order.qty - order.filled),
                    filled: Qty(order.filled),
                },
            );
        }
        open.insert(number, order);
    }
    Ok((accounts, open))
}

/// `sql`, bound to the one owner it filters on, if any.
fn scoped<'q>(
    sql: &'q str,
    only: Option<&'q str>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let query = sqlx::query(sql);
    match only {
        Some(owner) => query.bind(owner),
        None => query,
    }
}

/// Writes what the engine changed, inside the caller's transaction, and empties `pending`.
pub async fn write(
    conn: &mut AnyConnection,
    pending: &mut Pending,
    counters: Counters,
    held: &HashMap<String, Held>,
) -> Result<(), sqlx::Error> {
    let now = timestamp(Utc::now());
    for (seq, symbol, command) in pending.journal.drain(..) {
        sqlx::query("INSERT INTO markets_journal (seq, symbol, command) VALUES ($1, $2, $3)")
            .bind(seq as i64)
            .bind(symbol)
            .bind(serde_json::to_string(&command).expect("commands serialize"))
            .execute(&mut *conn)
            .await?;
    }
    for owner in std::mem::take(&mut pending.accounts) {
        let Some(Held { number, account }) = held.get(&owner) else {
            continue;
        };
        sqlx::query(
            "INSERT INTO markets_accounts (owner, number, cash, fees_paid, opened_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (owner) DO UPDATE SET cash = excluded.cash, fees_paid = excluded.fees_paid",
        )
        .bind(&owner)
        .bind(*number as i64)
        .bind(account.cash)
        .bind(account.fees_paid)
        .bind(&now)
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM markets_positions WHERE owner = $1")
            .bind(&owner)
            .execute(&mut *conn)
            .await?;
        for (symbol, position) in &account.positions {
            sqlx::query(
                "INSERT INTO markets_positions (owner, symbol, shares, cost, realised) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&owner)
            .bind(symbol)
            .bind(position.shares as i64)
            .bind(position.cost)
            .bind(position.realised)
            .execute(&mut *conn)
            .await?;
        }
    }
    for (_, order) in std::mem::take(&mut pending.orders) {
        sqlx::query(
            "UPDATE markets_orders SET number = $1, price = $2, qty = $3, filled = $4, notional = $5, fees = $6,
                 status = $7, reason = $8, revision = revision + 1, updated_at = $9
             WHERE id = $10",
        )
        .bind(order.number.map(|n| n as i64))
        .bind(order.price)
        .bind(order.qty as i64)
        .bind(order.filled as i64)
        .bind(order.notional)
        .bind(order.fees)
        .bind(order.status.as_str())
        .bind(&order.reason)
        .bind(&now)
        .bind(order.id.to_string())
        .execute(&mut *conn)
        .await?;
        let event = events::order_updated(&OrderRecord {
            updated_at: Utc::now(),
            ..order
        });
        outbox::enqueue(conn, events::ORDER_TOPIC, &event).await?;
    }
    for fill in pending.fills.drain(..) {
        sqlx::query(
            "INSERT INTO markets_fills (symbol, trade, order_id, owner, side, price, qty, fee, liquidity, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&fill.symbol)
        .bind(fill.trade as i64)
        .bind(fill.order_id.to_string())
        .bind(&fill.owner)
        .bind(fill.side.as_str())
        .bind(fill.price)
        .bind(fill.qty as i64)
        .bind(fill.fee)
        .bind(fill.liquidity)
        .bind(timestamp(fill.at))
        .execute(&mut *conn)
        .await?;
    }
    for (symbol, bar) in std::mem::take(&mut pending.bars) {
        sqlx::query(
            "INSERT INTO markets_candles (symbol, minute, open, high, low, close, volume) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (symbol, minute) DO UPDATE SET high = excluded.high, low = excluded.low,
                 close = excluded.close, volume = excluded.volume",
        )
        .bind(symbol)
        .bind(timestamp(bar.minute))
        .bind(bar.open)
        .bind(bar.high)
        .bind(bar.low)
        .bind(bar.close)
        .bind(bar.volume as i64)
        .execute(&mut *conn)
        .await?;
    }
    for owner in pending.erase.drain(..) {
        for table in [
            "markets_fills",
            "markets_orders",
            "markets_positions",
            "markets_accounts",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE owner = $1"))
                .bind(&owner)
                .execute(&mut *conn)
                .await?;
        }
    }
    for holdings in pending.holdings.drain(..) {
        outbox::enqueue(conn, events::ACCOUNT_TOPIC, &events::positions(&holdings)).await?;
    }
    if let Some(quotes) = pending.quotes.take() {
        outbox::enqueue(conn, events::QUOTES_TOPIC, &events::quotes(&quotes)).await?;
    }
    sqlx::query(
        "UPDATE markets_engine SET seq = $1, next_order = $2, next_account = $3 WHERE id = 1",
    )
    .bind(counters.seq as i64)
    .bind(counters.next_order as i64)
    .bind(counters.next_account as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every book's snapshot at journal entry `seq`, and the journal before it dropped, at once.
pub async fn write_snapshots(
    db: &Db,
    books: &[(String, Snapshot, Option<i64>)],
    seq: u64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    for (symbol, book, last) in books {
        sqlx::query(
            "INSERT INTO markets_snapshots (symbol, seq, book, last_price) VALUES ($1, $2, $3, $4)
             ON CONFLICT (symbol) DO UPDATE SET seq = excluded.seq, book = excluded.book, last_price = excluded.last_price",
        )
        .bind(symbol)
        .bind(seq as i64)
        .bind(serde_json::to_string(book).expect("snapshots serialize"))
        .bind(*last)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DELETE FROM markets_journal WHERE seq <= $1")
        .bind(seq as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
