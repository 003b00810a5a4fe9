//! The service's tables. The API writes only new orders and change requests (each with its
//! request event, through the outbox); everything else is the engine's to write (`engine`).

pub mod engine;

use chrono::Utc;
use miyagi_platform::{
    db::{parse_timestamp, parse_uuid, timestamp, Db},
    events::outbox,
};
use sqlx::{any::AnyRow, Row};
use uuid::Uuid;

pub use engine::{Fill, Pending};

use crate::domain::{Bar, Held};
use crate::events;
use crate::model::{OrderRecord, OrderSide, OrderStatus, OrderTimeInForce, OrderType, Request};

pub const ORDER_COLUMNS: &str =
    "id, owner, number, symbol, side, kind, time_in_force, price, qty, filled, notional, fees, \
                                 status, reason, revision, created_at, updated_at";

#[derive(Clone, Debug)]
pub struct MarketsStore {
    db: Db,
}

impl MarketsStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Records a new order as received and journals the request for the engine, at once; an
    /// order whose id is already recorded (an agent's approved order delivered again) is left
    /// as it is.
    pub async fn place(&self, order: &OrderRecord) -> Result<(), sqlx::Error> {
        self.write_order(
            order,
            |order| {
                events::requested(&Request::Place {
                    order: order.clone(),
                })
            },
            events::REQUEST_TOPIC,
        )
        .await
    }

    /// Records an order refused before it reached the engine, and tells its owner so; once.
    pub async fn refuse(&self, order: &OrderRecord) -> Result<(), sqlx::Error> {
        self.write_order(order, events::order_updated, events::ORDER_TOPIC)
            .await
    }

    async fn write_order(
        &self,
        order: &OrderRecord,
        event: impl FnOnce(&OrderRecord) -> miyagi_platform::events::CloudEvent,
        topic: &str,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        let written = sqlx::query(&format!(
            "INSERT INTO markets_orders ({ORDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             ON CONFLICT (id) DO NOTHING"
        ))
        .bind(order.id.to_string())
        .bind(&order.owner)
        .bind(order.number.map(|n| n as i64))
        .bind(&order.symbol)
        .bind(order.side.as_str())
        .bind(kind_str(order.kind))
        .bind(tif_str(order.time_in_force))
        .bind(order.price)
        .bind(order.qty as i64)
        .bind(order.filled as i64)
        .bind(order.notional)
        .bind(order.fees)
        .bind(order.status.as_str())
        .bind(&order.reason)
        .bind(order.revision)
        .bind(timestamp(order.created_at))
        .bind(timestamp(order.updated_at))
        .execute(&mut *tx)
        .await?;
        if written.rows_affected() == 0 {
            return Ok(());
        }
        outbox::enqueue(&mut tx, topic, &event(order)).await?;
        outbox::commit(&self.db, tx).await
    }

    /// Journals a cancel or replace request for the engine.
    pub async fn request(&self, request: &Request) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        outbox::enqueue(&mut tx, events::REQUEST_TOPIC, &events::requested(request)).await?;
        outbox::commit(&self.db, tx).await
    }

    /// One of the owner's orders; someone else's is `None`, like a missing one.
    pub async fn order(&self, owner: &str, id: Uuid) -> Result<Option<OrderRecord>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM markets_orders WHERE id = $1 AND owner = $2"
        ))
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    /// The owner's orders, newest first.
    pub async fn orders(
        &self,
        owner: &str,
        status: Option<OrderStatus>,
        limit: u32,
    ) -> Result<Vec<OrderRecord>, sqlx::Error> {
        let filter = if status.is_some() {
            " AND status = $3"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM markets_orders WHERE owner = $1{filter} ORDER BY created_at DESC, id LIMIT $2"
        );
        let query = sqlx::query(&sql).bind(owner).bind(i64::from(limit));
        let query = match status {
            Some(status) => query.bind(status.as_str()),
            None => query,
        };
        let rows = query.fetch_all(self.db.pool()).await?;
        rows.iter().map(order_from_row).collect()
    }

    /// The owner's account as stored, with what its open orders hold back.
    pub async fn account(&self, owner: &str) -> Result<Option<Held>, sqlx::Error> {
        let (mut accounts, _) = engine::accounts(&self.db, Some(owner)).await?;
        Ok(accounts.remove(owner))
    }

    /// One-minute bars of a symbol's trades, oldest first, the latest `limit`.
    pub async fn bars(&self, symbol: &str, limit: u32) -> Result<Vec<Bar>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT minute, open, high, low, close, volume FROM markets_candles WHERE symbol = $1
             ORDER BY minute DESC LIMIT $2",
        )
        .bind(symbol)
        .bind(i64::from(limit))
        .fetch_all(self.db.pool())
        .await?;
        let mut bars = rows
            .iter()
            .map(|row| {
                Ok(Bar {
                    minute: parse_timestamp(&row.try_get::<String, _>("minute")?)?,
                    open: row.try_get("open")?,
                    high: row.try_get("high")?,
                    low: row.try_get("low")?,
                    close: row.try_get("close")?,
                    volume: row.try_get::<i64, _>("volume")? as u64,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        bars.reverse();
        Ok(bars)
    }
}

pub fn order_from_row(row: &AnyRow) -> Result<OrderRecord, sqlx::Error> {
    let decode = |column: &str, what: &str| {
        sqlx::Error::Decode(format!("markets_orders.{column}: {what}").into())
    };
    let side = match row.try_get::<String, _>("side")?.as_str() {
        "buy" => OrderSide::Buy,
        "sell" => OrderSide::Sell,
        other => return Err(decode("side", other)),
    };
    let kind = match row.try_get::<String, _>("kind")?.as_str() {
        "limit" => OrderType::Limit,
        "market" => OrderType::Market,
        other => return Err(decode("kind", other)),
    };
    let tif_text: String = row.try_get("time_in_force")?;
    let time_in_force = [
        OrderTimeInForce::Gtc,
        OrderTimeInForce::Ioc,
        OrderTimeInForce::Fok,
        OrderTimeInForce::PostOnly,
    ]
    .into_iter()
    .find(|tif| tif_str(*tif) == tif_text)
    .ok_or_else(|| decode("time_in_force", &tif_text))?;
    let status_text: String = row.try_get("status")?;
    Ok(OrderRecord {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        owner: row.try_get("owner")?,
        number: row.try_get::<Option<i64>, _>("number")?.map(|n| n as u64),
        symbol: row.try_get("symbol")?,
        side,
        kind,
        time_in_force,
        price: row.try_get("price")?,
        qty: row.try_get::<i64, _>("qty")? as u64,
        filled: row.try_get::<i64, _>("filled")? as u64,
        notional: row.try_get("notional")?,
        fees: row.try_get("fees")?,
        status: OrderStatus::parse(&status_text).ok_or_else(|| decode("status", &status_text))?,
        reason: row.try_get("reason")?,
        revision: row.try_get("revision")?,
        created_at: parse_timestamp(&row.try_get::<String, _>("created_at")?)?,
        updated_at: parse_timestamp(&row.try_get::<String, _>("updated_at")?)?,
    })
}

fn kind_str(kind: OrderType) -> &'static str {
    match kind {
        OrderType::Limit => "limit",
        OrderType::Market => "market",
    }
}

fn tif_str(tif: OrderTimeInForce) -> &'static str {
    match tif {
        OrderTimeInForce::Gtc => "gtc",
        OrderTimeInForce::Ioc => "ioc",
        OrderTimeInForce::Fok => "fok",
        OrderTimeInForce::PostOnly => "postOnly",
    }
}

/// A new order as the API records it, before the engine has seen it.
pub fn received(
    owner: &str,
    symbol: String,
    side: OrderSide,
    kind: OrderType,
    time_in_force: OrderTimeInForce,
    price: Option<i64>,
    qty: u64,
) -> OrderRecord {
    let now = Utc::now();
    OrderRecord {
        id: Uuid::now_v7(),
        owner: owner.to_string(),
        number: None,
        symbol,
        side,
        kind,
        time_in_force,
        price,
        qty,
        filled: 0,
        notional: 0,
        fees: 0,
        status: OrderStatus::Received,
        reason: None,
        revision: 0,
        created_at: now,
        updated_at: now,
    }
}
