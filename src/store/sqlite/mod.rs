//! The SQLite store: one file, WAL journal, foreign keys on, a busy timeout, `synchronous =
//! FULL` so a committed audit row survives a power cut, and embedded migrations run at open.

mod accounts;
mod audit;
mod devices;
mod factors;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{StoreError, StoreHealth};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

/// How to open the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the file and its directory if missing, and migrate.
    CreateAndMigrate,
    /// The file must exist; migrate if needed (CLI commands on an installed gateway).
    MustExist,
}

impl SqliteStore {
    pub async fn open(path: &Path, mode: OpenMode) -> Result<Self, StoreError> {
        if mode == OpenMode::MustExist && !path.exists() {
            return Err(StoreError::Unavailable(format!(
                "database file {} does not exist; run `sekimori serve` once to create it, or check [store] sqlite_path",
                path.display()
            )));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(map_err)?
            .filename(path)
            .create_if_missing(mode == OpenMode::CreateAndMigrate)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(map_err)?;
        MIGRATOR.run(&pool).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(inner) => map_err(inner),
            other => StoreError::Unavailable(format!("migration failed: {other}")),
        })?;
        Ok(Self {
            pool,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl StoreHealth for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        // `BEGIN IMMEDIATE` takes the write lock: proves the file is writable, not just readable.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)?;
        sqlx::query("SELECT 1")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.rollback().await.map_err(map_err)?;
        Ok(())
    }
}

/// Translate sqlx errors into the store's vocabulary; SQLite primary result codes decide.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().and_then(|c| c.parse::<i64>().ok()).unwrap_or(0);
            let message = db.message().to_owned();
            match code & 0xff {
                8 => StoreError::ReadOnly(message),
                11 | 26 => StoreError::Corrupt(message),
                19 => StoreError::Conflict(message),
                5 | 6 => StoreError::Unavailable(format!("database is busy: {message}")),
                13 => StoreError::Unavailable(format!("disk full: {message}")),
                _ => StoreError::Unavailable(message),
            }
        }
        sqlx::Error::RowNotFound => StoreError::NotFound("row"),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => StoreError::Invalid(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}
