//! The SQL store, one implementation for two engines: SQLite (one file, WAL journal, foreign
//! keys on, a busy timeout, `synchronous = FULL` so a committed audit row survives a power
//! cut) and PostgreSQL (several gateways sharing one database). Queries are written once with
//! `?N` placeholders and run through sqlx's `Any` driver; on PostgreSQL the placeholders
//! become `$N`, and the few statements that differ between the engines ask `Dialect`. Each
//! engine has its own embedded migrations, run at open.

mod accounts;
mod audit;
mod classes;
mod cols;
mod devices;
mod factors;
pub mod postgres;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, AssertSqlSafe, ConnectOptions as _, Connection as _, Executor as _};

use super::{StoreError, StoreHealth};

// The two migration sets repeat each other's tables on purpose: the dialects differ (types,
// triggers, identity columns), and an applied migration is never edited, since sqlx checks
// each one's checksum. A new table is written once for each dialect.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations_pg");

/// Which engine a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// SQL text as sqlx takes it.
pub(crate) type Sql = AssertSqlSafe<Cow<'static, str>>;

/// `?N` placeholders as `$N`. Queries are static text, so each is translated once and kept.
fn postgres_text(text: &'static str) -> &'static str {
    static CACHE: OnceLock<RwLock<HashMap<usize, &'static str>>> = OnceLock::new();
    let cache = CACHE.get_or_init(RwLock::default);
    let key = text.as_ptr() as usize ^ text.len().rotate_left(48);
    if let Some(t) = cache.read().ok().and_then(|c| c.get(&key).copied()) {
        return t;
    }
    let translated: &'static str = Box::leak(text.replace('?', "$").into_boxed_str());
    if let Ok(mut c) = cache.write() {
        c.insert(key, translated);
    }
    translated
}

impl Dialect {
    /// A query's text for this engine.
    pub(crate) fn sql(self, text: &'static str) -> Sql {
        match self {
            Dialect::Sqlite => AssertSqlSafe(Cow::Borrowed(text)),
            Dialect::Postgres => AssertSqlSafe(Cow::Borrowed(postgres_text(text))),
        }
    }

    /// Text built at run time (the audit filters), translated the same way.
    pub(crate) fn sql_owned(self, text: String) -> Sql {
        match self {
            Dialect::Sqlite => AssertSqlSafe(Cow::Owned(text)),
            Dialect::Postgres => AssertSqlSafe(Cow::Owned(text.replace('?', "$"))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// The SQLite file (none on PostgreSQL).
    path: Option<PathBuf>,
}

/// How to open the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the file and its directory if missing, and migrate.
    CreateAndMigrate,
    /// The file must exist; migrate if needed (CLI commands on an installed gateway).
    MustExist,
}

impl SqlStore {
    /// Open the store the configuration names.
    pub async fn open_config(
        config: &crate::config::StoreConfig,
        mode: OpenMode,
    ) -> Result<Self, StoreError> {
        match &config.backend {
            crate::config::StoreBackend::Sqlite => Self::open(&config.sqlite_path, mode).await,
            crate::config::StoreBackend::Postgres(pg) => postgres::open(pg).await,
        }
    }

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
        install_drivers();
        let mut url =
            url::Url::parse("sqlite://").map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let encoded: String =
            percent_encoding::utf8_percent_encode(&path.to_string_lossy(), PATH_ESCAPES)
                .to_string();
        let text = format!(
            "sqlite://{encoded}?mode={}",
            if mode == OpenMode::CreateAndMigrate {
                "rwc"
            } else {
                "rw"
            }
        );
        url = url::Url::parse(&text).unwrap_or(url);
        let options = AnyConnectOptions::from_url(&url).map_err(map_err)?;
        // One connection first: a file that is not a database, or that cannot be written,
        // is named precisely here instead of as a pool that never fills.
        let mut first = sqlx::AnyConnection::connect_with(&options)
            .await
            .map_err(map_err)?;
        first.execute(SQLITE_PRAGMAS).await.map_err(map_err)?;
        sqlx::Connection::close(first).await.map_err(map_err)?;
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(SQLITE_PRAGMAS).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(map_err)?;
        migrate(&pool, &SQLITE_MIGRATOR).await?;
        Ok(Self {
            pool,
            dialect: Dialect::Sqlite,
            path: Some(path.to_owned()),
        })
    }

    /// The SQLite file, if this store is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) fn sql(&self, text: &'static str) -> Sql {
        self.dialect.sql(text)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A transaction that holds the write lock for its whole life: `BEGIN IMMEDIATE` on
    /// SQLite; on PostgreSQL a transaction-scoped advisory lock on `lock` (one writer at a
    /// time across every gateway and CLI process).
    pub(crate) async fn begin_exclusive(
        &self,
        lock: i64,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        match self.dialect {
            Dialect::Sqlite => self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(map_err),
            Dialect::Postgres => {
                let mut tx = self.pool.begin().await.map_err(map_err)?;
                sqlx::query(self.sql("SELECT pg_advisory_xact_lock(?1)"))
                    .bind(lock)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                Ok(tx)
            }
        }
    }
}

/// Advisory-lock keys of the exclusive sections (PostgreSQL).
pub(crate) mod locks {
    /// Appending to the audit chain.
    pub const AUDIT: i64 = 0x5345_4b49_4155_4449;
    /// Changing an account's password and its history.
    pub const PASSWORD: i64 = 0x5345_4b49_5041_5353;
}

/// Every SQLite connection: WAL so readers never wait for the writer; FULL so a committed
/// row is on disk; foreign keys enforced; a busy timeout instead of failing at once on the
/// write lock. Each connection's page cache is held to 512 KiB (SQLite's default is 2 MiB):
/// the kernel's page cache already holds the file, and four full caches were a quarter of
/// the gateway's resident memory.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -512;";

/// Characters escaped in the file part of a `sqlite://` URL.
const PATH_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'?')
    .add(b'#')
    .add(b'%');

fn install_drivers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

async fn migrate(pool: &AnyPool, migrator: &sqlx::migrate::Migrator) -> Result<(), StoreError> {
    migrator.run(pool).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::Execute(inner) => map_err(inner),
        other => StoreError::Unavailable(format!("migration failed: {other}")),
    })
}

