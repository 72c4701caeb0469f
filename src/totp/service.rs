//! TOTP enrolment and verification with the stores: secrets sealed at rest with a key kept
//! beside the signing keys, a pending enrolment kept in the state store until its first
//! valid code, and the replay guard (the last accepted step, advanced atomically) so that
//! each code is accepted once, also across gateways sharing Redis.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{TotpSecret, parse_code};
use crate::account::{Account, AccountId};
use crate::crypto::seal_ring::SealRing;
use crate::crypto::secret::SecretBytes;
use crate::crypto::{SecretString, random_token};
use crate::error::Error;
use crate::state::{StateKey, StateStore};
use crate::store::Stores;

/// How long an enrolment waits for its confirming code.
pub const ENROLMENT_TTL: Duration = Duration::from_secs(600);
/// The replay marker outlives the ±1-step window.
const STEP_TTL: Duration = Duration::from_secs(180);

/// What the enrolling person sees once.
#[derive(Debug)]
pub struct Enrolment {
    pub id: SecretString,
    pub secret_base32: SecretString,
    pub otpauth_uri: SecretString,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    account_id: String,
    sealed: Vec<u8>,
}

/// The outcome of checking a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Valid, and its step had not been used: the factor's id.
    Accepted(i64),
    /// Valid but already used (same or an earlier step).
    Replayed,
    /// No enrolled secret gives this code now.
    Wrong,
    /// The account has no TOTP factor.
    NotEnrolled,
}

#[derive(Debug, Clone)]
pub struct TotpService {
    stores: Stores,
    state: Arc<dyn StateStore>,
    seal: SealRing,
    /// When set, a code's use is written with the audit row that records it (one commit).
    auditor: Option<crate::audit::Auditor>,
}

fn owner(account: &AccountId) -> String {
    crate::crypto::seal_ring::owner(account.0, "totp")
}

impl TotpService {
    pub fn new(stores: Stores, state: Arc<dyn StateStore>, seal: SealRing) -> Self {
        Self {
            stores,
            state,
            seal,
            auditor: None,
        }
    }

    /// Write each code's use with the next audit commit instead of on its own.
    pub fn with_auditor(mut self, auditor: crate::audit::Auditor) -> Self {
        self.auditor = Some(auditor);
        self
    }

    /// The factor-sealing keys (`[factors] seal_key_file` and its rotated siblings), the
    /// first created (0600, in a 0700 directory) when `create` and missing.
    pub fn load_key(path: &Path, create: bool) -> Result<SealRing, Error> {
        SealRing::load(path, create)
    }

    /// Start an enrolment: a new secret, shown once, waiting for its first code.
    pub async fn begin(&self, account: &Account, now: DateTime<Utc>) -> Result<Enrolment, Error> {
        let secret = TotpSecret::generate();
        let uri = secret
            .otpauth_uri(account.username.as_str())
            .ok_or_else(|| {
                Error::Invalid("this username cannot be put in an otpauth URI".into())
            })?;
        let sealed = self
            .seal
            .seal(secret.expose(), &owner(&account.id))
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let id = random_token();
        let pending = Pending {
            account_id: account.id.to_string(),
            sealed,
        };
        let bytes = serde_json::to_vec(&pending).map_err(|e| Error::Invalid(e.to_string()))?;
        self.state
            .put(&StateKey::totp_enrolment(&id), &bytes, ENROLMENT_TTL)
            .await?;
        Ok(Enrolment {
            id: SecretString::new(id),
            secret_base32: SecretString::new(secret.base32()),
            otpauth_uri: SecretString::new(uri),
            expires_at: now + chrono::Duration::from_std(ENROLMENT_TTL).unwrap_or_default(),
        })
    }

    /// Confirm an enrolment with its first valid code; the factor's id. A wrong code leaves
    /// the enrolment open until it expires.
    pub async fn confirm(
        &self,
        account: &Account,
        enrolment_id: &str,
        code: &str,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<i64, Check>, Error> {
        parse_code(code)?;
        let key = StateKey::totp_enrolment(enrolment_id);
        let pending: Pending = match self.state.get(&key).await? {
            Some(b) => serde_json::from_slice(&b).map_err(|_| Error::FlowInvalid)?,
            None => return Err(Error::FlowInvalid),
        };
        if pending.account_id != account.id.to_string() {
            return Err(Error::FlowInvalid);
        }
        let secret = self.open(&pending.sealed, &account.id)?;
        let Some(step) = secret.verify(code, unix(now)) else {
            return Ok(Err(Check::Wrong));
        };
        if !self.advance(&account.id, step).await? {
            return Ok(Err(Check::Replayed));
        }
        if self.state.take(&key).await?.is_none() {
            // Confirmed concurrently by another request.
            return Err(Error::FlowInvalid);
        }
        let id = self
            .stores
            .factors
            .add_factor(account.id, "totp", label, &pending.sealed, now)
            .await?;
        Ok(Ok(id))
    }

    /// Check a code against the account's TOTP factors, accepting each step once.
    pub async fn check(
        &self,
        account: AccountId,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Check, Error> {
        parse_code(code)?;
        let secrets = self.stores.factors.factor_secrets(account, "totp").await?;
        if secrets.is_empty() {
            return Ok(Check::NotEnrolled);
        }
        for (id, sealed) in secrets {
            let secret = self.open(&sealed, &account)?;
            if let Some(step) = secret.verify(code, unix(now)) {
                if !self.advance(&account, step).await? {
                    return Ok(Check::Replayed);
                }
                match &self.auditor {
                    Some(auditor) => auditor.note_factor_use(id, now)?,
                    None => self.stores.factors.touch_factor(id, now).await?,
                }
                return Ok(Check::Accepted(id));
            }
        }
        Ok(Check::Wrong)
    }

    fn open(&self, sealed: &[u8], account: &AccountId) -> Result<TotpSecret, Error> {
        let bytes: SecretBytes = self
            .seal
            .open(sealed, &owner(account))
            .map_err(|e| Error::Config(format!("a stored TOTP secret does not open: {e}")))?;
        Ok(TotpSecret::from_bytes(bytes.expose().to_vec()))
    }

    async fn advance(&self, account: &AccountId, step: u64) -> Result<bool, Error> {
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        Ok(self
            .state
            .advance_if_greater(&StateKey::totp_step(&account.to_string()), step, STEP_TTL)
            .await?)
    }
}

fn unix(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp()).unwrap_or(0)
}
