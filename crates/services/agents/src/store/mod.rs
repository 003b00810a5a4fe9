//! The agents tables, DBOS-style: a run and its steps are rows, and every change of them is
//! written with its outbox event in one transaction. A step's record is conditional on the step
//! still being pending and its run still running, so a step recorded once (by a runner before a
//! crash, or before a cancel) is never recorded, nor its effect emitted, again.

use chrono::{DateTime, Utc};
use miyagi_domain::agents::{OrdersApproved, RunState};
use miyagi_platform::{
    db::{parse_timestamp, parse_uuid, timestamp, Db},
    events::{outbox, CloudEvent},
};
use serde_json::Value;
use sqlx::{any::AnyRow, Any, Row, Transaction};
use uuid::Uuid;

mod copies;
mod timeline;

use crate::events;
use crate::model::PlanStep;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Absent, or someone else's: the two are indistinguishable on purpose.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The run is not in a state that allows the change (say, approving a run that no longer
    /// waits).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A run as the runner sees it.
pub struct RunRecord {
    pub id: Uuid,
    pub owner: String,
    pub agent: String,
    pub state: RunState,
    pub steps: Vec<StepRecord>,
}

pub struct StepRecord {
    pub position: usize,
    pub tool: String,
    pub arguments: Value,
    pub state: String,
    pub resolved: Option<Value>,
    pub output: Option<Value>,
    /// The person's decision, for a step that waited for one.
    pub approved: Option<bool>,
}

/// A run as it is first stored.
pub struct NewRunRow<'a> {
    pub id: Uuid,
    pub owner: &'a str,
    pub agent: &'a str,
    pub goal: &'a str,
    pub state: RunState,
}

/// What a step's record writes besides the step: the orders it placed.
pub struct Effects<'a> {
    pub orders: Option<&'a OrdersApproved>,
}

#[derive(Clone)]
pub struct AgentsStore {
    db: Db,
}

