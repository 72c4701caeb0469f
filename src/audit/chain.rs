//! The hash chain: how a row's hash is computed and how a sequence of rows is verified.
//! Pure: works on rows however they were read.

use sha2::{Digest, Sha256};

use super::{AuditRecord, PendingRecord};

/// The predecessor of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 over the predecessor's hash and the row's fields, each length-prefixed so that no
/// two different rows serialise to the same bytes.
pub fn row_hash(prev_hash: &str, row: &PendingRecord) -> String {
    let e = &row.event;
    let detail = serde_json::to_string(&e.detail).unwrap_or_default();
    let fields: [&str; 10] = [
        prev_hash,
        &row.event_id.to_string(),
        &row.at_text,
        &e.facility_id.0,
        e.kind.as_str(),
        e.outcome.as_str(),
        e.actor.as_deref().unwrap_or(""),
        e.subject.as_deref().unwrap_or(""),
        e.ip.as_deref().unwrap_or(""),
        e.device.as_deref().unwrap_or(""),
    ];
    let mut h = Sha256::new();
    for f in fields.iter().chain(std::iter::once(&detail.as_str())) {
        h.update((f.len() as u64).to_le_bytes());
        h.update(f.as_bytes());
    }
    hex::encode(h.finalize())
}

fn recompute(row: &AuditRecord) -> String {
    let pending = PendingRecord {
        event_id: row.event_id,
        at: row.at,
        at_text: row.at_text.clone(),
        event: row.event.clone(),
    };
    row_hash(&row.prev_hash, &pending)
}

/// What is wrong at a place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// The row's content no longer matches its hash.
    Edited { seq: i64 },
    /// Rows `from..=to` are missing.
    Deleted { from: i64, to: i64 },
    /// The row sits between two rows that link to each other around it.
    Inserted { seq: i64 },
    /// The row is intact but does not link to the row before it (rows removed and the
    /// rest renumbered, or rows re-ordered).
    Unlinked { seq: i64 },
}

impl Problem {
    pub fn seq(&self) -> i64 {
        match self {
            Problem::Edited { seq } | Problem::Inserted { seq } | Problem::Unlinked { seq } => *seq,
            Problem::Deleted { from, .. } => *from,
        }
    }

    pub fn describe_en(&self) -> String {
        match self {
            Problem::Edited { seq } => {
                format!("row {seq} was edited: its content does not match its hash")
            }
            Problem::Deleted { from, to } if from == to => format!("row {from} was deleted"),
            Problem::Deleted { from, to } => format!("rows {from}-{to} were deleted"),
            Problem::Inserted { seq } => {
                format!("row {seq} was inserted: its neighbours link to each other around it")
            }
            Problem::Unlinked { seq } => {
                format!(
                    "row {seq} does not follow the row before it: rows were removed and renumbered, or re-ordered"
                )
            }
        }
    }

    pub fn describe_ja(&self) -> String {
        match self {
            Problem::Edited { seq } => {
                format!("{seq}行目が改ざんされています（内容とハッシュが一致しません）")
            }
            Problem::Deleted { from, to } if from == to => format!("{from}行目が削除されています"),
            Problem::Deleted { from, to } => format!("{from}〜{to}行目が削除されています"),
            Problem::Inserted { seq } => format!("{seq}行目が挿入されています"),
            Problem::Unlinked { seq } => format!(
                "{seq}行目が直前の行とつながっていません（削除後の番号付け直し、または並べ替え）"
            ),
        }
    }
}

/// Incremental verifier: feed rows in sequence order.
#[derive(Debug, Default)]
pub struct Verifier {
    checked: u64,
    last_seq: i64,
    prev_hash: Option<String>,
    prev2_hash: Option<String>,
    last_good_seq: i64,
    problems: Vec<Problem>,
}

/// Problems beyond this many are counted, not listed.
const MAX_LISTED: usize = 100;

