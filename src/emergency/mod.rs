//! Emergency (break-glass) accounts (非常時のユーザアカウント, G-13): they work when everything
//! else fails, and every use is loud. An `emergency` account signs in with its password and
//! one of a set of single-use codes kept in a sealed envelope; no other factor is needed.
//! Each use is critical in the audit log, an alert on syslog, and a banner in the consoles
//! until an administrator acknowledges it with a reason. Afterwards the account is unusable
//! until its password is changed and its codes are re-issued ("unusable after recovery").
//!
//! This module is the pure part (the codes' stored form, the recorded use); `service`
//! issues codes, records uses and acknowledgements.

pub mod service;

use chrono::{DateTime, Utc};

use crate::account::{AccountId, FacilityId};

/// The credential kind the codes are stored under (one row each, spent by one delete).
pub const KIND: &str = "break_glass";

/// A typed code's stored form (codes read like recovery codes: `xxxx-xxxx-xxxx`).
pub fn hash(account: &AccountId, normalised: &str) -> String {
    crate::recovery::keyed_hash(b"sekimori break-glass v1\x00", account, normalised)
}

/// One use of an emergency account, open until acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlassEvent {
    pub id: i64,
    pub facility_id: FacilityId,
    pub account_id: Option<AccountId>,
    pub username: String,
    pub at: DateTime<Utc>,
    /// `web` (a sign-in with a code) or `pam` (the PAM stack's break-glass session line).
    pub channel: String,
    pub device: Option<String>,
    pub ip: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub ack_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn break_glass_codes_hash_apart_from_recovery_codes() {
        let a = AccountId(uuid::Uuid::from_u128(7));
        assert_ne!(
            hash(&a, "abcdefghjkmn"),
            crate::recovery::hash(&a, "abcdefghjkmn")
        );
        assert_eq!(hash(&a, "abcdefghjkmn"), hash(&a, "abcdefghjkmn"));
    }
}
