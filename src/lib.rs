//! 関守 Sekimori: an authentication gateway that puts Japan's MHLW guideline 7.0 for medical
//! information systems into practice. See `README.md` for the product and `config/` for
//! every setting.
//!
//! Data flows one way: `http` / `cli` → `auth` / `admin` / `session` / `policy` / `password` /
//! `audit` → `store` / `state` / `crypto`. The domain modules (`account`, `lockout`,
//! `password::rules`, `audit::chain`, `canon`) are pure and take `now` (or
//! nothing time-related) as an argument.

pub mod account;
pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod canon;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod device;
pub mod emergency;
pub mod error;
pub mod http;
pub mod lockout;
pub mod metrics;
pub mod password;
pub mod policy;
pub mod recovery;
pub mod report;
pub mod session;
pub mod state;
pub mod store;
pub mod syslog;
pub mod totp;
pub mod vendor;
pub mod webauthn;

pub use http::build_router;

/// What the unit tests share.
#[cfg(test)]
pub(crate) mod test_support {
    /// The property tests' settings: `cases` cases, a fresh seed each run (ChaCha), and no
    /// regression files written into the source tree.
    pub fn proptest_config(cases: u32) -> proptest::test_runner::Config {
        proptest::test_runner::Config {
            cases,
            failure_persistence: None,
            rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
            ..proptest::test_runner::Config::default()
        }
    }
}
