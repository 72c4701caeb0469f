//! The audit chain's state for the console, kept up to date without making anyone wait: the
//! verifier remembers where it stopped, a page checks the few rows added since inline, and a
//! long way behind (a fresh gateway over a large log) is caught up by a background task while
//! pages show the state so far.

use std::sync::{Arc, RwLock};

use super::chain::{Report, Verifier};
use crate::store::{AuditQuery, AuditStore, StoreError};

const BATCH: u64 = super::WALK_BATCH;

/// What a page shows: the report so far and whether it reaches the newest row.
#[derive(Debug, Clone)]
pub struct ChainView {
    pub report: Report,
    pub complete: bool,
}

#[derive(Debug, Default)]
pub struct ChainWatch {
    verifier: tokio::sync::Mutex<Verifier>,
    snapshot: RwLock<Option<Report>>,
}

impl ChainWatch {
    fn publish(&self, r: &Report) {
        if let Ok(mut s) = self.snapshot.write() {
            *s = Some(r.clone());
        }
    }

    /// Every row up to here is verified (as far as the verifier has got).
    pub fn verified_up_to(&self) -> i64 {
        self.snapshot().verified_up_to
    }

    fn snapshot(&self) -> Report {
        self.snapshot
            .read()
            .ok()
            .and_then(|s| s.clone())
            .unwrap_or_else(|| Verifier::new().report())
    }

    /// Feed batches until the newest row (or `max_batches`); true when it got there.
    async fn catch_up(
        &self,
        v: &mut Verifier,
        store: &dyn AuditStore,
        max_batches: usize,
    ) -> Result<bool, StoreError> {
        for _ in 0..max_batches {
            let rows = store
                .query_audit(&AuditQuery {
                    after_seq: Some(v.last_seq()),
                    limit: Some(BATCH),
                    ..AuditQuery::default()
                })
                .await?;
            for r in &rows {
                v.feed(r);
            }
            self.publish(&v.report());
            if (rows.len() as u64) < BATCH {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Verify everything not yet verified, in the background.
    pub fn spawn_catch_up(self: &Arc<Self>, store: Arc<dyn AuditStore>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut v = me.verifier.lock().await;
            if let Err(e) = me.catch_up(&mut v, store.as_ref(), usize::MAX).await {
                tracing::warn!(error = %e, "verifying the audit chain in the background failed");
            }
        });
    }

    /// The state for a page: exact when at most one batch behind, otherwise the state so far
    /// while a background task catches up.
    pub async fn view(
        self: &Arc<Self>,
        store: Arc<dyn AuditStore>,
    ) -> Result<ChainView, StoreError> {
        let Ok(mut v) = self.verifier.try_lock() else {
            return Ok(ChainView {
                report: self.snapshot(),
                complete: false,
            });
        };
        if self.catch_up(&mut v, store.as_ref(), 1).await? {
            return Ok(ChainView {
                report: v.report(),
                complete: true,
            });
        }
        drop(v);
        self.spawn_catch_up(store);
        Ok(ChainView {
            report: self.snapshot(),
            complete: false,
        })
    }
}
