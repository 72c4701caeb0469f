//! The second-factor step of a login flow: `{flow_id, code}` after `second_factor_required`.
//! Wrong codes count toward the second-factor lock of the brief (5 in 15 minutes → the flow
//! ends and the second factor is locked for 15 minutes), each audited; a valid code adds
//! `otp` to the methods and the policy is asked again.

use chrono::Duration;

use super::flow::{self, FlowStep};
use super::{LoginOutcome, LoginService, Origin};
use crate::audit::{EventKind, Outcome};
use crate::error::Error;
use crate::lockout::{Blocked, LockoutPolicy};
use crate::state::StateKey;
use crate::totp::service::Check;

/// 5 wrong codes in 15 minutes lock the second factor for 15 minutes.
pub const SECOND_FACTOR_LOCK: LockoutPolicy = LockoutPolicy {
    threshold: 5,
    window: Duration::minutes(15),
    base_lock: Duration::minutes(15),
    max_lock: Duration::minutes(15),
    hard_threshold: 100,
};

impl LoginService {
    pub async fn second_factor(
        &self,
        flow_id: &str,
        code: &str,
        origin: &Origin,
    ) -> Result<LoginOutcome, Error> {
        let now = self.clock.now();
        // Malformed codes are refused before the flow is spent.
        crate::totp::parse_code(code)?;
        let record = flow::take(self.state.as_ref(), flow_id, now).await?;
        let FlowStep::SecondFactor { .. } = &record.step else {
            return Err(Error::FlowInvalid);
        };
        let totp = self
            .totp
            .as_ref()
            .ok_or_else(|| Error::Config("TOTP is not available on this gateway".into()))?;
        let account = self.flow_account(&record).await?;
        let lock_key = StateKey::second_factor_lock(&record.account_id);
        let subject = record.username.as_str();
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
        let reason = match totp.check(account.id, code, now).await? {
            Check::Accepted(factor) => {
                self.state.lockout_reset(&lock_key).await?;
                let mut amr = record.amr.clone();
                amr.push("otp".into());
                self.auditor
                    .record(
                        self.event(EventKind::LoginAttempt, Outcome::Info, subject, origin)
                            .detail("step", "second_factor")
                            .detail("result", "accepted")
                            .detail("factor_id", factor),
                    )
                    .await?;
                let system = self.system(&record.system)?;
                return self.decide(&account, &system, amr, "ok", origin, now).await;
            }
            Check::Replayed => "code_already_used",
            Check::Wrong | Check::NotEnrolled => "invalid_code",
        };
        let locked = reserved.locks_until.is_some() || reserved.hard_locked;
        self.auditor
            .record(
                self.event(EventKind::LoginAttempt, Outcome::Failure, subject, origin)
                    .detail("step", "second_factor")
                    .detail("reason", reason)
                    .detail("failures_in_window", reserved.in_window)
                    .detail("second_factor_locked", locked),
            )
            .await?;
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
                reason,
                flow_id: None,
                expires_at: record.expires_at,
            });
        }
        let again = flow::begin(
            self.state.as_ref(),
            &record,
            self.sessions.config().login_flow_ttl,
        )
        .await?;
        Ok(LoginOutcome::CodeRefused {
            reason,
            flow_id: Some(again),
            expires_at: record.expires_at,
        })
    }
}
