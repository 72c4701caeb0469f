//! `sekimori store copy`: everything from one store into another (a clinic that grows moves
//! from SQLite to PostgreSQL). Tables are copied in the order their references need, row for
//! row with the same values, so the audit chain arrives intact; the copy's chain is verified
//! against the source's at the end. A target that already holds data is refused, unless the
//! copy is resumed onto rows that came from the same source (then rows present are skipped).

use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::StoreError;
use super::sql::{Dialect, SqlStore, map_err};
use crate::audit::chain::Verifier;
use crate::store::{AuditQuery, AuditStore};

/// The tables, in the order references need, with the key that orders their rows.
pub const TABLES: &[(&str, &str)] = &[
    ("facilities", "id"),
    ("accounts", "id"),
    ("credentials", "id"),
    ("password_history", "id"),
    ("enrolment_nudges", "account_id"),
    ("devices", "id"),
    ("maintenance_windows", "id"),
    ("break_glass_events", "id"),
    ("audit_log", "seq"),
    ("audit_checkpoints", "seq"),
    ("audit_forwarding", "target"),
];

/// Tables whose integer key PostgreSQL generates (its sequence follows the copied rows).
const IDENTITY: &[&str] = &["credentials", "password_history", "break_glass_events"];

/// Rows per read and per insert statement.
const BATCH: i64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the target is not empty ({0}): copy into an empty database, or pass --resume to finish an interrupted copy from the same source"
    )]
    NotEmpty(String),
    #[error(
        "the target holds another audit chain (row {0} differs from the source's): it is not a copy of this source"
    )]
    OtherChain(i64),
    #[error("the copied audit chain does not verify: {0}")]
    Verify(String),
}

/// What one table's copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    pub table: &'static str,
    pub source_rows: u64,
    pub inserted: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColType {
    Int,
    Text,
}

/// The columns of `table` in the target, with their types.
async fn columns(to: &SqlStore, table: &str) -> Result<Vec<(String, ColType)>, StoreError> {
    let rows: Vec<(String, String)> = match to.dialect() {
        Dialect::Postgres => sqlx::query_as(to.sql(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position",
        ))
        .bind(table)
        .fetch_all(to.pool())
        .await
        .map_err(map_err)?,
        Dialect::Sqlite => {
            sqlx::query_as(to.sql("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid"))
                .bind(table)
                .fetch_all(to.pool())
                .await
                .map_err(map_err)?
        }
    };
    Ok(rows
        .into_iter()
        .map(|(name, ty)| {
            let ty = ty.to_ascii_lowercase();
            let kind = if ty.contains("int") {
                ColType::Int
            } else {
                ColType::Text
            };
            (name, kind)
        })
        .collect())
}

async fn count(store: &SqlStore, table: &str) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar(
        store
            .dialect()
            .sql_owned(format!("SELECT COUNT(*) FROM {table}")),
    )
    .fetch_one(store.pool())
    .await
    .map_err(map_err)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Rows the target holds, by table (none when it is empty).
pub async fn occupied(to: &SqlStore) -> Result<Vec<(&'static str, u64)>, StoreError> {
    let mut out = Vec::new();
    for (table, _) in TABLES {
        let n = count(to, table).await?;
        if n > 0 {
            out.push((*table, n));
        }
    }
    Ok(out)
}

