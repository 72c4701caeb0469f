//! Account administration, the use cases clinic IT runs from the CLI and (later) the admin
//! console: create, disable, enable, set roles, reset a password, mark compromised, and the
//! bootstrap admin. Each action is audited before it is reported done.

pub mod bootstrap;
pub mod factors;
mod live;
pub mod review;

pub use live::ZoneLock;

use std::sync::Arc;

use crate::account::{Account, AccountStatus, AccountType, FacilityId, NewAccount, Role, Username};
use crate::audit::{AuditEvent, Auditor, EventKind, Outcome};
use crate::clock::Clock;
use crate::crypto::{SecretString, random_one_time_password};
use crate::error::Error;
use crate::password::RejectReason;
use crate::password::service::{PasswordService, SetBy};
use crate::store::{StoreError, Stores};

/// Length of generated one-time passwords: long enough to pass the no-second-factor minimum.
pub const ONE_TIME_PASSWORD_LEN: usize = 20;

/// How an admin-set password is chosen.
#[derive(Debug)]
pub enum InitialPassword {
    /// Generate a one-time password and return it once.
    Generate,
    /// Use this one (still subject to every rule, and still one-time).
    Given(SecretString),
}

#[derive(Debug, Clone)]
pub struct AccountAdmin {
    stores: Stores,
    passwords: Arc<PasswordService>,
    auditor: Auditor,
    clock: Arc<dyn Clock>,
    facility: FacilityId,
    live: Option<live::Live>,
}

pub(crate) fn require_reason(reason: &str) -> Result<&str, Error> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(Error::ReasonRequired);
    }
    crate::account::validate_text_field("reason", r, 500).map_err(Error::Invalid)?;
    Ok(r)
}

impl AccountAdmin {
    pub fn new(
        stores: Stores,
        passwords: Arc<PasswordService>,
        auditor: Auditor,
        clock: Arc<dyn Clock>,
        facility: FacilityId,
    ) -> Self {
        Self {
            stores,
            passwords,
            auditor,
            clock,
            facility,
            live: None,
        }
    }

    fn event(
        &self,
        kind: EventKind,
        outcome: Outcome,
        actor: &str,
        subject: &Username,
    ) -> AuditEvent {
        AuditEvent::new(self.facility.clone(), kind, outcome)
            .actor(actor)
            .subject(subject.as_str())
    }

    /// Look an account up by what a person typed.
    pub async fn find(&self, name: &str) -> Result<Account, Error> {
        let username = Username::parse(name)?;
        self.stores
            .accounts
            .find_account_by_username(&self.facility, &username)
            .await?
            .ok_or_else(|| Error::AccountNotFound(username.to_string()))
    }

    pub async fn list(&self) -> Result<Vec<Account>, Error> {
        Ok(self.stores.accounts.list_accounts(&self.facility).await?)
    }

    async fn audit_rejection(
        &self,
        actor: &str,
        subject: &Username,
        reasons: &[RejectReason],
    ) -> Result<(), Error> {
        let codes: Vec<&str> = reasons.iter().map(RejectReason::code).collect();
        self.auditor
            .record(
                self.event(
                    EventKind::PasswordRejected,
                    Outcome::Failure,
                    actor,
                    subject,
                )
                .detail("reasons", codes),
            )
            .await?;
        Ok(())
    }

    async fn apply_admin_password(
        &self,
        account: &mut Account,
        initial: InitialPassword,
        actor: &str,
    ) -> Result<Option<SecretString>, Error> {
        let (password, generated) = match initial {
            InitialPassword::Generate => {
                let p = random_one_time_password(ONE_TIME_PASSWORD_LEN);
                (p.clone(), Some(p))
            }
            InitialPassword::Given(p) => (p, None),
        };
        let now = self.clock.now();
        match self
            .passwords
            .set_password(account, &password, SetBy::Admin, now)
            .await
        {
            Err(Error::PasswordRejected(reasons)) => {
                self.audit_rejection(actor, &account.username, &reasons)
                    .await?;
                Err(Error::PasswordRejected(reasons))
            }
            other => other.map(|()| generated),
        }
    }

