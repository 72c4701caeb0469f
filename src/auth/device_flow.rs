//! The device flow: a server without a local security key asks the gateway for a short code,
//! the person opens `/device` on their own terminal, enters the code and approves with their
//! security key; the module polls until approved, denied or expired (2 minutes).
//!
//! ```text
//!  module ── start ──► pending (user code ABCD-EFGH, flow id for polling)
//!  browser ─ challenge(code) ─► WebAuthn options for the account named by the module
//!  browser ─ approve(code, assertion) ─► the login's second-factor step (lock, audit,
//!                                        policy with the device as resource) ─► approved | denied
//!  module ── poll(flow id) ─► pending … allow | deny | expired (the record is then gone)
//! ```
//! The first factor is the device's: the module runs after `pam_unix`, as in the code mode.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs::prelude::PublicKeyCredential;

use super::pam::{PamOutcome, device_system};
use super::{Answer, Channel, LoginOutcome, LoginService, Origin};
use crate::audit::{EventKind, Outcome};
use crate::crypto::{SecretString, is_token, random_token};
use crate::device::Device;
use crate::error::Error;
use crate::lockout::Zone;
use crate::state::StateKey;

/// How long a code waits for approval.
pub const DEVICE_FLOW_TTL: Duration = Duration::minutes(2);
/// Letters that are not confused with each other or with digits, read aloud or typed.
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved { amr: Vec<String> },
    Denied { reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    user_code: String,
    username: String,
    device: String,
    service: String,
    ip: String,
    zone: Zone,
    /// The login flow waiting for the security key (moves on with each challenge).
    login_flow: String,
    status: Status,
    expires_at: DateTime<Utc>,
}

/// What the module gets back when it starts.
#[derive(Debug)]
pub struct Started {
    pub flow_id: SecretString,
    pub user_code: String,
    pub expires_at: DateTime<Utc>,
}

/// What the approval page shows before the person touches their key.
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    pub user_code: String,
    pub username: String,
    pub device: String,
    pub service: String,
    pub from: String,
    pub expires_at: String,
}

/// `ABCDEFGH`, `abcd-efgh`, `ＡＢＣＤ－ＥＦＧＨ` → `ABCD-EFGH`; None when it cannot be a code.
pub fn normalise_code(input: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let letters: String = input
        .nfkc()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{2010}'..='\u{2015}' | '\u{30fc}'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (letters.len() == 8 && letters.bytes().all(|b| ALPHABET.contains(&b)))
        .then(|| format!("{}-{}", &letters[..4], &letters[4..]))
}

fn new_code() -> String {
    let bytes = crate::crypto::random_bytes::<8>();
    let letters: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("{}-{}", &letters[..4], &letters[4..])
}

fn flow_key(id: &str) -> StateKey {
    StateKey::device_flow(id)
}
fn code_key(code: &str) -> StateKey {
    StateKey::device_code(code)
}

fn expired() -> Error {
    Error::Refused {
        code: "device_code_invalid",
        message: "This code is unknown or has expired; start the sign-in at the server again.",
    }
}

impl LoginService {
    async fn save(&self, flow_id: &str, r: &Record, now: DateTime<Utc>) -> Result<(), Error> {
        let ttl = (r.expires_at - now).to_std().unwrap_or_default();
        if ttl.is_zero() {
            return Err(expired());
        }
        let bytes = serde_json::to_vec(r).map_err(|e| Error::Invalid(e.to_string()))?;
        self.state.put(&flow_key(flow_id), &bytes, ttl).await?;
        self.state
            .put(&code_key(&r.user_code), flow_id.as_bytes(), ttl)
            .await?;
        Ok(())
    }

    async fn load(&self, flow_id: &str, now: DateTime<Utc>) -> Result<Record, Error> {
        let bytes = self
            .state
            .get(&flow_key(flow_id))
            .await?
            .ok_or_else(expired)?;
        let r: Record = serde_json::from_slice(&bytes).map_err(|_| expired())?;
        if now >= r.expires_at {
            return Err(expired());
        }
        Ok(r)
    }

    /// The flow under a typed code. Codes that lead nowhere count toward the asking address's
    /// limit (`[lockout] ip_limit`, the same counter as failed sign-ins), so the code space
    /// cannot be walked from one address.
    async fn by_code(
        &self,
        code: &str,
        from: std::net::IpAddr,
        now: DateTime<Utc>,
    ) -> Result<(String, Record), Error> {
        let ip_key = StateKey::ip_attempts(from);
        if self.state.counter(&ip_key).await? >= self.config.lockout.ip_limit {
            return Err(Error::Refused {
                code: "too_many_attempts",
                message: "Too many unknown codes from this address; wait and try again.",
            });
        }
        let found = match normalise_code(code) {
            Some(code) => self
                .state
                .get(&code_key(&code))
                .await?
                .and_then(|b| String::from_utf8(b).ok()),
            None => None,
        };
        let loaded = match found {
            Some(id) => self.load(&id, now).await.map(|r| (id, r)),
            None => Err(expired()),
        };
        if let Err(Error::Refused { .. }) = &loaded {
            self.state
                .incr_window(&ip_key, self.config.lockout.ip_window)
                .await?;
        }
        loaded
    }

