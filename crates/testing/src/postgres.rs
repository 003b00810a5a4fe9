//! A database of a test's own on the test PostgreSQL server, for a test that runs a whole
//! service there (store tests use `miyagi_platform::db::testing::fresh`, a schema each).

use sqlx::{Connection, Executor};

/// A new, empty database named `<prefix>_<random>`; its URL.
pub async fn fresh_database(prefix: &str) -> String {
    let server = miyagi_platform::db::testing::postgres_url();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .expect("the test PostgreSQL");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .expect("a test database");
    let (base, _) = server.rsplit_once('/').expect("a database URL");
    format!("{base}/{name}")
}