    /// Create an account with an admin-set one-time password (status `must_change_password`).
    pub async fn create(
        &self,
        new: NewAccount,
        initial: InitialPassword,
        actor: &str,
    ) -> Result<(Account, Option<SecretString>), Error> {
        let now = self.clock.now();
        if new.expires_at.is_some_and(|t| t <= now) {
            return Err(Error::Invalid(
                "the expiry date has passed: give a date in the future".into(),
            ));
        }
        let mut account = new.into_account(now)?;
        account.created_by = actor.to_owned();
        // Validate the password before the account exists, so a refused password leaves nothing.
        if let InitialPassword::Given(p) = &initial {
            match self.passwords.validate(&account, p, now).await {
                Err(Error::PasswordRejected(reasons)) => {
                    self.audit_rejection(actor, &account.username, &reasons)
                        .await?;
                    return Err(Error::PasswordRejected(reasons));
                }
                other => drop(other?),
            }
        }
        match self.stores.accounts.insert_account(&account).await {
            Err(StoreError::Conflict(_)) => {
                return Err(Error::AccountExists(account.username.to_string()));
            }
            other => other?,
        }
        let generated = self
            .apply_admin_password(&mut account, initial, actor)
            .await?;
        let roles: Vec<&str> = account.roles.iter().map(Role::as_str).collect();
        self.auditor
            .record(
                self.event(
                    EventKind::AccountCreated,
                    Outcome::Success,
                    actor,
                    &account.username,
                )
                .detail("account_id", account.id.to_string())
                .detail("account_type", account.account_type.as_str())
                .detail("roles", roles)
                .detail("person_id", account.person_id.to_string()),
            )
            .await?;
        Ok((account, generated))
    }

    async fn set_status(
        &self,
        name: &str,
        status: AccountStatus,
        kind: EventKind,
        reason: &str,
        actor: &str,
    ) -> Result<Account, Error> {
        let reason = require_reason(reason)?;
        let mut account = self.find(name).await?;
        let before = account.status;
        account.status = status;
        account.updated_at = self.clock.now();
        self.stores.accounts.update_account(&account).await?;
        let ended = if matches!(status, AccountStatus::Disabled | AccountStatus::Compromised) {
            self.end_sessions(&account).await?
        } else {
            0
        };
        self.auditor
            .record(
                self.event(kind, Outcome::Success, actor, &account.username)
                    .detail("reason", reason)
                    .detail("status_before", before.as_str())
                    .detail("sessions_ended", ended),
            )
            .await?;
        Ok(account)
    }

    pub async fn disable(&self, name: &str, reason: &str, actor: &str) -> Result<Account, Error> {
        self.set_status(
            name,
            AccountStatus::Disabled,
            EventKind::AccountDisabled,
            reason,
            actor,
        )
        .await
    }

    /// Re-enable. An account whose password was admin-set or compromised keeps that state.
    pub async fn enable(&self, name: &str, reason: &str, actor: &str) -> Result<Account, Error> {
        let account = self.find(name).await?;
        let has_password = self
            .stores
            .credentials
            .find_password(account.id)
            .await?
            .is_some();
        let next = if has_password && account.status == AccountStatus::Disabled {
            // The password may have been known to someone while disabled: same as admin-set.
            AccountStatus::MustChangePassword
        } else {
            account.status
        };
        self.set_status(name, next, EventKind::AccountEnabled, reason, actor)
            .await
    }

    /// Mark compromised: the next login must change the password (G-9).
    pub async fn mark_compromised(
        &self,
        name: &str,
        reason: &str,
        actor: &str,
    ) -> Result<Account, Error> {
        self.set_status(
            name,
            AccountStatus::Compromised,
            EventKind::AccountCompromised,
            reason,
            actor,
        )
        .await
    }

    pub async fn set_roles(
        &self,
        name: &str,
        roles: Vec<Role>,
        reason: &str,
        actor: &str,
    ) -> Result<Account, Error> {
        let reason = require_reason(reason)?;
        let mut account = self.find(name).await?;
        let before: Vec<String> = account
            .roles
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect();
        account.roles = roles;
        account.roles.sort();
        account.roles.dedup();
        account.updated_at = self.clock.now();
        self.stores.accounts.update_account(&account).await?;
        let after: Vec<&str> = account.roles.iter().map(Role::as_str).collect();
        // A privilege change: sessions carry the old roles, so they end (no fixation).
        let ended = self.end_sessions(&account).await?;
        self.auditor
            .record(
                self.event(
                    EventKind::RoleChanged,
                    Outcome::Success,
                    actor,
                    &account.username,
                )
                .detail("before", before)
                .detail("after", after)
                .detail("reason", reason)
                .detail("sessions_ended", ended),
            )
            .await?;
        Ok(account)
    }

