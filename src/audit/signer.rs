//! Signing checkpoints on a schedule: every `[audit] checkpoint_every_rows` rows or
//! `checkpoint_every_minutes` minutes, whichever comes first, and at a clean shutdown. The
//! signer checks the rows since the last checkpoint before it signs a new head, so it never
//! puts its signature on a chain that was cut or rewritten after a signed head: it refuses,
//! says why in `/readyz` and the report, and `audit verify` names the damage.

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::chain::Verifier;
use super::checkpoint::{Checkpoint, Source, parse_lines};
use crate::clock::Clock;
use crate::config::audit::AuditConfig;
use crate::crypto::ed25519::Ed25519Key;
use crate::error::Error;
use crate::session::keys::{check_mode, private_dir, write_private};
use crate::store::{AuditQuery, AuditStore};

const BATCH: u64 = super::WALK_BATCH;

/// Load the audit key, creating it only when `create` allows (a store with no checkpoint yet:
/// a new key for a store with checkpoints would make every earlier one look forged).
pub fn load_key(path: &Path, create: bool) -> Result<Ed25519Key, Error> {
    if !path.exists() {
        if !create {
            return Err(Error::Config(format!(
                "the audit key {} is missing while the database holds checkpoints signed with it: restore it from its backup",
                path.display()
            )));
        }
        if let Some(dir) = path.parent() {
            private_dir(dir)?;
        }
        write_private(path, &Ed25519Key::generate().to_pem())?;
    }
    check_mode(path, 0o600)?;
    let pem = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    Ed25519Key::from_pem(&pem).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

/// Whether a new checkpoint is due: rows were added since the last one, and there are
/// `every_rows` of them or `every` has passed since `since`.
pub fn due(rows_since: i64, since: DateTime<Utc>, now: DateTime<Utc>, cfg: &AuditConfig) -> bool {
    rows_since > 0
        && (rows_since >= i64::try_from(cfg.checkpoint_every_rows).unwrap_or(i64::MAX)
            || now - since >= cfg.checkpoint_every)
}

/// What the console, `/readyz` and the report show.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SignerStatus {
    pub last: Option<Checkpoint>,
    /// Why the last attempt did not sign (a broken chain, a store error).
    pub refused: Option<String>,
    /// Why the last copy to the checkpoint file failed.
    pub file_error: Option<String>,
}

/// Signs checkpoints with the audit key.
#[derive(Debug)]
pub struct Signer {
    store: Arc<dyn AuditStore>,
    key: Ed25519Key,
    file: PathBuf,
    config: AuditConfig,
    status: Mutex<SignerStatus>,
}

impl Signer {
    pub fn new(store: Arc<dyn AuditStore>, key: Ed25519Key, config: &AuditConfig) -> Self {
        Self {
            store,
            key,
            file: config.checkpoint_file.clone(),
            config: config.clone(),
            status: Mutex::default(),
        }
    }

    pub fn public_key(&self) -> &[u8; 32] {
        self.key.public_key()
    }

