//! Second factors from the helpdesk's side: list an account's factors, and reset them all
//! when a person lost their key or phone. A reset needs a reason and the identity check the
//! helpdesk used (both go into the audit log), ends the account's sessions and clears its
//! second-factor lock, so the person enrols again at the next sign-in.

use super::{AccountAdmin, require_reason};
use crate::account::Account;
use crate::audit::{EventKind, Outcome};
use crate::error::Error;
use crate::state::StateKey;
use crate::store::FactorRecord;

impl AccountAdmin {
    /// An account's factors (recovery codes included, one row each).
    pub async fn factors(&self, name: &str) -> Result<(Account, Vec<FactorRecord>), Error> {
        let account = self.find(name).await?;
        let list = self.stores.factors.list_factors(account.id).await?;
        Ok((account, list))
    }

    /// Remove every factor of the account; how many there were.
    pub async fn reset_factors(
        &self,
        name: &str,
        reason: &str,
        identity_check: &str,
        actor: &str,
    ) -> Result<u64, Error> {
        let reason = require_reason(reason)?;
        let check = identity_check.trim();
        if check.is_empty() {
            return Err(Error::Invalid(
                "say how the person's identity was checked (e.g. \"staff ID card seen\"); it goes into the audit log".into(),
            ));
        }
        crate::account::validate_text_field("identity_check", check, 200)
            .map_err(Error::Invalid)?;
        let (account, before) = self.factors(name).await?;
        let removed = self.stores.factors.delete_all_factors(account.id).await?;
        let ended = self.end_sessions(&account).await?;
        if let Some(state) = self.state() {
            state
                .lockout_reset(&StateKey::second_factor_lock(&account.id.to_string()))
                .await?;
        }
        let kinds: Vec<&str> = before.iter().map(|f| f.kind.as_str()).collect();
        self.auditor
            .record(
                self.event(
                    EventKind::FactorsReset,
                    Outcome::Success,
                    actor,
                    &account.username,
                )
                .detail("reason", reason)
                .detail("identity_check", check)
                .detail("removed", removed)
                .detail("kinds", kinds)
                .detail("sessions_ended", ended),
            )
            .await?;
        Ok(removed)
    }
}

/// Seal every stored second-factor secret again with the newest sealing key; how many.
pub async fn reseal(
    state: &crate::app::AppState,
    seal: &crate::crypto::seal_ring::SealRing,
) -> Result<usize, Error> {
    let mut n = 0;
    for account in state.admin.list().await? {
        for kind in ["totp", "webauthn"] {
            let owner = crate::crypto::seal_ring::owner(account.id.0, kind);
            for (id, sealed) in state
                .stores
                .factors
                .factor_secrets(account.id, kind)
                .await?
            {
                if seal.is_current(&sealed) {
                    continue;
                }
                let plain = seal.open(&sealed, &owner).map_err(|e| {
                    Error::Config(format!(
                        "factor {id} of {} does not open: {e}",
                        account.username
                    ))
                })?;
                let again = seal
                    .seal(plain.expose(), &owner)
                    .map_err(|e| Error::Invalid(e.to_string()))?;
                state
                    .stores
                    .factors
                    .update_factor_secret(id, &again)
                    .await?;
                n += 1;
            }
        }
    }
    Ok(n)
}
