//! `sekimori store migrate|copy`: run the migrations once (where the gateways' role may not
//! change the schema), and copy a whole store into another (SQLite to PostgreSQL).

use std::path::PathBuf;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::{Failure, Lang, load_config};
use crate::config::PostgresConfig;
use crate::crypto::SecretString;
use crate::store::copy::{CopyError, copy};
use crate::store::sql::{OpenMode, SqlStore, postgres};

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Run the migrations on the configured store, or on `--url` (a role that may change
    /// the schema), then exit. Gateways with `[store] migrate = false` rely on this.
    Migrate {
        #[arg(long)]
        url: Option<String>,
    },
    /// Copy everything from one store into another: accounts, password history, factors,
    /// devices, windows, and the audit chain intact (verified at the end).
    Copy {
        /// `sqlite:PATH` or `postgres://…`
        #[arg(long)]
        from: String,
        /// `postgres://…` (or `postgres:postgres://…`), or `sqlite:PATH`
        #[arg(long)]
        to: String,
        /// Go on with an interrupted copy into a target that holds part of this source.
        #[arg(long)]
        resume: bool,
    },
}

fn pg(url: &str) -> PostgresConfig {
    PostgresConfig {
        url: SecretString::new(url.to_owned()),
        ca_file: None,
        max_connections: 4,
        connect_timeout: std::time::Duration::from_secs(10),
        migrate: true,
    }
}

/// Open `sqlite:PATH` or a PostgreSQL URL; a target SQLite file may be created.
async fn open(spec: &str, target: bool) -> Result<SqlStore, Failure> {
    let spec = spec
        .strip_prefix("postgres:")
        .filter(|r| r.starts_with("postgres"))
        .unwrap_or(spec);
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        return Ok(postgres::open_with(&pg(spec), true).await?);
    }
    match spec.strip_prefix("sqlite:") {
        Some(path) => {
            let mode = if target {
                OpenMode::CreateAndMigrate
            } else {
                OpenMode::MustExist
            };
            Ok(SqlStore::open(&PathBuf::from(path), mode).await?)
        }
        None => Err(Failure::new(
            2,
            format!("`{spec}`: use sqlite:PATH or postgres://USER@HOST/DB"),
        )),
    }
}

pub async fn run(cmd: StoreCommand, config: &Option<PathBuf>, lang: Lang) -> Result<(), Failure> {
    match cmd {
        StoreCommand::Migrate { url } => {
            let store = match url {
                Some(u) => open(&u, true).await?,
                None => {
                    let c = load_config(config)?;
                    match &c.store.backend {
                        crate::config::StoreBackend::Postgres(p) => {
                            postgres::open_with(p, true).await?
                        }
                        crate::config::StoreBackend::Sqlite => {
                            SqlStore::open(&c.store.sqlite_path, OpenMode::CreateAndMigrate).await?
                        }
                    }
                }
            };
            store.close().await;
            println!(
                "{}",
                lang.pick("migrations applied", "マイグレーションを適用しました")
            );
            Ok(())
        }
        StoreCommand::Copy { from, to, resume } => {
            let source = open(&from, false).await?;
            let target = open(&to, true).await?;
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{msg:>20} [{bar:40}] {pos}/{len}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            let result = copy(&source, &target, resume, |table, done, total| {
                if bar.message() != table {
                    bar.set_message(table.to_owned());
                    bar.set_length(total);
                }
                bar.set_position(done);
            })
            .await;
            bar.finish_and_clear();
            source.close().await;
            target.close().await;
            match result {
                Ok(tables) => {
                    for t in &tables {
                        println!(
                            "{:>20}  {} {}  ({} {})",
                            t.table,
                            t.source_rows,
                            lang.pick("rows", "行"),
                            t.inserted,
                            lang.pick("inserted", "行を追加")
                        );
                    }
                    println!(
                        "{}",
                        lang.pick(
                            "copy complete: the audit chain on the target verifies and ends where the source's does",
                            "コピーが完了しました: コピー先の監査ログのハッシュチェーンは正常で、コピー元と同じ行で終わっています"
                        )
                    );
                    Ok(())
                }
                Err(e @ (CopyError::NotEmpty(_) | CopyError::OtherChain(_))) => {
                    Err(Failure::new(2, e.to_string()))
                }
                Err(CopyError::Verify(m)) => Err(Failure::new(7, m)),
                Err(CopyError::Store(e)) => Err(e.into()),
            }
        }
    }
}
