//! The one integration-test binary: real SQLite files, the real router, the real CLI.

// Test code may unwrap, panic and sleep; the production lints stay denied in `src/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod audit_tamper;
mod cli;
mod http;
mod passwords;
mod policy;
mod redis_server;
mod serve;
mod state;
mod store_conformance;
mod support;
