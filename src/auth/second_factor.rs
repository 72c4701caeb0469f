//! The second-factor step of a login flow, and passwordless sign-in with a passkey.
//!
//! After `second_factor_required`, the flow is answered with a TOTP code, a recovery code, or
//! a WebAuthn assertion (after asking for a challenge, which moves the flow to a new id that
//! carries the challenge state). A passkey sign-in starts its own flow without a password.
//! Wrong answers count toward the second-factor lock of the brief (5 in 15 minutes → the flow
//! ends and the second factor is locked for 15 minutes), each one audited; a right answer adds
//! its methods to `amr` and the policy is asked again.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use webauthn_rs::prelude::PublicKeyCredential;

use super::flow::{self, FlowRecord, FlowStep};
use super::{LoginOutcome, LoginService, Origin};
use crate::account::{AccountId, Username};
use crate::audit::{EventKind, Outcome};
use crate::crypto::SecretString;
use crate::error::Error;
use crate::lockout::{Blocked, LockoutPolicy};
use crate::state::StateKey;
use crate::totp::service::Check;
use crate::webauthn::service::{AssertionState, WebauthnService};

/// 5 wrong answers in 15 minutes lock the second factor for 15 minutes.
pub const SECOND_FACTOR_LOCK: LockoutPolicy = LockoutPolicy {
    threshold: 5,
    window: Duration::minutes(15),
    base_lock: Duration::minutes(15),
    max_lock: Duration::minutes(15),
    hard_threshold: 100,
};

/// What the person answered with.
#[derive(Debug)]
pub enum Answer {
    Code(SecretString),
    RecoveryCode(SecretString),
    /// One of an emergency account's sealed-envelope codes.
    BreakGlassCode(SecretString),
    WebAuthn(Box<PublicKeyCredential>),
}

impl Answer {
    fn method(&self) -> &'static str {
        match self {
            Answer::Code(_) => "totp",
            Answer::RecoveryCode(_) => "recovery_code",
            Answer::BreakGlassCode(_) => "break_glass_code",
            Answer::WebAuthn(_) => "webauthn",
        }
    }
}

/// A WebAuthn challenge: the options for `navigator.credentials.get` and the flow id to
/// answer it with.
#[derive(Debug)]
pub struct Challenge {
    pub options: Value,
    pub flow_id: SecretString,
    pub expires_at: DateTime<Utc>,
}

/// Why an answer was refused, before the flow continues or ends.
struct Refused {
    /// For the audit record: `code_already_used` is kept apart from `invalid_code` there.
    reason: &'static str,
    /// For the client: a replayed code and a wrong one get the same answer, so that whoever
    /// holds the password learns nothing about a code they saw.
    code: &'static str,
    message: &'static str,
    detail: Option<String>,
}

/// The one answer to a wrong and to an already used code.
const WRONG_CODE: &str = "The code is not correct, or it was already used; wait for the next one.";

impl LoginService {
    fn webauthn(&self) -> Result<&WebauthnService, Error> {
        self.webauthn.as_ref().ok_or(Error::Refused {
            code: "factor_unavailable",
            message: "Security keys are not available on this gateway.",
        })
    }

    /// Ask for a WebAuthn challenge in a flow that waits for a second factor.
    pub async fn webauthn_challenge(&self, flow_id: &str) -> Result<Challenge, Error> {
        let now = self.clock.now();
        let record = flow::take(self.state.as_ref(), flow_id, now).await?;
        let kinds = match &record.step {
            FlowStep::SecondFactor { kinds } | FlowStep::Assertion { kinds, .. } => kinds.clone(),
            _ => return Err(Error::FlowInvalid),
        };
        let account = self.flow_account(&record).await?;
        let begun = self.webauthn()?.begin_second_factor(account.id).await?;
        let Some((options, ceremony)) = begun else {
            return Err(Error::Refused {
                code: "no_security_key",
                message: "No security key is registered for this account; use a code.",
            });
        };
        let next = FlowRecord {
            step: FlowStep::Assertion { kinds, ceremony },
            ..record
        };
        let id = flow::begin(self.state.as_ref(), &next, self.flow_ttl()).await?;
        Ok(Challenge {
            options,
            flow_id: id,
            expires_at: next.expires_at,
        })
    }

