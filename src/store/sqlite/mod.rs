//! The SQLite store: one file, WAL journal, foreign keys on, a busy timeout, `synchronous =
//! FULL` so a committed audit row survives a power cut, and embedded migrations run at open.

mod accounts;
mod audit;
mod classes;
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
            private_dir(dir)?;
        }
        if mode == OpenMode::CreateAndMigrate {
            private_file(path)?;
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

/// The data directory: created 0700 when missing. An existing one is left as the operator
/// made it (it may be shared, like /var/lib), with a warning when others can enter it.
fn private_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            if let Ok(m) = std::fs::metadata(dir)
                && m.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(dir = %dir.display(), mode = format!("{:o}", m.permissions().mode() & 0o777), "the data directory is open to other users; 0700 is advised");
            }
        }
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| {
        StoreError::Unavailable(format!("cannot create directory {}: {e}", dir.display()))
    })
}

/// The database file 0600 before SQLite opens it: SQLite gives its `-wal` and `-shm` files
/// the database file's mode, so all three stay private. Files from before are tightened.
fn private_file(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let fail = |e: std::io::Error| {
            StoreError::Unavailable(format!("cannot create {}: {e}", path.display()))
        };
        if !path.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(fail)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", path.display()));
            if let Ok(m) = std::fs::metadata(&p)
                && m.permissions().mode() & 0o077 != 0
            {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                    .map_err(fail)?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
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
