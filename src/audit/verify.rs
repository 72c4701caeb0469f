//! Verifying the whole record: the hash chain row by row, and every signed checkpoint from the
//! database, the checkpoint file and any copy kept elsewhere, against the rows they sign.
//! Used by `audit verify` and the guideline report.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use super::chain::{Report, Verifier};
use super::checkpoint::{CheckpointProblem, CheckpointReport, Inputs, Source, check, needed_rows};
use super::signer::read_file;
use crate::error::Error;
use crate::store::{AuditQuery, AuditStore};

const BATCH: u64 = super::WALK_BATCH;

/// The chain's report with the checkpoints' beside it.
#[derive(Debug, Clone, Serialize)]
pub struct FullReport {
    #[serde(flatten)]
    pub chain: Report,
    pub checkpoints: CheckpointReport,
}

impl FullReport {
    pub fn is_intact(&self) -> bool {
        self.chain.is_intact() && self.checkpoints.problems.is_empty()
    }
}

/// Where the checkpoints and the key to check them come from.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointSources<'a> {
    /// The file the gateway appends to.
    pub file: &'a Path,
    /// A copy kept elsewhere.
    pub copy: Option<&'a Path>,
    /// The public key to trust; `None` leaves signatures unchecked.
    pub public: Option<&'a [u8; 32]>,
}

/// Read every row once, in batches (constant memory), feeding the chain verifier and keeping
/// the hashes the checkpoints name.
pub async fn verify_all(
    store: &dyn AuditStore,
    sources: CheckpointSources<'_>,
) -> Result<FullReport, Error> {
    let mut problems: Vec<CheckpointProblem> = Vec::new();
    let mut inputs = Inputs {
        by_source: vec![(Source::Database, store.checkpoints().await?)],
        file_present: false,
    };
    if let Some((cs, bad)) = read_file(sources.file, Source::File)? {
        inputs.by_source.push((Source::File, cs));
        inputs.file_present = true;
        problems.extend(bad);
    }
    if let Some(copy) = sources.copy {
        let (cs, bad) = read_file(copy, Source::Copy)?.ok_or_else(|| {
            Error::Invalid(format!(
                "the checkpoint copy {} does not exist",
                copy.display()
            ))
        })?;
        inputs.by_source.push((Source::Copy, cs));
        problems.extend(bad);
    }
    let wanted: HashSet<i64> = needed_rows(&inputs).into_iter().collect();
    let mut hashes = HashMap::new();
    let mut v = Verifier::new();
    let mut head = 0;
    loop {
        let rows = store
            .query_audit(&AuditQuery {
                after_seq: Some(head),
                limit: Some(BATCH),
                ..AuditQuery::default()
            })
            .await?;
        for r in &rows {
            v.feed(r);
            if wanted.contains(&r.seq) {
                hashes.insert(r.seq, r.hash.clone());
            }
            head = r.seq;
        }
        if (rows.len() as u64) < BATCH {
            break;
        }
    }
    let mut checkpoints = check(&inputs, sources.public, &hashes, head);
    problems.append(&mut checkpoints.problems);
    checkpoints.problems = problems;
    Ok(FullReport {
        chain: v.finish(),
        checkpoints,
    })
}

/// The newest `n` checkpoints of the database against their rows: quick enough for a page.
/// `audit verify` checks them all, with the file.
pub async fn latest_checkpoints(
    store: &dyn AuditStore,
    public: Option<&[u8; 32]>,
    head: i64,
    n: usize,
) -> Result<CheckpointReport, Error> {
    let all = store.checkpoints().await?;
    let newest: Vec<_> = all[all.len().saturating_sub(n)..].to_vec();
    let mut hashes = HashMap::new();
    for c in &newest {
        let row = store
            .query_audit(&AuditQuery {
                after_seq: Some(c.seq - 1),
                limit: Some(1),
                ..AuditQuery::default()
            })
            .await?;
        if let Some(r) = row.first().filter(|r| r.seq == c.seq) {
            hashes.insert(r.seq, r.hash.clone());
        }
    }
    let inputs = Inputs {
        by_source: vec![(Source::Database, newest)],
        file_present: false,
    };
    let mut report = check(&inputs, public, &hashes, head);
    report.checked = all.len();
    Ok(report)
}