    /// Start a passwordless sign-in with a passkey. With a username, the options list that
    /// account's credentials (or fake ones: the answer does not reveal whether it exists).
    pub async fn passkey_challenge(
        &self,
        username: Option<&str>,
        system: &str,
        origin: &Origin,
    ) -> Result<Challenge, Error> {
        let wa = self.webauthn()?;
        if !wa.passwordless_allowed() {
            return Err(Error::Refused {
                code: "passwordless_disabled",
                message: "Passwordless sign-in is turned off; sign in with your password.",
            });
        }
        let system = self.system(system).await?;
        let now = self.clock.now();
        let (name, account) = match username {
            Some(u) => {
                let name = Username::parse(u)?;
                let account = self
                    .stores
                    .accounts
                    .find_account_by_username(&self.config.facility.id, &name)
                    .await?;
                (Some(name), account)
            }
            None => (None, None),
        };
        let (options, ceremony) = wa
            .begin_passwordless(
                name.as_ref().map(Username::as_str),
                account.as_ref().map(|a| a.id),
            )
            .await?;
        let expires_at = now + chrono::Duration::from_std(self.flow_ttl()).unwrap_or_default();
        let record = FlowRecord {
            // Named accounts are checked again when the assertion arrives.
            account_id: account.map(|a| a.id.to_string()).unwrap_or_default(),
            username: name.map(|n| n.as_str().to_owned()).unwrap_or_default(),
            system: system.id,
            amr: Vec::new(),
            zone: origin.zone,
            ip: origin.ip.to_string(),
            user_agent: origin.user_agent.clone(),
            step: FlowStep::Assertion {
                kinds: Vec::new(),
                ceremony,
            },
            created_at: now,
            expires_at,
            upgrades: None,
        };
        let id = flow::begin(self.state.as_ref(), &record, self.flow_ttl()).await?;
        Ok(Challenge {
            options,
            flow_id: id,
            expires_at,
        })
    }

    /// Answer a flow's second-factor step (or a passkey sign-in). Settled: a step that has
    /// taken the second-factor slot runs to its end even if the client goes.
    pub async fn second_factor(
        &self,
        flow_id: &str,
        answer: Answer,
        origin: &Origin,
    ) -> Result<LoginOutcome, Error> {
        let (this, id, o) = (self.clone(), flow_id.to_owned(), origin.clone());
        super::settle(async move { this.second_factor_now(&id, answer, &o).await }).await
    }

