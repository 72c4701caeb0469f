//! The device register (機器台帳, G-25/G-27): terminals, servers and network devices with
//! where they are, who is responsible, who registered them, their status, when they were last
//! seen, and a device credential. The credential is a 256-bit random token shown once and
//! stored only as its SHA-256 (it is high-entropy, so a fast hash is the right one).
//! Everything here is pure; `service` records changes with the store and the audit log.

pub mod browser;
mod recognised;
pub mod service;
pub mod terminal;

/// Systems named `device:NAME` are registered devices (a vendor window for a server, the
/// PAM and device-flow sign-ins at it).
pub const DEVICE_PREFIX: &str = "device:";

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::account::FacilityId;
use crate::crypto::{constant_time_eq, is_token};

/// What a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Terminal,
    Server,
    Network,
}

impl DeviceKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "terminal" => Some(Self::Terminal),
            "server" => Some(Self::Server),
            "network" => Some(Self::Network),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Terminal => "terminal",
            Self::Server => "server",
            Self::Network => "network",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Self::Terminal => "端末",
            Self::Server => "サーバー",
            Self::Network => "ネットワーク機器",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Active,
    Disabled,
}

impl DeviceStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Self::Active => "稼働中",
            Self::Disabled => "無効",
        }
    }
}

/// A registered device (its credential only as a hash, never shown).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Device {
    pub id: Uuid,
    #[schema(value_type = String)]
    pub facility_id: FacilityId,
    pub name: String,
    pub kind: DeviceKind,
    pub location: String,
    pub owner: String,
    pub registered_by: String,
    pub status: DeviceStatus,
    #[serde(skip)]
    #[schema(ignore)]
    pub credential_hash: String,
    pub credential_rotated_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// A terminal's bound browser and its pending enrolment link.
    #[serde(skip)]
    #[schema(ignore)]
    pub terminal: terminal::Binding,
}

/// The stored form of a device credential.
pub fn credential_hash(token: &str) -> String {
    hex::encode(
        Sha256::new()
            .chain_update(b"sekimori device credential v1\x00")
            .chain_update(token.as_bytes())
            .finalize(),
    )
}

impl Device {
    /// Does `token` belong to this device, and may the device act?
    pub fn accepts(&self, token: &str) -> bool {
        self.status == DeviceStatus::Active
            && is_token(token)
            && constant_time_eq(
                credential_hash(token).as_bytes(),
                self.credential_hash.as_bytes(),
            )
    }
}

/// A device name: 1–64 characters, no control characters, no leading or trailing space.
pub fn validate_name(name: &str) -> Result<String, String> {
    let n = name.trim();
    if n.is_empty() {
        return Err("a device needs a name (e.g. \"reception-pc-1\")".into());
    }
    crate::account::validate_text_field("name", n, 64)?;
    Ok(n.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::random_token;
    use chrono::TimeZone;

    fn device(hash: String, status: DeviceStatus) -> Device {
        let t = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        Device {
            id: Uuid::nil(),
            facility_id: FacilityId("default".into()),
            name: "reception-pc".into(),
            kind: DeviceKind::Terminal,
            location: String::new(),
            owner: String::new(),
            registered_by: "test".into(),
            status,
            credential_hash: hash,
            credential_rotated_at: t,
            created_at: t,
            last_seen_at: None,
            terminal: terminal::Binding::default(),
        }
    }

    #[test]
    fn only_the_current_token_of_an_active_device_is_accepted() {
        let token = random_token();
        let d = device(credential_hash(&token), DeviceStatus::Active);
        assert!(d.accepts(&token));
        assert!(!d.accepts(&random_token()));
        assert!(!d.accepts("short"));
        let off = device(credential_hash(&token), DeviceStatus::Disabled);
        assert!(
            !off.accepts(&token),
            "a disabled device's credential stops counting"
        );
    }

    #[test]
    fn names_and_kinds_are_checked() {
        assert_eq!(validate_name("  ward-3 pc ").unwrap(), "ward-3 pc");
        assert!(validate_name("").is_err());
        assert!(validate_name("a\u{7}b").is_err());
        assert_eq!(DeviceKind::parse("server"), Some(DeviceKind::Server));
        assert_eq!(DeviceKind::parse("printer"), None);
    }
}
