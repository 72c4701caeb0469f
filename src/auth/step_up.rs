//! Step-up: a session with one factor kind meets a page that needs two (an `access` rule or
//! policy with `@outcome("second_factor_required")`, or a system whose `issue_session` asks
//! for more than the session was made with). The portal, or the JSON login, asks only for the
//! missing factor; the answer goes through the second-factor step like a sign-in's, with its
//! lock and its audit, and the policy is asked again. The session is then replaced: a new id
//! with `amr` extended, the old session's end kept, the old id revoked, `session_upgraded`
//! audited.

use super::flow::{FlowRecord, FlowStep};
use super::{LoginOutcome, LoginService, Origin, factor_facts, upgrade_of};
use crate::audit::{EventKind, Outcome};
use crate::error::Error;
use crate::policy::factors::{FactorKind, kinds};
use crate::session::SessionRecord;

impl LoginService {
    /// Begin adding a factor to a live session, for `system`.
    pub async fn step_up(
        &self,
        session: &SessionRecord,
        system: &str,
        origin: &Origin,
    ) -> Result<LoginOutcome, Error> {
        let now = self.clock.now();
        let present = kinds(&session.amr);
        if present.len() >= 2 {
            return Err(Error::Refused {
                code: "step_up_not_needed",
                message: "This session already has two kinds of factor.",
            });
        }
        let system = self.system(system).await?;
        let record = FlowRecord {
            account_id: session.account_id.clone(),
            username: session.username.clone(),
            system: system.id.clone(),
            amr: session.amr.clone(),
            zone: origin.zone,
            ip: origin.ip.to_string(),
            user_agent: origin.user_agent.clone(),
            step: FlowStep::SecondFactor { kinds: Vec::new() },
            created_at: now,
            expires_at: now + chrono::Duration::from_std(self.flow_ttl()).unwrap_or_default(),
            upgrades: Some(upgrade_of(session)),
        };
        // The account as it is now: disabled meanwhile ends it here.
        let account = self.flow_account(&record).await?;
        let ff = factor_facts(&self.stores, &self.config, &account).await?;
        let wanted: Vec<FactorKind> = [FactorKind::Possession, FactorKind::Inherence]
            .into_iter()
            .filter(|k| !present.contains(k))
            .collect();
        let names: Vec<&str> = wanted.iter().map(|k| k.as_str()).collect();
        let (step, result) = if ff.has_second_factor {
            (
                FlowStep::SecondFactor {
                    kinds: wanted.clone(),
                },
                "second_factor_required",
            )
        } else {
            (
                FlowStep::Enrol {
                    kinds: wanted.clone(),
                },
                "enrolment_required",
            )
        };
        let record = FlowRecord { step, ..record };
        let event = self
            .event(
                EventKind::LoginAttempt,
                Outcome::Info,
                &session.username,
                origin,
            )
            .detail("step", "step_up")
            .detail("system", system.id.as_str())
            .detail("sid", session.sid.as_str())
            .detail("amr", session.amr.clone())
            .detail("result", result)
            .detail("kinds", names);
        let flow_id = self.next_step(&record, event).await?;
        Ok(if ff.has_second_factor {
            LoginOutcome::SecondFactorRequired {
                flow_id,
                kinds: wanted,
                methods: ff.methods,
                expires_at: record.expires_at,
                policy_ids: Vec::new(),
            }
        } else {
            LoginOutcome::EnrolmentRequired {
                flow_id,
                kinds: wanted,
                expires_at: record.expires_at,
                policy_ids: Vec::new(),
            }
        })
    }
}
