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

mod decide;
pub mod device_flow;
mod enrol;
mod facts;
pub mod flow;
pub mod pam;
mod second_factor;
mod step_up;

pub use decide::{Upgrade, upgrade_of};
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
use crate::policy::{PolicyEngine, SystemFacts};
use crate::session::{SessionRecord, SessionService};
use crate::state::{StateKey, StateStore};
use crate::store::Stores;
use crate::totp::service::TotpService;
use crate::webauthn::service::WebauthnService;
use decide::Proof;
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
        /// A step-up: the sid of the session this one replaced.
        upgraded: Option<String>,
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
    /// A second-factor answer was refused (`invalid_code` for a wrong or a used code alike,
    /// `invalid_recovery_code`, a WebAuthn refusal code …); a new flow id to try again with,
    /// unless the attempts are used up.
    CodeRefused {
        /// The code the client sees (the audit record keeps the finer reason).
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
    /// Vendors' maintenance windows: the window a vendor's sign-in falls in.
    windows: crate::vendor::service::WindowService,
    /// Break-glass codes of emergency accounts.
    emergency: crate::emergency::service::EmergencyService,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct Counts {
    in_window: u32,
    consecutive: u32,
}

impl LoginService {
    /// The same service, with its audit rows held until `self.auditor.flush()` (see
    /// `Auditor::deferred`).
    pub(crate) fn deferring_audit(&self) -> Self {
        Self {
            auditor: self.auditor.deferred(),
            ..self.clone()
        }
    }

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
        let windows = crate::vendor::service::WindowService::new(
            stores.clone(),
            auditor.clone(),
            clock.clone(),
            config.clone(),
            sessions.clone(),
        );
        let emergency = crate::emergency::service::EmergencyService::new(
            stores.clone(),
            auditor.clone(),
            clock.clone(),
            config.clone(),
        );
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
            windows,
            emergency,
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

    /// Vendors' maintenance windows (shared with the CLI, the console and housekeeping).
    pub fn windows(&self) -> &crate::vendor::service::WindowService {
        &self.windows
    }

    /// Emergency accounts' codes and uses.
    pub fn emergency(&self) -> &crate::emergency::service::EmergencyService {
        &self.emergency
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
        if let Some(name) = id.strip_prefix(crate::device::DEVICE_PREFIX) {
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

    /// Step one: username and password. Settled: it runs to its end even if the client goes.
    pub async fn login(
        &self,
        username: &str,
        password: &SecretString,
        system: &str,
        origin: &Origin,
    ) -> Result<LoginOutcome, Error> {
        let (this, u, p, s, o) = (
            self.clone(),
            username.to_owned(),
            password.clone(),
            system.to_owned(),
            origin.clone(),
        );
        settle(async move {
            let system = this.system(&s).await?;
            this.login_at(&u, &p, &system, &o).await
        })
        .await
    }

    /// A sign-in refused before any work: an address over its limit or a name locked.
    fn blocked(&self, username: &Username, origin: &Origin, scope: &'static str) -> AuditEvent {
        self.event(
            EventKind::LoginBlocked,
            Outcome::Denied,
            username.as_str(),
            origin,
        )
        .detail("scope", scope)
    }

    /// The per-address limit against password spraying: `Some(until)` when it is reached.
    async fn address_over_limit(
        &self,
        username: &Username,
        ip_key: &StateKey,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        let lc = &self.config.lockout;
        if self.state.counter(ip_key).await? < lc.ip_limit {
            return Ok(None);
        }
        self.auditor
            .record(
                self.blocked(username, origin, "address")
                    .detail("limit", lc.ip_limit),
            )
            .await?;
        Ok(Some(
            chrono::Duration::from_std(lc.ip_window)
                .ok()
                .map_or(now, |d| now + d),
        ))
    }

    /// Take the attempt slot for this name and zone, atomically and before any hash is
    /// computed (CVE-2024-4629 was the opposite); a lock in force is audited and returned.
    async fn reserve_slot(
        &self,
        username: &Username,
        lock_key: &StateKey,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Result<Reserved, Option<DateTime<Utc>>>, Error> {
        match self
            .state
            .lockout_begin(lock_key, now, &self.config.lockout.policy)
            .await?
        {
            Ok(r) => Ok(Ok(r)),
            Err(blocked) => {
                let until = match blocked {
                    Blocked::Until(t) => Some(t),
                    Blocked::UntilAdminUnlock => None,
                };
                self.auditor
                    .record(
                        self.blocked(username, origin, "account")
                            .detail("until", until.map(crate::clock::to_jst_string))
                            .detail("admin_unlock_required", until.is_none()),
                    )
                    .await?;
                Ok(Err(until))
            }
        }
    }

    /// The account behind a name and password, or `None`: unknown, disabled, past its expiry
    /// (before the housekeeping task disables it) and wrong all do the same work (a dummy
    /// hash) and look the same.
    async fn verify_password(
        &self,
        username: &Username,
        password: &SecretString,
        now: DateTime<Utc>,
    ) -> Result<Option<Account>, Error> {
        let account = self
            .stores
            .accounts
            .find_account_by_username(&self.config.facility.id, username)
            .await?;
        let verified = match &account {
            Some(a) if a.status != AccountStatus::Disabled && !a.expired_at(now) => {
                self.passwords.verify(a, password).await?
            }
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
        Ok(account.filter(|_| verified))
    }

    /// The password's state for the policy: a status that forces a change, a breach-filter
    /// hit, or a password shorter than this account now needs (it lost its last factor or its
    /// second-factor flag since the password was set: `too_short`).
    async fn password_state_of(
        &self,
        account: &Account,
        password: &SecretString,
        now: DateTime<Utc>,
    ) -> Result<&'static str, Error> {
        let normalised = crate::password::rules::normalise_password(password.expose());
        let breached = self
            .passwords
            .breach_filter()
            .is_some_and(|f| f.contains_password(&normalised));
        let state = password_state(account.status, breached);
        if state != "ok" {
            return Ok(state);
        }
        let min = self.passwords.min_length_for(account, now).await?;
        Ok(if normalised.chars().count() < min {
            "too_short"
        } else {
            "ok"
        })
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
        let ip_key = StateKey::ip_attempts(origin.ip);
        if let Some(until) = self
            .address_over_limit(&username, &ip_key, origin, now)
            .await?
        {
            return Ok(LoginOutcome::Blocked { until: Some(until) });
        }
        let lock_key = StateKey::lockout(&username, origin.zone);
        let reserved = match self.reserve_slot(&username, &lock_key, origin, now).await? {
            Ok(r) => r,
            Err(until) => return Ok(LoginOutcome::Blocked { until }),
        };
        let Some(account) = self.verify_password(&username, password, now).await? else {
            self.failed(&username, origin, reserved, &ip_key, "invalid_credentials")
                .await?;
            return Ok(LoginOutcome::InvalidCredentials);
        };
        self.state.lockout_reset(&lock_key).await?;
        let pstate = self.password_state_of(&account, password, now).await?;
        self.decide(
            &account,
            system,
            Proof::new(vec!["pwd".into()], pstate),
            origin,
            now,
        )
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

    /// The account a flow belongs to. Disabled (or past its expiry) while the flow was open:
    /// the flow ends (and nothing of the step is applied).
    async fn flow_account(&self, record: &FlowRecord) -> Result<Account, Error> {
        let id = uuid::Uuid::parse_str(&record.account_id).map_err(|_| Error::FlowInvalid)?;
        let account = self
            .stores
            .accounts
            .get_account(crate::account::AccountId(id))
            .await?;
        if account.status == AccountStatus::Disabled || account.expired_at(self.clock.now()) {
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
    /// password gives a new flow id to try again with. Settled like every step.
    pub async fn change_password(
        &self,
        flow_id: &str,
        new_password: &SecretString,
        origin: &Origin,
    ) -> Result<(LoginOutcome, Option<Error>), Error> {
        let (this, id, pw, o) = (
            self.clone(),
            flow_id.to_owned(),
            new_password.clone(),
            origin.clone(),
        );
        settle(async move { this.change_password_now(&id, &pw, &o).await }).await
    }

    async fn change_password_now(
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
        let proof = Proof::of_flow(&record, record.amr.clone(), "ok");
        let outcome = self.decide(&account, &system, proof, origin, now).await?;
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

/// Run a step to its end on a task of its own. A client that disconnects (or a PAM module
/// that gives up after its timeout) drops the request's future, but not the step: a step that
/// has taken its lockout slot always settles it (a right answer resets the counter, a wrong
/// one counts) and writes its audit row.
pub(crate) async fn settle<T: Send + 'static>(
    step: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    tokio::spawn(step)
        .await
        .map_err(|e| Error::Invalid(format!("a sign-in step stopped: {e}")))?
}
