//! `[metrics]`: who may read `GET /metrics`. The direct peer must be in `allow` (loopback by
//! default; a proxy's `X-Forwarded-For` does not count here), or send the bearer token kept
//! in `bearer_token_file`.

use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::Problem;
use super::problem::problem;
use crate::crypto::SecretString;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawMetrics {
    pub allow: Vec<String>,
    pub bearer_token_file: Option<PathBuf>,
}

impl Default for RawMetrics {
    fn default() -> Self {
        Self {
            allow: vec!["127.0.0.1/32".into(), "::1/128".into()],
            bearer_token_file: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct MetricsConfig {
    pub allow: Vec<IpNet>,
    pub bearer_token: Option<SecretString>,
}

impl MetricsConfig {
    pub fn allows(&self, peer: std::net::IpAddr) -> bool {
        self.allow.iter().any(|n| n.contains(&peer))
    }
}

pub(super) fn metrics(raw: &RawMetrics, problems: &mut Vec<Problem>) -> MetricsConfig {
    let allow = super::gateway::nets("metrics.allow", &raw.allow, problems);
    let bearer_token =
        raw.bearer_token_file
            .as_ref()
            .and_then(|p| match std::fs::read_to_string(p) {
                Ok(t) if t.trim().len() >= 16 => Some(SecretString::new(t.trim().to_owned())),
                Ok(_) => {
                    problems.push(problem(
                        "metrics.bearer_token_file",
                        format!("{} holds a token shorter than 16 characters", p.display()),
                        "put a long random token in it, e.g. `openssl rand -hex 32`",
                    ));
                    None
                }
                Err(e) => {
                    problems.push(problem(
                        "metrics.bearer_token_file",
                        format!("cannot read {}: {e}", p.display()),
                        "point it at a readable file",
                    ));
                    None
                }
            });
    MetricsConfig {
        allow,
        bearer_token,
    }
}
