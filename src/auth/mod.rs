//! The login flow: password step, lockout, policy decision, then a session, a further step or
//! a refusal. Everything that decides is pure and lives elsewhere (`lockout`, `password`,
//! `policy`); this module orders the steps and records each one in the audit log.
//!
//! ```text
//!  POST /login {username, password}
//!     │ per-address limit ─► blocked (429)
//!     │ reserve an attempt slot (atomic) ─► blocked (429)      no hash computed
//!     │ verify password (dummy hash when there is no account)
//!     ├─ wrong, unknown, disabled ─► invalid_credentials (401)  identical answers
//!     │ reset the counter; issue_session policy
//!     ├─ issue ─► authenticated + session cookie
//!     ├─ need a password change ─► password_change_required + flow id
//!     ├─ need another factor ─► second_factor_required + flow id (kinds, methods)
//!     ├─ need a factor the account has none of ─► enrolment_required + flow id
//!     └─ deny ─► denied (403) with the policy ids
//!  POST /login {flow_id, new_password} ─► the policy again, with the new password
//! ```
//!
//! A sign-in at a server or terminal (`Channel::Pam`, see `pam`) takes the same steps with
//! the device as the resource and ends in an allow or deny instead of a session; a
//! registered terminal's browser carries its device into the policy context.

pub mod device_flow;
mod enrol;
mod facts;
pub mod flow;
pub mod pam;
mod second_factor;

pub use facts::{
    FactorFacts, Notice, factor_facts, needs_second_factor, password_state, with_methods,
};
pub use second_factor::{Answer, Challenge};

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::account::{Account, AccountStatus, Username};
use crate::audit::{AuditEvent, Auditor, EventKind, Outcome};
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::SecretString;
use crate::error::Error;
use crate::lockout::{Blocked, Reserved, Zone};
use crate::password::PasswordService;
use crate::password::service::SetBy;
use crate::policy::factors::FactorKind;
use crate::policy::{AccountFacts, Decision, PolicyEngine, SessionFacts, SystemFacts, Verdict};
use crate::session::{SessionRecord, SessionService, SessionSubject};
use crate::state::{StateKey, StateStore};
use crate::store::Stores;
use crate::totp::service::TotpService;
use crate::webauthn::service::WebauthnService;
use flow::{FlowRecord, FlowStep};

/// Where a request comes from, as the HTTP layer established it.
#[derive(Debug, Clone)]
pub struct Origin {
    pub ip: IpAddr,
    pub zone: Zone,
    pub user_agent: String,
    /// The registered device the request comes from: a terminal's browser with its device
    /// cookie, or the server or terminal whose PAM module asks.
    pub device: Option<String>,
    pub channel: Channel,
}

/// How a sign-in reaches the gateway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Channel {
    /// A browser or an application: a session cookie is the result.
    #[default]
    Web,
    /// The PAM module of a server or terminal: an allow or deny, no session.
    Pam,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Pam => "pam",
        }
    }
}

/// The answer to a login step.
#[derive(Debug)]
pub enum LoginOutcome {
    Authenticated {
        cookie: SecretString,
        session: Box<SessionRecord>,
        policy_ids: Vec<String>,
        notices: Vec<Notice>,
    },
    SecondFactorRequired {
        flow_id: SecretString,
        kinds: Vec<FactorKind>,
        /// What this account can answer with: `totp`, `webauthn`, `recovery_code`.
        methods: Vec<&'static str>,
        expires_at: DateTime<Utc>,
        policy_ids: Vec<String>,
    },
    /// A factor is needed and the account has none: enrol one with this flow id, and the
    /// confirmed enrolment completes the sign-in.
    EnrolmentRequired {
        flow_id: SecretString,
        kinds: Vec<FactorKind>,
        expires_at: DateTime<Utc>,
        policy_ids: Vec<String>,
    },
    PasswordChangeRequired {
        flow_id: SecretString,
        reason: String,
        expires_at: DateTime<Utc>,
    },
    Denied {
        policy_ids: Vec<String>,
    },
    InvalidCredentials,
    /// A PAM sign-in the policy allows: the module lets the person in; no session is made.
    Allowed {
        amr: Vec<String>,
        policy_ids: Vec<String>,
    },
    /// A second-factor answer was refused (`invalid_code`, `code_already_used`, a WebAuthn
    /// refusal code …); a new flow id to try again with, unless the attempts are used up.
    CodeRefused {
        reason: &'static str,
        message: &'static str,
        /// The answers are used up: the second factor is locked.
        locked: bool,
        flow_id: Option<SecretString>,
        expires_at: DateTime<Utc>,
    },
    /// Locked (per username and zone) or the address is over its limit.
    Blocked {
        until: Option<DateTime<Utc>>,
    },
}

