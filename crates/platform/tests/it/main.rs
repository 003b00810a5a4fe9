//! Integration tests of the platform layer against real SQLite files, the machine's PostgreSQL and Redis
//! and real HTTP. One test binary (with modules) keeps link time down on small machines.

mod auth;
mod cache;
mod consumer_failures;
mod dead_letters;
mod event_log;
mod http_conventions;
mod outbox_inbox;
mod schema_migrations;