    /// The flow under a typed code, still waiting for an answer.
    async fn waiting(
        &self,
        code: &str,
        from: std::net::IpAddr,
        now: DateTime<Utc>,
    ) -> Result<(String, Record), Error> {
        let (id, r) = self.by_code(code, from, now).await?;
        if r.status != Status::Pending {
            return Err(expired());
        }
        Ok((id, r))
    }

    fn origin_of(r: &Record) -> Origin {
        Origin {
            ip: r
                .ip
                .parse()
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            zone: r.zone,
            user_agent: format!("pam:{}", r.service),
            device: Some(r.device.clone()),
            channel: Channel::Pam,
        }
    }

    /// The module starts a device flow for `username` at `device`. A refusal (unknown
    /// account, no security key, a lock) is the module's answer at once.
    pub async fn device_flow_start(
        &self,
        device: &Device,
        username: &str,
        service: &str,
        device_time: Option<i64>,
        origin: &Origin,
    ) -> Result<Result<Started, PamOutcome>, Error> {
        let system = device_system(&self.config, device);
        if self
            .clock_skewed(device_time, username, &system, origin)
            .await?
        {
            return Ok(Err(PamOutcome::Deny {
                reason: "clock_skew",
                until: None,
            }));
        }
        let now = self.clock.now();
        let first = match self.vouched(username, &system, origin).await {
            Err(Error::Username(_)) => LoginOutcome::InvalidCredentials,
            other => other?,
        };
        let login_flow = match first {
            LoginOutcome::SecondFactorRequired {
                flow_id, methods, ..
            } if methods.contains(&"webauthn") => flow_id,
            LoginOutcome::SecondFactorRequired { .. } => {
                return Ok(Err(PamOutcome::Deny {
                    reason: "no_security_key",
                    until: None,
                }));
            }
            other => return Ok(Err(super::pam::outcome_of(other))),
        };
        let flow_id = random_token();
        let record = Record {
            user_code: new_code(),
            username: username.trim().to_owned(),
            device: device.name.clone(),
            service: service.chars().take(32).collect(),
            ip: origin.ip.to_string(),
            zone: origin.zone,
            login_flow: login_flow.expose().to_owned(),
            status: Status::Pending,
            expires_at: now + DEVICE_FLOW_TTL,
        };
        self.save(&flow_id, &record, now).await?;
        Ok(Ok(Started {
            flow_id: SecretString::new(flow_id),
            user_code: record.user_code,
            expires_at: record.expires_at,
        }))
    }

    /// The module asks again. Approved or denied: the answer, once (the record is gone
    /// afterwards); pending: None.
    pub async fn device_flow_poll(
        &self,
        device: &Device,
        flow_id: &str,
    ) -> Result<Option<PamOutcome>, Error> {
        let now = self.clock.now();
        if !is_token(flow_id) {
            return Ok(Some(PamOutcome::Deny {
                reason: "expired",
                until: None,
            }));
        }
        let r = match self.load(flow_id, now).await {
            Ok(r) if r.device == device.name => r,
            Ok(_) | Err(Error::Refused { .. }) => {
                return Ok(Some(PamOutcome::Deny {
                    reason: "expired",
                    until: None,
                }));
            }
            Err(e) => return Err(e),
        };
        let done = match r.status {
            Status::Pending => return Ok(None),
            Status::Approved { amr } => PamOutcome::Allow {
                amr,
                policy_ids: Vec::new(),
            },
            Status::Denied { reason } => PamOutcome::Deny {
                reason: super::pam::reason_code(&reason),
                until: None,
            },
        };
        self.state.delete(&flow_key(flow_id)).await?;
        self.state.delete(&code_key(&r.user_code)).await?;
        Ok(Some(done))
    }

    /// The approval page: what is waiting under this code.
    pub async fn device_flow_pending(
        &self,
        code: &str,
        from: std::net::IpAddr,
    ) -> Result<Pending, Error> {
        let (_, r) = self.waiting(code, from, self.clock.now()).await?;
        Ok(pending_of(&r))
    }

    /// WebAuthn options for the account the code belongs to.
    pub async fn device_flow_challenge(
        &self,
        code: &str,
        from: std::net::IpAddr,
    ) -> Result<(Value, Pending), Error> {
        let now = self.clock.now();
        let (id, mut r) = self.waiting(code, from, now).await?;
        let pending = pending_of(&r);
        let challenge = self.webauthn_challenge(&r.login_flow).await?;
        r.login_flow = challenge.flow_id.expose().to_owned();
        self.save(&id, &r, now).await?;
        Ok((challenge.options, pending))
    }

