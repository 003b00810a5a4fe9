//! The users service against real databases (SQLite and the machine's PostgreSQL) and through
//! its real HTTP stack.

mod api;
mod disk_full;
mod store;
