//! Break-glass codes issued, spent and reported: a set printed once for an `emergency`
//! account; a code spent at most once; each use recorded (critical in the audit log, an alert
//! to syslog, an open event the consoles show until acknowledged); and after a use the
//! account sealed again: its other codes void and its password to be changed.

use std::sync::Arc;

use super::{BreakGlassEvent, KIND, hash};
use crate::account::{Account, AccountStatus, AccountType, Username};
use crate::audit::{AuditEvent, Auditor, EventKind, Outcome};
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::SecretString;
use crate::error::Error;
use crate::store::Stores;

/// Where a use came from.
#[derive(Debug, Clone, Default)]
pub struct UseOrigin {
    /// `web` or `pam`.
    pub channel: &'static str,
    pub ip: Option<String>,
    pub device: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EmergencyService {
    stores: Stores,
    auditor: Auditor,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
}

impl EmergencyService {
    pub fn new(
        stores: Stores,
        auditor: Auditor,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
    ) -> Self {
        Self {
            stores,
            auditor,
            clock,
            config,
        }
    }

    /// A new set of codes for an emergency account (the old set stops working); shown once.
    pub async fn issue_codes(
        &self,
        account: &Account,
        reason: &str,
        actor: &str,
    ) -> Result<Vec<SecretString>, Error> {
        if account.account_type != AccountType::Emergency {
            return Err(Error::Invalid(format!(
                "`{}` is a {} account: break-glass codes are for emergency accounts",
                account.username, account.account_type
            )));
        }
        let codes = crate::recovery::generate_n(self.config.emergency.codes);
        let hashes: Vec<String> = codes
            .iter()
            .filter_map(|c| crate::recovery::normalise(c.expose()).ok())
            .map(|n| hash(&account.id, &n))
            .collect();
        self.stores
            .factors
            .replace_codes(account.id, KIND, &hashes, self.clock.now())
            .await?;
        self.auditor
            .record(
                AuditEvent::new(
                    self.config.facility.id.clone(),
                    EventKind::BreakGlassCodesIssued,
                    Outcome::Success,
                )
                .actor(actor)
                .subject(account.username.as_str())
                .detail("reason", reason)
                .detail("codes", hashes.len()),
            )
            .await?;
        Ok(codes)
    }

    /// How many unused codes the account has.
    pub async fn codes_left(&self, account: &Account) -> Result<usize, Error> {
        Ok(self
            .stores
            .factors
            .list_factors(account.id)
            .await?
            .iter()
            .filter(|f| f.kind == KIND)
            .count())
    }

    /// Spend a typed code: true exactly once per code.
    pub async fn spend(&self, account: &Account, typed: &SecretString) -> Result<bool, Error> {
        let n = crate::recovery::normalise(typed.expose())?;
        Ok(self
            .stores
            .factors
            .use_code(account.id, KIND, &hash(&account.id, &n))
            .await?)
    }

    /// Record a use: critical in the audit log, an alert on syslog, and an open event.
    /// Returns the event's id and the audit row's sequence number.
    pub async fn record_use(
        &self,
        username: &str,
        account: Option<&Account>,
        origin: &UseOrigin,
        detail: serde_json::Value,
    ) -> Result<(i64, i64), Error> {
        let now = self.clock.now();
        let event = BreakGlassEvent {
            id: 0,
            facility_id: self.config.facility.id.clone(),
            account_id: account.map(|a| a.id),
            username: username.to_owned(),
            at: now,
            channel: origin.channel.to_owned(),
            device: origin.device.clone(),
            ip: origin.ip.clone(),
            acknowledged_at: None,
            acknowledged_by: None,
            ack_reason: None,
        };
        let id = self.stores.break_glass.insert_break_glass(&event).await?;
        let mut e = AuditEvent::new(
            self.config.facility.id.clone(),
            EventKind::BreakGlassUsed,
            Outcome::Info,
        )
        .subject(username)
        .detail("severity", "critical")
        .detail("break_glass_event", id)
        .detail("channel", origin.channel);
        if let serde_json::Value::Object(more) = detail
            && let serde_json::Value::Object(d) = &mut e.detail
        {
            d.extend(more);
        }
        e.ip = origin.ip.clone();
        e.device = origin.device.clone();
        let row = self.auditor.record(e).await?;
        if let Some(socket) = &self.config.emergency.alert_socket {
            crate::syslog::send(
                socket,
                crate::syslog::Severity::Alert,
                "break_glass",
                &format!(
                    "emergency account {username} used ({}, from {}{}); acknowledge it in the admin console / 緊急用アカウント {username} が使用されました",
                    origin.channel,
                    origin.ip.as_deref().unwrap_or("-"),
                    origin
                        .device
                        .as_deref()
                        .map(|d| format!(", device {d}"))
                        .unwrap_or_default()
                ),
                now,
            );
        }
        Ok((id, row.seq))
    }

    /// After a use: the other codes stop working and the password must change before the
    /// account can be used again (unusable after recovery, G-13).
    pub async fn seal_after_use(&self, account: &Account) -> Result<(), Error> {
        self.stores
            .factors
            .replace_codes(account.id, KIND, &[], self.clock.now())
            .await?;
        let mut a = account.clone();
        a.status = AccountStatus::Compromised;
        a.updated_at = self.clock.now();
        self.stores.accounts.update_account(&a).await?;
        Ok(())
    }

    /// Uses not yet acknowledged (newest first), or all of them.
    pub async fn uses(&self, open_only: bool) -> Result<Vec<BreakGlassEvent>, Error> {
        Ok(self
            .stores
            .break_glass
            .list_break_glass(&self.config.facility.id, open_only)
            .await?)
    }

    /// An administrator has looked into a use: the banner goes, the reason stays.
    pub async fn acknowledge(&self, id: i64, reason: &str, actor: &str) -> Result<(), Error> {
        let reason = crate::admin::require_reason(reason)?;
        let now = self.clock.now();
        let open = self.uses(true).await?;
        let Some(event) = open.iter().find(|e| e.id == id) else {
            return Err(Error::Invalid(format!(
                "no unacknowledged break-glass use #{id}"
            )));
        };
        if !self
            .stores
            .break_glass
            .acknowledge_break_glass(&self.config.facility.id, id, now, actor, reason)
            .await?
        {
            return Err(Error::Invalid(format!(
                "break-glass use #{id} was acknowledged already"
            )));
        }
        self.auditor
            .record(
                AuditEvent::new(
                    self.config.facility.id.clone(),
                    EventKind::BreakGlassAcknowledged,
                    Outcome::Success,
                )
                .actor(actor)
                .subject(event.username.as_str())
                .detail("break_glass_event", id)
                .detail("used_at", crate::clock::to_jst_string(event.at))
                .detail("reason", reason),
            )
            .await?;
        Ok(())
    }

    /// Is this a username an emergency account could have? (PAM reports a use by name.)
    pub async fn account_named(&self, name: &str) -> Result<Option<Account>, Error> {
        let Ok(username) = Username::parse(name) else {
            return Ok(None);
        };
        Ok(self
            .stores
            .accounts
            .find_account_by_username(&self.config.facility.id, &username)
            .await?)
    }
}