    pub fn status(&self) -> SignerStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn set(&self, f: impl FnOnce(&mut SignerStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    /// Check the rows after the last checkpoint and sign the head they reach. `None` when no
    /// row was added since.
    pub async fn sign_now(&self, now: DateTime<Utc>) -> Result<Option<Checkpoint>, Error> {
        let result = self.sign_inner(now).await;
        match &result {
            Ok(Some(c)) => self.set(|s| {
                s.last = Some(c.clone());
                s.refused = None;
            }),
            Ok(None) => self.set(|s| s.refused = None),
            Err(e) => {
                tracing::error!(error = %e, "audit checkpoint not signed");
                let why = e.to_string();
                self.set(|s| s.refused = Some(why));
            }
        }
        // Copy whatever the file lacks, this checkpoint or one an earlier failure left out.
        if let Err(e) = self.sync_file().await {
            tracing::error!(file = %self.file.display(), error = %e, "checkpoint file not written");
            let why = e.to_string();
            self.set(|s| s.file_error = Some(why));
        } else {
            self.set(|s| s.file_error = None);
        }
        result
    }

    async fn sign_inner(&self, now: DateTime<Utc>) -> Result<Option<Checkpoint>, Error> {
        let last = self.store.last_checkpoint().await?;
        // Checkpoints removed from the database are still in the file: never sign over them.
        if let Some(f) = last_in_file(&self.file)?
            && last.as_ref().is_none_or(|l| l.seq < f.seq)
        {
            return Err(Error::Invalid(format!(
                "the checkpoint at row {} is in {} but not in the database: run `sekimori audit verify`",
                f.seq,
                self.file.display()
            )));
        }
        let mut v = match &last {
            Some(c) if !c.verifies_with(self.key.public_key()) => {
                return Err(Error::Invalid(format!(
                    "the newest checkpoint (row {}) is not signed by this audit key",
                    c.seq
                )));
            }
            Some(c) => Verifier::resume(c.seq, &c.hash),
            None => Verifier::new(),
        };
        let start = v.last_seq();
        let mut head: Option<(i64, String)> = None;
        loop {
            let rows = self
                .store
                .query_audit(&AuditQuery {
                    after_seq: Some(v.last_seq()),
                    limit: Some(BATCH),
                    ..AuditQuery::default()
                })
                .await?;
            for r in &rows {
                v.feed(r);
                head = Some((r.seq, r.hash.clone()));
            }
            if (rows.len() as u64) < BATCH {
                break;
            }
        }
        let report = v.finish();
        if let Some(p) = report.problems.first() {
            return Err(Error::Invalid(format!(
                "the chain after row {start} is broken ({}): run `sekimori audit verify`",
                p.describe_en()
            )));
        }
        let Some((seq, hash)) = head else {
            let newest = self.store.head_seq().await?;
            if newest < start {
                return Err(Error::Invalid(format!(
                    "rows {}-{start} are missing after a signed checkpoint: run `sekimori audit verify`",
                    newest + 1
                )));
            }
            return Ok(None);
        };
        let c = Checkpoint::sign(&self.key, seq, &hash, &crate::clock::to_jst_string(now));
        if !self.store.add_checkpoint(&c).await? {
            // Another process signed this head first; its checkpoint stands.
            return Ok(self.store.last_checkpoint().await?);
        }
        tracing::info!(seq, "audit checkpoint signed");
        Ok(Some(c))
    }

    /// Append to the file every stored checkpoint newer than the file's last line.
    async fn sync_file(&self) -> Result<(), Error> {
        let in_file = last_in_file(&self.file)?.map_or(0, |c| c.seq);
        let missing: Vec<Checkpoint> = self
            .store
            .checkpoints()
            .await?
            .into_iter()
            .filter(|c| c.seq > in_file)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let io = |e| Error::io(format!("appending to {}", self.file.display()), e);
        let mut text = String::new();
        for c in &missing {
            text.push_str(&c.to_line());
            text.push('\n');
        }
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&self.file).map_err(io)?;
        // One write of whole lines: a second process appending at the same time (a CLI
        // `audit checkpoint create`) cannot interleave inside a line.
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(io)
    }

    /// Sign when due (looked at a second after new rows, and at least every 30 s), and once
    /// more when the gateway stops (`shutdown`).
    pub fn spawn(
        self: Arc<Self>,
        clock: Arc<dyn Clock>,
        mut head: tokio::sync::watch::Receiver<i64>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let started = clock.now();
            if let Ok(last) = self.store.last_checkpoint().await {
                self.set(|s| s.last = last);
            }
            loop {
                let now = clock.now();
                match self.is_due(now, started).await {
                    Ok(true) => {
                        let _ = self.sign_now(now).await;
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "checking whether a checkpoint is due"),
                }
                tokio::select! {
                    // A burst of rows is looked at once, a second later, not row by row.
                    _ = head.changed() => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
                    _ = shutdown.changed() => {
                        let _ = self.sign_now(clock.now()).await;
                        return;
                    }
                }
            }
        })
    }

    async fn is_due(&self, now: DateTime<Utc>, started: DateTime<Utc>) -> Result<bool, Error> {
        let last = self.store.last_checkpoint().await?;
        let head = self.store.head_seq().await?;
        let (last_seq, since) = match &last {
            Some(c) => (
                c.seq,
                DateTime::parse_from_rfc3339(&c.at).map_or(started, |t| t.with_timezone(&Utc)),
            ),
            None => (0, started),
        };
        Ok(due(head - last_seq, since, now, &self.config))
    }
}

/// The file's last checkpoint (none when the file is absent or empty). Reads only the tail:
/// the file grows for years.
pub fn last_in_file(path: &Path) -> Result<Option<Checkpoint>, Error> {
    let io = |e| Error::io(format!("reading {}", path.display()), e);
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let len = f.metadata().map_err(io)?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(4096)))
        .map_err(io)?;
    let mut tail = String::new();
    f.read_to_string(&mut tail).map_err(io)?;
    let (cs, _) = parse_lines(&tail, Source::File);
    Ok(cs.into_iter().max_by_key(|c| c.seq))
}

/// A file's checkpoints and the problems of its unreadable lines.
pub type Parsed = (Vec<Checkpoint>, Vec<super::checkpoint::CheckpointProblem>);

/// Every checkpoint in a file (none when it does not exist), with its unreadable lines.
pub fn read_file(path: &Path, source: Source) -> Result<Option<Parsed>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(parse_lines(&text, source))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn cfg() -> AuditConfig {
        crate::config::Config::from_toml_str("")
            .unwrap()
            .audit
            .clone()
    }

    #[test]
    fn due_after_enough_rows_or_enough_time_and_never_without_rows() {
        let c = cfg();
        let t0 = Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap();
        assert!(!due(0, t0, t0 + chrono::Duration::days(1), &c));
        assert!(!due(999, t0, t0 + chrono::Duration::minutes(59), &c));
        assert!(due(1000, t0, t0, &c));
        assert!(due(1, t0, t0 + chrono::Duration::minutes(60), &c));
    }

    #[test]
    fn the_key_is_created_only_when_allowed_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit-key").join("checkpoint.pem");
        let err = load_key(&path, false).unwrap_err().to_string();
        assert!(err.contains("restore it from its backup"), "{err}");
        let k = load_key(&path, true).unwrap();
        assert_eq!(load_key(&path, false).unwrap().thumbprint(), k.thumbprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn the_tail_of_a_long_file_gives_its_last_seq() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.jsonl");
        assert_eq!(last_in_file(&path).unwrap(), None);
        let k = Ed25519Key::generate();
        let text: String = (1..=200)
            .map(|s| Checkpoint::sign(&k, s, "h", "2026-12-06T00:00:00.000+09:00").to_line() + "\n")
            .collect();
        std::fs::write(&path, text).unwrap();
        assert_eq!(last_in_file(&path).unwrap().map(|c| c.seq), Some(200));
    }
}
