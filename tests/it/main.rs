//! The one integration-test binary: real SQLite files, the real router, the real CLI.

// Test code may unwrap, panic and sleep; the production lints stay denied in `src/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod access_rules;
mod audit_tamper;
mod authz;
mod browser;
mod caddy;
mod checkpoints;
mod cli;
mod cross_site;
mod devices;
mod differential;
mod emergency;
mod factors;
mod gate;
mod gateway;
mod group_commit;
mod http;
mod layers;
mod lifecycle;
mod live_admin;
mod login;
mod metrics;
mod nginx;
mod openapi;
mod pam;
mod pam_api;
mod pam_tls;
mod passwords;
mod policy;
mod portal;
mod postgres_server;
mod process;
mod proxies;
mod redis_server;
mod replicas;
mod report;
mod second_factors;
mod serve;
mod settle;
mod ssh;
mod state;
mod store_conformance;
mod store_copy;
mod support;
mod syslog;
mod terminals;
mod totp;
mod vendors;
mod webauthn;

/// A staff account for tests that create accounts by hand.
pub fn gateway_new_account(name: &str) -> sekimori::account::NewAccount {
    sekimori::account::NewAccount {
        facility_id: sekimori::account::FacilityId("default".into()),
        login_name: name.into(),
        display_name: "佐藤 一郎".into(),
        kana_name: None,
        email: None,
        account_type: sekimori::account::AccountType::Staff,
        roles: vec![sekimori::account::Role::parse("doctor").unwrap()],
        groups: vec![],
        person_id: None,
        second_factor_required: false,
        expires_at: None,
    }
}