#[derive(Debug, Clone)]
pub struct LoginService {
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    stores: Stores,
    passwords: Arc<PasswordService>,
    policy: Arc<PolicyEngine>,
    state: Arc<dyn StateStore>,
    sessions: SessionService,
    auditor: Auditor,
    /// A hash of a random password, verified when there is no real one to verify, so that
    /// unknown users cost the same time as known ones.
    dummy_phc: Arc<String>,
    /// TOTP verification, when the factor-sealing key is available.
    totp: Option<TotpService>,
    /// WebAuthn assertions, likewise.
    webauthn: Option<WebauthnService>,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct Counts {
    in_window: u32,
    consecutive: u32,
}

impl LoginService {
    #[allow(clippy::too_many_arguments)]
    pub async fn new(
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        stores: Stores,
        passwords: Arc<PasswordService>,
        policy: Arc<PolicyEngine>,
        state: Arc<dyn StateStore>,
        sessions: SessionService,
        auditor: Auditor,
    ) -> Result<Self, Error> {
        let dummy = crate::crypto::random_one_time_password(24);
        let dummy_phc = passwords.hasher().hash(dummy).await?;
        Ok(Self {
            config,
            clock,
            stores,
            passwords,
            policy,
            state,
            sessions,
            auditor,
            dummy_phc: Arc::new(dummy_phc),
            totp: None,
            webauthn: None,
        })
    }

    /// The second factors this gateway can check (both need the factor-sealing key).
    pub fn with_factors(
        mut self,
        totp: Option<TotpService>,
        webauthn: Option<WebauthnService>,
    ) -> Self {
        self.totp = totp;
        self.webauthn = webauthn;
        self
    }

    fn event(
        &self,
        kind: EventKind,
        outcome: Outcome,
        subject: &str,
        origin: &Origin,
    ) -> AuditEvent {
        let mut e = AuditEvent::new(self.config.facility.id.clone(), kind, outcome)
            .subject(subject)
            .detail("zone", origin.zone.as_str());
        e.device = origin.device.clone();
        if origin.channel != Channel::Web {
            e = e.detail("channel", origin.channel.as_str());
        }
        e.ip = Some(origin.ip.to_string());
        e
    }

    /// A configured system, or a registered server or terminal (`device:NAME`, the resource
    /// of a PAM sign-in).
    async fn system(&self, id: &str) -> Result<SystemFacts, Error> {
        if let Some(s) = self.config.system(id) {
            return Ok(SystemFacts::of(s, &self.config.facility.id));
        }
        if let Some(name) = id.strip_prefix(pam::DEVICE_PREFIX) {
            let device = self
                .stores
                .devices
                .find_device(&self.config.facility.id, name)
                .await?
                .ok_or(Error::FlowInvalid)?;
            return Ok(pam::device_system(&self.config, &device));
        }
        Err(Error::Invalid(format!("unknown system `{id}`")))
    }

    /// Step one: username and password.
    pub async fn login(
        &self,
        username: &str,
        password: &SecretString,
        system: &str,
        origin: &Origin,
    ) -> Result<LoginOutcome, Error> {
        let system = self.system(system).await?;
        self.login_at(username, password, &system, origin).await
    }

