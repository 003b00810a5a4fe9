//! Relational storage: one sqlx `AnyPool` type over SQLite (embedded) and PostgreSQL (distributed),
//! so each service writes its repository code and migrations once and runs on both.
//!
//! Portable SQL rules the services follow: `$1` placeholders (SQLite accepts them), `BIGINT` for
//! integers, `DOUBLE PRECISION` for reals, `TEXT` for ids, JSON and RFC 3339 timestamps.

use std::{path::Path, str::FromStr, time::Duration};

use std::sync::Arc;

use anyhow::Context;
use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
    Any, AnyPool, ConnectOptions, Connection, Executor, Transaction,
};
use tokio::sync::Notify;

use crate::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

mod point;

pub use point::Columns;

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// The file, on SQLite: point reads open their own connections to it.
    sqlite_file: Option<Arc<point::SqliteFile>>,
    /// Wakes this database's outbox relay after a commit that wrote events.
    outbox_signal: Arc<Notify>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

/// SQLite is tuned for safety first: WAL for concurrent readers, `synchronous=FULL` so an
/// acknowledged write survives power loss, and a busy timeout instead of instant lock errors.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
                              PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;";

/// Tables the platform keeps in every service's database (the service's migrations own the rest).
/// Only the outbox's sequence column differs between the backends.
fn platform_schema(backend: Backend) -> String {
    let seq = match backend {
        Backend::Sqlite => "seq INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "seq BIGSERIAL PRIMARY KEY",
    };
    format!(
        "CREATE TABLE IF NOT EXISTS miyagi_outbox (
            {seq},
            event_id TEXT NOT NULL UNIQUE,
            topic TEXT NOT NULL,
            record_key TEXT NOT NULL,
            event TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS miyagi_outbox_parked (
            seq BIGINT PRIMARY KEY,
            event_id TEXT NOT NULL,
            topic TEXT NOT NULL,
            record_key TEXT NOT NULL,
            event TEXT NOT NULL,
            created_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            parked_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS miyagi_dead_letters (
            id TEXT PRIMARY KEY,
            consumer_group TEXT NOT NULL,
            topic TEXT NOT NULL,
            partition_no BIGINT NOT NULL,
            log_offset BIGINT NOT NULL,
            record_key TEXT NOT NULL,
            event_id TEXT,
            event_type TEXT,
            record TEXT NOT NULL,
            error TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            dead_at TEXT NOT NULL,
            redriven_at TEXT,
            UNIQUE (consumer_group, topic, partition_no, log_offset)
        );
        CREATE TABLE IF NOT EXISTS miyagi_inbox (
            consumer TEXT NOT NULL,
            event_id TEXT NOT NULL,
            processed_at TEXT NOT NULL,
            PRIMARY KEY (consumer, event_id)
        );"
    )
}

impl Db {
    /// Opens `service`'s database as configured: `<data_dir>/<service>.db` for `sqlite`, or the
    /// schema named after the service in the configured PostgreSQL database. Runs migrations.
    pub async fn open(config: &Config, service: &str, migrator: &Migrator) -> anyhow::Result<Self> {
        let url = config.database.url.expose();
        let db = if url == "sqlite" {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
            Self::sqlite(
                &config.data_dir.join(format!("{service}.db")),
                config.database.max_connections,
            )
            .await?
        } else {
            Self::postgres(url, service, config.database.max_connections).await?
        };
        db.migrate(migrator)
            .await
            .with_context(|| format!("migrating the {service} database"))?;
        Ok(db)
    }

    pub async fn sqlite(path: &Path, max_connections: u32) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        // sqlx reads the path out of a URL: escape what a URL would take for syntax.
        let escaped = path
            .display()
            .to_string()
            .replace('%', "%25")
            .replace('?', "%3F")
            .replace('#', "%23");
        let url = format!("sqlite://{escaped}?mode=rwc");
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            // A file cannot drop a connection the way a server can, and sqlx's check before each
            // acquire is a round trip to the connection's worker thread: a profile of profile
            // reads under load showed it beside the query itself (BENCHMARKS.md, "HTTP").
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move { conn.execute(SQLITE_PRAGMAS).await.map(|_| ()) })
            })
            .connect(&url)
            .await
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        Ok(Self {
            pool,
            backend: Backend::Sqlite,
            sqlite_file: Some(Arc::new(point::SqliteFile::new(path))),
            outbox_signal: Arc::default(),
        })
    }

    /// Connects to PostgreSQL with every connection's `search_path` set to `schema`, which is
    /// created if missing: services share a server but never a table.
    pub async fn postgres(url: &str, schema: &str, max_connections: u32) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            anyhow::bail!("schema name {schema:?} must be ASCII letters, digits and underscores");
        }
        let options = AnyConnectOptions::from_str(url)
            .context("key `database.url`: not a valid PostgreSQL URL")?
            .log_statements(tracing::log::LevelFilter::Debug);
        let mut conn = options
            .connect()
            .await
            .context("connecting to PostgreSQL (database.url)")?;
        conn.execute(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str())
            .await?;
        conn.close().await?;
        let set_path = format!("SET search_path TO \"{schema}\"");
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                let set_path = set_path.clone();
                Box::pin(async move { conn.execute(set_path.as_str()).await.map(|_| ()) })
            })
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            backend: Backend::Postgres,
            sqlite_file: None,
            outbox_signal: Arc::default(),
        })
    }

    /// Creates the platform's tables (outbox, inbox), then applies the service's migrations.
    pub async fn migrate(&self, migrator: &Migrator) -> anyhow::Result<()> {
        let ddl = match self.backend {
            Backend::Sqlite => platform_schema(self.backend),
            // Replicas starting together would race on CREATE TABLE IF NOT EXISTS (a unique
            // violation in pg_type); a transaction-scoped advisory lock makes them take turns.
            Backend::Postgres => format!(
                "BEGIN; SELECT pg_advisory_xact_lock(7231963301); {} COMMIT;",
                platform_schema(self.backend)
            ),
        };
        self.pool
            .execute(ddl.as_str())
            .await
            .context("creating outbox/inbox tables")?;
        self.adopt_renumbered(migrator).await?;
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Migration files follow one naming pattern (`0001_<what>.sql`); a file renumbered to
    /// follow it is still the migration an existing database applied under its old number. It
    /// is recognised by its description and checksum, which the number does not change, and
    /// its row renumbered, so sqlx neither reports it missing nor runs it again.
    async fn adopt_renumbered(&self, migrator: &Migrator) -> anyhow::Result<()> {
        let applied: Vec<(i64, String, Vec<u8>)> =
            match sqlx::query_as("SELECT version, description, checksum FROM _sqlx_migrations")
                .fetch_all(&self.pool)
                .await
            {
                Ok(rows) => rows,
                // No table yet: a new database, nothing to adopt. Any other failure resurfaces
                // when the migrator reads the same table.
                Err(_) => return Ok(()),
            };
        for migration in migrator.iter() {
            let new = migration.version;
            if applied.iter().any(|(version, ..)| *version == new) {
                continue;
            }
            let renumbered = applied.iter().find(|(version, description, checksum)| {
                *version != new
                    && *description == migration.description
                    && *checksum == *migration.checksum
            });
            if let Some((old, ..)) = renumbered {
                sqlx::query("UPDATE _sqlx_migrations SET version = $1 WHERE version = $2")
                    .bind(new)
                    .bind(old)
                    .execute(&self.pool)
                    .await
                    .with_context(|| format!("renumbering migration {old} to {new}"))?;
                tracing::info!(old, new, description = %migration.description, "adopted a renumbered migration");
            }
        }
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn outbox_written(&self) {
        self.outbox_signal.notify_one();
    }

    pub(crate) fn outbox_signal(&self) -> &Notify {
        &self.outbox_signal
    }

    pub async fn begin(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        self.pool.begin().await
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Timestamps are stored as fixed-width RFC 3339 text so they sort correctly as strings on both backends.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub fn parse_timestamp(s: &str) -> Result<chrono::DateTime<chrono::Utc>, sqlx::Error> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// An embedding as stored (`BYTEA`, a BLOB on SQLite): little-endian `f32`s, 4 bytes each,
/// which both backends keep byte for byte.
pub fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The embedding [`vector_bytes`] stored.
pub fn vector_from_bytes(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A UUID stored as text; a malformed one is a decode error, like any bad column.
pub fn parse_uuid(s: &str) -> Result<uuid::Uuid, sqlx::Error> {
    s.parse()
        .map_err(|e: uuid::Error| sqlx::Error::Decode(e.into()))
}

/// Runs each named `async fn scenario(backend: Backend)` in scope once per backend, as tests
/// named `sqlite::scenario` and `postgres::scenario`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name($crate::db::Backend::Sqlite).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name($crate::db::Backend::Postgres).await } )* }
    };
}

/// Test support: fresh, isolated databases on both backends.
pub mod testing {
    use super::*;

    /// The PostgreSQL the tests use: `TEST_DATABASE_URL`, else the machine's local server.
    pub fn postgres_url() -> String {
        std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
    }

    /// A fresh database on `backend` with `migrator` applied: a temp SQLite file, or a new
    /// uniquely named PostgreSQL schema. Keep the returned guard alive as long as the database.
    pub async fn fresh(backend: Backend, migrator: &Migrator) -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = match backend {
            Backend::Sqlite => Db::sqlite(&dir.path().join("test.db"), 4).await,
            Backend::Postgres => {
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                Db::postgres(&postgres_url(), &schema, 4).await
            }
        }
        .unwrap_or_else(|e| panic!("opening a {backend:?} test database: {e:#}"));
        db.migrate(migrator).await.expect("migrations apply");
        (db, dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_round_trip_through_bytes() {
        let v = vec![0.25, -1.5, 3.0e-7];
        assert_eq!(vector_from_bytes(&vector_bytes(&v)), v);
    }
}
