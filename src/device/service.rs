//! Device register use cases: register, list, show, disable and rotate a credential. Each
//! change is audited (subject `device:NAME`) before it is reported; a credential is returned
//! once, at registration or rotation, and never stored in the clear.

use std::sync::Arc;

use super::{Device, DeviceKind, DeviceStatus, credential_hash, validate_name};
use crate::account::FacilityId;
use crate::audit::{AuditEvent, Auditor, EventKind, Outcome};
use crate::clock::Clock;
use crate::crypto::{SecretString, random_token};
use crate::error::Error;
use crate::store::{StoreError, Stores};

/// What registering asks for.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub name: String,
    pub kind: DeviceKind,
    pub location: String,
    pub owner: String,
}

#[derive(Debug, Clone)]
pub struct DeviceRegister {
    pub(super) stores: Stores,
    pub(super) auditor: Auditor,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) facility: FacilityId,
    /// Signs terminal cookies (derived from the factor-sealing key; None in admin commands
    /// run before the first start, which cannot bind browsers then).
    pub(super) cookie_key: Option<Arc<[u8; 32]>>,
    pub(super) recognised: super::recognised::Recognised,
}

fn text(field: &'static str, value: &str, max: usize) -> Result<String, Error> {
    crate::account::validate_text_field(field, value.trim(), max).map_err(Error::Invalid)?;
    Ok(value.trim().to_owned())
}

impl DeviceRegister {
    pub fn new(
        stores: Stores,
        auditor: Auditor,
        clock: Arc<dyn Clock>,
        facility: FacilityId,
    ) -> Self {
        Self {
            stores,
            auditor,
            clock,
            facility,
            cookie_key: None,
            recognised: super::recognised::Recognised::default(),
        }
    }

    /// The key terminal cookies are signed with.
    pub fn with_cookie_key(mut self, key: Option<[u8; 32]>) -> Self {
        self.cookie_key = key.map(Arc::new);
        self
    }

    pub(super) fn event(&self, kind: EventKind, actor: &str, d: &Device) -> AuditEvent {
        AuditEvent::new(self.facility.clone(), kind, Outcome::Success)
            .actor(actor)
            .subject(format!("device:{}", d.name))
            .detail("device_id", d.id.to_string())
            .detail("device_kind", d.kind.as_str())
    }

    pub async fn add(&self, new: NewDevice, actor: &str) -> Result<(Device, SecretString), Error> {
        let name = validate_name(&new.name).map_err(Error::Invalid)?;
        let now = self.clock.now();
        let token = random_token();
        let device = Device {
            id: uuid::Uuid::now_v7(),
            facility_id: self.facility.clone(),
            name,
            kind: new.kind,
            location: text("location", &new.location, 200)?,
            owner: text("owner", &new.owner, 200)?,
            registered_by: actor.to_owned(),
            status: DeviceStatus::Active,
            credential_hash: credential_hash(&token),
            credential_rotated_at: now,
            created_at: now,
            last_seen_at: None,
            terminal: super::terminal::Binding::default(),
        };
        match self.stores.devices.add_device(&device).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(Error::Invalid(format!(
                    "a device named `{}` is registered already",
                    device.name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.auditor
            .record(
                self.event(EventKind::DeviceRegistered, actor, &device)
                    .detail("location", device.location.as_str())
                    .detail("owner", device.owner.as_str()),
            )
            .await?;
        Ok((device, SecretString::new(token)))
    }

    pub async fn list(&self) -> Result<Vec<Device>, Error> {
        Ok(self.stores.devices.list_devices(&self.facility).await?)
    }

    pub async fn find(&self, name: &str) -> Result<Device, Error> {
        self.stores
            .devices
            .find_device(&self.facility, name.trim())
            .await?
            .ok_or(Error::Refused {
                code: "device_not_found",
                message: "No device is registered under this name.",
            })
    }

    /// Record the device's last contact, to the minute: one write per device and minute, not
    /// per request. Best effort: a failed write is logged and the request goes on.
    pub(super) async fn seen(&self, d: &mut Device) {
        let now = self.clock.now();
        if d.last_seen_at
            .is_none_or(|t| now - t > chrono::Duration::minutes(1))
        {
            d.last_seen_at = Some(now);
            if let Err(e) = self.stores.devices.touch_device(d.id, now).await {
                tracing::warn!(error = %e, "recording a device's last contact failed");
            }
        }
    }

    /// The device a PAM module (or another device client) speaks for: registered, active,
    /// a server or terminal, and holding this credential. A refusal is audited with the
    /// asking address and says nothing about which check failed.
    pub async fn authenticate(
        &self,
        name: &str,
        token: &str,
        ip: std::net::IpAddr,
    ) -> Result<Device, Error> {
        let found = self
            .stores
            .devices
            .find_device(&self.facility, name.trim())
            .await?;
        let reason = match &found {
            None => "unknown_device",
            Some(d) if d.status != DeviceStatus::Active => "device_disabled",
            Some(d) if d.kind == DeviceKind::Network => "device_kind",
            Some(d) if !d.accepts(token) => "wrong_credential",
            Some(_) => "",
        };
        match found {
            Some(mut d) if reason.is_empty() => {
                self.seen(&mut d).await;
                Ok(d)
            }
            _ => {
                let mut e = AuditEvent::new(
                    self.facility.clone(),
                    EventKind::DeviceAuthFailed,
                    Outcome::Failure,
                )
                .subject(format!("device:{}", name.trim()))
                .detail("reason", reason);
                e.ip = Some(ip.to_string());
                self.auditor.record(e).await?;
                Err(Error::Refused {
                    code: "device_unauthorized",
                    message: "The device is not registered, is disabled, or its credential is wrong.",
                })
            }
        }
    }

    pub async fn disable(&self, name: &str, reason: &str, actor: &str) -> Result<Device, Error> {
        let reason = crate::admin::require_reason(reason)?;
        let mut d = self.find(name).await?;
        d.status = DeviceStatus::Disabled;
        self.stores.devices.update_device(&d).await?;
        self.recognised.forget(d.id);
        self.auditor
            .record(
                self.event(EventKind::DeviceDisabled, actor, &d)
                    .detail("reason", reason),
            )
            .await?;
        Ok(d)
    }

    /// A new credential; the old one stops working at once.
    pub async fn rotate(
        &self,
        name: &str,
        reason: &str,
        actor: &str,
    ) -> Result<(Device, SecretString), Error> {
        let reason = crate::admin::require_reason(reason)?;
        let mut d = self.find(name).await?;
        let token = random_token();
        d.credential_hash = credential_hash(&token);
        d.credential_rotated_at = self.clock.now();
        // A terminal's bound browser goes with the old credential.
        d.terminal.revoke();
        self.recognised.forget(d.id);
        self.stores.devices.update_device(&d).await?;
        self.auditor
            .record(
                self.event(EventKind::DeviceCredentialRotated, actor, &d)
                    .detail("reason", reason),
            )
            .await?;
        Ok((d, SecretString::new(token)))
    }
}
