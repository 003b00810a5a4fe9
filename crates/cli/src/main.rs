//! `miyagi`: the one binary. `up` runs every service in one process on embedded defaults;
//! `serve <service>...` runs the named services with the adapters their config names (Kafka,
//! PostgreSQL, Redis, object storage in distributed mode); `config check` validates config and
//! prints the effective values with secrets masked; `events dlq` lists and redrives dead letters; `backup` / `restore` an embedded data dir.

mod admin;
mod eval;

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::{Parser, Subcommand, ValueEnum};
use miyagi_domain::document::LIBRARY_OWNER;
use miyagi_kafka::KafkaBus;
use miyagi_kernel::{
    cache::ResponseCache,
    connectors::openai::{OpenAiClient, OpenAiConfig},
    limits::UsageLimits,
    usage::UsageLedger,
    ChatModel, EmbeddingModel, ImageModel, Kernel,
};
use miyagi_memory::{chunk::TokenCounter, remote::HttpRetriever, retrieve::Retriever};
use miyagi_models::{
    cache::{self, ModelCache, Status},
    chat::LocalChat,
    embeddings::LocalEmbedder,
};
use miyagi_platform::{
    config::{BusKind, Config, ModelsConfig},
    runtime::{shutdown_signal, Runtime},
    Service, ServiceContext,
};
use miyagi_web::SystemInfo;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "miyagi",
    version,
    about = "Miyagi: your personal financial coach"
)]
struct Cli {
    /// TOML config file; `MIYAGI_*` environment variables override it (`MIYAGI_HTTP__BIND=…`).
    #[arg(long, global = true, env = "MIYAGI_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in this process on embedded defaults (SQLite, embedded event log, local blobs).
    Up,
    /// Run the named services (one per process in a distributed deployment) with the adapters
    /// from config. The advisor cites the documents service's library: in the same process
    /// (`miyagi serve documents advisor`), or over HTTP with `advisor.library_url`.
    Serve {
        #[arg(required = true, num_args = 1..)]
        services: Vec<ServiceName>,
    },
    /// Work with configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Manage the local models.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Inspect the event backbone of a running Miyagi.
    Events {
        #[command(flatten)]
        remote: Remote,
        #[command(subcommand)]
        action: EventsAction,
    },
    /// Back up a running `miyagi up` (its databases and blobs, consistently) into
    /// `<data_dir>/backups/<time>/`.
    Backup {
        #[command(flatten)]
        remote: Remote,
    },
    /// Evaluate prompts: a suite's dataset through its prompt variants on its models, each answer
    /// checked; exits 1 when the suite's threshold is missed.
    Eval {
        #[command(subcommand)]
        action: eval::EvalAction,
    },
    /// Put a backup back into the data dir; Miyagi must be stopped.
    Restore {
        /// The backup folder (`miyagi backup` prints it).
        from: PathBuf,
        /// Overwrite a data dir that already holds data.
        #[arg(long)]
        replace: bool,
    },
}

/// Where a running Miyagi answers, for the commands that ask it.
#[derive(clap::Args)]
struct Remote {
    /// Its address; the configured `http.bind` when left out.
    #[arg(long, global = true)]
    url: Option<String>,
    /// An operator's API key (one of `auth.admins`), for auth modes other than `none`.
    #[arg(long, global = true)]
    api_key: Option<String>,
}

impl Remote {
    fn target(self, config: &Config) -> admin::Target {
        admin::Target {
            base: self
                .url
                .unwrap_or_else(|| format!("http://{}", config.http.bind)),
            api_key: self.api_key,
        }
    }
}

#[derive(Subcommand)]
enum EventsAction {
    /// Dead letters: events a consumer could not handle, parked with the reason.
    Dlq {
        #[command(subcommand)]
        action: admin::DlqAction,
    },
}

#[derive(Subcommand)]
enum ModelsAction {
    /// Fetch the local models (also done on the first `miyagi up`).
    Pull {
        /// Fetch again even if present (repairs a damaged cache).
        #[arg(long)]
        force: bool,
    },
    /// Show which models are present and verify them.
    List,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Validate the config and print the effective values (secrets masked).
    Check,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum ServiceName {
    Users,
    Llm,
    Documents,
    Advisor,
    Copilot,
    /// Paper trading against simulated markets. One per deployment: it holds the order books.
    Markets,
    /// Bank transactions filed into categories, budgets and spending insights.
    Expenses,
    /// Durable multi-step runs (rebalancing, retirement planning) that wait for approval.
    Agents,
    /// Images asked for in words, drawn from an event into blob storage: cards of a person's
    /// figures, or any picture through `models.image_endpoint`.
    Images,
    /// The web UI and the live event stream it follows; starts last, to list the others.
    Web,
}

/// What services started earlier in the process hand to later ones.
#[derive(Default)]
struct Started {
    /// The documents service's passages, which the advisor and the copilot cite.
    library: Option<Arc<dyn Retriever>>,
    /// Names of the services started so far.
    names: Vec<String>,
}

impl ServiceName {
    fn needs_models(self) -> bool {
        !matches!(
            self,
            ServiceName::Users | ServiceName::Markets | ServiceName::Web
        )
    }

