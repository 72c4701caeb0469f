//! `[audit]`: signed checkpoints of the audit chain (the key kept outside the database and
//! apart from the assertion keys, each checkpoint also appended to a file outside it) and the
//! off-box copy of every row to syslog.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Problem;
use super::problem::problem;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawAudit {
    pub checkpoint_every_rows: u64,
    pub checkpoint_every_minutes: u64,
    pub checkpoint_key_file: Option<PathBuf>,
    pub checkpoint_file: Option<PathBuf>,
    pub syslog: String,
}

impl Default for RawAudit {
    fn default() -> Self {
        Self {
            checkpoint_every_rows: 1000,
            checkpoint_every_minutes: 60,
            checkpoint_key_file: None,
            checkpoint_file: None,
            syslog: String::new(),
        }
    }
}

/// Where every audit row is copied as it is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogTarget {
    /// A local syslog socket (datagrams), e.g. `/dev/log`.
    Unix(PathBuf),
    /// A collector over UDP (RFC 5426).
    Udp(String),
    /// A collector over TCP with octet-counted framing (RFC 6587).
    Tcp(String),
}

impl SyslogTarget {
    /// `unix:///dev/log`, `udp://host:514`, `tcp://host:6514`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix://") {
            return if path.starts_with('/') {
                Ok(SyslogTarget::Unix(PathBuf::from(path)))
            } else {
                Err("a unix:// target needs an absolute path, e.g. unix:///dev/log".into())
            };
        }
        let (scheme, addr) = s
            .split_once("://")
            .ok_or("use unix:///dev/log, udp://host:port or tcp://host:port")?;
        let ok = addr
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            return Err(format!("`{addr}` is not host:port"));
        }
        match scheme {
            "udp" => Ok(SyslogTarget::Udp(addr.to_owned())),
            "tcp" => Ok(SyslogTarget::Tcp(addr.to_owned())),
            other => Err(format!(
                "unknown syslog transport `{other}`: use unix, udp or tcp"
            )),
        }
    }

    /// The target as written (the key its delivery state is kept under).
    pub fn name(&self) -> String {
        match self {
            SyslogTarget::Unix(p) => format!("unix://{}", p.display()),
            SyslogTarget::Udp(a) => format!("udp://{a}"),
            SyslogTarget::Tcp(a) => format!("tcp://{a}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub checkpoint_every_rows: u64,
    pub checkpoint_every: chrono::Duration,
    /// The Ed25519 key checkpoints are signed with (PKCS#8 PEM, mode 0600).
    pub checkpoint_key_file: PathBuf,
    /// Every checkpoint is also appended here (JSON Lines), outside the database.
    pub checkpoint_file: PathBuf,
    pub syslog: Option<SyslogTarget>,
}

pub(super) fn audit(raw: &RawAudit, data_dir: &Path, problems: &mut Vec<Problem>) -> AuditConfig {
    if !(1..=1_000_000).contains(&raw.checkpoint_every_rows) {
        problems.push(problem(
            "audit.checkpoint_every_rows",
            format!("{} is outside 1..=1000000", raw.checkpoint_every_rows),
            "the default is 1000",
        ));
    }
    if !(1..=24 * 60).contains(&raw.checkpoint_every_minutes) {
        problems.push(problem(
            "audit.checkpoint_every_minutes",
            format!("{} is outside 1..=1440", raw.checkpoint_every_minutes),
            "the default is 60",
        ));
    }
    let syslog = if raw.syslog.trim().is_empty() {
        None
    } else {
        match SyslogTarget::parse(&raw.syslog) {
            Ok(t) => Some(t),
            Err(e) => {
                problems.push(problem("audit.syslog", e, "e.g. tcp://collector.clinic.example:6514, udp://127.0.0.1:514 or unix:///dev/log; \"\" for none"));
                None
            }
        }
    };
    AuditConfig {
        checkpoint_every_rows: raw.checkpoint_every_rows,
        checkpoint_every: chrono::Duration::minutes(
            i64::try_from(raw.checkpoint_every_minutes).unwrap_or(60),
        ),
        checkpoint_key_file: raw
            .checkpoint_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("audit-key").join("checkpoint.pem")),
        checkpoint_file: raw
            .checkpoint_file
            .clone()
            .unwrap_or_else(|| data_dir.join("audit-checkpoints.jsonl")),
        syslog,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_targets_parse_or_say_why_not() {
        assert_eq!(
            SyslogTarget::parse("tcp://127.0.0.1:6514"),
            Ok(SyslogTarget::Tcp("127.0.0.1:6514".into()))
        );
        assert_eq!(
            SyslogTarget::parse("unix:///dev/log"),
            Ok(SyslogTarget::Unix("/dev/log".into()))
        );
        assert_eq!(
            SyslogTarget::parse("udp://log.clinic.example:514")
                .unwrap()
                .name(),
            "udp://log.clinic.example:514"
        );
        for bad in [
            "syslog",
            "tcp://host",
            "tcp://:514",
            "http://x:80",
            "unix://dev/log",
            "tcp://h:0",
        ] {
            assert!(SyslogTarget::parse(bad).is_err(), "{bad}");
        }
        let c = crate::config::Config::from_toml_str("[audit]\nsyslog = \"tcp://nowhere\"\n");
        assert!(c.is_err());
    }
}
