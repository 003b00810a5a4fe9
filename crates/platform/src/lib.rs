//! The platform layer: everything a Miyagi service needs that is not its own business.
//!
//! - [`config`]: one TOML file plus `MIYAGI_*` overrides, validated at start.
//! - [`http`]: the conventions every service's HTTP API follows (problem+json, health, metrics, OpenAPI).
//! - [`auth`]: who is calling (none / API key / JWT) and the [`auth::Principal`] every handler gets.
//! - [`db`]: one sqlx pool type for SQLite and PostgreSQL, so repository code is written once.
//! - [`blob`]: object storage through `object_store` (local folder, S3, Azure Blob).
//! - [`cache`]: TTL cache with tag invalidation, in process or in Redis.
//! - [`events`]: CloudEvents, the [`events::EventBus`] seam, the embedded log, outbox, inbox and consumers
//!   (the Kafka implementation is the `miyagi-kafka` crate, so only what needs it links librdkafka).
//! - [`DataDirLock`]: one process per embedded data dir.
//! - `admin`: the operator API (dead letters: list, show, redrive; backups).
//! - [`backup`]: consistent backups of an embedded data dir while it runs, and restore.
//! - [`runtime`]: starts services, their relays and consumers, and shuts them down gracefully.

mod admin;
pub mod auth;
pub mod backup;
pub mod blob;
pub mod cache;
pub mod config;
pub mod db;
pub mod events;
pub mod http;
mod lock;
pub mod runtime;
mod secret;
pub mod telemetry;

pub use lock::DataDirLock;
pub use runtime::{Service, ServiceContext};