    /// `None` when the service is switched off by config.
    async fn start(
        self,
        context: &ServiceContext,
        models: Option<&LocalModels>,
        started: &mut Started,
    ) -> anyhow::Result<Option<Box<dyn Service>>> {
        let loaded = models;
        let models = || {
            let name = self.to_possible_value().map(|v| v.get_name().to_string());
            models.ok_or_else(|| {
                anyhow::anyhow!("`{}` needs the local models", name.unwrap_or_default())
            })
        };
        Ok(match self {
            ServiceName::Users => Some(Box::new(miyagi_users::UsersService::start(context).await?)),
            ServiceName::Llm => {
                let models = models()?;
                models.chat.clone().map(|chat| {
                    Box::new(miyagi_llm::LlmService::new(miyagi_llm::Models {
                        chat,
                        embeddings: models.embeddings.clone(),
                    })) as Box<dyn Service>
                })
            }
            ServiceName::Documents => {
                let models = models()?;
                let documents = miyagi_documents::Models {
                    embedder: models.embeddings.clone(),
                    tokens: models.tokens.clone(),
                    kernel: models.writer.clone(),
                };
                let service = miyagi_documents::DocumentsService::start(context, documents).await?;
                started.library = Some(service.documents().clone() as Arc<dyn Retriever>);
                Some(Box::new(service))
            }
            ServiceName::Advisor => {
                let models = models()?;
                let library = match (&started.library, &context.config.advisor.library_url) {
                    (Some(in_process), _) => in_process.clone(),
                    (None, Some(url)) => Arc::new(HttpRetriever::new(
                        url,
                        context
                            .config
                            .advisor
                            .library_api_key
                            .as_ref()
                            .map(|key| key.expose().to_string()),
                        LIBRARY_OWNER,
                    )?) as Arc<dyn Retriever>,
                    (None, None) => anyhow::bail!(
                        "the advisor cites the documents service's library: run it in the same process as `documents` (`miyagi serve documents advisor`), or set `advisor.library_url` to the documents service's address"
                    ),
                };
                Some(Box::new(
                    miyagi_advisor::AdvisorService::start(context, models.writer.clone(), library)
                        .await?,
                ))
            }
            ServiceName::Copilot => {
                let models = models()?;
                // A person's own documents are searched in their request, so the copilot needs
                // the documents service beside it; the library alone over HTTP would answer
                // without the person's documents and pretend it had looked.
                let Some(passages) = started.library.clone() else {
                    anyhow::bail!(
                        "the copilot searches the person's documents and the library in process: run it with `documents` (`miyagi serve documents copilot`)"
                    );
                };
                Some(Box::new(
                    miyagi_copilot::CopilotService::start(
                        context,
                        miyagi_copilot::Models {
                            kernel: models.writer.clone(),
                            embedder: models.embeddings.clone(),
                            tokens: models.tokens.clone(),
                        },
                        passages,
                    )
                    .await?,
                ))
            }
            ServiceName::Markets => Some(Box::new(
                miyagi_markets_service::MarketsService::start(context).await?,
            )),
            ServiceName::Expenses => {
                let models = models()?;
                Some(Box::new(
                    miyagi_expenses::ExpensesService::start(
                        context,
                        miyagi_expenses::Models {
                            embedder: models.embeddings.clone(),
                            kernel: models.writer.clone(),
                        },
                    )
                    .await?,
                ))
            }
            ServiceName::Agents => {
                let models = models()?;
                Some(Box::new(
                    miyagi_agents::AgentsService::start(
                        context,
                        models.writer.clone(),
                        started.library.clone(),
                    )
                    .await?,
                ))
            }
            ServiceName::Images => {
                let models = models()?;
                let endpoint = match &context.config.models.image_endpoint {
                    Some(endpoint) => Some(Arc::new(
                        OpenAiClient::new(OpenAiConfig::openai(
                            &endpoint.base_url,
                            &endpoint.model,
                            endpoint.api_key.as_ref().map(|k| k.expose()),
                        ))
                        .map_err(|e| anyhow::anyhow!("key `models.image_endpoint`: {e}"))?,
                    ) as Arc<dyn ImageModel>),
                    None => None,
                };
                Some(Box::new(
                    miyagi_images::ImagesService::start(
                        context,
                        miyagi_images::Models {
                            endpoint,
                            embedder: Some(models.embeddings.clone()),
                        },
                    )
                    .await?,
                ))
            }
            ServiceName::Web => Some(Box::new(miyagi_web::WebService::new(SystemInfo {
                services: started
                    .names
                    .iter()
                    .cloned()
                    .chain([miyagi_web::NAME.to_string()])
                    .collect(),
                bus: context.config.bus.kind.as_str().to_string(),
                chat_model: loaded
                    .and_then(|m| m.writer.as_ref())
                    .and_then(|k| k.chat_model().ok())
                    .map(|c| c.model_id().to_string()),
                embedding_model: loaded.map(|m| m.embeddings.model_id().to_string()),
                version: env!("CARGO_PKG_VERSION").to_string(),
            }))),
        })
    }
}

fn model_cache(config: &ModelsConfig) -> ModelCache {
    ModelCache::new(config.dir.clone().unwrap_or_else(ModelCache::default_dir))
}

/// The models loaded once and shared by every service that uses them.
struct LocalModels {
    /// The local chat model served on `/v1`; `None` when `models.local` is off. No response
    /// cache: a client asking again with the same sampling settings expects a new sample.
    chat: Option<Kernel>,
    /// What writes answers and advice: `models.chat_endpoint` when set, else the local chat,
    /// with an in-process response cache so an identical model call is answered once.
    writer: Option<Kernel>,
    embeddings: Arc<dyn EmbeddingModel>,
    /// Counts tokens as the embedding model does: chunk sizes, prompt budgets.
    tokens: TokenCounter,
}

/// Loads the configured local models, pulling the defaults on first use (with progress).
fn local_models(config: &ModelsConfig) -> anyhow::Result<LocalModels> {
    let cache = model_cache(config);
    let chat: Option<Arc<dyn ChatModel>> = if config.local {
        let gguf = match &config.chat_gguf {
            Some(path) => path.clone(),
            None => cache.ensure(&cache::SMOLLM2, true)?.join("model.gguf"),
        };
        let chat = LocalChat::load(&gguf)
            .map_err(|e| {
                anyhow::anyhow!(
                    "{e:#} (key `models.chat_gguf`; `miyagi models pull --force` repairs the default)"
                )
            })?
            .with_queue_limit(config.queue_limit);
        Some(Arc::new(chat))
    } else {
        None
    };
    let embeddings_dir = match &config.embeddings_dir {
        Some(dir) => dir.clone(),
        None => cache.ensure(&cache::MINILM, true)?,
    };
    let embeddings = LocalEmbedder::load(&embeddings_dir).map_err(|e| {
        anyhow::anyhow!(
            "{e:#} (key `models.embeddings_dir`; `miyagi models pull --force` repairs the default)"
        )
    })?;
    let writer: Option<Arc<dyn ChatModel>> = match &config.chat_endpoint {
        Some(endpoint) => Some(Arc::new(
            OpenAiClient::new(OpenAiConfig::openai(
                &endpoint.base_url,
                &endpoint.model,
                endpoint.api_key.as_ref().map(|k| k.expose()),
            ))
            .map_err(|e| anyhow::anyhow!("key `models.chat_endpoint`: {e}"))?,
        )),
        None => chat.clone(),
    };
    // One ledger and one set of limits for both kernels: a user's budget covers every model
    // call made for them in this process.
    let ledger = Arc::new(UsageLedger::default());
    let limits = Arc::new(UsageLimits::new(
        config.calls_per_minute,
        config.tokens_per_day,
    ));
    let kernel = |chat: Arc<dyn ChatModel>| {
        Kernel::builder()
            .chat_model(chat)
            .ledger(ledger.clone())
            .limits(limits.clone())
    };
    Ok(LocalModels {
        chat: chat.map(|c| kernel(c).build()),
        writer: writer.map(|c| kernel(c).cache(Arc::new(ResponseCache::new(256))).build()),
        embeddings: Arc::new(embeddings),
        tokens: TokenCounter::from_file(&embeddings_dir.join("tokenizer.json"))?,
    })
}

fn models_command(config: &ModelsConfig, action: ModelsAction) -> anyhow::Result<()> {
    let cache = model_cache(config);
    match action {
        ModelsAction::Pull { force } => {
            for spec in cache::ALL {
                if force || !matches!(cache.status(&spec), Status::Present { .. }) {
                    cache.pull(&spec, true)?;
                }
                cache.verify(&spec)?;
                println!("{:<28} ready   {}", spec.id, cache.dir(&spec).display());
            }
        }
        ModelsAction::List => {
            println!("model cache: {}", cache.root().display());
            for spec in cache::ALL {
                let state = match cache.status(&spec) {
                    Status::Missing => "missing (run `miyagi models pull`)".to_string(),
                    Status::Corrupt(why) => {
                        format!("damaged: {why} (run `miyagi models pull --force`)")
                    }
                    Status::Present { bytes } => match cache.verify(&spec) {
                        Ok(()) => format!("ok, {:.1} MB, verified", bytes as f64 / 1e6),
                        Err(e) => format!("{e:#}"),
                    },
                };
                println!("{:<28} {:<44} {state}", spec.id, spec.description);
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let services = match cli.command {
        Command::Config {
            action: ConfigAction::Check,
        } => {
            println!(
                "# configuration is valid; effective values (secrets masked):\n{}",
                config.to_masked_toml()
            );
            return ExitCode::SUCCESS;
        }
        Command::Models { action } => return exit_with(models_command(&config.models, action)),
        Command::Eval { action } => return eval::command(&config.models, action),
        Command::Events {
            remote,
            action: EventsAction::Dlq { action },
        } => {
            let target = remote.target(&config);
            return exit_with(block_on(admin::dead_letters(&target, action)));
        }
        Command::Backup { remote } => {
            let target = remote.target(&config);
            return exit_with(block_on(admin::backup(&target)));
        }
        Command::Restore { from, replace } => {
            return exit_with(
                miyagi_platform::backup::restore(&from, &config.data_dir, replace).map(
                    |restored| {
                        println!(
                            "restored the backup of {} into {} ({}); start Miyagi to use it",
                            restored.taken_at,
                            config.data_dir.display(),
                            restored.databases.join(", ")
                        )
                    },
                ),
            );
        }
        Command::Up => ServiceName::value_variants().to_vec(),
        Command::Serve { mut services } => {
            services.sort_by_key(|s| *s as u8);
            services.dedup();
            services
        }
    };
    exit_with(block_on(run(config, services)))
}

fn block_on<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Runtime::new()
        .expect("tokio runtime starts")
        .block_on(work)
}

fn exit_with(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The `service.name` of this process's spans: `miyagi` for the whole system in one process,
/// else the services it runs (`miyagi-advisor`), so a trace shows which process did what.
fn trace_service(names: &[ServiceName]) -> String {
    if names.len() == ServiceName::value_variants().len() {
        return "miyagi".into();
    }
    std::iter::once("miyagi".to_string())
        .chain(names.iter().filter_map(|n| {
            n.to_possible_value()
                .map(|value| value.get_name().to_string())
        }))
        .collect::<Vec<_>>()
        .join("-")
}

async fn run(config: Config, names: Vec<ServiceName>) -> anyhow::Result<()> {
    let tracer = miyagi_platform::telemetry::init(&config.telemetry, &trace_service(&names))?;
    let listener = tokio::net::TcpListener::bind(config.http.bind)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} (key `http.bind`): {e}",
                config.http.bind
            )
        })?;
    let models = if names.iter().any(|n| n.needs_models()) {
        Some(local_models(&config.models)?)
    } else {
        None
    };
    let context = match config.bus.kind {
        BusKind::Embedded => ServiceContext::from_config(config).await?,
        BusKind::Kafka => {
            let bus = KafkaBus::connect(&config.bus.kafka, config.bus.partitions)?;
            ServiceContext::with_bus(config, Arc::new(bus)).await?
        }
    };
    let mut services = Vec::new();
    let mut started = Started::default();
    for name in names {
        if let Some(service) = name.start(&context, models.as_ref(), &mut started).await? {
            started.names.push(service.name().to_string());
            services.push(service);
        }
    }
    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            shutdown.cancel();
        }
    });
    println!(
        "Miyagi is up: http://{}  (API docs at /docs; Ctrl-C to stop)",
        listener.local_addr()?
    );
    let result = Runtime::new(context, services)
        .run(listener, shutdown)
        .await;
    // Sends the last batch of spans; it blocks until the collector answers or times out.
    let _ = tokio::task::spawn_blocking(move || tracer.shutdown()).await;
    result
}