impl AgentsStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn create(
        &self,
        run: &NewRunRow<'_>,
        steps: &[PlanStep],
        event: &CloudEvent,
    ) -> Result<(), StoreError> {
        let now = timestamp(Utc::now());
        let mut tx = self.db.begin().await?;
        sqlx::query("INSERT INTO agent_runs (id, owner, agent, goal, state, reason, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, NULL, $6, $6)")
            .bind(run.id.to_string())
            .bind(run.owner)
            .bind(run.agent)
            .bind(run.goal)
            .bind(run.state.as_str())
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        insert_steps(&mut tx, run.id, steps).await?;
        self.commit(tx, &[event]).await
    }

    /// Replaces the plan of a run that has not started.
    pub async fn replace_plan(
        &self,
        owner: &str,
        id: Uuid,
        steps: &[PlanStep],
        event: &CloudEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        move_run(
            &mut tx,
            owner,
            id,
            &[RunState::Planned],
            RunState::Planned,
            None,
        )
        .await?;
        sqlx::query("DELETE FROM agent_steps WHERE run_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        insert_steps(&mut tx, id, steps).await?;
        self.commit(tx, &[event]).await
    }

    /// Moves a run of `owner` from one of `from` to `to`.
    pub async fn transition(
        &self,
        owner: &str,
        id: Uuid,
        from: &[RunState],
        to: RunState,
        reason: Option<&str>,
        event: &CloudEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        move_run(&mut tx, owner, id, from, to, reason).await?;
        if to == RunState::Cancelled {
            skip_open_steps(&mut tx, id).await?;
        }
        self.commit(tx, &[event]).await
    }

    /// A run, whoever owns it: for the runner, which acts on its events.
    pub async fn load(&self, id: Uuid) -> Result<Option<RunRecord>, StoreError> {
        let Some(run) = sqlx::query("SELECT owner, agent, state FROM agent_runs WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT s.position, s.tool, s.arguments, s.state, s.resolved, s.output, d.approved
             FROM agent_steps s LEFT JOIN agent_decisions d ON d.run_id = s.run_id AND d.position = s.position
             WHERE s.run_id = $1 ORDER BY s.position",
        )
        .bind(id.to_string())
        .fetch_all(self.db.pool())
        .await?;
        let steps = rows
            .iter()
            .map(|row| {
                Ok(StepRecord {
                    position: row.try_get::<i64, _>("position")? as usize,
                    tool: row.try_get("tool")?,
                    arguments: json(row.try_get("arguments")?)?,
                    state: row.try_get("state")?,
                    resolved: optional_json(row.try_get("resolved")?)?,
                    output: optional_json(row.try_get("output")?)?,
                    approved: row.try_get::<Option<i64>, _>("approved")?.map(|a| a == 1),
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(Some(RunRecord {
            id,
            owner: run.try_get("owner")?,
            agent: run.try_get("agent")?,
            state: state(&run)?,
            steps,
        }))
    }

    /// Counts an attempt at a pending step before it runs, so retries are bounded across
    /// restarts too; the attempts so far.
    pub async fn attempt(&self, id: Uuid, position: usize) -> Result<u32, StoreError> {
        let mut tx = self.db.begin().await?;
        sqlx::query("UPDATE agent_steps SET attempts = attempts + 1, started_at = $3 WHERE run_id = $1 AND position = $2 AND state = 'pending'")
            .bind(id.to_string())
            .bind(position as i64)
            .bind(timestamp(Utc::now()))
            .execute(&mut *tx)
            .await?;
        let attempts: i64 = sqlx::query_scalar(
            "SELECT attempts FROM agent_steps WHERE run_id = $1 AND position = $2",
        )
        .bind(id.to_string())
        .bind(position as i64)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(attempts as u32)
    }

    /// Records a step's output and effects with the run's event; `false` (and nothing written)
    /// when the step is no longer pending or its run no longer running.
    pub async fn record(
        &self,
        run: &RunRecord,
        position: usize,
        resolved: &Value,
        output: &Value,
        effects: Effects<'_>,
        event: &CloudEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let done = sqlx::query(
            "UPDATE agent_steps SET state = 'done', resolved = $3, output = $4, finished_at = $5
             WHERE run_id = $1 AND position = $2 AND state = 'pending'
               AND EXISTS (SELECT 1 FROM agent_runs WHERE id = $1 AND state = 'running')",
        )
        .bind(run.id.to_string())
        .bind(position as i64)
        .bind(resolved.to_string())
        .bind(output.to_string())
        .bind(timestamp(Utc::now()))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        touch(&mut tx, run.id).await?;
        let mut extra = Vec::new();
        if let Some(orders) = effects.orders {
            for order in &orders.orders {
                sqlx::query("INSERT INTO agent_orders (id, owner, run_id, position, symbol, side, qty, status, filled, average_price, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, 'requested', 0, NULL, NULL)")
                    .bind(order.id.to_string())
                    .bind(&orders.owner)
                    .bind(run.id.to_string())
                    .bind(position as i64)
                    .bind(&order.symbol)
                    .bind(&order.side)
                    .bind(order.qty as i64)
                    .execute(&mut *tx)
                    .await?;
            }
            extra.push(events::orders_approved(orders));
        }
        let mut all: Vec<&CloudEvent> = extra.iter().collect();
        all.push(event);
        self.commit(tx, &all).await?;
        Ok(true)
    }

    /// Puts a step that changes something before the person, with the arguments it would run
    /// with and until when they may answer.
    pub async fn await_approval(
        &self,
        run: &RunRecord,
        position: usize,
        resolved: &Value,
        deadline: DateTime<Utc>,
        event: &CloudEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        move_run(
            &mut tx,
            &run.owner,
            run.id,
            &[RunState::Running],
            RunState::WaitingApproval,
            None,
        )
        .await?;
        sqlx::query("UPDATE agent_steps SET state = 'waiting_approval', resolved = $3, deadline = $4 WHERE run_id = $1 AND position = $2 AND state = 'pending'")
            .bind(run.id.to_string())
            .bind(position as i64)
            .bind(resolved.to_string())
            .bind(timestamp(deadline))
            .execute(&mut *tx)
            .await?;
        self.commit(tx, &[event]).await
    }

    /// Fails a step and its run.
    pub async fn fail(
        &self,
        run: &RunRecord,
        position: usize,
        error: &str,
        event: &CloudEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        move_run(
            &mut tx,
            &run.owner,
            run.id,
            &[RunState::Running],
            RunState::Failed,
            Some(error),
        )
        .await?;
        sqlx::query("UPDATE agent_steps SET state = 'failed', error = $3, finished_at = $4 WHERE run_id = $1 AND position = $2")
            .bind(run.id.to_string())
            .bind(position as i64)
            .bind(error)
            .bind(timestamp(Utc::now()))
            .execute(&mut *tx)
            .await?;
        skip_open_steps(&mut tx, run.id).await?;
        self.commit(tx, &[event]).await
    }

    /// Records the person's decision on the step their run waits on. Approved, the step runs
    /// with `arguments`; rejected, it never runs and the run is cancelled.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide(
        &self,
        owner: &str,
        id: Uuid,
        position: usize,
        approved: bool,
        by: &str,
        arguments: &Value,
        note: Option<&str>,
        event: &CloudEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        let waiting = sqlx::query("SELECT 1 FROM agent_steps WHERE run_id = $1 AND position = $2 AND state = 'waiting_approval'")
            .bind(id.to_string())
            .bind(position as i64)
            .fetch_optional(&mut *tx)
            .await?;
        if waiting.is_none() {
            return Err(StoreError::Conflict(format!(
                "step {position} is not waiting for approval"
            )));
        }
        let (to, reason) = if approved {
            (RunState::Running, None)
        } else {
            (
                RunState::Cancelled,
                Some(format!("step {position} was rejected by {by}")),
            )
        };
        move_run(
            &mut tx,
            owner,
            id,
            &[RunState::WaitingApproval],
            to,
            reason.as_deref(),
        )
        .await?;
        sqlx::query("INSERT INTO agent_decisions (run_id, position, approved, decided_by, decided_at, arguments, note) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(id.to_string())
            .bind(position as i64)
            .bind(i64::from(approved))
            .bind(by)
            .bind(timestamp(Utc::now()))
            .bind(arguments.to_string())
            .bind(note)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE agent_steps SET state = $3, resolved = $4, finished_at = $5 WHERE run_id = $1 AND position = $2")
            .bind(id.to_string())
            .bind(position as i64)
            .bind(if approved { "pending" } else { "rejected" })
            .bind(arguments.to_string())
            .bind((!approved).then(|| timestamp(Utc::now())))
            .execute(&mut *tx)
            .await?;
        if !approved {
            skip_open_steps(&mut tx, id).await?;
        }
        self.commit(tx, &[event]).await
    }

    /// Steps whose approval is overdue at `now`: (run, owner, step).
    pub async fn overdue(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Uuid, String, usize)>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.run_id, r.owner, s.position FROM agent_steps s JOIN agent_runs r ON r.id = s.run_id
             WHERE s.state = 'waiting_approval' AND s.deadline <= $1",
        )
        .bind(timestamp(now))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    parse_uuid(&row.try_get::<String, _>("run_id")?)?,
                    row.try_get("owner")?,
                    row.try_get::<i64, _>("position")? as usize,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    async fn commit(
        &self,
        mut tx: Transaction<'static, Any>,
        events: &[&CloudEvent],
    ) -> Result<(), StoreError> {
        for event in events {
            outbox::enqueue(&mut tx, events::TOPIC, event).await?;
        }
        outbox::commit(&self.db, tx).await?;
        Ok(())
    }
}

async fn insert_steps(
    tx: &mut Transaction<'static, Any>,
    id: Uuid,
    steps: &[PlanStep],
) -> Result<(), sqlx::Error> {
    for (position, step) in steps.iter().enumerate() {
        sqlx::query("INSERT INTO agent_steps (run_id, position, tool, purpose, arguments, state, attempts) VALUES ($1, $2, $3, $4, $5, 'pending', 0)")
            .bind(id.to_string())
            .bind(position as i64)
            .bind(&step.tool)
            .bind(&step.purpose)
            .bind(step.arguments.to_string())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Moves the owner's run from one of `from` to `to`; `NotFound` or `Conflict` otherwise.
async fn move_run(
    tx: &mut Transaction<'static, Any>,
    owner: &str,
    id: Uuid,
    from: &[RunState],
    to: RunState,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    // The write comes first: on SQLite a transaction that reads and then writes fails at once
    // (SQLITE_BUSY, which busy_timeout does not wait out) when another connection wrote in
    // between, as the outbox relay does all the time; one that writes first waits its turn.
    let states: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 6)).collect();
    let sql = format!(
        "UPDATE agent_runs SET state = $2, reason = COALESCE($3, reason), updated_at = $4
         WHERE id = $1 AND owner = $5 AND state IN ({}) RETURNING state",
        states.join(", ")
    );
    let mut update = sqlx::query_scalar::<_, String>(&sql)
        .bind(id.to_string())
        .bind(to.as_str())
        .bind(reason)
        .bind(timestamp(Utc::now()))
        .bind(owner);
    for state in from {
        update = update.bind(state.as_str());
    }
    if update.fetch_optional(&mut **tx).await?.is_some() {
        return Ok(());
    }
    let current: Option<String> =
        sqlx::query_scalar("SELECT state FROM agent_runs WHERE id = $1 AND owner = $2")
            .bind(id.to_string())
            .bind(owner)
            .fetch_optional(&mut **tx)
            .await?;
    let current = current.ok_or(StoreError::NotFound("run"))?;
    Err(StoreError::Conflict(format!(
        "the run is {current}; this needs it {}",
        from.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" or ")
    )))
}

async fn touch(tx: &mut Transaction<'static, Any>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE agent_runs SET updated_at = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(timestamp(Utc::now()))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn skip_open_steps(tx: &mut Transaction<'static, Any>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE agent_steps SET state = 'skipped' WHERE run_id = $1 AND state IN ('pending', 'waiting_approval')")
        .bind(id.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) fn state(row: &AnyRow) -> Result<RunState, sqlx::Error> {
    let text: String = row.try_get("state")?;
    RunState::parse(&text)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown run state `{text}`").into()))
}

pub(super) fn json(text: String) -> Result<Value, sqlx::Error> {
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(e.into()))
}

pub(super) fn optional_json(text: Option<String>) -> Result<Option<Value>, sqlx::Error> {
    text.map(json).transpose()
}

pub(super) fn optional_time(text: Option<String>) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    text.as_deref().map(parse_timestamp).transpose()
}
