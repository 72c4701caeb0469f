//! Login-flow state between steps: kept server-side in the state store under the hash of a
//! random flow id, with a short TTL, and taken (deleted) on first use, so a flow id works
//! exactly once whether the step succeeds or not.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::crypto::{SecretString, is_token, random_token};
use crate::error::Error;
use crate::lockout::Zone;
use crate::policy::factors::FactorKind;
use crate::state::{StateKey, StateStore};
use crate::webauthn::service::AssertionState;

/// What the flow waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum FlowStep {
    /// A new password (initial, reset, compromised or breached).
    ChangePassword { reason: String },
    /// Another factor of one of these kinds.
    SecondFactor { kinds: Vec<FactorKind> },
    /// A WebAuthn assertion for this challenge (or, after a password, a code instead).
    Assertion {
        kinds: Vec<FactorKind>,
        ceremony: AssertionState,
    },
    /// A first factor to enrol: the account has none and the policy asks for one.
    Enrol { kinds: Vec<FactorKind> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// Empty in a passwordless flow until the passkey names its account.
    pub account_id: String,
    pub username: String,
    pub system: String,
    pub amr: Vec<String>,
    pub zone: Zone,
    pub ip: String,
    pub user_agent: String,
    pub step: FlowStep,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// A step-up: the session the flow's end replaces.
    #[serde(default)]
    pub upgrades: Option<super::Upgrade>,
}

/// Store a flow; the id is returned once.
pub async fn begin(
    state: &dyn StateStore,
    record: &FlowRecord,
    ttl: std::time::Duration,
) -> Result<SecretString, Error> {
    let id = random_token();
    let bytes = serde_json::to_vec(record).map_err(|e| Error::Invalid(e.to_string()))?;
    state.put(&StateKey::login_flow(&id), &bytes, ttl).await?;
    Ok(SecretString::new(id))
}

/// Read a flow without spending it (to name who a refused answer was for); None when the id
/// is malformed, unknown or unreadable.
pub async fn peek(state: &dyn StateStore, id: &str) -> Option<FlowRecord> {
    if !is_token(id) {
        return None;
    }
    let bytes = state.get(&StateKey::login_flow(id)).await.ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// Take a flow: of concurrent callers exactly one gets it; afterwards it is gone.
pub async fn take(
    state: &dyn StateStore,
    id: &str,
    now: DateTime<Utc>,
) -> Result<FlowRecord, Error> {
    if !is_token(id) {
        return Err(Error::FlowInvalid);
    }
    let bytes = state
        .take(&StateKey::login_flow(id))
        .await?
        .ok_or(Error::FlowInvalid)?;
    let record: FlowRecord = serde_json::from_slice(&bytes).map_err(|_| Error::FlowInvalid)?;
    if now >= record.expires_at {
        return Err(Error::FlowInvalid);
    }
    Ok(record)
}
