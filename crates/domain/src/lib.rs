//! Miyagi's domain: the data every service agrees on and the rules that hold for it.
//!
//! Pure code only — no I/O, no async — so it compiles in seconds and is trivially testable.
//! Event payloads live here because they are contracts between services: a producer and its
//! consumers must agree on them without depending on each other.

/// Expands to the literal of [`RESERVED_PREFIX`], so that the system's own owners are spelled
/// from it with `concat!` and cannot drift apart from it.
macro_rules! reserved_prefix {
    () => {
        "miyagi:"
    };
}

pub mod advice;
pub mod agents;
pub mod chat;
pub mod document;
pub mod events;
pub mod expenses;
pub mod image;
pub mod markets;
pub mod prose;
pub mod text;
pub mod user;

/// Prefix of the system's own owners (the shared document library). No caller can authenticate
/// as a name under it, so what the system owns cannot be claimed or changed by a user.
pub const RESERVED_PREFIX: &str = reserved_prefix!();