    /// The security key's answer: the login's second-factor step decides, with the sign-in's
    /// own origin (the server and its SSH client); `approver` is the browser's address.
    /// Settled: a browser that goes away mid-step still leaves the answer recorded for the
    /// server's next poll.
    pub async fn device_flow_approve(
        &self,
        code: &str,
        credential: Box<PublicKeyCredential>,
        approver: &Origin,
    ) -> Result<PamOutcome, Error> {
        let (this, code, approver) = (self.clone(), code.to_owned(), approver.clone());
        super::settle(async move {
            this.device_flow_approve_now(&code, credential, &approver)
                .await
        })
        .await
    }

    async fn device_flow_approve_now(
        &self,
        code: &str,
        credential: Box<PublicKeyCredential>,
        approver: &Origin,
    ) -> Result<PamOutcome, Error> {
        let now = self.clock.now();
        let (id, mut r) = self.waiting(code, approver.ip, now).await?;
        let origin = Self::origin_of(&r);
        let outcome = self
            .second_factor_now(&r.login_flow, Answer::WebAuthn(credential), &origin)
            .await?;
        if let LoginOutcome::CodeRefused {
            flow_id: Some(next),
            ..
        } = &outcome
        {
            // Try again with the same code: the flow goes on under its new id.
            r.login_flow = next.expose().to_owned();
        }
        let result = super::pam::outcome_of(outcome);
        let retry = matches!(&result, PamOutcome::Deny { reason, .. } if *reason == "invalid_code");
        r.status = match &result {
            PamOutcome::Allow { amr, .. } => Status::Approved { amr: amr.clone() },
            _ if retry => Status::Pending,
            PamOutcome::Deny { reason, .. } => Status::Denied {
                reason: (*reason).to_owned(),
            },
        };
        self.save(&id, &r, now).await?;
        self.audit_device_flow(
            &r,
            &origin,
            approver,
            if retry { "retry" } else { "answered" },
        )
        .await?;
        Ok(result)
    }

    /// "This was not me": the sign-in at the server is refused.
    pub async fn device_flow_deny(&self, code: &str, approver: &Origin) -> Result<(), Error> {
        let now = self.clock.now();
        let (id, mut r) = self.waiting(code, approver.ip, now).await?;
        r.status = Status::Denied {
            reason: "denied_by_user".into(),
        };
        self.save(&id, &r, now).await?;
        self.audit_device_flow(&r, &Self::origin_of(&r), approver, "denied_by_user")
            .await
    }

    async fn audit_device_flow(
        &self,
        r: &Record,
        origin: &Origin,
        approver: &Origin,
        result: &str,
    ) -> Result<(), Error> {
        let outcome = match (&r.status, result) {
            (_, "denied_by_user") => Outcome::Denied,
            (Status::Approved { .. }, _) => Outcome::Success,
            (Status::Denied { .. }, _) => Outcome::Failure,
            _ => Outcome::Info,
        };
        self.auditor
            .record(
                self.event(EventKind::LoginAttempt, outcome, &r.username, origin)
                    .detail("step", "device_flow")
                    .detail("result", result)
                    .detail(
                        "status",
                        serde_json::to_value(&r.status).unwrap_or_default(),
                    )
                    .detail("approver_ip", approver.ip.to_string()),
            )
            .await?;
        Ok(())
    }
}

/// What the approval page shows of a waiting flow.
fn pending_of(r: &Record) -> Pending {
    Pending {
        user_code: r.user_code.clone(),
        username: r.username.clone(),
        device: r.device.clone(),
        service: r.service.clone(),
        from: r.ip.clone(),
        expires_at: crate::clock::to_jst_display(r.expires_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_back_however_they_are_typed() {
        assert_eq!(normalise_code("bcdf-ghjk").as_deref(), Some("BCDF-GHJK"));
        assert_eq!(normalise_code("BCDFGHJK").as_deref(), Some("BCDF-GHJK"));
        assert_eq!(
            normalise_code("ＢＣＤＦ－ＧＨＪＫ").as_deref(),
            Some("BCDF-GHJK")
        );
        assert_eq!(normalise_code(" bcdf ghjk ").as_deref(), Some("BCDF-GHJK"));
        assert_eq!(normalise_code("BCDF-GHJ"), None, "too short");
        assert_eq!(
            normalise_code("ABCD-EFGH"),
            None,
            "vowels are not in the alphabet"
        );
        assert_eq!(normalise_code("BCDF-GHJ1"), None);
    }

    #[test]
    fn new_codes_use_the_alphabet_and_normalise_to_themselves() {
        for _ in 0..100 {
            let c = new_code();
            assert_eq!(normalise_code(&c).as_deref(), Some(c.as_str()));
        }
        assert_ne!(new_code(), new_code());
    }
}
