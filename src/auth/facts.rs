//! What the login knows about an account's second factors and password, and the reminders
//! that go with a new session: read from the stores, decided nowhere else.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::account::{Account, AccountStatus};
use crate::config::Config;
use crate::error::Error;
use crate::store::Stores;

/// Something the signed-in person should know, shown with the new session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// No second factor yet: enrol before the deadline; this many sign-ins remain before
    /// enrolment becomes part of the sign-in.
    EnrolmentRecommended {
        required_from: String,
        grace_remaining: u32,
    },
    /// Few recovery codes remain: make new ones.
    RecoveryCodesLow { remaining: usize },
}

/// An account's second factors as the login and the policy see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorFacts {
    /// A TOTP or WebAuthn factor (recovery codes alone are a backup, not a factor).
    pub has_second_factor: bool,
    pub methods: Vec<&'static str>,
    pub recovery_codes: usize,
    /// Unused break-glass codes (emergency accounts).
    pub break_glass_codes: usize,
    pub nudges: u32,
    pub enrolment_overdue: bool,
}

/// Read an account's factor facts; `count_nudge` records one more sign-in without a factor.
pub async fn factor_facts(
    stores: &Stores,
    config: &Config,
    account: &Account,
) -> Result<FactorFacts, Error> {
    let list = stores.factors.list_factors(account.id).await?;
    let has = |k: &str| list.iter().any(|f| f.kind == k);
    let recovery_codes = list
        .iter()
        .filter(|f| f.kind == crate::recovery::KIND)
        .count();
    let break_glass_codes = list
        .iter()
        .filter(|f| f.kind == crate::emergency::KIND)
        .count();
    let mut methods = Vec::new();
    if has("totp") {
        methods.push("totp");
    }
    if has("webauthn") {
        methods.push("webauthn");
    }
    if recovery_codes > 0 {
        methods.push("recovery_code");
    }
    if break_glass_codes > 0 {
        methods.push("break_glass_code");
    }
    let has_second_factor = has("totp") || has("webauthn");
    // Machine accounts cannot enrol, and emergency accounts use break-glass codes: neither is
    // nudged.
    let nudged =
        !has_second_factor && !matches!(account.account_type.as_str(), "service" | "emergency");
    let nudges = if nudged {
        stores.factors.enrolment_nudges(account.id, false).await?
    } else {
        0
    };
    Ok(FactorFacts {
        has_second_factor,
        methods,
        recovery_codes,
        break_glass_codes,
        nudges,
        enrolment_overdue: nudged && nudges >= config.factors.enrolment_grace_logins,
    })
}

/// `amr` with `methods` added, each once, in order.
pub fn with_methods(mut amr: Vec<String>, methods: Vec<String>) -> Vec<String> {
    for m in methods {
        if !amr.contains(&m) {
            amr.push(m);
        }
    }
    amr
}

/// Does this account need a second factor on its own, whatever the system? Administrators,
/// vendors and emergency accounts always do; everyone from 2027-04-01 (terminals and servers
/// need two factors, and people use those).
pub fn needs_second_factor(account: &Account, now: DateTime<Utc>) -> bool {
    matches!(
        account.account_type.as_str(),
        "admin" | "vendor" | "emergency"
    ) || now.timestamp() >= crate::policy::factors::TWO_FACTOR_DEADLINE_UNIX
}

/// Why a password must change, as the policy context sees it.
pub fn password_state(status: AccountStatus, breached: bool) -> &'static str {
    match status {
        AccountStatus::MustChangePassword => "must_change",
        AccountStatus::Compromised => "compromised",
        _ if breached => "breached",
        _ => "ok",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_state_follows_the_account_and_the_breach_filter() {
        assert_eq!(password_state(AccountStatus::Active, false), "ok");
        assert_eq!(password_state(AccountStatus::Active, true), "breached");
        assert_eq!(
            password_state(AccountStatus::MustChangePassword, false),
            "must_change"
        );
        assert_eq!(
            password_state(AccountStatus::Compromised, true),
            "compromised"
        );
    }
}
