//! Service migrations on both backends: a database keeps working when its migration files are
//! renumbered to the project's one naming pattern.

use miyagi_platform::db::{testing::fresh, Backend};

static BEFORE: sqlx::migrate::Migrator = sqlx::migrate!("tests/it/migrations-before-renumbering");
static AFTER: sqlx::migrate::Migrator = sqlx::migrate!("tests/it/migrations");

miyagi_platform::on_both_backends!(a_renumbered_migration_is_adopted_not_run_again);

async fn a_renumbered_migration_is_adopted_not_run_again(backend: Backend) {
    let (db, _guard) = fresh(backend, &BEFORE).await;
    sqlx::query("INSERT INTO effects (event_id, subject) VALUES ('e1', 's')")
        .execute(db.pool())
        .await
        .unwrap();

    db.migrate(&AFTER)
        .await
        .expect("the renumbered file is recognised as the applied migration");

    let (effects,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM effects")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(effects, 1, "the table and its rows are untouched");
    let versions: Vec<(i64,)> = sqlx::query_as("SELECT version FROM _sqlx_migrations")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(versions, vec![(1,)]);
}
