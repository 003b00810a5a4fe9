//! The documents service: its store on both database backends, and the whole service over real
//! HTTP with the real embedding model, event log, consumers and vector index.

mod api;
mod erasure;
mod faults;
mod store;
mod summary;
mod uploads;
