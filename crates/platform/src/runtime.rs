//! Running services: the same code path for `miyagi up` (every service in one process) and
//! `miyagi serve <service>` (one per process). Adapters come from config; services never know
//! which ones they got.

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;

use tokio_util::{sync::CancellationToken, task::TaskTracker};
use utoipa_axum::router::OpenApiRouter;

use crate::{
    admin,
    auth::Authenticator,
    blob::{self, BlobStore},
    cache::{self, Cache},
    config::{BusKind, Config},
    db::Db,
    events::{embedded::EmbeddedLog, outbox::Relay, retention, Consumer, EventBus, PauseGate},
    http::{self, Health, ReadinessCheck},
    DataDirLock,
};

/// The adapters a service is built from.
#[derive(Clone)]
pub struct ServiceContext {
    pub config: Config,
    pub bus: Arc<dyn EventBus>,
    pub blob: BlobStore,
    /// Shared by the services of this process; each prefixes its keys with its name.
    pub cache: Arc<dyn Cache>,
    /// Embedded mode's hold on the data dir, released when the last clone goes.
    _data_dir_lock: Option<Arc<DataDirLock>>,
}

impl ServiceContext {
    /// Adapters from config, with the embedded event log. A Kafka bus comes from the
    /// `miyagi-kafka` crate through [`ServiceContext::with_bus`].
    pub async fn from_config(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)?;
        let lock = DataDirLock::acquire(&config.data_dir)?;
        let bus: Arc<dyn EventBus> = match config.bus.kind {
            BusKind::Embedded => Arc::new(
                EmbeddedLog::open(&config.data_dir.join("events"), config.bus.partitions)
                    .await?,
            ),
            BusKind::Kafka => anyhow::bail!(
                "key `bus.kind`: \"kafka\" needs the Kafka adapter, which the `miyagi` binary links; this program only has the embedded log"
            ),
        };
        let mut context = Self::with_bus(config, bus).await?;
        context._data_dir_lock = Some(Arc::new(lock));
        Ok(context)
    }

    pub async fn with_bus(config: Config, bus: Arc<dyn EventBus>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)?;
        let blob = blob::open(&config)?;
        let cache = cache::open(&config.cache, "miyagi").await?;
        Ok(Self {
            config,
            bus,
            blob,
            cache,
            _data_dir_lock: None,
        })
    }
}

/// What the runtime needs from a service.
pub trait Service: Send + Sync {
    fn name(&self) -> &'static str;
    /// The service's API; mounted behind authentication.
    fn routes(&self) -> OpenApiRouter;
    /// Routes anyone may call (static files of the web UI); they must hold no user data.
    fn public_routes(&self) -> axum::Router {
        axum::Router::new()
    }
    /// The service's database, whose outbox the runtime relays and whose health it probes;
    /// `None` for a stateless service.
    fn database(&self) -> Option<&Db>;
    /// Consumer groups the service runs.
    fn consumers(&self) -> Vec<Consumer> {
        Vec::new()
    }
    /// Work the service runs for as long as the process serves (a clock, a simulation). Each task
    /// must return once `shutdown` fires; the runtime waits for it before closing databases.
    fn background(&self, _shutdown: CancellationToken) -> Vec<BoxFuture<'static, ()>> {
        Vec::new()
    }
}

pub struct Runtime {
    context: ServiceContext,
    services: Vec<Box<dyn Service>>,
}

impl Runtime {
    pub fn new(context: ServiceContext, services: Vec<Box<dyn Service>>) -> Self {
        Self { context, services }
    }

    /// Serves HTTP on `listener` and runs relays and consumers until `shutdown` fires; then
    /// drains in-flight requests, lets consumers finish the event in hand, flushes outboxes.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let Runtime { context, services } = self;
        let config = &context.config;
        let gate = PauseGate::default();
        let consumers: Vec<Consumer> = services
            .iter()
            .flat_map(|service| {
                let db = service.database().cloned();
                let gate = gate.clone();
                service.consumers().into_iter().map(move |consumer| {
                    let consumer = consumer.paused_by(gate.clone());
                    match &db {
                        Some(db) => consumer.keeping_dead_letters_in(db.clone()),
                        None => consumer,
                    }
                })
            })
            .collect();
        let health = Health::new(readiness_checks(&context, &services, &consumers));
        let auth = Arc::new(Authenticator::from_config(&config.auth)?);
        let stores = services
            .iter()
            .filter_map(|s| Some((s.name(), s.database()?.clone())))
            .collect();
        let embedded =
            config.bus.kind == BusKind::Embedded && config.database.url.expose() == "sqlite";
        let backups = embedded.then(|| admin::Backups {
            data_dir: config.data_dir.clone(),
            gate: gate.clone(),
        });
        let routes = services
            .iter()
            .fold(admin::routes(stores, backups), |r, s| r.merge(s.routes()));
        let public = services
            .iter()
            .fold(axum::Router::new(), |r, s| r.merge(s.public_routes()));
        let app = http::app_with_public(routes, public, health.clone(), auth, &config.http);

