//! Opening the store on PostgreSQL: the URL (with `sslrootcert` from `[store]
//! postgres_ca_file`), a pool of `postgres_max_connections`, a start that waits up to
//! `connect_timeout_seconds` for the server, and the PostgreSQL migrations (unless a
//! migration role runs them once: `[store] migrate = false`, `sekimori store migrate`).

use std::time::{Duration, Instant};

use sqlx::ConnectOptions as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

use super::{Dialect, POSTGRES_MIGRATOR, SqlStore, install_drivers, map_err, migrate};
use crate::config::PostgresConfig;
use crate::store::StoreError;

fn options(pg: &PostgresConfig) -> Result<AnyConnectOptions, StoreError> {
    let mut url = url::Url::parse(pg.url.expose())
        .map_err(|e| StoreError::Unavailable(format!("store.postgres_url: {e}")))?;
    if let Some(ca) = &pg.ca_file {
        url.query_pairs_mut()
            .append_pair("sslrootcert", &ca.to_string_lossy());
    }
    AnyConnectOptions::from_url(&url).map_err(map_err)
}

/// Without migrating, the schema must already be the one this build needs: a gateway of a
/// newer version does not run on an old schema (run `sekimori store migrate` first).
async fn check_migrated(pool: &sqlx::AnyPool) -> Result<(), StoreError> {
    let need = POSTGRES_MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let have: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot read the schema version ({e}): run `sekimori store migrate` with a role that may create tables"
                ))
            })?;
    let have = have.unwrap_or(0);
    if have < need {
        return Err(StoreError::Unavailable(format!(
            "the database schema is at version {have}, this gateway needs {need}: run `sekimori store migrate` with a role that may change the schema"
        )));
    }
    Ok(())
}

/// Connect (retrying while the server is not up yet) and migrate.
pub async fn open(pg: &PostgresConfig) -> Result<SqlStore, StoreError> {
    open_with(pg, pg.migrate).await
}

/// The same, migrating whatever `[store] migrate` says (`sekimori store migrate`).
pub async fn open_with(pg: &PostgresConfig, run_migrations: bool) -> Result<SqlStore, StoreError> {
    install_drivers();
    let options = options(pg)?;
    let deadline = Instant::now() + pg.connect_timeout;
    let mut wait = Duration::from_millis(200);
    let pool = loop {
        let attempt = AnyPoolOptions::new()
            .max_connections(pg.max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await;
        match attempt {
            Ok(pool) => break pool,
            Err(e) if Instant::now() + wait < deadline => {
                tracing::warn!(error = %e, "PostgreSQL not reachable yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(map_err(e)),
        }
    };
    if run_migrations {
        migrate(&pool, &POSTGRES_MIGRATOR).await?;
    } else {
        check_migrated(&pool).await?;
    }
    Ok(SqlStore {
        pool,
        dialect: Dialect::Postgres,
        path: None,
    })
}