    /// The password step for a system already resolved.
    async fn login_at(
        &self,
        username: &str,
        password: &SecretString,
        system: &SystemFacts,
        origin: &Origin,
    ) -> Result<LoginOutcome, Error> {
        let username = Username::parse(username)?;
        let now = self.clock.now();
        let lc = &self.config.lockout;

        let ip_key = StateKey::ip_attempts(origin.ip);
        if self.state.counter(&ip_key).await? >= lc.ip_limit {
            self.auditor
                .record(
                    self.event(
                        EventKind::LoginBlocked,
                        Outcome::Denied,
                        username.as_str(),
                        origin,
                    )
                    .detail("scope", "address")
                    .detail("limit", lc.ip_limit),
                )
                .await?;
            let until = chrono::Duration::from_std(lc.ip_window)
                .ok()
                .map(|d| now + d);
            return Ok(LoginOutcome::Blocked { until });
        }

        // The slot is taken before any hash is computed (CVE-2024-4629 was the opposite).
        let lock_key = StateKey::lockout(&username, origin.zone);
        let reserved = match self.state.lockout_begin(&lock_key, now, &lc.policy).await? {
            Ok(r) => r,
            Err(blocked) => {
                let until = match blocked {
                    Blocked::Until(t) => Some(t),
                    Blocked::UntilAdminUnlock => None,
                };
                self.auditor
                    .record(
                        self.event(
                            EventKind::LoginBlocked,
                            Outcome::Denied,
                            username.as_str(),
                            origin,
                        )
                        .detail("scope", "account")
                        .detail("until", until.map(crate::clock::to_jst_string))
                        .detail("admin_unlock_required", until.is_none()),
                    )
                    .await?;
                return Ok(LoginOutcome::Blocked { until });
            }
        };

        let account = self
            .stores
            .accounts
            .find_account_by_username(&self.config.facility.id, &username)
            .await?;
        let verified = match &account {
            Some(a) if a.status != AccountStatus::Disabled => {
                self.passwords.verify(a, password).await?
            }
            // Unknown or disabled: the same work, the same answer.
            _ => {
                let n = SecretString::new(crate::password::rules::normalise_password(
                    password.expose(),
                ));
                let _ = self
                    .passwords
                    .hasher()
                    .verify(n, self.dummy_phc.as_ref().clone())
                    .await?;
                false
            }
        };
        let Some(account) = account.filter(|_| verified) else {
            self.failed(&username, origin, reserved, &ip_key, "invalid_credentials")
                .await?;
            return Ok(LoginOutcome::InvalidCredentials);
        };
        self.state.lockout_reset(&lock_key).await?;

        let breached = self.passwords.breach_filter().is_some_and(|f| {
            f.contains_password(&crate::password::rules::normalise_password(
                password.expose(),
            ))
        });
        let pstate = password_state(account.status, breached);
        self.decide(&account, system, vec!["pwd".into()], pstate, origin, now)
            .await
    }

    async fn failed(
        &self,
        username: &Username,
        origin: &Origin,
        reserved: Reserved,
        ip_key: &StateKey,
        reason: &str,
    ) -> Result<(), Error> {
        let ip_count = self
            .state
            .incr_window(ip_key, self.config.lockout.ip_window)
            .await?;
        let counts = Counts {
            in_window: reserved.in_window,
            consecutive: reserved.consecutive,
        };
        self.auditor
            .record(
                self.event(
                    EventKind::LoginAttempt,
                    Outcome::Failure,
                    username.as_str(),
                    origin,
                )
                .detail("reason", reason)
                .detail("failures_in_window", counts.in_window)
                .detail("consecutive_failures", counts.consecutive)
                .detail("address_failures", ip_count),
            )
            .await?;
        if reserved.locks_until.is_some() || reserved.hard_locked {
            self.auditor
                .record(
                    self.event(
                        EventKind::AccountLocked,
                        Outcome::Info,
                        username.as_str(),
                        origin,
                    )
                    .detail(
                        "until",
                        reserved.locks_until.map(crate::clock::to_jst_string),
                    )
                    .detail("admin_unlock_required", reserved.hard_locked)
                    .detail("failures_in_window", counts.in_window)
                    .detail("consecutive_failures", counts.consecutive),
                )
                .await?;
        }
        Ok(())
    }

