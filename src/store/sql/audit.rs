//! The audit chain in SQL. Appends take the write lock first (`BEGIN IMMEDIATE` in SQLite, an
//! advisory lock in PostgreSQL), so two processes never fork the chain; a batch of rows is
//! one transaction (the group commit of `Auditor`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::cols::Cols;
use super::{Dialect, SqlStore, locks, map_err};
use crate::account::FacilityId;
use crate::audit::chain::{GENESIS, row_hash};
use crate::audit::checkpoint::Checkpoint;
use crate::audit::{AuditEvent, AuditRecord, EventKind, Outcome, PendingRecord, RideAlong};
use crate::clock::to_millis;
use crate::store::{AuditQuery, AuditStore, StoreError};

fn record_from_row(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    let c = Cols(row);
    let s = |col: &str| c.text(col);
    let o = |col: &str| c.opt_text(col);
    // Values the application never writes (an unknown kind, a malformed id) can only come from
    // tampering. They are replaced by placeholders, so the row's recomputed hash no longer
    // matches and `audit verify` names it, instead of one bad row hiding the whole log.
    let mut undecodable = Vec::new();
    let kind = s("kind")?.parse().unwrap_or_else(|e: String| {
        undecodable.push(e);
        EventKind::AdminAction
    });
    let outcome = s("outcome")?.parse().unwrap_or_else(|e: String| {
        undecodable.push(e);
        Outcome::Info
    });
    let event_id = Uuid::parse_str(&s("event_id")?).unwrap_or_else(|e| {
        undecodable.push(format!("event_id: {e}"));
        Uuid::nil()
    });
    let detail_text = s("detail")?;
    let mut detail =
        serde_json::from_str(&detail_text).unwrap_or(serde_json::Value::String(detail_text));
    if !undecodable.is_empty() {
        detail = serde_json::json!({ "undecodable": undecodable, "stored_detail": detail });
    }
    Ok(AuditRecord {
        seq: c.int("seq")?,
        event_id,
        at: c.time("at_ms")?,
        at_text: s("at")?,
        event: AuditEvent {
            facility_id: FacilityId(s("facility_id")?),
            kind,
            outcome,
            actor: o("actor")?,
            subject: o("subject")?,
            ip: o("ip")?,
            device: o("device")?,
            detail,
        },
        prev_hash: s("prev_hash")?,
        hash: s("hash")?,
    })
}

const INSERT_HEAD: &str = "INSERT INTO audit_log (seq, event_id, facility_id, at, at_ms, kind, outcome, \
     actor, subject, ip, device, detail, prev_hash, hash) VALUES";

/// Rows per INSERT statement (14 values each; well under SQLite's and PostgreSQL's limits).
const ROWS_PER_INSERT: usize = 64;

