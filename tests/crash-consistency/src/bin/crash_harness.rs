//! A miniature Miyagi deployment in one process, for crash testing: the users store writes
//! profiles (with outbox events), the relay publishes them to the embedded log, and a consumer
//! in another database applies one effect per event through its inbox. `--kafka` swaps the
//! embedded log for a Kafka broker.
//!
//! `--crash-at POINT:N` kills the process with SIGKILL the N-th time execution passes the named
//! crash point. Run it again without the flag and it finishes the job; the test then checks
//! that every profile's event arrived and every effect happened exactly once.

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use clap::Parser;
use miyagi_domain::user::{RiskTolerance, UserProfileInput};
use miyagi_platform::{
    config::{Config, ConsumerConfig, KafkaConfig, TelemetryConfig},
    db::Db,
    events::{
        embedded::EmbeddedLog, inbox, outbox::Relay, CloudEvent, Consumer, EventBus, EventHandler,
        HandlerError,
    },
};
use miyagi_users::UserStore;
use tokio_util::sync::CancellationToken;

pub const OWNER: &str = "crash-test";
const CONSUMER: &str = "crash-effects";

#[derive(Parser)]
struct Args {
    /// Folder for the SQLite files and the event log.
    #[arg(long)]
    dir: PathBuf,
    /// A PostgreSQL URL: the two services use schemas `<schema>_users` and `<schema>_effects` there.
    #[arg(long)]
    postgres: Option<String>,
    #[arg(long)]
    schema: Option<String>,
    /// Kafka bootstrap servers: the relay and consumer use Kafka instead of the embedded log.
    #[arg(long)]
    kafka: Option<String>,
    /// Topic and group prefix on Kafka, one per test case.
    #[arg(long, default_value = "")]
    kafka_prefix: String,
    /// How many profiles to create in all.
    #[arg(long)]
    profiles: usize,
    /// `outbox.after_commit:3` = die the third time a producer commit completes, before the relay is told.
    #[arg(long)]
    crash_at: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Logs only when asked (`RUST_LOG=info`), to see why a case failed; the test runs it silent.
    let _telemetry = miyagi_platform::telemetry::init(
        &TelemetryConfig {
            log_filter: std::env::var("RUST_LOG").unwrap_or_else(|_| "off".into()),
            ..Config::default().telemetry
        },
        "miyagi-crash-harness",
    )?;
    if let Some(spec) = &args.crash_at {
        arm_crash_point(spec)?;
    }
    let (users_db, effects_db) = match &args.postgres {
        Some(url) => {
            let schema = args.schema.as_deref().unwrap_or("crash");
            (
                Db::postgres(url, &format!("{schema}_users"), 4).await?,
                Db::postgres(url, &format!("{schema}_effects"), 4).await?,
            )
        }
        None => (
            Db::sqlite(&args.dir.join("users.db"), 4).await?,
            Db::sqlite(&args.dir.join("effects.db"), 4).await?,
        ),
    };
    users_db.migrate(&miyagi_users::MIGRATOR).await?;
    effects_db
        .migrate(&sqlx::migrate::Migrator::DEFAULT)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS effects (event_id TEXT NOT NULL, profile_id TEXT NOT NULL)",
    )
    .execute(effects_db.pool())
    .await?;
    let bus: Arc<dyn EventBus> = match &args.kafka {
        Some(brokers) => Arc::new(miyagi_kafka::KafkaBus::connect(
            &KafkaConfig {
                brokers: Some(brokers.clone()),
                prefix: args.kafka_prefix.clone(),
                // What a restarted pod keeps: its name. Without it the restart is a new
                // member, and tansu 0.6 can leave that member with no partitions while the
                // dead one stays the group's leader (seen in CI; Kafka would expire it).
                instance_id: Some("crash-harness".into()),
                ..KafkaConfig::default()
            },
            3,
        )?),
        None => Arc::new(EmbeddedLog::open(&args.dir.join("events"), 3).await?),
    };

    let shutdown = CancellationToken::new();
    let relay = tokio::spawn(Relay::new(users_db.clone(), bus.clone()).run(shutdown.clone()));
    let settings = ConsumerConfig {
        backoff_initial_ms: 5,
        backoff_max_ms: 50,
        batch_size: 7,
        ..ConsumerConfig::default()
    };
    let consumer = tokio::spawn(
        Consumer::new(
            CONSUMER,
            &[miyagi_users::events::TOPIC],
            Arc::new(ApplyEffect {
                db: effects_db.clone(),
            }),
        )
        .run(bus.clone(), settings, shutdown.clone()),
    );

    // Producer: create whatever profiles are still missing, one transaction each.
    let store = UserStore::new(users_db.clone());
    let existing = store.list(OWNER, 1000, 0).await?.len();
    for i in existing..args.profiles {
        store.create(OWNER, profile(i)).await?;
    }

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT event_id) FROM effects")
            .fetch_one(effects_db.pool())
            .await?;
        if applied as usize >= args.profiles {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {applied} of {} effects after 60s",
            args.profiles
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    relay.await?;
    consumer.await?;
    if args.crash_at.is_some() {
        // The job finished without passing the crash point N times: tell the test, which then
        // retries with an earlier N, so that every case really does crash.
        std::process::exit(NOT_REACHED);
    }
    users_db.close().await;
    effects_db.close().await;
    // Everything the test checks is durable now. Dropping the runtime with the event log's
    // SQLite pool still open once left sqlx's pool-maintenance task spinning, and the process
    // never exited (seen on a clean CI run), so the harness ends the process itself.
    std::process::exit(0)
}

/// Exit status when `--crash-at` was given but the point was not reached that often.
const NOT_REACHED: i32 = 3;

fn profile(i: usize) -> UserProfileInput {
    UserProfileInput {
        name: format!("Person {i}"),
        age: 30 + (i % 40) as u32,
        annual_household_income: 50_000.0 + i as f64,
        assets: 1_000.0,
        liabilities: 0.0,
        risk_tolerance: RiskTolerance::Moderate,
        retirement_age: 67,
        goals: vec![],
        favorite_advisor: None,
        favorite_book: None,
        hobbies: vec![],
    }
}

/// The consumer's effect: one row per event, made idempotent by the inbox.
struct ApplyEffect {
    db: Db,
}

#[async_trait]
impl EventHandler for ApplyEffect {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        let (id, profile_id) = (event.id.clone(), event.subject.clone());
        inbox::apply_once(&self.db, CONSUMER, &event.id, move |conn| {
            Box::pin(async move {
                sqlx::query("INSERT INTO effects (event_id, profile_id) VALUES ($1, $2)")
                    .bind(id)
                    .bind(profile_id)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await?;
        Ok(())
    }
}

fn arm_crash_point(spec: &str) -> anyhow::Result<()> {
    let (name, nth) = spec
        .split_once(':')
        .ok_or_else(|| anyhow::anyhow!("--crash-at wants POINT:N"))?;
    let nth: u32 = nth.parse()?;
    let hits = Arc::new(AtomicU32::new(0));
    fail::cfg_callback(name, move || {
        if hits.fetch_add(1, Ordering::SeqCst) + 1 == nth {
            // SIGKILL, not a panic or exit: no destructor, flush or shutdown hook gets to run.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
    })
    .map_err(|e| anyhow::anyhow!(e))
}