        let background = CancellationToken::new();
        let tasks = TaskTracker::new();
        for service in &services {
            if let Some(db) = service.database() {
                let relay = Relay::new(db.clone(), context.bus.clone()).paused_by(gate.clone());
                tasks.spawn(relay.run(background.clone()));
            }
        }
        if config.bus.retention_hours > 0 {
            tasks.spawn(retention::run(
                context.bus.clone(),
                services
                    .iter()
                    .filter_map(|s| s.database().cloned())
                    .collect(),
                Duration::from_secs(config.bus.retention_hours * 3600),
                background.clone(),
            ));
        }
        for task in services
            .iter()
            .flat_map(|service| service.background(background.clone()))
        {
            tasks.spawn(task);
        }
        for consumer in consumers {
            tasks.spawn(consumer.run(
                context.bus.clone(),
                config.consumer.clone(),
                background.clone(),
            ));
        }
        tasks.close();

        tracing::info!(address = %listener.local_addr()?, services = ?services.iter().map(|s| s.name()).collect::<Vec<_>>(), "miyagi is serving");
        let draining = {
            let health = health.clone();
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                health.start_draining();
                tracing::info!("shutting down: draining requests");
            }
        };
        let drained = CancellationToken::new();
        let served = tokio::spawn(http::serve(listener, app, drained.clone()));
        draining.await;
        drained.cancel();
        let grace = Duration::from_secs(config.http.shutdown_grace_secs);
        let http_result = match tokio::time::timeout(grace, served).await {
            Ok(joined) => joined
                .map_err(anyhow::Error::from)
                .and_then(|r| r.map_err(anyhow::Error::from)),
            Err(_) => {
                tracing::warn!(
                    ?grace,
                    "requests still running after the grace period; closing"
                );
                Ok(())
            }
        };
        // Whatever happened to HTTP, consumers and relays still stop in order and databases close.
        background.cancel();
        if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
            tracing::warn!(
                ?grace,
                "consumers still running after the grace period; closing"
            );
        }
        for (service, db) in services.iter().filter_map(|s| Some((s, s.database()?))) {
            if tokio::time::timeout(grace, db.close()).await.is_err() {
                tracing::warn!(
                    service = service.name(),
                    "database connections still busy; closing anyway"
                );
            }
        }
        tracing::info!("stopped");
        http_result
    }
}

fn readiness_checks(
    context: &ServiceContext,
    services: &[Box<dyn Service>],
    consumers: &[Consumer],
) -> Vec<ReadinessCheck> {
    let mut checks = Vec::new();
    for consumer in consumers {
        let probe = consumer.probe();
        checks.push(ReadinessCheck::new(
            format!("consumer.{}", consumer.group),
            move || std::future::ready(probe.check()),
        ));
    }
    for service in services {
        let Some(db) = service.database().cloned() else {
            continue;
        };
        checks.push(ReadinessCheck::new(
            format!("{}.database", service.name()),
            move || {
                let db = db.clone();
                async move { db.ping().await }
            },
        ));
    }
    let bus = context.bus.clone();
    checks.push(ReadinessCheck::new("event_bus", move || {
        let bus = bus.clone();
        async move { Ok(bus.ping().await?) }
    }));
    let store = context.blob.clone();
    checks.push(ReadinessCheck::new("blob_store", move || {
        let store = store.clone();
        async move { blob::probe(&store).await }
    }));
    let cache = context.cache.clone();
    checks.push(ReadinessCheck::new("cache", move || {
        let cache = cache.clone();
        async move { cache.ping().await }
    }));
    checks
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes sends before killing a pod).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
