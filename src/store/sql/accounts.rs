//! Accounts, password credentials and password history in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::cols::{Cols, invalid};
use super::{SqlStore, locks, map_err};
use crate::account::{Account, AccountId, FacilityId, Group, PersonId, Role, Username};
use crate::clock::{from_millis, to_millis};
use crate::store::{
    AccountStore, CredentialStore, PasswordCredential, PasswordHistoryStore, StoreError,
};

/// The account columns in the order `account_from_row` reads them. A macro because sqlx
/// takes only `&'static str` SQL, so queries are built with `concat!`.
macro_rules! select_accounts {
    () => {
        "SELECT id, facility_id, username, login_name, display_name, kana_name, email, \
         account_type, status, roles, groups_json, person_id, second_factor_required, \
         created_at, updated_at, last_login_at, password_set_at, expires_at, created_by \
         FROM accounts "
    };
}

fn account_from_row(row: &AnyRow) -> Result<Account, StoreError> {
    let c = Cols(row);
    Ok(Account {
        id: AccountId(c.uuid("id")?),
        facility_id: FacilityId(c.text("facility_id")?),
        username: Username::from_stored(c.text("username")?),
        login_name: c.text("login_name")?,
        display_name: c.text("display_name")?,
        kana_name: c.opt_text("kana_name")?,
        email: c.opt_text("email")?,
        account_type: c.parsed("account_type", |s| s.parse().ok())?,
        status: c.parsed("status", |s| s.parse().ok())?,
        roles: c.json::<Vec<Role>>("roles")?,
        groups: c.json::<Vec<Group>>("groups_json")?,
        person_id: PersonId(c.uuid("person_id")?),
        second_factor_required: c.flag("second_factor_required")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
        last_login_at: c.opt_time("last_login_at")?,
        password_set_at: c.opt_time("password_set_at")?,
        expires_at: c.opt_time("expires_at")?,
        created_by: c.text("created_by")?,
    })
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| invalid("json", e))
}

/// An account's last sign-in; never earlier than the one already written.
pub(super) const TOUCH_LAST_LOGIN: &str = "UPDATE accounts SET last_login_at = ?2 \
     WHERE id = ?1 AND (last_login_at IS NULL OR last_login_at < ?2)";

#[async_trait]
impl AccountStore for SqlStore {
    async fn upsert_facility(&self, id: &FacilityId, name: &str) -> Result<(), StoreError> {
        sqlx::query(self.sql("INSERT INTO facilities (id, name) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET name = excluded.name"))
            .bind(&id.0)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn insert_account(&self, a: &Account) -> Result<(), StoreError> {
        let result = sqlx::query(
            self.sql("INSERT INTO accounts (id, facility_id, username, login_name, display_name, kana_name, email, \
             account_type, status, roles, groups_json, person_id, second_factor_required, created_at, \
             updated_at, last_login_at, password_set_at, expires_at, created_by) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"),
        )
        .bind(a.id.0.to_string())
        .bind(&a.facility_id.0)
        .bind(a.username.as_str())
        .bind(&a.login_name)
        .bind(&a.display_name)
        .bind(&a.kana_name)
        .bind(&a.email)
        .bind(a.account_type.as_str())
        .bind(a.status.as_str())
        .bind(json(&a.roles)?)
        .bind(json(&a.groups)?)
        .bind(a.person_id.0.to_string())
        .bind(i64::from(a.second_factor_required))
        .bind(to_millis(a.created_at))
        .bind(to_millis(a.updated_at))
        .bind(a.last_login_at.map(to_millis))
        .bind(a.password_set_at.map(to_millis))
        .bind(a.expires_at.map(to_millis))
        .bind(&a.created_by)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match map_err(e) {
                StoreError::Conflict(m) if m.contains("username") => Err(StoreError::Conflict(
                    format!("username `{}` is taken", a.username),
                )),
                other => Err(other),
            },
        }
    }

