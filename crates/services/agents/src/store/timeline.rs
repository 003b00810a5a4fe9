//! The reads the API shows a person: their runs, each with its step timeline, decisions and
//! the orders its steps placed.

use miyagi_platform::db::{parse_timestamp, parse_uuid};
use sqlx::{any::AnyRow, Row};
use uuid::Uuid;

use super::{json, optional_json, optional_time, state, AgentsStore, StoreError};
use crate::model::{DecisionRecord, PlacedOrder, Run, Step};

const RUN_COLUMNS: &str = "id, agent, goal, state, reason, created_at, updated_at";

impl AgentsStore {
    pub async fn run(&self, owner: &str, id: Uuid) -> Result<Run, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM agent_runs WHERE id = $1 AND owner = $2"
        ))
        .bind(id.to_string())
        .bind(owner)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(StoreError::NotFound("run"))?;
        let mut run = run_of(&row)?;
        run.steps = self.steps(id).await?;
        Ok(run)
    }

    /// The owner's runs, newest first, with their steps.
    pub async fn runs(&self, owner: &str, limit: u32) -> Result<Vec<Run>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM agent_runs WHERE owner = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(owner)
        .bind(i64::from(limit))
        .fetch_all(self.db.pool())
        .await?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut run = run_of(row)?;
            run.steps = self.steps(run.id).await?;
            runs.push(run);
        }
        Ok(runs)
    }

    async fn steps(&self, id: Uuid) -> Result<Vec<Step>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.position, s.tool, s.purpose, s.arguments, s.state, s.resolved, s.output, s.error, s.attempts, s.deadline, s.started_at, s.finished_at,
                    d.approved, d.decided_by, d.decided_at, d.arguments AS decided_arguments, d.note
             FROM agent_steps s LEFT JOIN agent_decisions d ON d.run_id = s.run_id AND d.position = s.position
             WHERE s.run_id = $1 ORDER BY s.position",
        )
        .bind(id.to_string())
        .fetch_all(self.db.pool())
        .await?;
        let orders = self.orders(id).await?;
        let mut steps = Vec::with_capacity(rows.len());
        for row in &rows {
            let position = row.try_get::<i64, _>("position")? as usize;
            let tool: String = row.try_get("tool")?;
            let decision = match row.try_get::<Option<i64>, _>("approved")? {
                None => None,
                Some(approved) => Some(DecisionRecord {
                    approved: approved == 1,
                    by: row.try_get("decided_by")?,
                    at: parse_timestamp(&row.try_get::<String, _>("decided_at")?)?,
                    arguments: optional_json(row.try_get("decided_arguments")?)?,
                    note: row.try_get("note")?,
                }),
            };
            steps.push(Step {
                position,
                needs_approval: crate::domain::needs_approval(&tool),
                tool,
                purpose: row.try_get("purpose")?,
                arguments: json(row.try_get("arguments")?)?,
                state: row.try_get("state")?,
                resolved: optional_json(row.try_get("resolved")?)?,
                output: optional_json(row.try_get("output")?)?,
                error: row.try_get("error")?,
                attempts: row.try_get::<i64, _>("attempts")? as u32,
                deadline: optional_time(row.try_get("deadline")?)?,
                started_at: optional_time(row.try_get("started_at")?)?,
                finished_at: optional_time(row.try_get("finished_at")?)?,
                decision,
                orders: orders
                    .iter()
                    .filter(|(p, _)| *p == position)
                    .map(|(_, o)| o.clone())
                    .collect(),
            });
        }
        Ok(steps)
    }

    async fn orders(&self, id: Uuid) -> Result<Vec<(usize, PlacedOrder)>, StoreError> {
        let rows = sqlx::query("SELECT id, position, symbol, side, qty, status, filled, average_price, reason FROM agent_orders WHERE run_id = $1 ORDER BY id")
            .bind(id.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<i64, _>("position")? as usize,
                    PlacedOrder {
                        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
                        symbol: row.try_get("symbol")?,
                        side: row.try_get("side")?,
                        qty: row.try_get::<i64, _>("qty")? as u64,
                        status: row.try_get("status")?,
                        filled: row.try_get::<i64, _>("filled")? as u64,
                        average_price: row.try_get("average_price")?,
                        reason: row.try_get("reason")?,
                    },
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}

fn run_of(row: &AnyRow) -> Result<Run, sqlx::Error> {
    Ok(Run {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        agent: row.try_get("agent")?,
        goal: row.try_get("goal")?,
        state: state(row)?,
        reason: row.try_get("reason")?,
        created_at: parse_timestamp(&row.try_get::<String, _>("created_at")?)?,
        updated_at: parse_timestamp(&row.try_get::<String, _>("updated_at")?)?,
        steps: Vec::new(),
    })
}
