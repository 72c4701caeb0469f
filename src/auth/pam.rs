//! Sign-in at a Linux server or terminal through `pam_sekimori.so`. The registered device is
//! the resource the policy decides about (`device:NAME`, kind `server` or `terminal`); the
//! steps are the web login's own (lockout, replay guard, second-factor lock, `issue_session`,
//! audit), and the answer is allow or deny instead of a session.
//!
//! Two modes, as the PAM stack is written:
//! - **after `pam_unix`** (no password sent): the device vouches that its own stack verified
//!   the local password (`pwd`, audited with `password_verified_by`), the gateway checks the
//!   code;
//! - **password + code**: the account's gateway password is checked first, with its lockout.
//!
//! A PAM stack that prompts for a code always has the code checked, even where the policy
//! would issue a session without one.

use chrono::{DateTime, Utc};

use super::{Answer, Channel, LoginOutcome, LoginService, Origin};
use crate::account::{AccountStatus, Username};
use crate::audit::{EventKind, Outcome};
use crate::config::Config;
use crate::crypto::SecretString;
use crate::device::DEVICE_PREFIX;
use crate::device::{Device, DeviceKind};
use crate::error::Error;
use crate::policy::SystemFacts;

/// A device whose clock is further off than this is refused: its request may be a replay, and
/// its own logs cannot be matched with the audit log.
pub const MAX_CLOCK_SKEW_SECS: i64 = 120;

/// The policy's resource for a registered server or terminal. An exemption recorded for a
/// `[[systems]]` entry of the same name applies to the device.
pub fn device_system(config: &Config, device: &Device) -> SystemFacts {
    let kind = match device.kind {
        DeviceKind::Terminal => "terminal",
        DeviceKind::Server | DeviceKind::Network => "server",
    };
    SystemFacts {
        id: format!("{DEVICE_PREFIX}{}", device.name),
        kind: kind.to_owned(),
        facility: config.facility.id.0.clone(),
        exemption_until: config
            .system(&device.name)
            .and_then(|s| s.exemption.as_ref().map(|e| e.until)),
        factors_optional_until: config
            .system(&device.name)
            .and_then(|s| s.factors_optional.as_ref().map(|e| e.until)),
    }
}

/// Does `amr` hold a second factor (a code or a security key)?
pub fn has_second_factor(amr: &[String]) -> bool {
    amr.iter()
        .any(|m| matches!(m.as_str(), "otp" | "hwk" | "swk"))
}

/// The answer the module acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PamOutcome {
    Allow {
        amr: Vec<String>,
        policy_ids: Vec<String>,
    },
    Deny {
        reason: &'static str,
        until: Option<DateTime<Utc>>,
    },
}

impl PamOutcome {
    fn deny(reason: &'static str) -> Self {
        PamOutcome::Deny {
            reason,
            until: None,
        }
    }
}

/// Every reason a refusal can carry.
pub const REASONS: [&str; 14] = [
    "invalid_code",
    "code_already_used",
    "locked",
    "enrolment_required",
    "password_change_required",
    "stronger_factor_required",
    "denied",
    "clock_skew",
    "expired",
    "no_security_key",
    "denied_by_user",
    "invalid_credentials",
    "invalid_code_format",
    "outside_maintenance_window",
];

/// A stored reason as the static string the answer uses (unknown ones are `denied`).
pub fn reason_code(reason: &str) -> &'static str {
    REASONS
        .into_iter()
        .find(|k| *k == reason)
        .unwrap_or("denied")
}

