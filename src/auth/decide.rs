//! The end of every credential step: ask `issue_session` with what has been proved, and act
//! on the verdict: a session (or, for a step-up, the session's upgrade), a further step, or a
//! refusal. Each outcome is audited before it is handed out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::flow::{FlowRecord, FlowStep};
use super::{Channel, FactorFacts, LoginOutcome, LoginService, Notice, Origin, factor_facts, pam};
use crate::account::Account;
use crate::audit::{AuditEvent, EventKind, Outcome};
use crate::error::Error;
use crate::policy::factors::FactorKind;
use crate::policy::{AccountFacts, Decision, SessionFacts, SystemFacts, Verdict};
use crate::session::{SessionRecord, SessionSubject};

/// The session a step-up flow upgrades: the new session takes its place and keeps its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upgrade {
    pub sid: String,
    pub absolute_expiry: DateTime<Utc>,
}

/// What the steps so far have proved.
#[derive(Debug, Clone)]
pub(super) struct Proof {
    pub amr: Vec<String>,
    /// `password_state` for the policy: ok, must_change, compromised, breached, too_short.
    pub pstate: String,
    pub upgrades: Option<Upgrade>,
    /// The second factor was a break-glass code: the session is time-boxed.
    pub break_glass: bool,
}

impl Proof {
    pub fn new(amr: Vec<String>, pstate: &str) -> Self {
        Self {
            amr,
            pstate: pstate.to_owned(),
            upgrades: None,
            break_glass: false,
        }
    }

    /// A flow's proof after a further step added `amr`.
    pub fn of_flow(record: &FlowRecord, amr: Vec<String>, pstate: &str) -> Self {
        Self {
            amr,
            pstate: pstate.to_owned(),
            upgrades: record.upgrades.clone(),
            break_glass: false,
        }
    }
}

