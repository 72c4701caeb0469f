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
    /// Until then some system lets accounts with a second factor sign in without it
    /// (`[systems.*] enrolled_factors_optional_until`): the latest such end.
    factors_optional_until: Option<DateTime<Utc>>,
    /// The bootstrap administrator's one-time password file, removed at its first change.
    bootstrap_file: Option<std::path::PathBuf>,
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
            factors_optional_until: None,
            bootstrap_file: None,
        }
    }

    /// Where the bootstrap administrator's one-time password file is kept.
    pub fn with_bootstrap_file(mut self, path: std::path::PathBuf) -> Self {
        self.bootstrap_file = Some(path);
        self
    }

    /// The latest end of a recorded relaxation of `enrolled-factors-are-used`.
    pub fn with_factors_optional_until(mut self, until: Option<DateTime<Utc>>) -> Self {
        self.factors_optional_until = until;
        self
    }

    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// Entries of the blocklist in force (bundled or from a file).
    pub fn blocklist_len(&self) -> usize {
        self.blocklist.len()
    }

    pub fn breach_filter(&self) -> Option<&BreachFilter> {
        self.breach.as_deref()
    }

    /// Is a second factor enforced at every sign-in of this account, so that its password
    /// never stands alone? Its flag and its type say so; an enrolled factor says so too
    /// (policy `enrolled-factors-are-used`), unless some system relaxes that rule now.
    pub fn second_factor_enforced(
        &self,
        account: &Account,
        has_second_factor: bool,
        now: DateTime<Utc>,
    ) -> bool {
        let relaxed = self.factors_optional_until.is_some_and(|t| t > now);
        account.enforces_second_factor() || (has_second_factor && !relaxed)
    }

    async fn enforced_now(&self, account: &Account, now: DateTime<Utc>) -> Result<bool, Error> {
        let factors = self.stores.factors.list_factors(account.id).await?;
        let has = factors
            .iter()
            .any(|f| f.kind == "totp" || f.kind == "webauthn");
        Ok(self.second_factor_enforced(account, has, now))
    }

    /// The shortest password this account may have now: `min_length_without_second_factor`
    /// for an account that can ever sign in with its password alone.
    pub async fn min_length_for(
        &self,
        account: &Account,
        now: DateTime<Utc>,
    ) -> Result<usize, Error> {
        Ok(if self.enforced_now(account, now).await? {
            self.policy.min_length_with_second_factor
        } else {
            self.policy.min_length_without_second_factor
        })
    }

    /// The rule context for an account: its second-factor state and personal inputs.
    pub async fn context_for(
        &self,
        account: &Account,
        now: DateTime<Utc>,
    ) -> Result<RuleContext, Error> {
        let mut inputs = account.personal_inputs();
        if !self.facility_name.is_empty() {
            inputs.push(self.facility_name.clone());
        }
        Ok(RuleContext {
            second_factor_enforced: self.enforced_now(account, now).await?,
            personal_inputs: inputs,
        })
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
        now: DateTime<Utc>,
    ) -> Result<SecretString, Error> {
        let ctx = self.context_for(account, now).await?;
        let assessment = self.assess(raw.expose(), ctx);
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
        let normalised = self.validate(account, raw, now).await?;
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
        let next = match by {
            SetBy::Admin => AccountStatus::MustChangePassword,
            SetBy::Owner => AccountStatus::Active,
        };
        // Written alone, never lifting a disable that raced this change.
        account.status = self
            .stores
            .accounts
            .set_password_status(account.id, next, now)
            .await?;
        account.password_set_at = Some(now);
        account.updated_at = now;
        // The bootstrap password stops being valid here; its file goes with it.
        if let Some(file) = &self.bootstrap_file
            && account.username.as_str() == crate::admin::bootstrap::USERNAME
        {
            crate::admin::bootstrap::forget_secret(file);
        }
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
