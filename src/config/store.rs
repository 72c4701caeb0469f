//! `[store]`: the durable store. SQLite (one file; one gateway) or PostgreSQL (one database
//! that several gateways share). The PostgreSQL URL may hold a password: it can come from a
//! file (`postgres_url_file`), and it is kept as a secret (redacted in `Debug`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Problem;
use super::problem::problem;
use crate::crypto::SecretString;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawStore {
    pub backend: String,
    pub sqlite_path: PathBuf,
    pub postgres_url: Option<String>,
    pub postgres_url_file: Option<PathBuf>,
    pub postgres_ca_file: Option<PathBuf>,
    pub postgres_max_connections: u32,
    pub connect_timeout_seconds: u64,
    pub migrate: bool,
}

impl Default for RawStore {
    fn default() -> Self {
        Self {
            backend: "sqlite".into(),
            sqlite_path: PathBuf::from("./data/sekimori.db"),
            postgres_url: None,
            postgres_url_file: None,
            postgres_ca_file: None,
            postgres_max_connections: 10,
            connect_timeout_seconds: 30,
            migrate: true,
        }
    }
}

/// Which engine holds the durable store.
#[derive(Debug, Clone)]
pub enum StoreBackend {
    Sqlite,
    Postgres(PostgresConfig),
}

#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/db?sslmode=verify-full`.
    pub url: SecretString,
    /// The CA that signed the server's certificate (`sslrootcert`).
    pub ca_file: Option<PathBuf>,
    pub max_connections: u32,
    /// How long a start waits for the server to answer before giving up.
    pub connect_timeout: std::time::Duration,
    /// Run the migrations at start (off where a migration role runs them once).
    pub migrate: bool,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub backend: StoreBackend,
    /// The SQLite file; its directory also holds the gateway's other files (keys, the
    /// checkpoint file, the control socket) whichever engine holds the store.
    pub sqlite_path: PathBuf,
}

impl StoreConfig {
    /// `sqlite PATH` or `postgres HOST/DB` (no password), for people.
    pub fn describe(&self) -> String {
        match &self.backend {
            StoreBackend::Sqlite => format!("sqlite {}", self.sqlite_path.display()),
            StoreBackend::Postgres(pg) => {
                let url = url::Url::parse(pg.url.expose()).ok();
                let host = url
                    .as_ref()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_else(|| "?".into());
                let db = url
                    .as_ref()
                    .map(|u| u.path().trim_start_matches('/').to_owned())
                    .unwrap_or_default();
                format!("postgres {host}/{db}")
            }
        }
    }
}

pub(super) fn store(raw: &RawStore, problems: &mut Vec<Problem>) -> StoreConfig {
    if raw.sqlite_path.as_os_str().is_empty() {
        problems.push(problem(
            "store.sqlite_path",
            "is empty",
            "e.g. ./data/sekimori.db",
        ));
    }
    let backend = match raw.backend.as_str() {
        "sqlite" => StoreBackend::Sqlite,
        "postgres" => {
            let from_file =
                raw.postgres_url_file
                    .as_ref()
                    .and_then(|p| match std::fs::read_to_string(p) {
                        Ok(s) => Some(s.trim().to_owned()),
                        Err(e) => {
                            problems.push(problem(
                                "store.postgres_url_file",
                                format!("cannot read {}: {e}", p.display()),
                                "point it at a readable file",
                            ));
                            None
                        }
                    });
            let url = from_file.or_else(|| raw.postgres_url.clone());
            match &url {
                Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                    if url::Url::parse(u).is_err() {
                        problems.push(problem(
                            "store.postgres_url",
                            "is not a valid URL",
                            "e.g. postgres://sekimori@db.clinic.example/sekimori?sslmode=verify-full",
                        ));
                    }
                }
                Some(_) => problems.push(problem(
                    "store.postgres_url",
                    "is not a postgres:// URL",
                    "e.g. postgres://sekimori@db.clinic.example/sekimori?sslmode=verify-full",
                )),
                None => problems.push(problem(
                    "store.postgres_url",
                    "backend \"postgres\" needs a URL",
                    "set store.postgres_url or store.postgres_url_file",
                )),
            }
            if let Some(ca) = &raw.postgres_ca_file
                && !ca.is_file()
            {
                problems.push(problem(
                    "store.postgres_ca_file",
                    format!("{} is not a readable file", ca.display()),
                    "the PEM file of the CA that signed the server's certificate",
                ));
            }
            if !(1..=1000).contains(&raw.postgres_max_connections) {
                problems.push(problem(
                    "store.postgres_max_connections",
                    format!("{} is outside 1..=1000", raw.postgres_max_connections),
                    "the default is 10",
                ));
            }
            StoreBackend::Postgres(PostgresConfig {
                url: SecretString::new(url.unwrap_or_default()),
                ca_file: raw.postgres_ca_file.clone(),
                max_connections: raw.postgres_max_connections.clamp(1, 1000),
                connect_timeout: std::time::Duration::from_secs(raw.connect_timeout_seconds),
                migrate: raw.migrate,
            })
        }
        other => {
            problems.push(problem(
                "store.backend",
                format!("unknown store backend `{other}`"),
                "use \"sqlite\" (one gateway) or \"postgres\" (several gateways)",
            ));
            StoreBackend::Sqlite
        }
    };
    StoreConfig {
        backend,
        sqlite_path: raw.sqlite_path.clone(),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn problems(toml: &str) -> Vec<String> {
        match Config::from_toml_str(toml) {
            Ok(_) => vec![],
            Err(e) => e.problems.iter().map(|p| p.key.clone()).collect(),
        }
    }

    #[test]
    fn postgres_needs_a_postgres_url_and_hides_it() {
        assert_eq!(
            problems("[store]\nbackend = \"postgres\"\n"),
            ["store.postgres_url"]
        );
        assert_eq!(
            problems("[store]\nbackend = \"postgres\"\npostgres_url = \"mysql://x\"\n"),
            ["store.postgres_url"]
        );
        let c = Config::from_toml_str(
            "[store]\nbackend = \"postgres\"\npostgres_url = \"postgres://app:s3cret@db.clinic.example:5432/sekimori\"\n",
        )
        .unwrap();
        assert_eq!(c.store.describe(), "postgres db.clinic.example/sekimori");
        assert!(!format!("{:?}", c.store).contains("s3cret"));
        assert_eq!(
            problems("[store]\nbackend = \"oracle\"\n"),
            ["store.backend"]
        );
    }
}
