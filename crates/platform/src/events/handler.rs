//! What a consumer's handler does with an event, and how it says what went wrong.
//!
//! The kind of a failure decides the event's fate, so it must be told right: a transient failure
//! called permanent dead-letters a good event (and stalls whatever waited for its effect, such as
//! a document left `pending`); a permanent one called transient retries forever and holds up its
//! partition. Database errors are the common case and the subtle one: a database *answering* with
//! an error is usually permanent (a constraint, a bad value), except for the answers that mean
//! "not now" — busy, locked, out of space, a serialization failure, a deadlock, shutting down.

use async_trait::async_trait;

use super::{CloudEvent, EnvelopeError};

#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError>;

    /// Told once the consumer has given up on `event` and dead-lettered it with `reason`, so the
    /// service can show its owner what that means for them (a document marked failed with the
    /// reason instead of left `pending` forever). The dead letter is kept whatever this returns;
    /// an error is only logged.
    async fn gave_up(&self, _event: &CloudEvent, _reason: &str) -> Result<(), HandlerError> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying until it clears: a database or network outage.
    #[error("{0:#}")]
    Transient(anyhow::Error),
    /// Retrying cannot help (the payload or the data is wrong): dead-letter at once.
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        if is_transient(&e) {
            Self::Transient(e.into())
        } else {
            Self::Permanent(e.into())
        }
    }
}

impl From<EnvelopeError> for HandlerError {
    fn from(e: EnvelopeError) -> Self {
        Self::Permanent(e.into())
    }
}

/// Whether the same statement may succeed later. Not reaching the database (I/O, pool timeout,
/// a closed pool) always may; an answer from it may only when its code says the condition passes.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                transient_sqlstate(pg.code())
            } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                db.code()
                    .and_then(|code| code.parse().ok())
                    .is_some_and(transient_sqlite)
            } else {
                false
            }
        }
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::RowNotFound
        | sqlx::Error::Configuration(_)
        | sqlx::Error::Migrate(_) => false,
        _ => true,
    }
}

/// Whether the database refused a write for want of space (SQLite's `SQLITE_FULL`, which it
/// also reports when a write meets `ENOSPC`; PostgreSQL's `disk_full`). It is transient too:
/// freeing space lets the same statement through.
pub fn is_storage_full(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        db.code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == SQLITE_FULL)
    } else {
        db.code().as_deref() == Some("53100")
    }
}

/// PostgreSQL's SQLSTATE classes and codes that mean "not now".
fn transient_sqlstate(code: &str) -> bool {
    matches!(
        code.get(..2).unwrap_or_default(),
        // 08 connection exception, 40 transaction rollback (serialization failure 40001,
        // deadlock 40P01), 53 insufficient resources (disk full, too many connections), 58
        // system error (I/O).
        "08" | "40" | "53" | "58"
    ) || matches!(
        code,
        // lock not available; admin / crash shutdown and "cannot connect now" (starting up).
        "55P03" | "57P01" | "57P02" | "57P03"
    )
}

/// SQLite's result codes that mean "not now"; the primary code is the low byte of an extended
/// one (SQLITE_BUSY_SNAPSHOT = 517 is SQLITE_BUSY).
fn transient_sqlite(code: i32) -> bool {
    matches!(
        code & 0xff,
        SQLITE_BUSY | SQLITE_LOCKED | SQLITE_NOMEM | SQLITE_IOERR | SQLITE_FULL | SQLITE_PROTOCOL
    )
}

const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_NOMEM: i32 = 7;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;
const SQLITE_PROTOCOL: i32 = 15;

#[cfg(test)]
mod tests {
    use super::{transient_sqlite, transient_sqlstate};

    #[test]
    fn sqlite_busy_locked_and_full_pass_but_a_constraint_does_not() {
        for transient in [5, 517, 6, 13, 10, 3850] {
            assert!(transient_sqlite(transient), "{transient}");
        }
        // 19 constraint (2067 unique), 1 generic error, 8 read-only.
        for permanent in [19, 2067, 1, 8] {
            assert!(!transient_sqlite(permanent), "{permanent}");
        }
    }

    #[test]
    fn postgres_serialization_deadlock_and_shutdown_pass_but_a_unique_violation_does_not() {
        for transient in ["40001", "40P01", "08006", "53100", "57P01", "55P03"] {
            assert!(transient_sqlstate(transient), "{transient}");
        }
        for permanent in ["23505", "22P02", "42P01", "23503"] {
            assert!(!transient_sqlstate(permanent), "{permanent}");
        }
    }
}
