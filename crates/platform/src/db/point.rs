//! Point reads: one row by its key, on the path of a request.
//!
//! sqlx runs each SQLite connection on a thread of its own, so a query through the pool is a
//! hand-off to that thread and back, and a profile of `GET /api/v1/userprofile/{id}` under load
//! spent its time in those thread switches, not in SQLite (BENCHMARKS.md, "HTTP"). On SQLite a
//! point read therefore runs on a read-only connection owned by the calling thread, opened on
//! first use and kept with its prepared statements: a lookup by primary key takes a few
//! microseconds, less than the hand-off it replaces, so blocking the async worker for it is
//! cheaper than yielding. WAL lets these readers run beside the pool's writer, and each statement
//! reads the latest commit, so a read after a write sees it. On PostgreSQL a point read goes
//! through the pool as any query does.
//!
//! Rows come back as [`Columns`], so a repository maps a row once for both drivers.

use std::{
    cell::RefCell,
    collections::{hash_map::Entry, HashMap},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use rusqlite::{Connection, OpenFlags};
use sqlx::{any::AnyRow, Row};

use super::{Backend, Db};

/// A row's columns by name, from the pool (`AnyRow`) or from a point read on SQLite.
pub trait Columns {
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    fn optional_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    fn integer(&self, column: &str) -> Result<i64, sqlx::Error>;
    fn real(&self, column: &str) -> Result<f64, sqlx::Error>;
}

impl Columns for AnyRow {
    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        self.try_get(column)
    }
    fn optional_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(column)
    }
    fn integer(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.try_get(column)
    }
    fn real(&self, column: &str) -> Result<f64, sqlx::Error> {
        self.try_get(column)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        self.get(column).map_err(decode)
    }
    fn optional_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.get(column).map_err(decode)
    }
    fn integer(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.get(column).map_err(decode)
    }
    fn real(&self, column: &str) -> Result<f64, sqlx::Error> {
        self.get(column).map_err(decode)
    }
}

fn decode(e: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

fn failed(e: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(e))
}

/// A SQLite database as point reads know it: its file, and a number no other opening of a
/// database in this process shares. Connections are keyed by the number, not the path, so a
/// file replaced under the same path (a restore) is never read through a connection to the old.
#[derive(Debug)]
pub(super) struct SqliteFile {
    id: u64,
    path: PathBuf,
}

impl SqliteFile {
    pub(super) fn new(path: &Path) -> Self {
        static OPENED: AtomicU64 = AtomicU64::new(0);
        Self {
            id: OPENED.fetch_add(1, Ordering::Relaxed),
            path: path.to_path_buf(),
        }
    }
}

thread_local! {
    /// This thread's read-only connection to each database it has read from. They close when
    /// the thread ends (a process opens each database once, so they do not pile up).
    static READERS: RefCell<HashMap<u64, Connection>> = RefCell::default();
}

/// How long a reader waits on a lock, as the pool's connections do.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A read-only connection to a SQLite file, for a reader that keeps it to one thread at a time
/// (hence no mutex of SQLite's own), waiting out a writer's lock as the pool's connections do.
fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    Ok(connection)
}

impl Db {
    /// The row `sql` selects with text parameters `$1`, `$2`, … (at most one is expected),
    /// mapped by `map`.
    pub async fn fetch_point<T>(
        &self,
        sql: &str,
        params: &[&str],
        map: impl Fn(&dyn Columns) -> Result<T, sqlx::Error>,
    ) -> Result<Option<T>, sqlx::Error> {
        match (self.backend, &self.sqlite_file) {
            (Backend::Sqlite, Some(file)) => read_here(file, sql, params, map),
            _ => {
                let query = params.iter().fold(sqlx::query(sql), |q, p| q.bind(*p));
                let row = query.fetch_optional(&self.pool).await?;
                row.map(|row| map(&row)).transpose()
            }
        }
    }
}