    pub(super) async fn second_factor_now(
        &self,
        flow_id: &str,
        answer: Answer,
        origin: &Origin,
    ) -> Result<LoginOutcome, Error> {
        let now = self.clock.now();
        // Malformed codes are refused (and audited) before the flow is spent.
        let malformed = match &answer {
            Answer::Code(c) => crate::totp::parse_code(c.expose()).err(),
            Answer::RecoveryCode(c) | Answer::BreakGlassCode(c) => {
                crate::recovery::normalise(c.expose()).err()
            }
            Answer::WebAuthn(_) => None,
        };
        if let Some(e) = malformed {
            let who = flow::peek(self.state.as_ref(), flow_id)
                .await
                .map(|r| r.username)
                .unwrap_or_default();
            self.audit_refused_input(&who, answer.method(), e.code(), origin)
                .await?;
            return Err(Error::Code(e));
        }
        let record = match flow::take(self.state.as_ref(), flow_id, now).await {
            Err(Error::FlowInvalid) => {
                self.audit_refused_input("", answer.method(), "flow_invalid", origin)
                    .await?;
                return Err(Error::FlowInvalid);
            }
            other => other?,
        };
        let passwordless = record.amr.is_empty();
        let ceremony = match (&record.step, &answer) {
            (FlowStep::Assertion { ceremony, .. }, Answer::WebAuthn(_)) => Some(ceremony.clone()),
            (FlowStep::SecondFactor { .. }, Answer::WebAuthn(_)) => {
                return Err(Error::Refused {
                    code: "challenge_required",
                    message: "Ask for a security-key challenge first.",
                });
            }
            // Codes only after a password: a code alone is one factor, not a sign-in.
            (FlowStep::SecondFactor { .. } | FlowStep::Assertion { .. }, _) if !passwordless => {
                None
            }
            _ => return Err(Error::FlowInvalid),
        };
        // The account the answer is about: known after a password, named by the passkey's
        // user handle otherwise.
        let claimed = match (&answer, record.account_id.is_empty()) {
            (_, false) => uuid::Uuid::parse_str(&record.account_id)
                .map(AccountId)
                .map_err(|_| Error::FlowInvalid)?,
            (Answer::WebAuthn(c), true) => match c
                .get_user_unique_id()
                .and_then(|b| uuid::Uuid::from_slice(b).ok())
            {
                Some(u) => AccountId(u),
                None => {
                    return self
                        .refuse_unclaimed(&record, origin, "unknown_credential")
                        .await;
                }
            },
            _ => return Err(Error::FlowInvalid),
        };
        let account = match self.stores.accounts.get_account(claimed).await {
            Ok(a) if a.status != crate::account::AccountStatus::Disabled => a,
            Ok(_) | Err(crate::store::StoreError::NotFound(_)) if passwordless => {
                return self
                    .refuse_unclaimed(&record, origin, "unknown_credential")
                    .await;
            }
            Ok(_) => return Err(Error::FlowInvalid),
            Err(e) => return Err(e.into()),
        };
        let lock_key = StateKey::second_factor_lock(&account.id.to_string());
        let subject = account.username.as_str();
        let reserved = match self
            .state
            .lockout_begin(&lock_key, now, &SECOND_FACTOR_LOCK)
            .await?
        {
            Ok(r) => r,
            Err(b) => {
                let until = match b {
                    Blocked::Until(t) => Some(t),
                    Blocked::UntilAdminUnlock => None,
                };
                self.auditor
                    .record(
                        self.event(EventKind::LoginBlocked, Outcome::Denied, subject, origin)
                            .detail("scope", "second_factor")
                            .detail("until", until.map(crate::clock::to_jst_string)),
                    )
                    .await?;
                return Ok(LoginOutcome::Blocked { until });
            }
        };
        let checked = self
            .check_answer(&answer, ceremony.as_ref(), account.id, now)
            .await?;
        let refused = match checked {
            Ok((methods, factor)) => {
                self.state.lockout_reset(&lock_key).await?;
                let amr = super::with_methods(record.amr.clone(), methods);
                self.auditor
                    .record(
                        self.event(EventKind::LoginAttempt, Outcome::Info, subject, origin)
                            .detail("step", "second_factor")
                            .detail("method", answer.method())
                            .detail("passwordless", passwordless)
                            .detail("result", "accepted")
                            .detail("factor_id", factor),
                    )
                    .await?;
                let system = self.system(&record.system).await?;
                let pstate = if passwordless {
                    super::password_state(account.status, false)
                } else {
                    "ok"
                };
                let mut proof = super::decide::Proof::of_flow(&record, amr, pstate);
                if matches!(answer, Answer::BreakGlassCode(_)) {
                    self.broke_glass(&account, &system, origin).await?;
                    proof.break_glass = true;
                }
                let mut outcome = self.decide(&account, &system, proof, origin, now).await?;
                if let (Answer::RecoveryCode(_), LoginOutcome::Authenticated { notices, .. }) =
                    (&answer, &mut outcome)
                    && !notices
                        .iter()
                        .any(|n| matches!(n, super::Notice::RecoveryCodesLow { .. }))
                {
                    // The last code was just spent.
                    notices.push(super::Notice::RecoveryCodesLow { remaining: 0 });
                }
                return Ok(outcome);
            }
            Err(r) => r,
        };
        let locked = reserved.locks_until.is_some() || reserved.hard_locked;
        let mut event = self
            .event(EventKind::LoginAttempt, Outcome::Failure, subject, origin)
            .detail("step", "second_factor")
            .detail("method", answer.method())
            .detail("passwordless", passwordless)
            .detail("reason", refused.reason)
            .detail("failures_in_window", reserved.in_window)
            .detail("second_factor_locked", locked);
        if let Some(d) = &refused.detail {
            event = event.detail("webauthn_error", d.as_str());
        }
        if refused.reason == "counter_regression" {
            // A copied authenticator is an incident, not a typo.
            event = event.detail("suspected", "cloned_authenticator");
        }
        self.auditor.record(event).await?;
        if locked {
            self.auditor
                .record(
                    self.event(EventKind::AccountLocked, Outcome::Info, subject, origin)
                        .detail("scope", "second_factor")
                        .detail(
                            "until",
                            reserved.locks_until.map(crate::clock::to_jst_string),
                        ),
                )
                .await?;
            return Ok(LoginOutcome::CodeRefused {
                reason: refused.code,
                message: refused.message,
                locked: true,
                flow_id: None,
                expires_at: record.expires_at,
            });
        }
        // Try again: a WebAuthn challenge is single-use, so the flow goes back to waiting for
        // a factor (a passwordless flow ends and starts over).
        let again = match &record.step {
            FlowStep::Assertion { kinds, .. } if !passwordless => Some(FlowRecord {
                step: FlowStep::SecondFactor {
                    kinds: kinds.clone(),
                },
                ..record.clone()
            }),
            FlowStep::Assertion { .. } => None,
            _ => Some(record.clone()),
        };
        let flow_id = match again {
            Some(r) => Some(flow::begin(self.state.as_ref(), &r, self.flow_ttl()).await?),
            None => None,
        };
        Ok(LoginOutcome::CodeRefused {
            reason: refused.code,
            message: refused.message,
            locked: false,
            flow_id,
            expires_at: record.expires_at,
        })
    }