#[async_trait]
impl StoreHealth for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        match self.dialect {
            // `BEGIN IMMEDIATE` takes the write lock: proves the file is writable, not just
            // readable.
            Dialect::Sqlite => {
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
            }
            // A server in recovery (a standby) answers reads but takes no writes.
            Dialect::Postgres => {
                let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map_err)?;
                if standby {
                    return Err(StoreError::ReadOnly(
                        "the PostgreSQL server is a standby (in recovery)".into(),
                    ));
                }
            }
        }
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

/// Translate sqlx errors into the store's vocabulary: the error kind sqlx gives for both
/// engines first, then SQLite's primary result codes or PostgreSQL's SQLSTATE classes.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    let mapped = classify(e);
    if matches!(
        mapped,
        StoreError::Unavailable(_) | StoreError::ReadOnly(_) | StoreError::Corrupt(_)
    ) {
        crate::metrics::store_error(mapped.code());
    }
    mapped
}

fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            let message = db.message().to_owned();
            if matches!(
                db.kind(),
                sqlx::error::ErrorKind::UniqueViolation
                    | sqlx::error::ErrorKind::ForeignKeyViolation
                    | sqlx::error::ErrorKind::NotNullViolation
                    | sqlx::error::ErrorKind::CheckViolation
            ) {
                return StoreError::Conflict(message);
            }
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            if let Ok(n) = code.parse::<i64>()
                && code.len() != 5
            {
                // SQLite: the primary result code is the low byte.
                return match n & 0xff {
                    8 => StoreError::ReadOnly(message),
                    11 | 26 => StoreError::Corrupt(message),
                    19 => StoreError::Conflict(message),
                    5 | 6 => StoreError::Unavailable(format!("database is busy: {message}")),
                    13 => StoreError::Unavailable(format!("disk full: {message}")),
                    _ => StoreError::Unavailable(message),
                };
            }
            // PostgreSQL SQLSTATE.
            match code.get(..2) {
                Some("23") => StoreError::Conflict(message),
                _ if code == "25006" => StoreError::ReadOnly(message),
                Some("53") => StoreError::Unavailable(format!("out of resources: {message}")),
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
