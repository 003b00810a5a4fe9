//! An operator finds a dead-lettered event through the admin API, fixes the cause and redrives
//! it; the event is then handled once, by the group that failed it.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use async_trait::async_trait;
use miyagi_platform::{
    config::{ApiKeyConfig, AuthMode, Config},
    db::Db,
    events::{inbox, CloudEvent, Consumer, EventHandler, HandlerError, Record},
    runtime::Runtime,
    Service, ServiceContext,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("tests/it/migrations");

/// A service whose one consumer refuses every event while `broken` (a bug, say, since fixed).
struct Ledger {
    db: Db,
    broken: Arc<AtomicBool>,
}

struct Apply {
    db: Db,
    broken: Arc<AtomicBool>,
}

#[async_trait]
impl EventHandler for Apply {
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "amount is not a number"
            )));
        }
        let (id, subject) = (event.id.clone(), event.subject.clone());
        inbox::apply_once(&self.db, "ledger", &event.id, move |conn| {
            Box::pin(async move {
                sqlx::query("INSERT INTO effects (event_id, subject) VALUES ($1, $2)")
                    .bind(id)
                    .bind(subject)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await?;
        Ok(())
    }
}

impl Service for Ledger {
    fn name(&self) -> &'static str {
        "ledger"
    }
    fn routes(&self) -> OpenApiRouter {
        OpenApiRouter::new()
    }
    fn database(&self) -> Option<&Db> {
        Some(&self.db)
    }
    fn consumers(&self) -> Vec<Consumer> {
        let handler = Apply {
            db: self.db.clone(),
            broken: self.broken.clone(),
        };
        vec![Consumer::new("ledger", &["payments"], Arc::new(handler))]
    }
}

async fn json(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

async fn effects(db: &Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM effects")
        .fetch_one(db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_operator_lists_shows_and_redrives_a_dead_letter_which_is_then_handled_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.auth.mode = AuthMode::ApiKey;
    config.auth.keys = vec![
        ApiKeyConfig::for_key("ops", "ops-key"),
        ApiKeyConfig::for_key("bob", "bob-key"),
    ];
    config.auth.admins = vec!["ops".into()];
    config.consumer.backoff_initial_ms = 10;
    let context = ServiceContext::from_config(config.clone()).await.unwrap();
    let db = Db::open(&config, "ledger", &MIGRATOR).await.unwrap();
    let broken = Arc::new(AtomicBool::new(true));
    let bus = context.bus.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let ledger = Ledger {
        db: db.clone(),
        broken: broken.clone(),
    };
    tokio::spawn(Runtime::new(context, vec![Box::new(ledger)]).run(listener, shutdown.clone()));

    let payment = CloudEvent::new(
        "/payments",
        "miyagi.payment.made.v1",
        "acct-1",
        &json!({"amount": "ten"}),
    );
    bus.publish(vec![Record::event("payments", &payment)])
        .await
        .unwrap();

    let http = reqwest::Client::new();
    let get = |path: &str, key: &str| http.get(format!("{base}{path}")).header("x-api-key", key);
    let mut letters = Value::Null;
    for _ in 0..200 {
        letters = json(get("/api/v1/admin/dead-letters", "ops-key")).await;
        if letters["deadLetters"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let letter = &letters["deadLetters"][0];
    assert_eq!(letter["service"], "ledger", "{letters}");
    assert_eq!(letter["eventId"], payment.id.as_str());
    assert!(
        letter["error"]
            .as_str()
            .unwrap()
            .contains("amount is not a number"),
        "{letter}"
    );
    let id = letter["id"].as_str().unwrap().to_string();

    let shown = json(get(&format!("/api/v1/admin/dead-letters/{id}"), "ops-key")).await;
    assert_eq!(shown["record"]["data"]["amount"], "ten", "{shown}");
    let refused = get("/api/v1/admin/dead-letters", "bob-key")
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "only operators see others' events"
    );
    assert_eq!(effects(&db).await, 0);

    broken.store(false, Ordering::SeqCst);
    let redriven = http
        .post(format!("{base}/api/v1/admin/dead-letters/{id}/redrive"))
        .header("x-api-key", "ops-key")
        .send()
        .await
        .unwrap();
    assert_eq!(redriven.status(), StatusCode::ACCEPTED);
    for _ in 0..200 {
        if effects(&db).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(effects(&db).await, 1, "the redriven event is handled");
    let shown = json(get(&format!("/api/v1/admin/dead-letters/{id}"), "ops-key")).await;
    assert!(shown["redrivenAt"].is_string(), "{shown}");
    shutdown.cancel();
}