fn read_here<T>(
    file: &SqliteFile,
    sql: &str,
    params: &[&str],
    map: impl Fn(&dyn Columns) -> Result<T, sqlx::Error>,
) -> Result<Option<T>, sqlx::Error> {
    READERS.with(|readers| {
        let mut readers = readers.borrow_mut();
        let connection = match readers.entry(file.id) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(open_read_only(&file.path).map_err(failed)?),
        };
        let mut statement = connection.prepare_cached(sql).map_err(failed)?;
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(failed)?;
        match rows.next().map_err(failed)? {
            Some(row) => map(row).map(Some),
            None => Ok(None),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn people() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::sqlite(&dir.path().join("point.db"), 2).await.unwrap();
        let columns = "id TEXT PRIMARY KEY, name TEXT NOT NULL, age BIGINT, height DOUBLE PRECISION, nick TEXT";
        run(&db, &format!("CREATE TABLE people ({columns})")).await;
        (db, dir)
    }

    async fn run(db: &Db, sql: &str) {
        sqlx::query(sql).execute(db.pool()).await.unwrap();
    }

    fn name_and_age(row: &dyn Columns) -> Result<(String, i64), sqlx::Error> {
        Ok((row.text("name")?, row.integer("age")?))
    }

    const SELECT: &str = "SELECT name, age FROM people WHERE id = $1";
    const ADA: &str = "INSERT INTO people (id, name, age) VALUES ('a', 'Ada', 36)";

    #[tokio::test]
    async fn a_point_read_sees_what_the_pool_committed_just_before() {
        let (db, _dir) = people().await;
        assert_eq!(
            db.fetch_point(SELECT, &["a"], name_and_age).await.unwrap(),
            None
        );
        run(&db, ADA).await;
        let read = db.fetch_point(SELECT, &["a"], name_and_age).await.unwrap();
        assert_eq!(read, Some(("Ada".to_string(), 36)));
        run(&db, "UPDATE people SET age = 37 WHERE id = 'a'").await;
        let read = db.fetch_point(SELECT, &["a"], name_and_age).await.unwrap();
        assert_eq!(read, Some(("Ada".to_string(), 37)));
    }

    #[tokio::test]
    async fn a_point_read_opens_after_the_pool_has_closed_every_connection() {
        // As after the pool's idle timeout: the last connection out removes the WAL files, which
        // a read-only connection must then manage without.
        let (db, _dir) = people().await;
        run(&db, ADA).await;
        db.close().await;
        let read = db.fetch_point(SELECT, &["a"], name_and_age).await.unwrap();
        assert_eq!(read, Some(("Ada".to_string(), 36)));
    }

    #[tokio::test]
    async fn each_database_file_is_read_through_its_own_connection() {
        let ((one, _a), (two, _b)) = (people().await, people().await);
        for (db, name) in [(&one, "One"), (&two, "Two")] {
            sqlx::query("INSERT INTO people (id, name, age) VALUES ('x', $1, 1)")
                .bind(name)
                .execute(db.pool())
                .await
                .unwrap();
        }
        async fn read(db: &Db) -> Option<String> {
            let sql = "SELECT name FROM people WHERE id = $1";
            db.fetch_point(sql, &["x"], |r| r.text("name"))
                .await
                .unwrap()
        }
        assert_eq!(read(&one).await.as_deref(), Some("One"));
        assert_eq!(read(&two).await.as_deref(), Some("Two"));
    }

    #[tokio::test]
    async fn columns_read_alike_through_the_pool_and_a_point_read() {
        let (db, _dir) = people().await;
        run(
            &db,
            "INSERT INTO people VALUES ('a', 'Ada', 36, 1.75, NULL)",
        )
        .await;
        let sql = "SELECT * FROM people WHERE id = $1";
        let all = |row: &dyn Columns| {
            Ok((
                row.text("name")?,
                row.integer("age")?,
                row.real("height")?,
                row.optional_text("nick")?,
            ))
        };
        let pooled = sqlx::query(sql)
            .bind("a")
            .fetch_one(db.pool())
            .await
            .unwrap();
        let point = db.fetch_point(sql, &["a"], all).await.unwrap().unwrap();
        assert_eq!(point, all(&pooled).unwrap());
        assert_eq!(point, ("Ada".to_string(), 36, 1.75, None));
        let wrong = db.fetch_point(sql, &["a"], |row| row.integer("name")).await;
        assert!(matches!(wrong, Err(sqlx::Error::Decode(_))), "{wrong:?}");
    }
}