impl LoginService {
    /// Ask `issue_session` and act on the verdict.
    pub(super) async fn decide(
        &self,
        account: &Account,
        system: &SystemFacts,
        proof: Proof,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<LoginOutcome, Error> {
        let ff = factor_facts(&self.stores, &self.config, account).await?;
        // A vendor account's sign-in falls in a maintenance window of this system, or none.
        let window = self.windows.open_for(account, &system.id, now).await?;
        let window_id = window.as_ref().map(|w| w.id.clone());
        let facts = SessionFacts {
            now,
            amr: proof.amr.clone(),
            zone: origin.zone,
            password_state: proof.pstate.clone(),
            enrolment_overdue: ff.enrolment_overdue,
            device: origin.device.clone().unwrap_or_default(),
            channel: origin.channel.as_str(),
            maintenance_window: window_id.clone().unwrap_or_default(),
            break_glass: proof.break_glass,
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
        let amr = proof.amr.clone();
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
            let e = self
                .event(kind, outcome, subject, origin)
                .detail("system", system.id.as_str())
                .detail("amr", amr.clone())
                .detail("policy_ids", policy_ids.clone());
            match &window_id {
                Some(w) => e.detail(crate::vendor::service::DETAIL_KEY, w.as_str()),
                None => e,
            }
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
            upgrades: proof.upgrades.clone(),
        };
        match verdict {
            Verdict::Issue if origin.channel == Channel::Pam => {
                // A sign-in at a server counts against dormancy like one on the web.
                self.auditor.note_sign_in(&account.id.to_string(), now)?;
                self.auditor
                    .record(base(EventKind::LoginAttempt, Outcome::Success))
                    .await?;
                Ok(LoginOutcome::Allowed { amr, policy_ids })
            }
            Verdict::Issue => {
                let event = base(EventKind::LoginAttempt, Outcome::Success);
                let issued = Issued {
                    system,
                    window: window.as_ref(),
                    policy_ids,
                };
                self.issue(account, &ff, proof, event, origin, now, issued)
                    .await
            }
            Verdict::NeedPasswordChange => {
                let step = FlowStep::ChangePassword {
                    reason: proof.pstate.clone(),
                };
                let event = base(EventKind::LoginAttempt, Outcome::Info)
                    .detail("result", "password_change_required")
                    .detail("password_state", proof.pstate.as_str());
                let flow_id = self.next_step(&flow(step), event).await?;
                Ok(LoginOutcome::PasswordChangeRequired {
                    flow_id,
                    reason: proof.pstate,
                    expires_at,
                })
            }
            // An emergency account answers with a break-glass code or not at all: it does not
            // enrol (it must work when everything else fails, and stay sealed after a use).
            Verdict::NeedFactor { .. }
                if !ff.has_second_factor
                    && account.account_type == crate::account::AccountType::Emergency
                    && ff.break_glass_codes == 0 =>
            {
                self.auditor
                    .record(
                        base(EventKind::LoginAttempt, Outcome::Denied)
                            .detail("result", "denied")
                            .detail("reason", "break_glass_codes_required"),
                    )
                    .await?;
                Ok(LoginOutcome::Denied { policy_ids })
            }
            Verdict::NeedFactor { kinds }
                if !ff.has_second_factor
                    && account.account_type != crate::account::AccountType::Emergency =>
            {
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

    /// Make the session the policy allows. A step-up replaces the session it upgrades (which
    /// must still be live: a revoked session is not brought back), keeping its end; a
    /// vendor's session ends with its maintenance window, a break-glass session after
    /// `[emergency] session_minutes`.
    #[allow(clippy::too_many_arguments)]
    async fn issue(
        &self,
        account: &Account,
        ff: &FactorFacts,
        proof: Proof,
        event: AuditEvent,
        origin: &Origin,
        now: DateTime<Utc>,
        issued: Issued<'_>,
    ) -> Result<LoginOutcome, Error> {
        let Issued {
            system,
            window,
            policy_ids,
        } = issued;
        let ends_at = [
            proof.upgrades.as_ref().map(|u| u.absolute_expiry),
            window.map(|w| w.ends_at),
            proof
                .break_glass
                .then(|| now + self.config.emergency.session),
        ]
        .into_iter()
        .flatten()
        .min();
        let subject = SessionSubject {
            account_id: account.id.to_string(),
            username: account.username.as_str().to_owned(),
            display_name: account.display_name.clone(),
            email: account.email.clone(),
            account_type: account.account_type.as_str().to_owned(),
            roles: account.role_names(),
            groups: account.group_names(),
            facility: account.facility_id.0.clone(),
            amr: proof.amr.clone(),
            zone: origin.zone,
            ip: origin.ip.to_string(),
            user_agent: origin.user_agent.clone(),
            has_second_factor: ff.has_second_factor,
            second_factor_required: account.second_factor_required,
            maintenance_window: window.map(|w| w.id.clone()),
            window_system: window.map(|_| system.id.clone()),
            break_glass: proof.break_glass,
        };
        let (cookie, session, event) = match &proof.upgrades {
            None => {
                let (cookie, session) = self.sessions.create(subject, now, ends_at).await?;
                let event = event
                    .detail("sid", session.sid.as_str())
                    .detail("acr", session.acr());
                (cookie, session, event)
            }
            Some(up) => {
                if !self.sessions.is_live(&up.sid).await? {
                    return Err(Error::FlowInvalid);
                }
                let (cookie, session) = self.sessions.create(subject, now, ends_at).await?;
                let mut upgraded = AuditEvent::new(
                    self.config.facility.id.clone(),
                    EventKind::SessionUpgraded,
                    Outcome::Success,
                )
                .subject(account.username.as_str())
                .detail("previous_sid", up.sid.as_str())
                .detail("sid", session.sid.as_str())
                .detail("acr", session.acr());
                upgraded.detail = merge(event.detail, upgraded.detail);
                upgraded.ip = event.ip;
                upgraded.device = event.device;
                (cookie, session, upgraded)
            }
        };
        // No session is handed out unless its audit record is committed; the sign-in time
        // is written in the same commit.
        self.auditor.note_sign_in(&account.id.to_string(), now)?;
        if let Err(e) = self.auditor.record(event).await {
            let _ = self
                .sessions
                .revoke(&session.account_id, &session.sid)
                .await;
            return Err(e.into());
        }
        if let Some(up) = &proof.upgrades {
            self.sessions.revoke(&session.account_id, &up.sid).await?;
        }
        let notices = self.notices(account, ff).await;
        Ok(LoginOutcome::Authenticated {
            cookie,
            session: Box::new(session),
            policy_ids,
            notices,
            upgraded: proof.upgrades.map(|u| u.sid),
        })
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
}

/// What a session is issued for.
pub(super) struct Issued<'a> {
    system: &'a SystemFacts,
    window: Option<&'a crate::vendor::Window>,
    policy_ids: Vec<String>,
}

/// `a`'s keys, then `b`'s over them.
fn merge(a: serde_json::Value, b: serde_json::Value) -> serde_json::Value {
    match (a, b) {
        (serde_json::Value::Object(mut a), serde_json::Value::Object(b)) => {
            a.extend(b);
            serde_json::Value::Object(a)
        }
        (_, b) => b,
    }
}

/// The upgrade a step-up flow records for this session.
pub fn upgrade_of(session: &SessionRecord) -> Upgrade {
    Upgrade {
        sid: session.sid.clone(),
        absolute_expiry: session.absolute_expiry,
    }
}
