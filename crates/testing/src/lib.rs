//! The test harness every service's tests share, in the manner of zero2prod's `spawn_app`: one
//! way to stand services up as `miyagi up` runs them (real HTTP stack, event log, consumers, a
//! data dir of their own) on a free loopback port, and to call them as a given user. A test then
//! says only what it checks.
//!
//! - [`TestContext`] → start the services under test on its `context` → [`TestContext::spawn`]
//!   gives a [`TestApp`]; [`TestApp::shared`] keeps one app for every test of a binary.
//! - [`fixtures`]: the people and requests tests keep needing.
//! - [`openai`]: a scripted OpenAI-protocol server, standing in for a remote LLM endpoint.
//! - [`outage`]: a relay in front of a real server that a test can cut and restore.
//! - [`disk`]: a small filesystem of a test's own that it can fill and free.
//! - [`log`]: the event log as a test reads it.
//! - [`postgres`]: a database of a test's own on the test PostgreSQL server.
//! - [`python`]: a pinned Python tool from PyPI in a venv of its own.
//! - `models` (feature `models`): the local chat and embedding models, loaded once per binary.

mod app;
pub mod disk;
pub mod fixtures;
pub mod log;
#[cfg(feature = "models")]
pub mod models;
pub mod openai;
pub mod outage;
pub mod postgres;
pub mod python;

pub use app::{api_key, Reply, TestApp, TestContext};
