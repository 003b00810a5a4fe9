//! Miyagi's domain: the data every service agrees on and the rules that hold for it.
//!
//! Pure code only — no I/O, no async — so it compiles in seconds and is trivially testable.
//! Event payloads live here because they are contracts between services: a producer and its
//! consumers must agree on them without depending on each other.

pub mod advice;
pub mod document;
pub mod events;
pub mod user;
