//! The device register in SQLite.

use async_trait::async_trait;
use sqlx::any::AnyRow;

use super::cols::Cols;
use super::{SqlStore, map_err};
use crate::account::FacilityId;
use crate::clock::to_millis;
use crate::device::terminal::Binding;
use crate::device::{Device, DeviceKind, DeviceStatus};
use crate::store::{DeviceStore, StoreError};

fn device_from_row(row: &AnyRow) -> Result<Device, StoreError> {
    let c = Cols(row);
    Ok(Device {
        id: c.uuid("id")?,
        facility_id: FacilityId(c.text("facility_id")?),
        name: c.text("name")?,
        kind: c.parsed("kind", DeviceKind::parse)?,
        location: c.text("location")?,
        owner: c.text("owner")?,
        registered_by: c.text("registered_by")?,
        status: c.parsed("status", DeviceStatus::parse)?,
        credential_hash: c.text("credential_hash")?,
        credential_rotated_at: c.time("credential_rotated_at")?,
        created_at: c.time("created_at")?,
        last_seen_at: c.opt_time("last_seen_at")?,
        terminal: Binding {
            enrol_hash: c.opt_text("enrol_hash")?,
            enrol_expires_at: c.opt_time("enrol_expires_at")?,
            browser_hash: c.opt_text("browser_hash")?,
            browser_prev_hash: c.opt_text("browser_prev_hash")?,
            browser_rotated_at: c.opt_time("browser_rotated_at")?,
        },
    })
}

#[async_trait]
impl DeviceStore for SqlStore {
    async fn add_device(&self, d: &Device) -> Result<(), StoreError> {
        sqlx::query(self.sql(
            "INSERT INTO devices (id, facility_id, name, kind, location, owner, registered_by, \
             status, credential_hash, credential_rotated_at, created_at, last_seen_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        ))
        .bind(d.id.to_string())
        .bind(&d.facility_id.0)
        .bind(&d.name)
        .bind(d.kind.as_str())
        .bind(&d.location)
        .bind(&d.owner)
        .bind(&d.registered_by)
        .bind(d.status.as_str())
        .bind(&d.credential_hash)
        .bind(to_millis(d.credential_rotated_at))
        .bind(to_millis(d.created_at))
        .bind(d.last_seen_at.map(to_millis))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn list_devices(&self, facility: &FacilityId) -> Result<Vec<Device>, StoreError> {
        let rows =
            sqlx::query(self.sql("SELECT * FROM devices WHERE facility_id = ?1 ORDER BY name"))
                .bind(&facility.0)
                .fetch_all(&self.pool)
                .await
                .map_err(map_err)?;
        rows.iter().map(device_from_row).collect()
    }

    async fn touch_device(
        &self,
        id: uuid::Uuid,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(self.sql("UPDATE devices SET last_seen_at = ?2 WHERE id = ?1"))
            .bind(id.to_string())
            .bind(to_millis(at))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn set_binding(&self, id: uuid::Uuid, b: &Binding) -> Result<(), StoreError> {
        let done = sqlx::query(self.sql(
            "UPDATE devices SET enrol_hash = ?2, enrol_expires_at = ?3, browser_hash = ?4, \
             browser_prev_hash = ?5, browser_rotated_at = ?6 WHERE id = ?1",
        ))
        .bind(id.to_string())
        .bind(&b.enrol_hash)
        .bind(b.enrol_expires_at.map(to_millis))
        .bind(&b.browser_hash)
        .bind(&b.browser_prev_hash)
        .bind(b.browser_rotated_at.map(to_millis))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("device"));
        }
        Ok(())
    }

    async fn get_device(&self, id: uuid::Uuid) -> Result<Option<Device>, StoreError> {
        let row = sqlx::query(self.sql("SELECT * FROM devices WHERE id = ?1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(device_from_row).transpose()
    }

    async fn find_device(
        &self,
        facility: &FacilityId,
        name: &str,
    ) -> Result<Option<Device>, StoreError> {
        let row =
            sqlx::query(self.sql("SELECT * FROM devices WHERE facility_id = ?1 AND name = ?2"))
                .bind(&facility.0)
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        row.as_ref().map(device_from_row).transpose()
    }

    async fn update_device(&self, d: &Device) -> Result<(), StoreError> {
        let done = sqlx::query(self.sql(
            "UPDATE devices SET status = ?2, credential_hash = ?3, credential_rotated_at = ?4, \
             location = ?5, owner = ?6, last_seen_at = ?7, enrol_hash = ?8, \
             enrol_expires_at = ?9, browser_hash = ?10, browser_prev_hash = ?11, \
             browser_rotated_at = ?12 WHERE id = ?1",
        ))
        .bind(d.id.to_string())
        .bind(d.status.as_str())
        .bind(&d.credential_hash)
        .bind(to_millis(d.credential_rotated_at))
        .bind(&d.location)
        .bind(&d.owner)
        .bind(d.last_seen_at.map(to_millis))
        .bind(&d.terminal.enrol_hash)
        .bind(d.terminal.enrol_expires_at.map(to_millis))
        .bind(&d.terminal.browser_hash)
        .bind(&d.terminal.browser_prev_hash)
        .bind(d.terminal.browser_rotated_at.map(to_millis))
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("device"));
        }
        Ok(())
    }
}
