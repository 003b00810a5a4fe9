//! What the service keeps of the markets service's events: the person's paper positions (the
//! rebalancer's and the analyst's view of the account) and what became of the orders runs
//! placed; and the erasure of all it holds of a person.

use chrono::{DateTime, Utc};
use miyagi_platform::db::{parse_timestamp, timestamp};
use serde_json::Value;
use sqlx::Row;

use super::{json, AgentsStore, StoreError};
use crate::model::PlacedOrder;

impl AgentsStore {
    /// Keeps the person's positions as the markets service published them, unless a later
    /// valuation is already kept.
    pub async fn keep_positions(
        &self,
        owner: &str,
        positions: &Value,
        as_of: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO agent_positions (owner, positions, as_of) VALUES ($1, $2, $3)
             ON CONFLICT (owner) DO UPDATE SET positions = excluded.positions, as_of = excluded.as_of
             WHERE agent_positions.as_of < excluded.as_of",
        )
        .bind(owner)
        .bind(positions.to_string())
        .bind(timestamp(as_of))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn positions(
        &self,
        owner: &str,
    ) -> Result<Option<(Value, DateTime<Utc>)>, StoreError> {
        let row = sqlx::query("SELECT positions, as_of FROM agent_positions WHERE owner = $1")
            .bind(owner)
            .fetch_optional(self.db.pool())
            .await?;
        row.map(|row| {
            Ok((
                json(row.try_get("positions")?)?,
                parse_timestamp(&row.try_get::<String, _>("as_of")?)?,
            ))
        })
        .transpose()
        .map_err(|e: sqlx::Error| e.into())
    }

    /// What became of an order a run placed; other orders are not the service's concern.
    pub async fn order_changed(&self, owner: &str, order: &PlacedOrder) -> Result<(), StoreError> {
        sqlx::query("UPDATE agent_orders SET status = $3, filled = $4, average_price = $5, reason = $6 WHERE id = $1 AND owner = $2")
            .bind(order.id.to_string())
            .bind(owner)
            .bind(&order.status)
            .bind(order.filled as i64)
            .bind(order.average_price)
            .bind(&order.reason)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes all the service holds of a person.
    pub async fn erase(&self, owner: &str) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        for table in ["agent_decisions", "agent_steps"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE run_id IN (SELECT id FROM agent_runs WHERE owner = $1)"
            ))
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        }
        for table in ["agent_orders", "agent_positions", "agent_runs"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE owner = $1"))
                .bind(owner)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