    /// Verify one answer: the methods it proves and the factor's id, or why not.
    async fn check_answer(
        &self,
        answer: &Answer,
        ceremony: Option<&AssertionState>,
        account: AccountId,
        now: DateTime<Utc>,
    ) -> Result<Result<(Vec<String>, i64), Refused>, Error> {
        let refused = |reason, code, message| Refused {
            reason,
            code,
            message,
            detail: None,
        };
        match (answer, ceremony) {
            (Answer::Code(code), _) => {
                let totp = self.totp.as_ref().ok_or(Error::Refused {
                    code: "factor_unavailable",
                    message: "TOTP is not available on this gateway.",
                })?;
                Ok(match totp.check(account, code.expose(), now).await? {
                    Check::Accepted(id) => Ok((vec!["otp".into()], id)),
                    Check::Replayed => {
                        Err(refused("code_already_used", "invalid_code", WRONG_CODE))
                    }
                    Check::Wrong | Check::NotEnrolled => {
                        Err(refused("invalid_code", "invalid_code", WRONG_CODE))
                    }
                })
            }
            (Answer::BreakGlassCode(code), _) => {
                let account = self.stores.accounts.get_account(account).await?;
                Ok(if self.emergency.spend(&account, code).await? {
                    // Something the person has: the sealed envelope (like a recovery code).
                    Ok((vec!["otp".into()], 0))
                } else {
                    Err(refused(
                        "invalid_break_glass_code",
                        "invalid_break_glass_code",
                        "The break-glass code is not correct or was already used.",
                    ))
                })
            }
            (Answer::RecoveryCode(code), _) => {
                let n = crate::recovery::normalise(code.expose())?;
                let hash = crate::recovery::hash(&account, &n);
                Ok(
                    if self
                        .stores
                        .factors
                        .use_code(account, crate::recovery::KIND, &hash)
                        .await?
                    {
                        // A look-up secret: something the person has (NIST SP 800-63B 5.1.2).
                        Ok((vec!["otp".into()], 0))
                    } else {
                        Err(refused(
                            "invalid_recovery_code",
                            "invalid_recovery_code",
                            "The recovery code is not correct or was already used.",
                        ))
                    },
                )
            }
            (Answer::WebAuthn(cred), Some(ceremony)) => {
                let v = self
                    .webauthn()?
                    .finish_assertion(ceremony, Some(account), cred)
                    .await?;
                Ok(match v {
                    Ok(v) => {
                        self.auditor.note_factor_use(v.factor_id, now)?;
                        Ok((v.amr, v.factor_id))
                    }
                    Err(r) => Err(Refused {
                        reason: r.code,
                        code: r.code,
                        message: r.message(),
                        detail: Some(r.detail),
                    }),
                })
            }
            (Answer::WebAuthn(_), None) => Err(Error::FlowInvalid),
        }
    }

