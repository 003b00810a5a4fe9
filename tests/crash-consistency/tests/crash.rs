//! Crash consistency: a process killed with SIGKILL between a database commit and the publish,
//! between publishing and clearing the outbox, or between a consumer's effect and its offset
//! commit, loses no event and applies no effect twice after it restarts.
//!
//! proptest picks where and when to crash (once or twice in a row); every interleaving must end
//! in the same state as a run that never crashed.

use std::{os::unix::process::ExitStatusExt, path::Path, process::Command};

use miyagi_platform::db::testing::postgres_url;
use proptest::prelude::*;

const PROFILES: usize = 12;
const CRASH_POINTS: [&str; 3] = [
    "outbox.after_commit",
    "relay.after_publish",
    "consumer.before_commit",
];

#[derive(Debug, Clone)]
struct Crash {
    point: &'static str,
    nth: u32,
}

fn crash() -> impl Strategy<Value = Crash> {
    (prop::sample::select(&CRASH_POINTS[..]), 1..=PROFILES as u32)
        .prop_map(|(point, nth)| Crash { point, nth })
}

enum Backend {
    Sqlite,
    Postgres {
        schema: String,
    },
    /// SQLite stores, events on a Kafka broker under their own prefix.
    Kafka {
        prefix: String,
    },
}

fn kafka_brokers() -> String {
    std::env::var("TEST_KAFKA_BROKERS").unwrap_or_else(|_| "localhost:9092".into())
}

fn harness(dir: &Path, backend: &Backend, crash: Option<&Crash>) -> std::process::ExitStatus {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crash-harness"));
    cmd.arg("--dir")
        .arg(dir)
        .args(["--profiles", &PROFILES.to_string()]);
    match backend {
        Backend::Sqlite => {}
        Backend::Postgres { schema } => {
            cmd.args(["--postgres", &postgres_url(), "--schema", schema]);
        }
        Backend::Kafka { prefix } => {
            cmd.args(["--kafka", &kafka_brokers(), "--kafka-prefix", prefix]);
        }
    }
    if let Some(c) = crash {
        cmd.args(["--crash-at", &format!("{}:{}", c.point, c.nth)]);
    }
    cmd.env("RUST_LOG", "off").status().expect("harness runs")
}

const SIGKILL: i32 = 9;
/// The harness's exit status when the job finished before the crash point was passed N times.
const NOT_REACHED: i32 = 3;

/// Runs the crashes in order, then a clean run, and returns the final state. The first crash
/// always happens: when batching means its point is passed fewer than N times, the case starts
/// over on a fresh database with N = 1. Later crashes may find the job already done.
fn run_with_crashes(backend: impl Fn() -> Backend, crashes: &[Crash]) -> State {
    let (mut dir, mut backend_now) = (tempfile::tempdir().unwrap(), backend());
    for (i, crash) in crashes.iter().enumerate() {
        let mut status = harness(dir.path(), &backend_now, Some(crash));
        if i == 0 && status.code() == Some(NOT_REACHED) {
            (dir, backend_now) = (tempfile::tempdir().unwrap(), backend());
            status = harness(
                dir.path(),
                &backend_now,
                Some(&Crash {
                    nth: 1,
                    ..crash.clone()
                }),
            );
        }
        let crashed = status.signal() == Some(SIGKILL);
        assert!(
            crashed || (i > 0 && status.code() == Some(NOT_REACHED)),
            "{crash:?} ended with {status:?}"
        );
    }
    let status = harness(dir.path(), &backend_now, None);
    assert!(
        status.success(),
        "the restarted run must finish the job: {status:?}"
    );
    State::read(dir.path(), &backend_now)
}

#[derive(Debug)]
struct State {
    profiles: usize,
    effects: usize,
    distinct_effects: usize,
    profiles_with_effect: usize,
}

impl State {
    fn read(dir: &Path, backend: &Backend) -> Self {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            use miyagi_platform::db::Db;
            let (users, effects) = match backend {
                Backend::Sqlite | Backend::Kafka { .. } => (
                    Db::sqlite(&dir.join("users.db"), 1).await.unwrap(),
                    Db::sqlite(&dir.join("effects.db"), 1).await.unwrap(),
                ),
                Backend::Postgres { schema } => (
                    Db::postgres(&postgres_url(), &format!("{schema}_users"), 1)
                        .await
                        .unwrap(),
                    Db::postgres(&postgres_url(), &format!("{schema}_effects"), 1)
                        .await
                        .unwrap(),
                ),
            };
            let count = |db: &Db, sql: &'static str| {
                let pool = db.pool().clone();
                async move {
                    sqlx::query_scalar::<_, i64>(sql)
                        .fetch_one(&pool)
                        .await
                        .unwrap() as usize
                }
            };
            State {
                profiles: count(&users, "SELECT COUNT(*) FROM user_profiles").await,
                effects: count(&effects, "SELECT COUNT(*) FROM effects").await,
                distinct_effects: count(&effects, "SELECT COUNT(DISTINCT event_id) FROM effects")
                    .await,
                profiles_with_effect: count(
                    &effects,
                    "SELECT COUNT(DISTINCT profile_id) FROM effects",
                )
                .await,
            }
        })
    }

    fn assert_exactly_once(&self) {
        assert_eq!(
            self.profiles, PROFILES,
            "no accepted write lost or duplicated: {self:?}"
        );
        assert_eq!(
            self.profiles_with_effect, PROFILES,
            "every profile's event was delivered: {self:?}"
        );
        assert_eq!(
            self.distinct_effects, PROFILES,
            "one event per profile: {self:?}"
        );
        assert_eq!(self.effects, PROFILES, "no effect applied twice: {self:?}");
    }
}

#[test]
fn every_crash_point_is_reached_and_kills_the_process() {
    for point in CRASH_POINTS {
        let dir = tempfile::tempdir().unwrap();
        let status = harness(dir.path(), &Backend::Sqlite, Some(&Crash { point, nth: 1 }));
        assert_eq!(status.signal(), Some(SIGKILL), "{point} was never reached");
    }
}

#[test]
fn a_run_without_crashes_applies_every_effect_once() {
    run_with_crashes(|| Backend::Sqlite, &[]).assert_exactly_once();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sigkill_at_any_crash_point_loses_nothing_and_duplicates_nothing_on_sqlite(
        crashes in prop::collection::vec(crash(), 1..=2)
    ) {
        run_with_crashes(|| Backend::Sqlite, &crashes).assert_exactly_once();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sigkill_at_any_crash_point_loses_nothing_and_duplicates_nothing_on_postgres(
        crashes in prop::collection::vec(crash(), 1..=2)
    ) {
        let fresh = || Backend::Postgres { schema: format!("crash_{}", uuid::Uuid::new_v4().simple()) };
        run_with_crashes(fresh, &crashes).assert_exactly_once();
    }
}

proptest! {
    // Each case starts three processes that each join a Kafka consumer group: few cases.
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sigkill_at_any_crash_point_loses_nothing_and_duplicates_nothing_on_kafka(
        crashes in prop::collection::vec(crash(), 1..=2)
    ) {
        let fresh = || Backend::Kafka { prefix: format!("crash-{}.", uuid::Uuid::new_v4().simple()) };
        run_with_crashes(fresh, &crashes).assert_exactly_once();
    }
}