    /// Ask `issue_session` and act on the verdict.
    async fn decide(
        &self,
        account: &Account,
        system: &SystemFacts,
        amr: Vec<String>,
        pstate: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<LoginOutcome, Error> {
        let ff = factor_facts(&self.stores, &self.config, account).await?;
        let facts = SessionFacts {
            now,
            amr: amr.clone(),
            zone: origin.zone,
            password_state: pstate.to_owned(),
            enrolment_overdue: ff.enrolment_overdue,
            device: origin.device.clone().unwrap_or_default(),
            channel: origin.channel.as_str(),
        };
        let Decision {
            verdict,
            policy_ids,
            errors,
        } = self.policy.issue_session(
            &AccountFacts::of(account, ff.has_second_factor),
            system,
            &facts,
        );
        // A PAM stack that asks for a code always has it checked, whatever the policy needs.
        let verdict = match verdict {
            Verdict::Issue if origin.channel == Channel::Pam && !pam::has_second_factor(&amr) => {
                Verdict::NeedFactor {
                    kinds: vec![FactorKind::Possession],
                }
            }
            v => v,
        };
        let subject = account.username.as_str();
        let base = |kind, outcome| {
            self.event(kind, outcome, subject, origin)
                .detail("system", system.id.as_str())
                .detail("amr", amr.clone())
                .detail("policy_ids", policy_ids.clone())
        };
        let flow_ttl = self.sessions.config().login_flow_ttl;
        let expires_at = now + chrono::Duration::from_std(flow_ttl).unwrap_or_default();
        let flow = |step| FlowRecord {
            account_id: account.id.to_string(),
            username: subject.to_owned(),
            system: system.id.clone(),
            amr: amr.clone(),
            zone: origin.zone,
            ip: origin.ip.to_string(),
            user_agent: origin.user_agent.clone(),
            step,
            created_at: now,
            expires_at,
        };
        match verdict {
            Verdict::Issue if origin.channel == Channel::Pam => {
                self.auditor
                    .record(base(EventKind::LoginAttempt, Outcome::Success))
                    .await?;
                Ok(LoginOutcome::Allowed { amr, policy_ids })
            }
            Verdict::Issue => {
                let (cookie, session) = self
                    .sessions
                    .create(
                        SessionSubject {
                            account_id: account.id.to_string(),
                            username: subject.to_owned(),
                            display_name: account.display_name.clone(),
                            email: account.email.clone(),
                            account_type: account.account_type.as_str().to_owned(),
                            roles: account.role_names(),
                            groups: account.group_names(),
                            facility: account.facility_id.0.clone(),
                            amr: amr.clone(),
                            zone: origin.zone,
                            ip: origin.ip.to_string(),
                            user_agent: origin.user_agent.clone(),
                        },
                        now,
                    )
                    .await?;
                // No session is handed out unless its audit record is committed.
                if let Err(e) = self
                    .auditor
                    .record(
                        base(EventKind::LoginAttempt, Outcome::Success)
                            .detail("sid", session.sid.as_str())
                            .detail("acr", session.acr()),
                    )
                    .await
                {
                    let _ = self
                        .sessions
                        .revoke(&session.account_id, &session.sid)
                        .await;
                    return Err(e.into());
                }
                let mut updated = account.clone();
                updated.last_login_at = Some(now);
                if let Err(e) = self.stores.accounts.update_account(&updated).await {
                    tracing::warn!(error = %e, "recording the last login time failed");
                }
                let notices = self.notices(account, &ff).await;
                Ok(LoginOutcome::Authenticated {
                    cookie,
                    session: Box::new(session),
                    policy_ids,
                    notices,
                })
            }
            Verdict::NeedPasswordChange => {
                let step = FlowStep::ChangePassword {
                    reason: pstate.to_owned(),
                };
                let event = base(EventKind::LoginAttempt, Outcome::Info)
                    .detail("result", "password_change_required")
                    .detail("password_state", pstate);
                let flow_id = self.next_step(&flow(step), event).await?;
                Ok(LoginOutcome::PasswordChangeRequired {
                    flow_id,
                    reason: pstate.to_owned(),
                    expires_at,
                })
            }
            Verdict::NeedFactor { kinds } if !ff.has_second_factor => {
                let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
                let event = base(EventKind::LoginAttempt, Outcome::Info)
                    .detail("result", "enrolment_required")
                    .detail("kinds", names);
                let step = FlowStep::Enrol {
                    kinds: kinds.clone(),
                };
                let flow_id = self.next_step(&flow(step), event).await?;
                Ok(LoginOutcome::EnrolmentRequired {
                    flow_id,
                    kinds,
                    expires_at,
                    policy_ids,
                })
            }
            Verdict::NeedFactor { kinds } => {
                let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
                let event = base(EventKind::LoginAttempt, Outcome::Info)
                    .detail("result", "second_factor_required")
                    .detail("kinds", names)
                    .detail("methods", ff.methods.clone());
                let step = FlowStep::SecondFactor {
                    kinds: kinds.clone(),
                };
                let flow_id = self.next_step(&flow(step), event).await?;
                Ok(LoginOutcome::SecondFactorRequired {
                    flow_id,
                    kinds,
                    methods: ff.methods,
                    expires_at,
                    policy_ids,
                })
            }
            Verdict::Deny => {
                self.auditor
                    .record(
                        base(EventKind::LoginAttempt, Outcome::Denied)
                            .detail("result", "denied")
                            .detail("policy_errors", errors),
                    )
                    .await?;
                Ok(LoginOutcome::Denied { policy_ids })
            }
        }
    }

    /// The reminders that go with a new session. Counting a reminder is best effort: a failed
    /// count is logged and the session stands.
    async fn notices(&self, account: &Account, ff: &FactorFacts) -> Vec<Notice> {
        let mut notices = Vec::new();
        if !ff.has_second_factor && account.account_type.as_str() != "service" {
            match self.stores.factors.enrolment_nudges(account.id, true).await {
                Ok(n) => notices.push(Notice::EnrolmentRecommended {
                    required_from: crate::clock::to_jst_string(
                        DateTime::from_timestamp(
                            crate::policy::factors::TWO_FACTOR_DEADLINE_UNIX,
                            0,
                        )
                        .unwrap_or_default(),
                    ),
                    grace_remaining: self.config.factors.enrolment_grace_logins.saturating_sub(n),
                }),
                Err(e) => tracing::warn!(error = %e, "counting an enrolment reminder failed"),
            }
        }
        // Only for a set in use (a sign-in that spends the last one says so itself): not
        // every sign-in of someone who never made codes.
        if ff.recovery_codes > 0 && ff.recovery_codes < crate::recovery::LOW_WATER {
            notices.push(Notice::RecoveryCodesLow {
                remaining: ff.recovery_codes,
            });
        }
        notices
    }

    /// The account a flow belongs to. Disabled while the flow was open: the flow ends (and
    /// nothing of the step is applied).
    async fn flow_account(&self, record: &FlowRecord) -> Result<Account, Error> {
        let id = uuid::Uuid::parse_str(&record.account_id).map_err(|_| Error::FlowInvalid)?;
        let account = self
            .stores
            .accounts
            .get_account(crate::account::AccountId(id))
            .await?;
        if account.status == AccountStatus::Disabled {
            return Err(Error::FlowInvalid);
        }
        Ok(account)
    }

    /// Open a flow for the next step and record why.
    async fn next_step(
        &self,
        record: &FlowRecord,
        event: AuditEvent,
    ) -> Result<SecretString, Error> {
        let ttl = self.sessions.config().login_flow_ttl;
        let id = flow::begin(self.state.as_ref(), record, ttl).await?;
        self.auditor.record(event).await?;
        Ok(id)
    }

    /// The password-change step of a flow. The flow id is spent whatever happens; a refused
    /// password gives a new flow id to try again with.
    pub async fn change_password(
        &self,
        flow_id: &str,
        new_password: &SecretString,
        origin: &Origin,
    ) -> Result<(LoginOutcome, Option<Error>), Error> {
        let now = self.clock.now();
        let record = flow::take(self.state.as_ref(), flow_id, now).await?;
        let FlowStep::ChangePassword { reason } = &record.step else {
            return Err(Error::FlowInvalid);
        };
        let mut account = self.flow_account(&record).await?;
        let system = self.system(&record.system).await?;
        let actor = format!("account:{}", account.username);
        match self
            .passwords
            .set_password(&mut account, new_password, SetBy::Owner, now)
            .await
        {
            Ok(()) => {}
            Err(Error::PasswordRejected(reasons)) => {
                let codes: Vec<&str> = reasons.iter().map(|r| r.code()).collect();
                self.auditor
                    .record(
                        self.event(
                            EventKind::PasswordRejected,
                            Outcome::Failure,
                            &record.username,
                            origin,
                        )
                        .actor(actor.as_str())
                        .detail("reasons", codes),
                    )
                    .await?;
                let again = flow::begin(
                    self.state.as_ref(),
                    &FlowRecord {
                        expires_at: record.expires_at,
                        ..record.clone()
                    },
                    self.sessions.config().login_flow_ttl,
                )
                .await?;
                return Ok((
                    LoginOutcome::PasswordChangeRequired {
                        flow_id: again,
                        reason: reason.clone(),
                        expires_at: record.expires_at,
                    },
                    Some(Error::PasswordRejected(reasons)),
                ));
            }
            Err(e) => return Err(e),
        }
        self.auditor
            .record(
                self.event(
                    EventKind::PasswordChanged,
                    Outcome::Success,
                    &record.username,
                    origin,
                )
                .actor(actor.as_str())
                .detail("during_login", true)
                .detail("previous_state", reason.as_str()),
            )
            .await?;
        // Sessions made with the old password end (they may belong to whoever knew it).
        self.sessions.revoke_all(&record.account_id).await?;
        let outcome = self
            .decide(&account, &system, record.amr, "ok", origin, now)
            .await?;
        Ok((outcome, None))
    }

    /// End a session (logout).
    pub async fn logout(&self, session: &SessionRecord, origin: &Origin) -> Result<(), Error> {
        self.sessions
            .revoke(&session.account_id, &session.sid)
            .await?;
        self.auditor
            .record(
                self.event(
                    EventKind::Logout,
                    Outcome::Success,
                    &session.username,
                    origin,
                )
                .detail("sid", session.sid.as_str()),
            )
            .await?;
        Ok(())
    }
}