/// What the module shows the person, in Japanese and English (one line each side).
pub fn message(reason: &str) -> &'static str {
    match reason {
        "allow" => "認証しました。 / Verified.",
        "invalid_code" | "invalid_code_format" | "code_already_used" => {
            "確認コードが正しくないか、使用済みです。 / The verification code is not correct or was already used."
        }
        "locked" | "second_factor_locked" => {
            "試行回数が上限に達したため一時的にロックされています。 / Too many attempts: temporarily locked."
        }
        "enrolment_required" => {
            "二要素認証が未登録です。ポータルで登録してください。 / No second factor yet: enrol one on the portal."
        }
        "password_change_required" => {
            "パスワードの変更が必要です。ポータルで変更してください。 / Your password must be changed on the portal first."
        }
        "stronger_factor_required" => {
            "このシステムにはセキュリティキーが必要です。 / This system needs a security key."
        }
        "denied" => {
            "このシステムへのログインは許可されていません。 / Sign-in to this system is not allowed."
        }
        "clock_skew" => {
            "サーバーの時刻がずれています。管理者に連絡してください。 / The server's clock is off: contact IT."
        }
        "expired" => "承認の期限が切れました。 / The approval expired.",
        "no_security_key" => {
            "セキュリティキーが未登録です。 / No security key is registered for this account."
        }
        "denied_by_user" => "ポータルで拒否されました。 / Refused on the portal.",
        "outside_maintenance_window" => {
            "承認された保守作業枠の外です。 / Outside an approved maintenance window."
        }
        _ => "認証できませんでした。 / Authentication failed.",
    }
}

impl LoginService {
    /// One PAM authentication: the password when the stack sends one, then the code, then
    /// the policy with the device as the resource. Settled: a module that gives up after its
    /// timeout does not leave a slot taken and no outcome recorded.
    pub async fn pam_authenticate(
        &self,
        device: &Device,
        username: &str,
        password: Option<&SecretString>,
        code: SecretString,
        device_time: Option<i64>,
        origin: &Origin,
    ) -> Result<PamOutcome, Error> {
        let (this, d, u, p, o) = (
            self.clone(),
            device.clone(),
            username.to_owned(),
            password.cloned(),
            origin.clone(),
        );
        super::settle(async move {
            // Every row of this check is committed at the end, together (with the factor's
            // last use), before the module is answered: one commit instead of five.
            let this = this.deferring_audit();
            let outcome = this
                .pam_authenticate_now(&d, &u, p.as_ref(), code, device_time, &o)
                .await;
            let flushed = this.auditor.flush().await;
            let outcome = outcome?;
            flushed?;
            Ok(outcome)
        })
        .await
    }

    async fn pam_authenticate_now(
        &self,
        device: &Device,
        username: &str,
        password: Option<&SecretString>,
        code: SecretString,
        device_time: Option<i64>,
        origin: &Origin,
    ) -> Result<PamOutcome, Error> {
        debug_assert_eq!(origin.channel, Channel::Pam);
        let system = device_system(&self.config, device);
        if self
            .clock_skewed(device_time, username, &system, origin)
            .await?
        {
            return Ok(PamOutcome::deny("clock_skew"));
        }
        let first = match password {
            Some(p) => self.login_at(username, p, &system, origin).await,
            None => self.vouched(username, &system, origin).await,
        };
        // A name that cannot be an account here (a local-only user such as `root`) is an
        // ordinary refusal, not an error of the request.
        let first = match first {
            Err(Error::Username(_)) => return Ok(PamOutcome::deny("invalid_credentials")),
            other => other?,
        };
        let flow_id = match first {
            LoginOutcome::SecondFactorRequired { flow_id, .. } => flow_id,
            other => return Ok(outcome_of(other)),
        };
        let answered = match self
            .second_factor_now(flow_id.expose(), Answer::Code(code), origin)
            .await
        {
            Err(Error::Code(_)) => return Ok(PamOutcome::deny("invalid_code_format")),
            other => other?,
        };
        Ok(outcome_of(answered))
    }

    /// Is the device's clock further off than allowed? Audited when it is.
    pub(super) async fn clock_skewed(
        &self,
        device_time: Option<i64>,
        username: &str,
        system: &SystemFacts,
        origin: &Origin,
    ) -> Result<bool, Error> {
        let now = self.clock.now().timestamp();
        let Some(skew) = device_time.map(|t| t - now) else {
            return Ok(false);
        };
        if skew.abs() <= MAX_CLOCK_SKEW_SECS {
            return Ok(false);
        }
        self.auditor
            .record(
                self.event(EventKind::LoginAttempt, Outcome::Failure, username, origin)
                    .detail("system", system.id.as_str())
                    .detail("reason", "clock_skew")
                    .detail("skew_seconds", skew),
            )
            .await?;
        Ok(true)
    }

