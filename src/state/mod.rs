//! Short-lived state with TTLs: sessions, lockout counters, login-flow state, challenges and
//! replay markers. Two implementations behind one trait: in-process (the embedded default)
//! and Redis (several gateway replicas sharing one server). Every key has a TTL except a
//! hard lockout, which lasts until an administrator unlocks it.
//!
//! When the backend is unreachable every operation returns `StateError::Unavailable`; callers
//! answer 503 and never treat a missing answer as permission (fail closed).

pub mod memory;
pub mod redis;
pub mod remote;

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::account::Username;
use crate::lockout::{Blocked, LockState, LockoutPolicy, Reserved, Zone};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the state store is unavailable: {0}")]
    Unavailable(String),
    #[error("stored state is invalid: {0}")]
    Invalid(String),
}

impl StateError {
    pub fn code(&self) -> &'static str {
        match self {
            StateError::Unavailable(_) => "state_unavailable",
            StateError::Invalid(_) => "state_invalid",
        }
    }
}

/// A key in the state store. Built only through the typed constructors, so every kind of
/// value has its own namespace and user input never reaches a key unhashed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateKey(String);

const PREFIX: &str = "sekimori:v1";

fn digest(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..16])
}

impl StateKey {
    /// Lockout counter for a normalised username in a zone; the account need not exist.
    pub fn lockout(username: &Username, zone: Zone) -> Self {
        Self(format!(
            "{PREFIX}:lock:{}:{}",
            zone.as_str(),
            digest(username.as_str())
        ))
    }

    /// Per-address attempt counter (password spraying across many usernames).
    pub fn ip_attempts(ip: IpAddr) -> Self {
        Self(format!("{PREFIX}:ip:{}", digest(&ip.to_string())))
    }

    /// A session, by the hash of its id (the id itself is never a key).
    pub fn session(id_hash: &str) -> Self {
        Self(format!("{PREFIX}:sess:{id_hash}"))
    }

    /// The session ids (hashed) of one account, for listing and revoking them.
    pub fn account_sessions(account_id: &str) -> Self {
        Self(format!("{PREFIX}:acct-sess:{account_id}"))
    }

    /// A login flow in progress.
    pub fn login_flow(flow_id: &str) -> Self {
        Self(format!("{PREFIX}:flow:{}", digest(flow_id)))
    }

    /// The last accepted TOTP step of an account (replay guard).
    pub fn totp_step(account: &str) -> Self {
        Self(format!("{PREFIX}:totp:{account}"))
    }

    /// Second-factor failures of an account (the second-factor lock).
    pub fn second_factor_lock(account: &str) -> Self {
        Self(format!("{PREFIX}:2fa-lock:{account}"))
    }

    /// A TOTP enrolment waiting for its first code.
    pub fn totp_enrolment(id: &str) -> Self {
        Self(format!("{PREFIX}:totp-enrol:{}", digest(id)))
    }

    /// A WebAuthn registration waiting for the authenticator's answer.
    pub fn webauthn_registration(id: &str) -> Self {
        Self(format!("{PREFIX}:webauthn-reg:{}", digest(id)))
    }

    /// A device flow (PAM approval on the portal), by its polling id.
    pub fn device_flow(flow_id: &str) -> Self {
        Self(format!("{PREFIX}:device-flow:{}", digest(flow_id)))
    }

    /// The polling id of a device flow, by the short code the person types.
    pub fn device_code(user_code: &str) -> Self {
        Self(format!("{PREFIX}:device-code:{}", digest(user_code)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key received from the control socket: only keys in Sekimori's namespace.
    pub fn from_wire(s: String) -> Result<Self, StateError> {
        if s.starts_with(PREFIX) && s.len() <= 256 && !s.chars().any(char::is_control) {
            Ok(Self(s))
        } else {
            Err(StateError::Invalid("not a Sekimori state key".into()))
        }
    }
}

#[async_trait]
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// Store a value, replacing any, for `ttl`.
    async fn put(&self, key: &StateKey, value: &[u8], ttl: Duration) -> Result<(), StateError>;
    async fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError>;
    /// Get and delete in one step: of several concurrent callers exactly one gets the value.
    async fn take(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError>;
    async fn delete(&self, key: &StateKey) -> Result<(), StateError>;
    /// Get a value and extend its life in one step (sliding sessions: one round trip).
    async fn get_touch(&self, key: &StateKey, ttl: Duration)
    -> Result<Option<Vec<u8>>, StateError>;
    /// Add a member to a set and set the set's TTL (an account's session index).
    async fn set_add(&self, key: &StateKey, member: &str, ttl: Duration) -> Result<(), StateError>;
    async fn set_members(&self, key: &StateKey) -> Result<Vec<String>, StateError>;
    async fn set_remove(&self, key: &StateKey, member: &str) -> Result<(), StateError>;
    /// Extend a value's life (sliding sessions); false if it no longer exists.
    async fn touch(&self, key: &StateKey, ttl: Duration) -> Result<bool, StateError>;
    /// Count one event in a fixed window starting at the first event; returns the count.
    async fn incr_window(&self, key: &StateKey, window: Duration) -> Result<u64, StateError>;
    /// The current count of an `incr_window` counter (0 when absent or expired).
    async fn counter(&self, key: &StateKey) -> Result<u64, StateError>;
    /// Store `value` only if it is greater than the stored one; true when stored.
    async fn advance_if_greater(
        &self,
        key: &StateKey,
        value: i64,
        ttl: Duration,
    ) -> Result<bool, StateError>;
    /// Reserve an attempt slot under the lockout model, atomically.
    async fn lockout_begin(
        &self,
        key: &StateKey,
        now: DateTime<Utc>,
        policy: &LockoutPolicy,
    ) -> Result<Result<Reserved, Blocked>, StateError>;
    async fn lockout_state(&self, key: &StateKey) -> Result<LockState, StateError>;
    /// Forget the counter: a successful login, or an administrator's unlock.
    async fn lockout_reset(&self, key: &StateKey) -> Result<(), StateError>;
    /// A round trip proving the backend answers.
    async fn ping(&self) -> Result<(), StateError>;
    /// How many live sessions there are (a metric); `None` where it cannot be told cheaply.
    async fn count_sessions(&self) -> Result<Option<u64>, StateError> {
        Ok(None)
    }
}

/// How long a lockout counter is kept after its last attempt: long enough that waiting for
/// it to expire is slower than the escalating locks themselves.
pub fn lockout_retention(policy: &LockoutPolicy) -> Duration {
    let ms =
        policy.max_lock.num_milliseconds().saturating_mul(2) + policy.window.num_milliseconds();
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_and_never_contain_raw_input() {
        let u = Username::parse("ｙａｍａｄａ").unwrap();
        let k = StateKey::lockout(&u, Zone::External);
        assert!(k.as_str().starts_with("sekimori:v1:lock:external:"));
        assert!(!k.as_str().contains("yamada"));
        assert_eq!(
            k,
            StateKey::lockout(&Username::parse("YAMADA").unwrap(), Zone::External)
        );
        assert_ne!(k, StateKey::lockout(&u, Zone::Trusted));
        let ip = StateKey::ip_attempts("192.0.2.1".parse().unwrap());
        assert!(!ip.as_str().contains("192.0.2.1"));
    }
}