impl Verifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Go on from a row already trusted (a signed checkpoint): the next row must be
    /// `seq + 1` and link to `hash`.
    pub fn resume(seq: i64, hash: &str) -> Self {
        Self {
            last_seq: seq,
            prev_hash: Some(hash.to_owned()),
            last_good_seq: seq,
            ..Self::default()
        }
    }

    pub fn feed(&mut self, row: &AuditRecord) {
        self.checked += 1;
        let expected_seq = self.last_seq + 1;
        let mut ok = true;
        if row.seq > expected_seq {
            self.push(Problem::Deleted {
                from: expected_seq,
                to: row.seq - 1,
            });
            ok = false;
        }
        if recompute(row) != row.hash {
            self.push(Problem::Edited { seq: row.seq });
            ok = false;
        } else {
            let expected_prev = self.prev_hash.as_deref().unwrap_or(GENESIS);
            if row.prev_hash != expected_prev && ok {
                if self.prev2_hash.as_deref() == Some(row.prev_hash.as_str()) {
                    self.push(Problem::Inserted { seq: self.last_seq });
                } else {
                    self.push(Problem::Unlinked { seq: row.seq });
                }
                ok = false;
            }
        }
        if ok && self.problems.is_empty() {
            self.last_good_seq = row.seq;
        }
        self.prev2_hash = self.prev_hash.take();
        self.prev_hash = Some(row.hash.clone());
        self.last_seq = row.seq;
    }

    fn push(&mut self, p: Problem) {
        // An inserted row is only recognised at its successor: pull the intact mark back.
        self.last_good_seq = self.last_good_seq.min(p.seq() - 1);
        if self.problems.len() < MAX_LISTED {
            self.problems.push(p);
        }
    }

    pub fn finish(self) -> Report {
        self.report()
    }

    /// The report so far (the verifier can go on with newer rows afterwards).
    pub fn report(&self) -> Report {
        Report {
            checked: self.checked,
            verified_up_to: self.last_good_seq,
            head_hash: self.prev_hash.clone(),
            problems: self.problems.clone(),
        }
    }

    /// The last sequence number fed.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub checked: u64,
    /// Every row up to and including this sequence number is intact.
    pub verified_up_to: i64,
    /// The hash of the last row: record it elsewhere to detect later truncation of the tail.
    pub head_hash: Option<String>,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::FacilityId;
    use crate::audit::{AuditEvent, EventKind, Outcome};
    use chrono::{TimeZone, Utc};

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let at = Utc
                    .with_ymd_and_hms(2026, 11, 21, 0, 0, seq as u32)
                    .unwrap();
                let pending = PendingRecord {
                    event_id: crate::account::new_v7(at),
                    at,
                    at_text: crate::clock::to_jst_string(at),
                    event: AuditEvent::new(
                        FacilityId("default".into()),
                        EventKind::LoginAttempt,
                        Outcome::Failure,
                    )
                    .subject(format!("user{seq}")),
                };
                let hash = row_hash(&prev, &pending);
                let rec = AuditRecord {
                    seq,
                    event_id: pending.event_id,
                    at,
                    at_text: pending.at_text,
                    event: pending.event,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                rec
            })
            .collect()
    }

    fn verify(rows: &[AuditRecord]) -> Report {
        let mut v = Verifier::new();
        rows.iter().for_each(|r| v.feed(r));
        v.finish()
    }

    #[test]
    fn intact_chain_verifies() {
        let r = verify(&chain(10));
        assert!(r.is_intact());
        assert_eq!((r.checked, r.verified_up_to), (10, 10));
    }

    #[test]
    fn edited_row_is_named() {
        let mut rows = chain(10);
        rows[4].event.outcome = Outcome::Success;
        let r = verify(&rows);
        assert_eq!(r.problems, vec![Problem::Edited { seq: 5 }]);
        assert_eq!(r.verified_up_to, 4);
    }

    #[test]
    fn deleted_row_is_named() {
        let mut rows = chain(10);
        rows.remove(6);
        assert_eq!(
            verify(&rows).problems[0],
            Problem::Deleted { from: 7, to: 7 }
        );
        let mut head_cut = chain(5);
        head_cut.remove(0);
        assert_eq!(
            verify(&head_cut).problems[0],
            Problem::Deleted { from: 1, to: 1 }
        );
    }

    #[test]
    fn deleted_and_renumbered_is_unlinked() {
        let mut rows = chain(10);
        rows.remove(6);
        for (i, r) in rows.iter_mut().enumerate() {
            r.seq = i as i64 + 1;
        }
        assert_eq!(verify(&rows).problems[0], Problem::Unlinked { seq: 7 });
    }

    #[test]
    fn inserted_row_is_named_even_when_its_own_hash_is_valid() {
        let rows = chain(10);
        // A careful forger links the new row to row 4 and computes its hash, then shifts 5..10.
        let forged_pending = PendingRecord {
            event_id: uuid::Uuid::nil(),
            at: rows[3].at,
            at_text: rows[3].at_text.clone(),
            event: AuditEvent::new(
                FacilityId("default".into()),
                EventKind::AccountUnlocked,
                Outcome::Success,
            ),
        };
        let forged = AuditRecord {
            seq: 5,
            event_id: forged_pending.event_id,
            at: forged_pending.at,
            at_text: forged_pending.at_text.clone(),
            event: forged_pending.event.clone(),
            prev_hash: rows[3].hash.clone(),
            hash: row_hash(&rows[3].hash, &forged_pending),
        };
        let mut tampered: Vec<AuditRecord> = rows[..4].to_vec();
        tampered.push(forged);
        tampered.extend(rows[4..].iter().cloned().map(|mut r| {
            r.seq += 1;
            r
        }));
        let r = verify(&tampered);
        assert_eq!(r.problems, vec![Problem::Inserted { seq: 5 }]);
        assert_eq!(r.verified_up_to, 4);
    }
}
