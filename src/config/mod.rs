//! Configuration: the embedded default (`config/sekimori.toml`), then a TOML file, then
//! environment variables `SEKIMORI__SECTION__KEY`, then validation into [`Config`]. Loading
//! collects every problem, each with its key path and a fix, instead of stopping at the first.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod factors;
pub mod gateway;
pub mod metrics;
mod problem;
pub mod raw;
pub mod store;
pub mod systems;
mod url;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format as _, Toml};

use crate::account::FacilityId;
use crate::crypto::hash::HashParams;
use crate::crypto::secret::SecretBytes;
use crate::password::rules::PasswordPolicy;
pub use access::{AccessRule, RulePolicy};
pub use accounts::{AccountsConfig, EmergencyConfig};
pub use audit::{AuditConfig, SyslogTarget};
pub use factors::{AttestationPolicy, FactorsConfig, WebauthnConfig};
pub use gateway::{KeysConfig, LockoutConfig, NetworkConfig, SessionConfig};
pub use raw::RawConfig;
pub use store::{PostgresConfig, StoreBackend, StoreConfig};
pub use systems::{Exemption, SystemConfig};

/// The embedded default configuration.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../config/sekimori.toml");
/// Environment variable prefix; `__` separates sections from keys.
pub const ENV_PREFIX: &str = "SEKIMORI__";

pub use problem::Problem;

/// Configuration could not be loaded.
#[derive(Debug)]
pub struct ConfigErrors {
    pub source: String,
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "configuration from {} has {} problem(s):",
            self.source,
            self.problems.len()
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub public_url: String,
    pub public_host: String,
    pub danger_insecure_cookies: bool,
    pub max_body_bytes: usize,
    pub shutdown_grace_seconds: u64,
    /// Unix socket (0600) through which CLI commands reach the running gateway's state.
    pub control_socket: PathBuf,
}

/// Where short-lived state lives.
#[derive(Debug, Clone)]
pub enum StateBackend {
    /// In this process (one gateway).
    Memory,
    /// A Redis shared by several gateways; the URL may hold a password.
    Redis { url: crate::crypto::SecretString },
}

#[derive(Debug, Clone)]
pub struct FacilityConfig {
    pub id: FacilityId,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct PasswordConfig {
    pub policy: PasswordPolicy,
    pub hashing: HashParams,
    pub max_concurrent_hashes: usize,
    pub hash_priority: crate::password::hasher::HashPriority,
    pub blocklist_file: Option<PathBuf>,
    pub breach_filter_file: Option<PathBuf>,
    pub pepper: Option<SecretBytes>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub state: StateBackend,
    pub facility: FacilityConfig,
    pub password: PasswordConfig,
    /// Extra Cedar policy files, loaded after the guideline 7.0 defaults.
    pub policy_dir: Option<PathBuf>,
    pub systems: Vec<SystemConfig>,
    /// `[[access.rules]]`, in order; compiled to Cedar by `policy::rules`.
    pub access_rules: Vec<AccessRule>,
    pub session: SessionConfig,
    pub lockout: LockoutConfig,
    pub network: NetworkConfig,
    pub keys: KeysConfig,
    pub factors: FactorsConfig,
    pub webauthn: WebauthnConfig,
    pub accounts: AccountsConfig,
    pub emergency: EmergencyConfig,
    pub audit: AuditConfig,
    pub metrics: metrics::MetricsConfig,
    pub log: LogConfig,
    /// Where it came from, for messages.
    pub source: String,
}

/// Where to read from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// A TOML file; it must exist when given.
    pub file: Option<PathBuf>,
    /// Read `SEKIMORI__*` variables from the process environment.
    pub env: bool,
}

impl Config {
    /// Load from the embedded default, the file and the environment.
    pub fn load(sources: &Sources) -> Result<Config, ConfigErrors> {
        let mut figment = Figment::from(Toml::string(EMBEDDED_DEFAULT));
        let mut source = String::from("embedded defaults");
        if let Some(path) = &sources.file {
            if !path.is_file() {
                return Err(ConfigErrors {
                    source: path.display().to_string(),
                    problems: vec![Problem {
                        key: "(file)".into(),
                        message: format!("configuration file {} does not exist or is not a file", path.display()),
                        fix: "pass an existing file with --config, or omit it to use the embedded defaults".into(),
                    }],
                });
            }
            figment = figment.merge(Toml::file_exact(path));
            source = path.display().to_string();
        }
        if sources.env {
            figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
            source.push_str(" + environment");
        }
        let value: serde_json::Value = figment.extract().map_err(|e| ConfigErrors {
            source: source.clone(),
            problems: e
                .into_iter()
                .map(|e| Problem {
                    key: if e.path.is_empty() {
                        "(file)".into()
                    } else {
                        e.path.join(".")
                    },
                    message: e.kind.to_string()
                        + &e.metadata
                            .as_ref()
                            .map(|m| format!(" (in {})", m.name))
                            .unwrap_or_default(),
                    fix: "correct the TOML syntax at the position given".into(),
                })
                .collect(),
        })?;
        validate::validate(value, &source)
    }

    /// Parse a TOML string on top of the embedded default; for tests and `config check`.
    pub fn from_toml_str(toml: &str) -> Result<Config, ConfigErrors> {
        let figment = Figment::from(Toml::string(EMBEDDED_DEFAULT)).merge(Toml::string(toml));
        let value: serde_json::Value = figment.extract().map_err(|e| ConfigErrors {
            source: "string".into(),
            problems: vec![Problem {
                key: "(file)".into(),
                message: e.to_string(),
                fix: "correct the TOML syntax".into(),
            }],
        })?;
        validate::validate(value, "string")
    }

    pub fn system(&self, id: &str) -> Option<&SystemConfig> {
        self.systems.iter().find(|s| s.id == id)
    }

    /// The store directory, for files kept beside the database (signing keys later).
    pub fn data_dir(&self) -> &Path {
        self.store.sqlite_path.parent().unwrap_or(Path::new("."))
    }
}
