//! The password service: applies the pure rules, checks reuse against stored history (the
//! account's and the same person's other accounts'), hashes on the bounded pool, stores, and
//! upgrades hash parameters after a successful verify. It does not audit: its callers know
//! who acted and why.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::blocklist::Blocklist;
use super::breach::BreachFilter;
use super::hasher::Hasher;
use super::reason::RejectReason;
use super::rules::{self, Assessment, PasswordPolicy, RuleContext};
use crate::account::{Account, AccountStatus};
use crate::crypto::SecretString;
use crate::error::Error;
use crate::store::Stores;

/// Who is setting the password; decides the status afterwards (G-19).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetBy {
    /// An administrator or the bootstrap: the owner must change it at first use.
    Admin,
    /// The owner.
    Owner,
}

#[derive(Debug)]
pub struct PasswordService {
    policy: PasswordPolicy,
    hasher: Hasher,
    blocklist: Arc<Blocklist>,
    breach: Option<Arc<BreachFilter>>,
    facility_name: String,
    stores: Stores,
}

impl PasswordService {
    pub fn new(
        policy: PasswordPolicy,
        hasher: Hasher,
        blocklist: Arc<Blocklist>,
        breach: Option<Arc<BreachFilter>>,
        facility_name: String,
        stores: Stores,
    ) -> Self {
        Self {
            policy,
            hasher,
            blocklist,
            breach,
            facility_name,
            stores,
        }
    }

    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    pub fn breach_filter(&self) -> Option<&BreachFilter> {
        self.breach.as_deref()
    }

    /// The rule context for an account: its second-factor state and personal inputs.
    pub fn context_for(&self, account: &Account) -> RuleContext {
        let mut inputs = account.personal_inputs();
        if !self.facility_name.is_empty() {
            inputs.push(self.facility_name.clone());
        }
        RuleContext {
            second_factor_enforced: account.enforces_second_factor(),
            personal_inputs: inputs,
        }
    }

    /// The pure rules for a candidate, with an explicit context (the strength meter uses this).
    pub fn assess(&self, raw: &str, mut ctx: RuleContext) -> Assessment {
        if !self.facility_name.is_empty() && !ctx.personal_inputs.contains(&self.facility_name) {
            ctx.personal_inputs.push(self.facility_name.clone());
        }
        rules::assess(
            raw,
            &self.policy,
            &ctx,
            &self.blocklist,
            self.breach.as_deref(),
        )
    }

    /// Whether the candidate repeats a recent password of this account or any password of
    /// the same person's other accounts (their last `history_depth`).
    pub async fn check_reuse(
        &self,
        account: &Account,
        normalised: &SecretString,
    ) -> Result<Option<RejectReason>, Error> {
        let depth = self.policy.history_depth;
        let own = self
            .stores
            .history
            .recent_password_hashes(account.id, depth)
            .await?;
        if let Some(i) = self.hasher.find_match(normalised.clone(), own).await? {
            return Ok(Some(if i == 0 {
                RejectReason::SameAsCurrent
            } else {
                RejectReason::ReusedRecent { depth }
            }));
        }
        let mut others = Vec::new();
        for other in self
            .stores
            .accounts
            .list_accounts_of_person(account.person_id)
            .await?
        {
            if other.id != account.id {
                others.extend(
                    self.stores
                        .history
                        .recent_password_hashes(other.id, depth)
                        .await?,
                );
            }
        }
        if self
            .hasher
            .find_match(normalised.clone(), others)
            .await?
            .is_some()
        {
            return Ok(Some(RejectReason::ReusedOtherAccount));
        }
        Ok(None)
    }

    /// Every rule and the reuse check; `Err(Error::PasswordRejected)` lists all reasons.
    /// Returns the normalised form that is to be hashed.
    pub async fn validate(
        &self,
        account: &Account,
        raw: &SecretString,
    ) -> Result<SecretString, Error> {
        let assessment = self.assess(raw.expose(), self.context_for(account));
        let mut reasons = assessment.reasons;
        let normalised = SecretString::new(rules::normalise_password(raw.expose()));
        // Reuse needs argon2 work per stored hash: only worth it for an otherwise valid password.
        if reasons.is_empty()
            && let Some(r) = self.check_reuse(account, &normalised).await?
        {
            reasons.push(r);
        }
        if reasons.is_empty() {
            Ok(normalised)
        } else {
            Err(Error::PasswordRejected(reasons))
        }
    }

    /// Validate, then hash and store. On success the account's status and `password_set_at`
    /// are updated in `account` and in the store.
    pub async fn set_password(
        &self,
        account: &mut Account,
        raw: &SecretString,
        by: SetBy,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let normalised = self.validate(account, raw).await?;
        let phc = self.hasher.hash(normalised).await?;
        self.stores
            .credentials
            .set_password(
                account.id,
                account.person_id,
                &phc,
                now,
                self.policy.history_depth,
            )
            .await?;
        account.password_set_at = Some(now);
        account.updated_at = now;
        account.status = match (by, account.status) {
            (SetBy::Admin, AccountStatus::Disabled) => AccountStatus::Disabled,
            (SetBy::Admin, _) => AccountStatus::MustChangePassword,
            (SetBy::Owner, AccountStatus::Disabled) => AccountStatus::Disabled,
            (SetBy::Owner, _) => AccountStatus::Active,
        };
        self.stores.accounts.update_account(account).await?;
        Ok(())
    }

    /// Check a password; upgrade the stored hash when its parameters are outdated.
    /// An account without a password never matches.
    pub async fn verify(&self, account: &Account, raw: &SecretString) -> Result<bool, Error> {
        let Some(cred) = self.stores.credentials.find_password(account.id).await? else {
            return Ok(false);
        };
        let normalised = SecretString::new(rules::normalise_password(raw.expose()));
        let verdict = self
            .hasher
            .verify(normalised.clone(), cred.phc.clone())
            .await?;
        if verdict == crate::crypto::hash::Verified::MatchNeedsRehash {
            let new_phc = self.hasher.hash(normalised).await?;
            if let Err(e) = self
                .stores
                .credentials
                .upgrade_password_hash(account.id, &cred.phc, &new_phc)
                .await
            {
                // The login itself is still valid; the upgrade is retried next time.
                tracing::warn!(account = %account.id, error = %e, "password hash upgrade failed");
            }
        }
        Ok(verdict.is_match())
    }
}