/// A factor's last use; never earlier than the one already written.
pub(super) const TOUCH_FACTOR: &str = "UPDATE credentials SET last_used_at = ?2 \
     WHERE id = ?1 AND kind <> 'password' AND (last_used_at IS NULL OR last_used_at < ?2)";

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit_batch(
        &self,
        batch: Vec<PendingRecord>,
        also: &RideAlong,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        if batch.is_empty() && also.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_exclusive(locks::AUDIT).await?;
        for (id, at) in &also.sign_ins {
            sqlx::query(self.sql(super::accounts::TOUCH_LAST_LOGIN))
                .bind(id.as_str())
                .bind(to_millis(*at))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        for (id, at) in &also.factor_uses {
            sqlx::query(self.sql(TOUCH_FACTOR))
                .bind(*id)
                .bind(to_millis(*at))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        let last: Option<(i64, String)> =
            sqlx::query_as(self.sql("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"))
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        let (mut seq, mut prev_hash) = last.map_or((1, GENESIS.to_owned()), |(s, h)| (s + 1, h));
        let mut rows = Vec::with_capacity(batch.len());
        for p in batch {
            let hash = row_hash(&prev_hash, &p);
            let next = hash.clone();
            rows.push(AuditRecord {
                seq,
                event_id: p.event_id,
                at: p.at,
                at_text: p.at_text,
                event: p.event,
                prev_hash: std::mem::replace(&mut prev_hash, next),
                hash,
            });
            seq += 1;
        }
        // Several rows per statement: each statement is a round trip to the database (for
        // SQLite, to its worker thread), and the one writer's time per batch is what bounds
        // how many audited actions a gateway answers per second.
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut text = String::from(INSERT_HEAD);
            for i in 0..chunk.len() {
                let b = i * 14;
                text.push_str(if i == 0 { " (" } else { ", (" });
                let marks: Vec<String> = (1..=14).map(|k| format!("?{}", b + k)).collect();
                text.push_str(&marks.join(", "));
                text.push(')');
            }
            let mut q = sqlx::query(self.dialect().sql_owned(text));
            for r in chunk {
                let e = &r.event;
                let detail = serde_json::to_string(&e.detail)
                    .map_err(|err| StoreError::Invalid(err.to_string()))?;
                q = q
                    .bind(r.seq)
                    .bind(r.event_id.to_string())
                    .bind(e.facility_id.0.clone())
                    .bind(r.at_text.clone())
                    .bind(to_millis(r.at))
                    .bind(e.kind.as_str())
                    .bind(e.outcome.as_str())
                    .bind(e.actor.clone())
                    .bind(e.subject.clone())
                    .bind(e.ip.clone())
                    .bind(e.device.clone())
                    .bind(detail)
                    .bind(r.prev_hash.clone())
                    .bind(r.hash.clone());
            }
            q.execute(&mut *tx).await.map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(rows)
    }

    async fn query_audit(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        // Only the filters in use become SQL, so the engine can use the (column, seq) indexes.
        enum Arg {
            Int(i64),
            Text(String),
        }
        let mut text = String::from("SELECT * FROM audit_log WHERE 1=1");
        let mut args: Vec<Arg> = Vec::new();
        let mut push = |text: &mut String, clause: &str, arg: Arg| {
            args.push(arg);
            text.push_str(&format!("{clause} ?{}", args.len()));
        };
        if let Some(t) = q.from {
            push(&mut text, " AND at_ms >=", Arg::Int(to_millis(t)));
        }
        if let Some(t) = q.to {
            push(&mut text, " AND at_ms <", Arg::Int(to_millis(t)));
        }
        if let Some(s) = q.after_seq {
            push(&mut text, " AND seq >", Arg::Int(s));
        }
        if let Some(s) = q.before_seq {
            push(&mut text, " AND seq <", Arg::Int(s));
        }
        for (col, v) in [
            ("subject", &q.subject),
            ("kind", &q.kind),
            ("outcome", &q.outcome),
            ("ip", &q.ip),
        ] {
            if let Some(v) = v {
                push(&mut text, &format!(" AND {col} ="), Arg::Text(v.clone()));
            }
        }
        if let Some(z) = &q.zone {
            let zone = match self.dialect() {
                Dialect::Sqlite => " AND json_extract(detail, '$.zone') =",
                Dialect::Postgres => " AND (detail::jsonb ->> 'zone') =",
            };
            push(&mut text, zone, Arg::Text(z.clone()));
        }
        text.push_str(if q.newest_first {
            " ORDER BY seq DESC"
        } else {
            " ORDER BY seq ASC"
        });
        let limit = q
            .limit
            .map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
        push(&mut text, " LIMIT", Arg::Int(limit));
        let mut query = sqlx::query(self.dialect().sql_owned(text));
        for a in args {
            query = match a {
                Arg::Int(i) => query.bind(i),
                Arg::Text(t) => query.bind(t),
            };
        }
        let rows = query.fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(record_from_row).collect()
    }

    async fn add_checkpoint(&self, c: &Checkpoint) -> Result<bool, StoreError> {
        let done = sqlx::query(
            self.sql("INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (seq) DO NOTHING"),
        )
        .bind(c.seq)
        .bind(&c.hash)
        .bind(&c.at)
        .bind(&c.key_id)
        .bind(&c.signature)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        sqlx::query_as::<_, (i64, String, String, String, String)>(
            self.sql("SELECT seq, hash, at, key_id, signature FROM audit_checkpoints ORDER BY seq"),
        )
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)
        .map(|rows| rows.into_iter().map(checkpoint_from).collect())
    }

    async fn last_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        sqlx::query_as::<_, (i64, String, String, String, String)>(
            self.sql("SELECT seq, hash, at, key_id, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"),
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)
        .map(|row| row.map(checkpoint_from))
    }

    async fn delivered_seq(&self, target: &str) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar(
            self.sql("SELECT delivered_seq FROM audit_forwarding WHERE target = ?1"),
        )
        .bind(target)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(seq.unwrap_or(0))
    }

    async fn set_delivered_seq(
        &self,
        target: &str,
        seq: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(self.sql(
            "INSERT INTO audit_forwarding (target, delivered_seq, updated_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (target) DO UPDATE SET \
             delivered_seq = CASE WHEN excluded.delivered_seq > audit_forwarding.delivered_seq \
             THEN excluded.delivered_seq ELSE audit_forwarding.delivered_seq END, \
             updated_ms = excluded.updated_ms",
        ))
        .bind(target)
        .bind(seq)
        .bind(to_millis(at))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }
}

fn checkpoint_from(
    (seq, hash, at, key_id, signature): (i64, String, String, String, String),
) -> Checkpoint {
    Checkpoint {
        seq,
        hash,
        at,
        key_id,
        signature,
    }
}