    async fn get_account(&self, id: AccountId) -> Result<Account, StoreError> {
        let row = sqlx::query(self.sql(concat!(select_accounts!(), "WHERE id = ?1")))
            .bind(id.0.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref()
            .map(account_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound("account"))
    }

    async fn find_account_by_username(
        &self,
        facility: &FacilityId,
        username: &Username,
    ) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(self.sql(concat!(
            select_accounts!(),
            "WHERE facility_id = ?1 AND username = ?2"
        )))
        .bind(&facility.0)
        .bind(username.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn list_accounts(&self, facility: &FacilityId) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(self.sql(concat!(
            select_accounts!(),
            "WHERE facility_id = ?1 ORDER BY username"
        )))
        .bind(&facility.0)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(account_from_row).collect()
    }

    async fn list_accounts_of_person(&self, person: PersonId) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(self.sql(concat!(
            select_accounts!(),
            "WHERE person_id = ?1 ORDER BY created_at"
        )))
        .bind(person.0.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(account_from_row).collect()
    }

    async fn count_accounts(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(self.sql("SELECT COUNT(*) FROM accounts"))
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn update_account(&self, a: &Account) -> Result<(), StoreError> {
        let done = sqlx::query(
            self.sql("UPDATE accounts SET display_name = ?2, kana_name = ?3, email = ?4, account_type = ?5, status = ?6, \
             roles = ?7, groups_json = ?8, person_id = ?9, second_factor_required = ?10, updated_at = ?11, \
             last_login_at = ?12, password_set_at = ?13, expires_at = ?14 WHERE id = ?1"),
        )
        .bind(a.id.0.to_string())
        .bind(&a.display_name)
        .bind(&a.kana_name)
        .bind(&a.email)
        .bind(a.account_type.as_str())
        .bind(a.status.as_str())
        .bind(json(&a.roles)?)
        .bind(json(&a.groups)?)
        .bind(a.person_id.0.to_string())
        .bind(i64::from(a.second_factor_required))
        .bind(to_millis(a.updated_at))
        .bind(a.last_login_at.map(to_millis))
        .bind(a.password_set_at.map(to_millis))
        .bind(a.expires_at.map(to_millis))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("account"));
        }
        Ok(())
    }

    async fn set_password_status(
        &self,
        id: AccountId,
        status: crate::account::AccountStatus,
        at: DateTime<Utc>,
    ) -> Result<crate::account::AccountStatus, StoreError> {
        let stored: Option<String> = sqlx::query_scalar(
            self.sql("UPDATE accounts SET status = CASE WHEN status = 'disabled' THEN 'disabled' ELSE ?2 END, \
             password_set_at = ?3, updated_at = ?3 WHERE id = ?1 RETURNING status"),
        )
        .bind(id.0.to_string())
        .bind(status.as_str())
        .bind(to_millis(at))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        stored
            .ok_or(StoreError::NotFound("account"))?
            .parse()
            .map_err(|e: String| invalid("status", e))
    }

    async fn touch_last_login(&self, id: AccountId, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(self.sql(TOUCH_LAST_LOGIN))
            .bind(id.0.to_string())
            .bind(to_millis(at))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl CredentialStore for SqlStore {
    async fn find_password(
        &self,
        account: AccountId,
    ) -> Result<Option<PasswordCredential>, StoreError> {
        let row: Option<(String, i64)> =
            sqlx::query_as(self.sql("SELECT secret, created_at FROM credentials WHERE account_id = ?1 AND kind = 'password'"))
                .bind(account.0.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(row.map(|(phc, at)| PasswordCredential {
            account_id: account,
            phc,
            set_at: from_millis(at),
        }))
    }

    async fn set_password(
        &self,
        account: AccountId,
        person: PersonId,
        phc: &str,
        now: DateTime<Utc>,
        history_depth: usize,
    ) -> Result<(), StoreError> {
        let id = account.0.to_string();
        let mut tx = self.begin_exclusive(locks::PASSWORD).await?;
        sqlx::query(
            self.sql("DELETE FROM credentials WHERE account_id = ?1 AND kind = 'password'"),
        )
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query(self.sql("INSERT INTO credentials (account_id, kind, secret, created_at) VALUES (?1, 'password', ?2, ?3)"))
            .bind(&id)
            .bind(phc)
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query(self.sql("INSERT INTO password_history (account_id, person_id, phc, set_at) VALUES (?1, ?2, ?3, ?4)"))
            .bind(&id)
            .bind(person.0.to_string())
            .bind(phc)
            .bind(to_millis(now))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        // Older hashes are of no further use and only give an attacker more to crack.
        sqlx::query(self.sql(
            "DELETE FROM password_history WHERE account_id = ?1 AND id NOT IN \
             (SELECT id FROM password_history WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2)",
        ))
        .bind(&id)
        .bind(i64::try_from(history_depth.max(1)).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn upgrade_password_hash(
        &self,
        account: AccountId,
        old_phc: &str,
        new_phc: &str,
    ) -> Result<bool, StoreError> {
        let id = account.0.to_string();
        let mut tx = self.begin_exclusive(locks::PASSWORD).await?;
        let done = sqlx::query(self.sql("UPDATE credentials SET secret = ?3 WHERE account_id = ?1 AND kind = 'password' AND secret = ?2"))
            .bind(&id)
            .bind(old_phc)
            .bind(new_phc)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query(
            self.sql("UPDATE password_history SET phc = ?3 WHERE account_id = ?1 AND phc = ?2"),
        )
        .bind(&id)
        .bind(old_phc)
        .bind(new_phc)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl PasswordHistoryStore for SqlStore {
    async fn recent_password_hashes(
        &self,
        account: AccountId,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(self.sql(
            "SELECT phc FROM password_history WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2",
        ))
        .bind(account.0.to_string())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)
    }
}