    /// A break-glass code was accepted: the use is recorded (critical, alert, banner) and the
    /// account sealed again before the session is made, so that an error afterwards cannot
    /// leave it open.
    async fn broke_glass(
        &self,
        account: &crate::account::Account,
        system: &crate::policy::SystemFacts,
        origin: &Origin,
    ) -> Result<(), Error> {
        let left = self.emergency.codes_left(account).await?;
        self.emergency
            .record_use(
                account.username.as_str(),
                Some(account),
                &crate::emergency::service::UseOrigin {
                    channel: origin.channel.as_str(),
                    ip: Some(origin.ip.to_string()),
                    device: origin.device.clone(),
                },
                serde_json::json!({
                    "system": system.id,
                    "zone": origin.zone.as_str(),
                    "codes_voided": left,
                    "session_minutes": self.config.emergency.session.num_minutes(),
                }),
            )
            .await?;
        self.emergency.seal_after_use(account).await
    }

    /// A passkey that names no account this gateway knows: audited against the address, and
    /// the flow ends.
    async fn refuse_unclaimed(
        &self,
        record: &FlowRecord,
        origin: &Origin,
        reason: &'static str,
    ) -> Result<LoginOutcome, Error> {
        let ip_key = StateKey::ip_attempts(origin.ip);
        let count = self
            .state
            .incr_window(&ip_key, self.config.lockout.ip_window)
            .await?;
        self.auditor
            .record(
                self.event(
                    EventKind::LoginAttempt,
                    Outcome::Failure,
                    record.username.as_str(),
                    origin,
                )
                .detail("step", "second_factor")
                .detail("method", "webauthn")
                .detail("passwordless", true)
                .detail("reason", reason)
                .detail("address_failures", count),
            )
            .await?;
        Ok(LoginOutcome::CodeRefused {
            reason,
            message: "This passkey is not registered here.",
            locked: false,
            flow_id: None,
            expires_at: record.expires_at,
        })
    }

    /// An answer refused before any flow was spent: malformed, or for an unknown, expired or
    /// used flow id.
    async fn audit_refused_input(
        &self,
        subject: &str,
        method: &str,
        reason: &str,
        origin: &Origin,
    ) -> Result<(), Error> {
        self.auditor
            .record(
                self.event(EventKind::LoginAttempt, Outcome::Failure, subject, origin)
                    .detail("step", "second_factor")
                    .detail("method", method.to_owned())
                    .detail("reason", reason.to_owned()),
            )
            .await?;
        Ok(())
    }

    pub(super) fn flow_ttl(&self) -> std::time::Duration {
        self.sessions.config().login_flow_ttl
    }
}