    /// The first step after `pam_unix`: the local password was the device's to check.
    pub(super) async fn vouched(
        &self,
        username: &str,
        system: &SystemFacts,
        origin: &Origin,
    ) -> Result<LoginOutcome, Error> {
        let name = Username::parse(username)?;
        let now = self.clock.now();
        let account = self
            .stores
            .accounts
            .find_account_by_username(&self.config.facility.id, &name)
            .await?
            .filter(|a| a.status != AccountStatus::Disabled);
        let Some(account) = account else {
            self.auditor
                .record(
                    self.event(
                        EventKind::LoginAttempt,
                        Outcome::Failure,
                        name.as_str(),
                        origin,
                    )
                    .detail("system", system.id.as_str())
                    .detail("reason", "unknown_account"),
                )
                .await?;
            return Ok(LoginOutcome::InvalidCredentials);
        };
        self.auditor
            .record(
                self.event(
                    EventKind::LoginAttempt,
                    Outcome::Info,
                    name.as_str(),
                    origin,
                )
                .detail("system", system.id.as_str())
                .detail("step", "password")
                .detail("password_verified_by", system.id.as_str()),
            )
            .await?;
        // The gateway's own password state is not in question: it was not used.
        let proof = super::decide::Proof::new(vec!["pwd".into()], "ok");
        self.decide(&account, system, proof, origin, now).await
    }
}

/// Any login step's outcome, as the module's allow or deny.
pub(super) fn outcome_of(outcome: LoginOutcome) -> PamOutcome {
    match outcome {
        LoginOutcome::Allowed { amr, policy_ids } => PamOutcome::Allow { amr, policy_ids },
        LoginOutcome::CodeRefused { locked: true, .. } => PamOutcome::deny("locked"),
        // A used code and a wrong one get one answer (the audit record tells them apart).
        LoginOutcome::CodeRefused { .. } => PamOutcome::deny("invalid_code"),
        LoginOutcome::Blocked { until } => PamOutcome::Deny {
            reason: "locked",
            until,
        },
        // Asked again after a code: the policy wants a kind a code is not.
        LoginOutcome::SecondFactorRequired { .. } => PamOutcome::deny("stronger_factor_required"),
        LoginOutcome::EnrolmentRequired { .. } => PamOutcome::deny("enrolment_required"),
        LoginOutcome::PasswordChangeRequired { .. } => PamOutcome::deny("password_change_required"),
        LoginOutcome::Denied { policy_ids }
            if policy_ids
                .iter()
                .any(|p| p == "vendor-accounts-inside-a-maintenance-window") =>
        {
            PamOutcome::deny("outside_maintenance_window")
        }
        LoginOutcome::Denied { .. } => PamOutcome::deny("denied"),
        LoginOutcome::InvalidCredentials => PamOutcome::deny("invalid_credentials"),
        // A session is never made on the PAM channel; if one were, it is not the module's.
        LoginOutcome::Authenticated { .. } => PamOutcome::deny("denied"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_keys_are_second_factors_passwords_are_not() {
        let v = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(!has_second_factor(&v(&["pwd"])));
        assert!(has_second_factor(&v(&["pwd", "otp"])));
        assert!(has_second_factor(&v(&["hwk", "user"])));
        assert!(!has_second_factor(&v(&[])));
    }

    #[test]
    fn every_refusal_has_a_bilingual_message() {
        for r in REASONS.into_iter().chain(["anything_else"]) {
            let m = message(r);
            assert!(m.contains(" / "), "{r}: {m}");
            assert!(m.chars().any(|c| c > '\u{3000}'), "{r} has Japanese: {m}");
        }
        assert_ne!(message("invalid_code"), message("locked"));
        assert_eq!(reason_code("locked"), "locked");
        assert_eq!(reason_code("made-up"), "denied");
    }
}
