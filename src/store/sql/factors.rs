//! Second factors in SQLite: rows of `credentials` whose kind is not `password`. Secrets are
//! stored sealed (see `crypto::aead`) and base64-encoded.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use super::{SqlStore, map_err};
use crate::account::AccountId;
use crate::clock::{from_millis, to_millis};
use crate::store::{FactorRecord, FactorStore, StoreError};

#[async_trait]
impl FactorStore for SqlStore {
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
        let id: i64 = sqlx::query_scalar(self.sql(
            "INSERT INTO credentials (account_id, kind, secret, created_at, label) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        ))
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
        let rows: Vec<(i64, String, String, i64, Option<i64>, Option<String>)> =
            sqlx::query_as(self.sql(
                "SELECT id, kind, label, created_at, last_used_at, aaguid FROM credentials \
             WHERE account_id = ?1 AND kind <> 'password' ORDER BY id",
            ))
            .bind(account.0.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(rows
            .into_iter()
            .map(|(id, kind, label, created, used, aaguid)| FactorRecord {
                id,
                account_id: account,
                kind,
                label,
                created_at: from_millis(created),
                last_used_at: used.map(from_millis),
                aaguid,
            })
            .collect())
    }

    async fn factor_secrets(
        &self,
        account: AccountId,
        kind: &str,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(self.sql(
            "SELECT id, secret FROM credentials WHERE account_id = ?1 AND kind = ?2 \
             AND kind <> 'password' ORDER BY id",
        ))
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
        sqlx::query(self.sql(super::audit::TOUCH_FACTOR))
            .bind(id)
            .bind(to_millis(now))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn delete_factor(&self, account: AccountId, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(self.sql(
            "DELETE FROM credentials WHERE id = ?1 AND account_id = ?2 AND kind <> 'password'",
        ))
        .bind(id)
        .bind(account.0.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_all_factors(&self, account: AccountId) -> Result<u64, StoreError> {
        let done = sqlx::query(
            self.sql("DELETE FROM credentials WHERE account_id = ?1 AND kind <> 'password'"),
        )
        .bind(account.0.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn add_webauthn_factor(
        &self,
        account: AccountId,
        label: &str,
        sealed: &[u8],
        credential_id: &str,
        aaguid: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            self.sql("INSERT INTO credentials (account_id, kind, secret, created_at, label, credential_id, aaguid) \
             VALUES (?1, 'webauthn', ?2, ?3, ?4, ?5, ?6) RETURNING id"),
        )
        .bind(account.0.to_string())
        .bind(STANDARD.encode(sealed))
        .bind(to_millis(now))
        .bind(label)
        .bind(credential_id)
        .bind(aaguid)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(id)
    }

    async fn webauthn_owner(
        &self,
        credential_id: &str,
    ) -> Result<Option<(i64, AccountId)>, StoreError> {
        let row: Option<(i64, String)> = sqlx::query_as(self.sql(
            "SELECT id, account_id FROM credentials WHERE credential_id = ?1 AND kind = 'webauthn'",
        ))
        .bind(credential_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.map(|(id, a)| {
            uuid::Uuid::parse_str(&a)
                .map(|u| (id, AccountId(u)))
                .map_err(|e| StoreError::Invalid(format!("credential {id}: {e}")))
        })
        .transpose()
    }

    async fn update_factor_secret(&self, id: i64, sealed: &[u8]) -> Result<(), StoreError> {
        sqlx::query(
            self.sql("UPDATE credentials SET secret = ?2 WHERE id = ?1 AND kind <> 'password'"),
        )
        .bind(id)
        .bind(STANDARD.encode(sealed))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn rename_factor(
        &self,
        account: AccountId,
        id: i64,
        label: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(self.sql(
            "UPDATE credentials SET label = ?3 WHERE id = ?1 AND account_id = ?2 \
             AND kind NOT IN ('password', 'recovery', 'break_glass')",
        ))
        .bind(id)
        .bind(account.0.to_string())
        .bind(label)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn replace_codes(
        &self,
        account: AccountId,
        kind: &str,
        hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query(self.sql("DELETE FROM credentials WHERE account_id = ?1 AND kind = ?2"))
            .bind(account.0.to_string())
            .bind(kind)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        for h in hashes {
            sqlx::query(self.sql(
                "INSERT INTO credentials (account_id, kind, secret, created_at, label) \
                 VALUES (?1, ?2, ?3, ?4, '')",
            ))
            .bind(account.0.to_string())
            .bind(kind)
            .bind(h)
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn use_code(
        &self,
        account: AccountId,
        kind: &str,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            self.sql("DELETE FROM credentials WHERE account_id = ?1 AND kind = ?2 AND secret = ?3"),
        )
        .bind(account.0.to_string())
        .bind(kind)
        .bind(hash)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() >= 1)
    }

    async fn enrolment_nudges(&self, account: AccountId, add: bool) -> Result<u32, StoreError> {
        let n: Option<i64> = if add {
            sqlx::query_scalar(self.sql(
                "INSERT INTO enrolment_nudges (account_id, count) VALUES (?1, 1) \
                 ON CONFLICT(account_id) DO UPDATE SET count = count + 1 RETURNING count",
            ))
            .bind(account.0.to_string())
            .fetch_optional(&self.pool)
            .await
        } else {
            sqlx::query_scalar(self.sql("SELECT count FROM enrolment_nudges WHERE account_id = ?1"))
                .bind(account.0.to_string())
                .fetch_optional(&self.pool)
                .await
        }
        .map_err(map_err)?;
        Ok(n.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    }
}
