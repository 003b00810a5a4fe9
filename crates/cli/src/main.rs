//! `miyagi`: the one binary. `up` runs every service in one process on embedded defaults;
//! `serve <service>` runs one service with the adapters its config names; `config check`
//! validates config and prints the effective values with secrets masked.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand, ValueEnum};
use miyagi_platform::{
    config::Config,
    runtime::{shutdown_signal, Runtime},
    Service, ServiceContext,
};
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
    /// Run one service with the adapters from config.
    Serve { service: ServiceName },
    /// Work with configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Validate the config and print the effective values (secrets masked).
    Check,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum ServiceName {
    Users,
}

impl ServiceName {
    async fn start(self, context: &ServiceContext) -> anyhow::Result<Box<dyn Service>> {
        Ok(match self {
            ServiceName::Users => Box::new(miyagi_users::UsersService::start(context).await?),
        })
    }
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
        Command::Up => ServiceName::value_variants().to_vec(),
        Command::Serve { service } => vec![service],
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime starts");
    match runtime.block_on(run(config, services)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config, names: Vec<ServiceName>) -> anyhow::Result<()> {
    let tracer = miyagi_platform::telemetry::init(&config.telemetry)?;
    let listener = tokio::net::TcpListener::bind(config.http.bind)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} (key `http.bind`): {e}",
                config.http.bind
            )
        })?;
    let context = ServiceContext::from_config(config).await?;
    let mut services = Vec::new();
    for name in names {
        services.push(name.start(&context).await?);
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
    let _ = tracer.shutdown();
    result
}
