//! The one integration-test binary: real SQLite files, the real router, the real CLI.

mod audit_tamper;
mod cli;
mod http;
mod passwords;
mod serve;
mod store_conformance;
mod support;