/// Copy every table; `progress(table, rows copied so far, rows in the table)`.
pub async fn copy(
    from: &SqlStore,
    to: &SqlStore,
    resume: bool,
    mut progress: impl FnMut(&str, u64, u64),
) -> Result<Vec<TableCopy>, CopyError> {
    let held = occupied(to).await?;
    if !held.is_empty() {
        if !resume {
            let list: Vec<String> = held.iter().map(|(t, n)| format!("{t}: {n}")).collect();
            return Err(CopyError::NotEmpty(list.join(", ")));
        }
        // Resume only onto the same chain.
        let head = to.head_seq().await?;
        if head > 0 {
            let row = |s: &SqlStore| {
                let s = s.clone();
                async move {
                    s.query_audit(&AuditQuery {
                        after_seq: Some(head - 1),
                        limit: Some(1),
                        ..AuditQuery::default()
                    })
                    .await
                    .map(|r| r.first().map(|r| r.hash.clone()))
                }
            };
            if row(from).await? != row(to).await? {
                return Err(CopyError::OtherChain(head));
            }
        }
    }
    let mut done = Vec::new();
    for (table, key) in TABLES {
        let cols = columns(to, table).await?;
        let total = count(from, table).await?;
        let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
        let first = format!(
            "SELECT {} FROM {table} ORDER BY {key} LIMIT {BATCH}",
            names.join(", ")
        );
        let next = format!(
            "SELECT {} FROM {table} WHERE {key} > ?1 ORDER BY {key} LIMIT {BATCH}",
            names.join(", ")
        );
        let key_type = cols.iter().find(|(n, _)| n == key).map(|c| c.1);
        let mut after: Option<AnyRow> = None;
        let mut copied = 0u64;
        let mut inserted = 0u64;
        progress(table, 0, total);
        loop {
            let q = match (&after, key_type) {
                (None, _) => sqlx::query(from.dialect().sql_owned(first.clone())),
                (Some(r), Some(ColType::Int)) => {
                    sqlx::query(from.dialect().sql_owned(next.clone()))
                        .bind(r.try_get::<i64, _>(*key).map_err(map_err)?)
                }
                (Some(r), _) => sqlx::query(from.dialect().sql_owned(next.clone()))
                    .bind(r.try_get::<String, _>(*key).map_err(map_err)?),
            };
            let rows = q.fetch_all(from.pool()).await.map_err(map_err)?;
            if rows.is_empty() {
                break;
            }
            inserted += insert(to, table, &cols, &rows).await?;
            copied += rows.len() as u64;
            progress(table, copied, total);
            let full = rows.len() as i64 == BATCH;
            after = rows.into_iter().last();
            if !full {
                break;
            }
        }
        if to.dialect() == Dialect::Postgres && IDENTITY.contains(table) {
            sqlx::query(to.dialect().sql_owned(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 GREATEST((SELECT MAX(id) FROM {table}), 1))"
            )))
            .execute(to.pool())
            .await
            .map_err(map_err)?;
        }
        done.push(TableCopy {
            table,
            source_rows: total,
            inserted,
        });
    }
    verify_copy(from, to).await?;
    Ok(done)
}

/// One multi-row insert; rows already there (a resumed copy) are skipped.
async fn insert(
    to: &SqlStore,
    table: &str,
    cols: &[(String, ColType)],
    rows: &[AnyRow],
) -> Result<u64, StoreError> {
    let mut text = format!(
        "INSERT INTO {table} ({}) VALUES ",
        cols.iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut n = 0;
    for (i, _) in rows.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        let marks: Vec<String> = cols
            .iter()
            .map(|_| {
                n += 1;
                format!("?{n}")
            })
            .collect();
        text.push_str(&format!("({})", marks.join(", ")));
    }
    text.push_str(" ON CONFLICT DO NOTHING");
    let mut q = sqlx::query(to.dialect().sql_owned(text));
    for r in rows {
        for (name, ty) in cols {
            q = match ty {
                ColType::Int => q.bind(
                    r.try_get::<Option<i64>, _>(name.as_str())
                        .map_err(map_err)?,
                ),
                ColType::Text => q.bind(
                    r.try_get::<Option<String>, _>(name.as_str())
                        .map_err(map_err)?,
                ),
            };
        }
    }
    let done = q.execute(to.pool()).await.map_err(map_err)?;
    Ok(done.rows_affected())
}

/// The copy's chain verifies and ends where the source's does.
async fn verify_copy(from: &SqlStore, to: &SqlStore) -> Result<(), CopyError> {
    let mut v = Verifier::new();
    loop {
        let rows = to
            .query_audit(&AuditQuery {
                after_seq: Some(v.last_seq()),
                limit: Some(5_000),
                ..AuditQuery::default()
            })
            .await?;
        for r in &rows {
            v.feed(r);
        }
        if rows.len() < 5_000 {
            break;
        }
    }
    let report = v.finish();
    if let Some(p) = report.problems.first() {
        return Err(CopyError::Verify(p.describe_en()));
    }
    let (a, b) = (from.head_seq().await?, to.head_seq().await?);
    if a != b {
        return Err(CopyError::Verify(format!(
            "the source ends at row {a}, the copy at row {b}"
        )));
    }
    Ok(())
}
