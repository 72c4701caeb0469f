//! The one way rows enter the audit chain: [`Auditor`], with its group commit, deferred
//! scopes (one sign-in's rows committed together) and the factors' last uses that ride along.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::{AuditEvent, AuditRecord, PendingRecord, RideAlong};
use crate::clock::Clock;
use crate::store::{AuditStore, StoreError};

/// Appends events. Returns only once the row is committed, so a caller that answers after
/// `record` never acknowledges an action whose audit row could still be lost.
///
/// Group commit: callers queue their rows; one writer task at a time takes every row waiting
/// at that moment and appends them in one transaction (one fsync), then answers each caller
/// with its own row. Rows arriving meanwhile form the next batch. The writer is a task of its
/// own, so a caller that goes away cannot leave the others of its batch unanswered.
/// Each committed row's seq is published, so the checkpoint signer and the syslog forwarder
/// wake at once instead of polling.
#[derive(Debug, Clone)]
pub struct Auditor {
    store: Arc<dyn AuditStore>,
    clock: Arc<dyn Clock>,
    head: Arc<tokio::sync::watch::Sender<i64>>,
    queue: Arc<Mutex<Queue>>,
    /// In a deferred scope, the rows recorded so far (see [`Auditor::deferred`]).
    deferred: Option<Arc<Mutex<Vec<PendingRecord>>>>,
}

/// A row waiting for the writer, and who to tell.
type Waiting = (
    PendingRecord,
    oneshot::Sender<Result<AuditRecord, StoreError>>,
);

#[derive(Debug, Default)]
struct Queue {
    rows: Vec<Waiting>,
    /// Factors used since the last commit, with the time of their latest use.
    factor_uses: HashMap<i64, DateTime<Utc>>,
    /// Accounts signed in since the last commit, with the time of their latest sign-in.
    sign_ins: HashMap<String, DateTime<Utc>>,
    /// A writer task is running; it takes everything above before it stops.
    writing: bool,
}

/// The most rows one transaction takes; the rest wait for the next.
const MAX_BATCH: usize = 512;

/// `at` for `key`, unless a later time is already noted.
fn keep_latest<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, DateTime<Utc>>,
    key: K,
    at: DateTime<Utc>,
) {
    let latest = map.entry(key).or_insert(at);
    *latest = (*latest).max(at);
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("the audit queue is poisoned".into())
}

