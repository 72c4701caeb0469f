//! The raw configuration shape, exactly as written in TOML or the environment. Unknown keys
//! are refused. Defaults here equal `config/sekimori.toml`, the embedded default file.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use super::access::RawAccess;
pub use super::accounts::{RawAccounts, RawEmergency};
pub use super::audit::RawAudit;
pub use super::factors::{RawFactors, RawWebauthn};
pub use super::gateway::{RawKeys, RawLockout, RawNetwork, RawSession};
pub use super::metrics::RawMetrics;
pub use super::store::RawStore;
pub use super::systems::RawSystem;

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub server: RawServer,
    pub store: RawStore,
    pub state: RawState,
    pub facility: RawFacility,
    pub password: RawPassword,
    pub policy: RawPolicy,
    pub systems: std::collections::BTreeMap<String, RawSystem>,
    pub access: RawAccess,
    pub session: RawSession,
    pub lockout: RawLockout,
    pub network: RawNetwork,
    pub keys: RawKeys,
    pub factors: RawFactors,
    pub webauthn: RawWebauthn,
    pub accounts: RawAccounts,
    pub emergency: RawEmergency,
    pub audit: RawAudit,
    pub metrics: RawMetrics,
    pub log: RawLog,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub listen: String,
    pub public_url: String,
    pub danger_insecure_cookies: bool,
    pub max_body_bytes: usize,
    pub shutdown_grace_seconds: u64,
    pub control_socket: Option<PathBuf>,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://localhost:8080".into(),
            danger_insecure_cookies: true,
            max_body_bytes: 16 * 1024,
            shutdown_grace_seconds: 10,
            control_socket: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawState {
    pub backend: String,
    pub redis_url: Option<String>,
    pub redis_url_file: Option<PathBuf>,
}

impl Default for RawState {
    fn default() -> Self {
        Self {
            backend: "memory".into(),
            redis_url: None,
            redis_url_file: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawFacility {
    pub id: String,
    pub name: String,
}

impl Default for RawFacility {
    fn default() -> Self {
        Self {
            id: "default".into(),
            name: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawPassword {
    pub profile: String,
    pub min_length_with_second_factor: usize,
    pub min_length_without_second_factor: usize,
    pub max_length: usize,
    pub min_strength: u8,
    pub history_depth: usize,
    pub blocklist_file: Option<PathBuf>,
    pub breach_filter_file: Option<PathBuf>,
    pub pepper_file: Option<PathBuf>,
    pub hashing: RawHashing,
}

impl Default for RawPassword {
    fn default() -> Self {
        Self {
            profile: "mhlw".into(),
            min_length_with_second_factor: 8,
            min_length_without_second_factor: 15,
            max_length: 128,
            min_strength: 3,
            history_depth: 5,
            blocklist_file: None,
            breach_filter_file: None,
            pepper_file: None,
            hashing: RawHashing::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawHashing {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub max_concurrent: usize,
    pub priority: String,
}

impl Default for RawHashing {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 0,
            priority: "low".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    pub format: String,
    pub level: String,
}

impl Default for RawLog {
    fn default() -> Self {
        Self {
            format: "json".into(),
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawPolicy {
    pub dir: Option<PathBuf>,
}
