//! Maintenance windows and break-glass uses in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::cols::Cols;
use super::{SqlStore, map_err};
use crate::account::{AccountId, FacilityId};
use crate::clock::to_millis;
use crate::emergency::BreakGlassEvent;
use crate::store::{BreakGlassStore, StoreError, WindowStore};
use crate::vendor::{Window, WindowState};

macro_rules! select_windows {
    () => {
        "SELECT id, facility_id, account_id, system, starts_at, ends_at, reason, approved_by, \
         created_by, created_at, state, closed_at, closed_by, close_reason, opened_logged, \
         closed_logged FROM maintenance_windows "
    };
}

fn window_from_row(row: &AnyRow) -> Result<Window, StoreError> {
    let c = Cols(row);
    Ok(Window {
        id: c.text("id")?,
        facility_id: FacilityId(c.text("facility_id")?),
        account_id: AccountId(c.uuid("account_id")?),
        system: c.text("system")?,
        starts_at: c.time("starts_at")?,
        ends_at: c.time("ends_at")?,
        reason: c.text("reason")?,
        approved_by: c.text("approved_by")?,
        created_by: c.text("created_by")?,
        created_at: c.time("created_at")?,
        state: c.parsed("state", WindowState::parse)?,
        closed_at: c.opt_time("closed_at")?,
        closed_by: c.opt_text("closed_by")?,
        close_reason: c.opt_text("close_reason")?,
        opened_logged: c.flag("opened_logged")?,
        closed_logged: c.flag("closed_logged")?,
    })
}

#[async_trait]
impl WindowStore for SqlStore {
    async fn insert_window(&self, w: &Window) -> Result<(), StoreError> {
        sqlx::query(self.sql(
            "INSERT INTO maintenance_windows (id, facility_id, account_id, system, starts_at, \
             ends_at, reason, approved_by, created_by, created_at, state) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        ))
        .bind(&w.id)
        .bind(&w.facility_id.0)
        .bind(w.account_id.0.to_string())
        .bind(&w.system)
        .bind(to_millis(w.starts_at))
        .bind(to_millis(w.ends_at))
        .bind(&w.reason)
        .bind(&w.approved_by)
        .bind(&w.created_by)
        .bind(to_millis(w.created_at))
        .bind(w.state.as_str())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn find_window(
        &self,
        facility: &FacilityId,
        id: &str,
    ) -> Result<Option<Window>, StoreError> {
        let row = sqlx::query(self.sql(concat!(
            select_windows!(),
            "WHERE facility_id = ?1 AND id = ?2"
        )))
        .bind(&facility.0)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(window_from_row).transpose()
    }

    async fn list_windows(
        &self,
        facility: &FacilityId,
        account: Option<AccountId>,
    ) -> Result<Vec<Window>, StoreError> {
        let rows = sqlx::query(self.sql(concat!(
            select_windows!(),
            "WHERE facility_id = ?1 AND (?2 IS NULL OR account_id = ?2) ORDER BY starts_at DESC"
        )))
        .bind(&facility.0)
        .bind(account.map(|a| a.0.to_string()))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(window_from_row).collect()
    }

    async fn open_window(
        &self,
        account: AccountId,
        system: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Window>, StoreError> {
        let row = sqlx::query(self.sql(concat!(
            select_windows!(),
            "WHERE account_id = ?1 AND system = ?2 AND state = 'scheduled' \
             AND starts_at <= ?3 AND ends_at > ?3 ORDER BY ends_at DESC LIMIT 1"
        )))
        .bind(account.0.to_string())
        .bind(system)
        .bind(to_millis(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        row.as_ref().map(window_from_row).transpose()
    }

    async fn close_window(
        &self,
        id: &str,
        state: WindowState,
        at: DateTime<Utc>,
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(self.sql(
            "UPDATE maintenance_windows SET state = ?2, closed_at = ?3, closed_by = ?4, \
             close_reason = ?5 WHERE id = ?1 AND state = 'scheduled'",
        ))
        .bind(id)
        .bind(state.as_str())
        .bind(to_millis(at))
        .bind(by)
        .bind(reason)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn windows_to_announce(&self, now: DateTime<Utc>) -> Result<Vec<Window>, StoreError> {
        let rows = sqlx::query(self.sql(concat!(
            select_windows!(),
            "WHERE (opened_logged = 0 AND state <> 'cancelled' AND starts_at <= ?1) \
             OR (closed_logged = 0 AND (state <> 'scheduled' OR ends_at <= ?1)) \
             ORDER BY starts_at"
        )))
        .bind(to_millis(now))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(window_from_row).collect()
    }

    async fn mark_window_announced(
        &self,
        id: &str,
        opened: bool,
        closed: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(self.sql(
            "UPDATE maintenance_windows SET \
             opened_logged = CASE WHEN ?2 = 1 THEN 1 ELSE opened_logged END, \
             closed_logged = CASE WHEN ?3 = 1 THEN 1 ELSE closed_logged END WHERE id = ?1",
        ))
        .bind(id)
        .bind(i64::from(opened))
        .bind(i64::from(closed))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }
}

fn event_from_row(row: &AnyRow) -> Result<BreakGlassEvent, StoreError> {
    let c = Cols(row);
    Ok(BreakGlassEvent {
        id: c.int("id")?,
        facility_id: FacilityId(c.text("facility_id")?),
        account_id: c.opt_uuid("account_id")?.map(AccountId),
        username: c.text("username")?,
        at: c.time("at")?,
        channel: c.text("channel")?,
        device: c.opt_text("device")?,
        ip: c.opt_text("ip")?,
        acknowledged_at: c.opt_time("acknowledged_at")?,
        acknowledged_by: c.opt_text("acknowledged_by")?,
        ack_reason: c.opt_text("ack_reason")?,
    })
}

#[async_trait]
impl BreakGlassStore for SqlStore {
    async fn insert_break_glass(&self, e: &BreakGlassEvent) -> Result<i64, StoreError> {
        sqlx::query_scalar(self.sql(
            "INSERT INTO break_glass_events (facility_id, account_id, username, at, channel, \
             device, ip) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        ))
        .bind(&e.facility_id.0)
        .bind(e.account_id.map(|a| a.0.to_string()))
        .bind(&e.username)
        .bind(to_millis(e.at))
        .bind(&e.channel)
        .bind(&e.device)
        .bind(&e.ip)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn list_break_glass(
        &self,
        facility: &FacilityId,
        open_only: bool,
    ) -> Result<Vec<BreakGlassEvent>, StoreError> {
        let rows = sqlx::query(self.sql(
            "SELECT id, facility_id, account_id, username, at, channel, device, ip, \
             acknowledged_at, acknowledged_by, ack_reason FROM break_glass_events \
             WHERE facility_id = ?1 AND (?2 = 0 OR acknowledged_at IS NULL) ORDER BY id DESC",
        ))
        .bind(&facility.0)
        .bind(i64::from(open_only))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn acknowledge_break_glass(
        &self,
        facility: &FacilityId,
        id: i64,
        at: DateTime<Utc>,
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(self.sql(
            "UPDATE break_glass_events SET acknowledged_at = ?3, acknowledged_by = ?4, \
             ack_reason = ?5 WHERE facility_id = ?1 AND id = ?2 AND acknowledged_at IS NULL",
        ))
        .bind(&facility.0)
        .bind(id)
        .bind(to_millis(at))
        .bind(by)
        .bind(reason)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}
