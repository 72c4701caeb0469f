//! Second factors in SQLite: rows of `credentials` whose kind is not `password`. Secrets are
//! stored sealed (see `crypto::aead`) and base64-encoded.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use super::{SqliteStore, map_err};
use crate::account::AccountId;
use crate::clock::{from_millis, to_millis};
use crate::store::{FactorRecord, FactorStore, StoreError};

#[async_trait]
impl FactorStore for SqliteStore {
    async fn add_factor(
        &self,
        account: AccountId,
        kind: &str,
        label: &str,
        sealed: &[u8],
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        if kind == "password" {
            return Err(StoreError::Invalid(
                "a password is not a second factor".into(),
            ));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO credentials (account_id, kind, secret, created_at, label) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .bind(account.0.to_string())
        .bind(kind)
        .bind(STANDARD.encode(sealed))
        .bind(to_millis(now))
        .bind(label)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(id)
    }

    async fn list_factors(&self, account: AccountId) -> Result<Vec<FactorRecord>, StoreError> {
        let rows: Vec<(i64, String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, kind, label, created_at, last_used_at FROM credentials \
             WHERE account_id = ?1 AND kind <> 'password' ORDER BY id",
        )
        .bind(account.0.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(rows
            .into_iter()
            .map(|(id, kind, label, created, used)| FactorRecord {
                id,
                account_id: account,
                kind,
                label,
                created_at: from_millis(created),
                last_used_at: used.map(from_millis),
            })
            .collect())
    }

    async fn factor_secrets(
        &self,
        account: AccountId,
        kind: &str,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, secret FROM credentials WHERE account_id = ?1 AND kind = ?2 \
             AND kind <> 'password' ORDER BY id",
        )
        .bind(account.0.to_string())
        .bind(kind)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.into_iter()
            .map(|(id, s)| {
                STANDARD
                    .decode(s)
                    .map(|b| (id, b))
                    .map_err(|e| StoreError::Invalid(format!("factor {id}: {e}")))
            })
            .collect()
    }

    async fn touch_factor(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE credentials SET last_used_at = ?2 WHERE id = ?1 AND kind <> 'password'",
        )
        .bind(id)
        .bind(to_millis(now))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn delete_factor(&self, account: AccountId, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM credentials WHERE id = ?1 AND account_id = ?2 AND kind <> 'password'",
        )
        .bind(id)
        .bind(account.0.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_all_factors(&self, account: AccountId) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM credentials WHERE account_id = ?1 AND kind <> 'password'")
                .bind(account.0.to_string())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}