impl Auditor {
    pub fn new(store: Arc<dyn AuditStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            head: Arc::new(tokio::sync::watch::Sender::new(0)),
            queue: Arc::new(Mutex::new(Queue::default())),
            deferred: None,
        }
    }

    /// The seq of each row this process commits from now on.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.head.subscribe()
    }

    fn pending(&self, event: AuditEvent) -> PendingRecord {
        let at = self.clock.now();
        PendingRecord {
            event_id: crate::account::new_v7(at),
            at,
            at_text: crate::clock::to_jst_string(at),
            event,
        }
    }

    pub async fn record(&self, event: AuditEvent) -> Result<AuditRecord, StoreError> {
        let pending = self.pending(event);
        if let Some(buffer) = &self.deferred {
            buffer.lock().map_err(|_| poisoned())?.push(pending.clone());
            return Ok(AuditRecord {
                seq: 0,
                event_id: pending.event_id,
                at: pending.at,
                at_text: pending.at_text,
                event: pending.event,
                prev_hash: String::new(),
                hash: String::new(),
            });
        }
        let mut rows = self.append(vec![pending]).await?;
        rows.pop()
            .ok_or_else(|| StoreError::Invalid("the append returned no row".into()))
    }

    /// A scope whose rows are held until [`Auditor::flush`] and then committed together (a
    /// PAM code check: five commits become one). Inside it, `record` answers at once with
    /// the row unsequenced (seq 0); nothing may be acknowledged to a client before the flush.
    pub fn deferred(&self) -> Self {
        Self {
            deferred: Some(Arc::new(Mutex::new(Vec::new()))),
            ..self.clone()
        }
    }

    /// Commit the rows of a deferred scope, in the order they were recorded, in one batch.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let Some(buffer) = &self.deferred else {
            return Ok(());
        };
        let rows = std::mem::take(&mut *buffer.lock().map_err(|_| poisoned())?);
        if rows.is_empty() {
            return Ok(());
        }
        self.append(rows).await.map(|_| ())
    }

    /// A factor was used at `now`: its last use is written with the next audit commit (the
    /// one holding the row that says it was used; every use is audited), not in a
    /// transaction of its own.
    pub fn note_factor_use(&self, factor_id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut q = self.queue.lock().map_err(|_| poisoned())?;
        keep_latest(&mut q.factor_uses, factor_id, now);
        Ok(())
    }

    /// An account signed in at `now` (a session, or an allowed PAM sign-in): written with the
    /// next audit commit, which holds the row recording the sign-in when noted before it.
    pub fn note_sign_in(&self, account_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut q = self.queue.lock().map_err(|_| poisoned())?;
        keep_latest(&mut q.sign_ins, account_id.to_owned(), now);
        Ok(())
    }

    /// Queue `rows` together (they land in one batch, in order) and wait until each is
    /// durable.
    async fn append(&self, rows: Vec<PendingRecord>) -> Result<Vec<AuditRecord>, StoreError> {
        let n = rows.len() as f64;
        crate::metrics::audit_pending(n);
        let started = std::time::Instant::now();
        let mut answers = Vec::with_capacity(rows.len());
        let start = {
            let mut q = self.queue.lock().map_err(|_| poisoned())?;
            for row in rows {
                let (tx, rx) = oneshot::channel();
                q.rows.push((row, tx));
                answers.push(rx);
            }
            !std::mem::replace(&mut q.writing, true)
        };
        if start {
            tokio::spawn(self.clone().write());
        }
        let mut done = Vec::with_capacity(answers.len());
        let mut failed = None;
        for rx in answers {
            match rx.await {
                Ok(Ok(row)) => done.push(row),
                Ok(Err(e)) => failed = Some(e),
                Err(_) => {
                    failed = Some(StoreError::Unavailable(
                        "the audit writer stopped before answering".into(),
                    ))
                }
            }
        }
        let result = match failed {
            Some(e) => Err(e),
            None => Ok(done),
        };
        crate::metrics::audit_pending(-n);
        crate::metrics::audit_append(started.elapsed());
        if let Err(e) = &result {
            tracing::error!(error = %e, "audit append failed; the action is reported as failed");
        }
        result
    }

    /// The writer: batches until the queue is empty, then stops (the next `record` starts
    /// another). `writing` is cleared under the queue's lock, so no row is left behind.
    async fn write(self) {
        loop {
            let (batch, also) = {
                let Ok(mut q) = self.queue.lock() else { return };
                if q.rows.is_empty() {
                    // Ride-along writes wait for a row; they never make a commit alone.
                    q.writing = false;
                    return;
                }
                let take = q.rows.len().min(MAX_BATCH);
                let batch: Vec<Waiting> = q.rows.drain(..take).collect();
                let also = RideAlong {
                    factor_uses: q.factor_uses.drain().collect(),
                    sign_ins: q.sign_ins.drain().collect(),
                };
                (batch, also)
            };
            let (pending, waiting): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            match self.store.append_audit_batch(pending, &also).await {
                Ok(rows) => {
                    crate::metrics::audit_batch(rows.len());
                    if let Some(last) = rows.last() {
                        self.head.send_replace(last.seq);
                    }
                    for (row, tx) in rows.into_iter().zip(waiting) {
                        crate::metrics::audited(&row.event);
                        let _ = tx.send(Ok(row));
                    }
                }
                Err(e) => {
                    // Last uses and sign-in times that could not be written are not worth
                    // failing for again.
                    if !also.is_empty() {
                        tracing::warn!(error = %e, "factors' last use and sign-in times not recorded");
                    }
                    for tx in waiting {
                        let _ = tx.send(Err(e.clone()));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::FacilityId;
    use crate::audit::chain::{GENESIS, row_hash};
    use crate::audit::{EventKind, Outcome};
    use crate::store::AuditQuery;
    use crate::store::sql::{OpenMode, SqlStore};

    async fn auditor(dir: &std::path::Path) -> (Auditor, Arc<SqlStore>) {
        let store = Arc::new(
            SqlStore::open(&dir.join("a.db"), OpenMode::CreateAndMigrate)
                .await
                .unwrap(),
        );
        let clock = Arc::new(crate::clock::ManualClock::new(
            chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 6, 0, 0, 0).unwrap(),
        ));
        (Auditor::new(store.clone(), clock), store)
    }

    fn event(n: usize) -> AuditEvent {
        AuditEvent::new(
            FacilityId("default".into()),
            EventKind::AdminAction,
            Outcome::Info,
        )
        .subject(format!("row{n}"))
    }

    async fn all(store: &SqlStore) -> Vec<AuditRecord> {
        store.query_audit(&AuditQuery::default()).await.unwrap()
    }

    /// Many callers at once: each gets its own row, the chain links, nothing is lost or
    /// doubled.
    #[tokio::test]
    async fn concurrent_records_make_one_linked_chain() {
        let dir = tempfile::tempdir().unwrap();
        let (a, store) = auditor(dir.path()).await;
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..200 {
            let a = a.clone();
            tasks.spawn(async move { (n, a.record(event(n)).await.unwrap()) });
        }
        let mut answered = Vec::new();
        while let Some(r) = tasks.join_next().await {
            let (n, row) = r.unwrap();
            assert_eq!(
                row.event.subject.as_deref(),
                Some(format!("row{n}").as_str())
            );
            answered.push(row.seq);
        }
        answered.sort_unstable();
        assert_eq!(answered, (1..=200).collect::<Vec<i64>>());
        let rows = all(&store).await;
        let mut prev = GENESIS.to_owned();
        for r in &rows {
            let pending = PendingRecord {
                event_id: r.event_id,
                at: r.at,
                at_text: r.at_text.clone(),
                event: r.event.clone(),
            };
            assert_eq!(r.prev_hash, prev);
            assert_eq!(r.hash, row_hash(&prev, &pending));
            prev = r.hash.clone();
        }
    }

    /// A deferred scope writes nothing until its flush, then its rows in order, together.
    #[tokio::test]
    async fn a_deferred_scope_commits_its_rows_together_at_the_flush() {
        let dir = tempfile::tempdir().unwrap();
        let (a, store) = auditor(dir.path()).await;
        let scope = a.deferred();
        for n in 0..3 {
            assert_eq!(scope.record(event(n)).await.unwrap().seq, 0);
        }
        a.record(event(9)).await.unwrap();
        assert_eq!(all(&store).await.len(), 1, "only the row outside the scope");
        scope.flush().await.unwrap();
        let subjects: Vec<String> = all(&store)
            .await
            .into_iter()
            .filter_map(|r| r.event.subject)
            .collect();
        assert_eq!(subjects, ["row9", "row0", "row1", "row2"]);
        scope.flush().await.unwrap();
        assert_eq!(
            all(&store).await.len(),
            4,
            "a second flush writes nothing again"
        );
    }
}