    /// Set (or with `None` remove) a fixed-term account's end. A date that has passed
    /// disables the account at the next housekeeping run.
    pub async fn set_expiry(
        &self,
        name: &str,
        at: Option<chrono::DateTime<chrono::Utc>>,
        reason: &str,
        actor: &str,
    ) -> Result<Account, Error> {
        let reason = require_reason(reason)?;
        let mut account = self.find(name).await?;
        let before = account.expires_at;
        account.expires_at = at;
        account.updated_at = self.clock.now();
        self.stores.accounts.update_account(&account).await?;
        let text = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or_else(|| "never".to_owned(), crate::clock::to_jst_string)
        };
        self.auditor
            .record(
                self.event(
                    EventKind::AccountExpiryChanged,
                    Outcome::Success,
                    actor,
                    &account.username,
                )
                .detail("before", text(before))
                .detail("after", text(at))
                .detail("reason", reason),
            )
            .await?;
        Ok(account)
    }

    /// Require a second factor for an account, or stop requiring it. Its sessions end either
    /// way: they were made under the other rule.
    pub async fn set_second_factor_required(
        &self,
        name: &str,
        required: bool,
        reason: &str,
        actor: &str,
    ) -> Result<Account, Error> {
        let reason = require_reason(reason)?;
        let mut account = self.find(name).await?;
        let before = account.second_factor_required;
        account.second_factor_required = required;
        account.updated_at = self.clock.now();
        self.stores.accounts.update_account(&account).await?;
        let ended = self.end_sessions(&account).await?;
        self.auditor
            .record(
                self.event(
                    EventKind::AdminAction,
                    Outcome::Success,
                    actor,
                    &account.username,
                )
                .detail("action", "second_factor_required")
                .detail("before", before)
                .detail("after", required)
                .detail("reason", reason)
                .detail("sessions_ended", ended),
            )
            .await?;
        Ok(account)
    }

    /// Helpdesk reset: a new one-time password; the owner must change it at first use.
    pub async fn reset_password(
        &self,
        name: &str,
        initial: InitialPassword,
        reason: &str,
        actor: &str,
    ) -> Result<(Account, Option<SecretString>), Error> {
        let reason = require_reason(reason)?;
        let mut account = self.find(name).await?;
        let generated = self
            .apply_admin_password(&mut account, initial, actor)
            .await?;
        let ended = self.end_sessions(&account).await?;
        self.auditor
            .record(
                self.event(
                    EventKind::PasswordReset,
                    Outcome::Success,
                    actor,
                    &account.username,
                )
                .detail("reason", reason)
                .detail("sessions_ended", ended),
            )
            .await?;
        Ok((account, generated))
    }

    /// The owner changes their own password after proving the current one.
    pub async fn change_own_password(
        &self,
        name: &str,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<Account, Error> {
        let mut account = self.find(name).await?;
        let actor = format!("account:{}", account.username);
        if account.status == AccountStatus::Disabled
            || !self.passwords.verify(&account, current).await?
        {
            self.auditor
                .record(
                    self.event(
                        EventKind::PasswordChanged,
                        Outcome::Failure,
                        &actor,
                        &account.username,
                    )
                    .detail("reason", "current_password_incorrect"),
                )
                .await?;
            return Err(Error::Invalid("the current password is incorrect".into()));
        }
        match self
            .passwords
            .set_password(&mut account, new, SetBy::Owner, self.clock.now())
            .await
        {
            Err(Error::PasswordRejected(reasons)) => {
                self.audit_rejection(&actor, &account.username, &reasons)
                    .await?;
                return Err(Error::PasswordRejected(reasons));
            }
            other => other?,
        }
        let ended = self.end_sessions(&account).await?;
        self.auditor
            .record(
                self.event(
                    EventKind::PasswordChanged,
                    Outcome::Success,
                    &actor,
                    &account.username,
                )
                .detail("sessions_ended", ended),
            )
            .await?;
        Ok(account)
    }

    /// On an empty store, create `admin` with a one-time password to be shown once.
    /// No default password ever ships (G-7, G-26).
    pub async fn bootstrap_if_empty(&self) -> Result<Option<(Account, SecretString)>, Error> {
        if self.stores.accounts.count_accounts().await? > 0 {
            return Ok(None);
        }
        let new = NewAccount {
            facility_id: self.facility.clone(),
            login_name: "admin".into(),
            display_name: "初期管理者 / Bootstrap administrator".into(),
            kana_name: None,
            email: None,
            account_type: AccountType::Admin,
            roles: vec![Role::parse("it_admin").map_err(Error::Token)?],
            groups: vec![],
            person_id: None,
            second_factor_required: true,
            expires_at: None,
        };
        let (account, password) = match self
            .create(new, InitialPassword::Generate, "system:bootstrap")
            .await
        {
            Ok(made) => made,
            // Another gateway on the same database made it a moment ago.
            Err(Error::AccountExists(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let password = password
            .ok_or_else(|| Error::Invalid("bootstrap password was not generated".into()))?;
        self.auditor
            .record(self.event(
                EventKind::BootstrapAdminCreated,
                Outcome::Success,
                "system:bootstrap",
                &account.username,
            ))
            .await?;
        Ok(Some((account, password)))
    }
}
