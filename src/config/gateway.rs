//! The gateway sections of the configuration: sessions, lockout, networks (trusted proxies and
//! clinic networks) and signing keys. Raw shapes and their validation live together here, so
//! `validate.rs` stays about the foundation sections.

use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::Problem;
use super::problem::problem;
use crate::lockout::LockoutPolicy;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawSession {
    pub cookie_name: String,
    pub cookie_domain: String,
    pub idle_timeout_seconds: u64,
    pub absolute_timeout_hours: u64,
    pub assertion_ttl_seconds: u64,
    pub login_flow_minutes: u64,
}

impl Default for RawSession {
    fn default() -> Self {
        Self {
            cookie_name: "sekimori_session".into(),
            cookie_domain: String::new(),
            idle_timeout_seconds: 1800,
            absolute_timeout_hours: 12,
            assertion_ttl_seconds: 60,
            login_flow_minutes: 5,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawLockout {
    pub threshold: u32,
    pub window_minutes: u64,
    pub base_lock_minutes: u64,
    pub max_lock_hours: u64,
    pub hard_threshold: u32,
    pub ip_limit: u64,
    pub ip_window_minutes: u64,
}

impl Default for RawLockout {
    fn default() -> Self {
        Self {
            threshold: 5,
            window_minutes: 15,
            base_lock_minutes: 15,
            max_lock_hours: 24,
            hard_threshold: 100,
            ip_limit: 100,
            ip_window_minutes: 15,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawNetwork {
    pub trusted_proxies: Vec<String>,
    pub clinic_networks: Vec<String>,
}

impl Default for RawNetwork {
    fn default() -> Self {
        Self {
            trusted_proxies: vec!["127.0.0.1/32".into(), "::1/128".into()],
            clinic_networks: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawKeys {
    pub dir: Option<PathBuf>,
    pub rotate_after_days: u64,
    pub reload_seconds: u64,
    pub activation_seconds: u64,
}

impl Default for RawKeys {
    fn default() -> Self {
        Self {
            dir: None,
            rotate_after_days: 90,
            reload_seconds: 10,
            activation_seconds: 60,
        }
    }
}

/// Session cookies and lifetimes.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub cookie_name: String,
    /// Empty: a host-only cookie. `.clinic.example`: shared by its subdomains.
    pub cookie_domain: String,
    pub idle_timeout: std::time::Duration,
    pub absolute_timeout: std::time::Duration,
    pub assertion_ttl: std::time::Duration,
    pub login_flow_ttl: std::time::Duration,
}

/// Lockout settings plus the per-address limit against password spraying.
#[derive(Debug, Clone, Copy)]
pub struct LockoutConfig {
    pub policy: LockoutPolicy,
    pub ip_limit: u64,
    pub ip_window: std::time::Duration,
}

/// Which peers may set `X-Forwarded-*`, and which addresses are the clinic's own.
#[derive(Debug, Clone, Default)]
pub struct NetworkConfig {
    pub trusted_proxies: Vec<IpNet>,
    pub clinic_networks: Vec<IpNet>,
}

impl NetworkConfig {
    pub fn is_trusted_proxy(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }

    pub fn is_clinic(&self, ip: std::net::IpAddr) -> bool {
        self.clinic_networks.iter().any(|n| n.contains(&ip))
    }
}

/// Where the assertion signing keys live and when a new one is made.
#[derive(Debug, Clone)]
pub struct KeysConfig {
    pub dir: PathBuf,
    pub rotate_after: chrono::Duration,
    /// How often a gateway reads the key directory again (keys other replicas made).
    pub reload_every: std::time::Duration,
    /// A new key is published at once and signs only this long after it was made, so every
    /// replica (and the apps that fetch the JWKS) knows it before it is used.
    pub activation: chrono::Duration,
}

fn in_range(
    key: &str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
    fix: &str,
    problems: &mut Vec<Problem>,
) {
    if !range.contains(&value) {
        problems.push(problem(
            key,
            format!("{value} is outside {}..={}", range.start(), range.end()),
            fix,
        ));
    }
}

pub(super) fn session(raw: &RawSession, problems: &mut Vec<Problem>) -> SessionConfig {
    let name_ok = !raw.cookie_name.is_empty()
        && raw.cookie_name.len() <= 64
        && raw
            .cookie_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !name_ok {
        problems.push(problem(
            "session.cookie_name",
            format!("`{}` is not a cookie name", raw.cookie_name),
            "use 1-64 characters a-z, 0-9, _ or -",
        ));
    }
    let domain = raw.cookie_domain.trim().to_ascii_lowercase();
    if !domain.is_empty()
        && (!domain.contains('.')
            || !domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
    {
        problems.push(problem(
            "session.cookie_domain",
            format!("`{domain}` is not a domain"),
            "use the parent domain of the protected hosts, e.g. \".clinic.example\", or leave it empty",
        ));
    }
    in_range(
        "session.idle_timeout_seconds",
        raw.idle_timeout_seconds,
        5..=24 * 3600,
        "the default is 1800, 30 minutes (NIST AAL2)",
        problems,
    );
    in_range(
        "session.absolute_timeout_hours",
        raw.absolute_timeout_hours,
        1..=24 * 30,
        "the default is 12 (NIST AAL2)",
        problems,
    );
    if raw.idle_timeout_seconds > raw.absolute_timeout_hours.saturating_mul(3600) {
        problems.push(problem(
            "session.idle_timeout_seconds",
            "is longer than the absolute timeout",
            "make it shorter than absolute_timeout_hours",
        ));
    }
    in_range(
        "session.assertion_ttl_seconds",
        raw.assertion_ttl_seconds,
        10..=600,
        "the default is 60",
        problems,
    );
    in_range(
        "session.login_flow_minutes",
        raw.login_flow_minutes,
        1..=30,
        "the default is 5",
        problems,
    );
    let secs = std::time::Duration::from_secs;
    SessionConfig {
        cookie_name: raw.cookie_name.clone(),
        cookie_domain: domain.trim_start_matches('.').to_owned(),
        idle_timeout: secs(raw.idle_timeout_seconds),
        absolute_timeout: secs(raw.absolute_timeout_hours.saturating_mul(3600)),
        assertion_ttl: secs(raw.assertion_ttl_seconds),
        login_flow_ttl: secs(raw.login_flow_minutes.saturating_mul(60)),
    }
}

pub(super) fn lockout(raw: &RawLockout, problems: &mut Vec<Problem>) -> LockoutConfig {
    in_range(
        "lockout.threshold",
        u64::from(raw.threshold),
        3..=10,
        "guideline 7.0 asks for a lock after a small number of failures; the default is 5",
        problems,
    );
    in_range(
        "lockout.window_minutes",
        raw.window_minutes,
        1..=24 * 60,
        "the default is 15",
        problems,
    );
    in_range(
        "lockout.base_lock_minutes",
        raw.base_lock_minutes,
        1..=24 * 60,
        "the default is 15",
        problems,
    );
    in_range(
        "lockout.max_lock_hours",
        raw.max_lock_hours,
        1..=24 * 7,
        "the default is 24",
        problems,
    );
    in_range(
        "lockout.hard_threshold",
        u64::from(raw.hard_threshold),
        10..=100,
        "NIST SP 800-63B allows at most 100 consecutive failures; the default is 100",
        problems,
    );
    in_range(
        "lockout.ip_limit",
        raw.ip_limit,
        10..=100_000,
        "the default is 100 attempts per address per window",
        problems,
    );
    in_range(
        "lockout.ip_window_minutes",
        raw.ip_window_minutes,
        1..=24 * 60,
        "the default is 15",
        problems,
    );
    let mins = |m: u64| chrono::Duration::minutes(i64::try_from(m).unwrap_or(i64::MAX / 60_000));
    LockoutConfig {
        policy: LockoutPolicy {
            threshold: raw.threshold,
            window: mins(raw.window_minutes),
            base_lock: mins(raw.base_lock_minutes),
            max_lock: mins(raw.max_lock_hours.saturating_mul(60)),
            hard_threshold: raw.hard_threshold,
        },
        ip_limit: raw.ip_limit,
        ip_window: std::time::Duration::from_secs(raw.ip_window_minutes.saturating_mul(60)),
    }
}

pub(super) fn nets(key: &str, list: &[String], problems: &mut Vec<Problem>) -> Vec<IpNet> {
    list.iter()
        .filter_map(|s| {
            let s = s.trim();
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    problems.push(problem(
                        key,
                        format!("`{s}` is not an address or CIDR network"),
                        "use e.g. \"192.168.10.0/24\" or \"10.0.0.5\"",
                    ));
                })
                .ok()
        })
        .collect()
}

pub(super) fn network(raw: &RawNetwork, problems: &mut Vec<Problem>) -> NetworkConfig {
    let trusted_proxies = nets("network.trusted_proxies", &raw.trusted_proxies, problems);
    if trusted_proxies.iter().any(|n| n.prefix_len() == 0) {
        problems.push(problem(
            "network.trusted_proxies",
            "trusting every address lets any client forge X-Forwarded-* headers",
            "list only the addresses of your reverse proxies",
        ));
    }
    NetworkConfig {
        trusted_proxies,
        clinic_networks: nets("network.clinic_networks", &raw.clinic_networks, problems),
    }
}

pub(super) fn keys(
    raw: &RawKeys,
    data_dir: &std::path::Path,
    problems: &mut Vec<Problem>,
) -> KeysConfig {
    in_range(
        "keys.rotate_after_days",
        raw.rotate_after_days,
        1..=3650,
        "the default is 90",
        problems,
    );
    in_range(
        "keys.reload_seconds",
        raw.reload_seconds,
        1..=3600,
        "the default is 10",
        problems,
    );
    in_range(
        "keys.activation_seconds",
        raw.activation_seconds,
        0..=86_400,
        "the default is 60; keep it above reload_seconds",
        problems,
    );
    KeysConfig {
        dir: raw.dir.clone().unwrap_or_else(|| data_dir.join("keys")),
        rotate_after: chrono::Duration::days(i64::try_from(raw.rotate_after_days).unwrap_or(90)),
        reload_every: std::time::Duration::from_secs(raw.reload_seconds),
        activation: chrono::Duration::seconds(i64::try_from(raw.activation_seconds).unwrap_or(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    fn keys_of(toml: &str) -> Vec<String> {
        match Config::from_toml_str(toml) {
            Ok(_) => vec![],
            Err(e) => e.problems.into_iter().map(|p| p.key).collect(),
        }
    }

    #[test]
    fn defaults_follow_the_brief() {
        let c = Config::from_toml_str("").unwrap();
        assert_eq!(c.session.idle_timeout.as_secs(), 30 * 60);
        assert_eq!(c.session.absolute_timeout.as_secs(), 12 * 3600);
        assert_eq!(c.lockout.policy, crate::lockout::LockoutPolicy::default());
        assert!(c.network.is_trusted_proxy("127.0.0.1".parse().unwrap()));
        assert!(!c.network.is_trusted_proxy("192.0.2.1".parse().unwrap()));
        assert!(c.keys.dir.ends_with("keys"));
    }

    #[test]
    fn bad_gateway_settings_are_each_reported() {
        let keys = keys_of(
            "[session]\ncookie_name = \"a b\"\nidle_timeout_seconds = 0\n\
             [lockout]\nthreshold = 50\nhard_threshold = 1000\n\
             [network]\ntrusted_proxies = [\"0.0.0.0/0\", \"not-an-ip\"]\nclinic_networks = [\"10.0.0.0/33\"]\n",
        );
        for k in [
            "session.cookie_name",
            "session.idle_timeout_seconds",
            "lockout.threshold",
            "lockout.hard_threshold",
            "network.trusted_proxies",
            "network.clinic_networks",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} missing in {keys:?}");
        }
    }

    #[test]
    fn clinic_networks_accept_single_addresses() {
        let c = Config::from_toml_str(
            "[network]\nclinic_networks = [\"10.1.2.3\", \"192.168.0.0/16\"]",
        )
        .unwrap();
        assert!(c.network.is_clinic("10.1.2.3".parse().unwrap()));
        assert!(c.network.is_clinic("192.168.44.1".parse().unwrap()));
        assert!(!c.network.is_clinic("10.1.2.4".parse().unwrap()));
    }
}
