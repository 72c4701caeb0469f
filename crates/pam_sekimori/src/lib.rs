//! `pam_sekimori.so`: the Sekimori gateway's second factor at console and SSH sign-ins.
//!
//! The decision is the gateway's (lockout, replay guard, policy, audit); this module asks the
//! person through the PAM conversation, sends the answer with the device's credential and
//! turns the gateway's answer into `PAM_SUCCESS` or `PAM_AUTH_ERR`. Everything that is not
//! an explicit `allow` from the gateway is a denial (fail closed), written to syslog with the
//! reason.
//!
//! The logic here talks to two small traits, [`Conversation`] (libpam) and [`Gateway`]
//! (HTTPS), so it is tested without either; `ffi` is the shim over libpam and the one place
//! with `unsafe` code.

pub mod client;
pub mod config;
mod ffi;

use std::time::Duration;

use serde_json::{Value, json};
use zeroize::Zeroizing;

pub use config::{Config, Mode};

/// The prompt for the code, in Japanese and English.
pub const CODE_PROMPT: &str = "確認コード / Verification code: ";
/// The password prompt in password + code mode.
pub const PASSWORD_PROMPT: &str = "パスワード / Password: ";

/// PAM items the module reads besides the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Service,
    RHost,
    Tty,
}

/// syslog priorities used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Alert,
    Err,
    Notice,
    Info,
}

/// The PAM side: who signs in, asking them, telling them, logging.
pub trait Conversation {
    fn user(&mut self) -> Result<String, String>;
    fn item(&self, item: Item) -> Option<String>;
    /// Ask with the answer hidden (`echo = false`) or shown.
    fn ask(&mut self, prompt: &str, echo: bool) -> Result<Zeroizing<String>, String>;
    /// Show a line: an error (`PAM_ERROR_MSG`) or information (`PAM_TEXT_INFO`).
    fn tell(&mut self, text: &str, error: bool);
    fn log(&self, level: Level, text: &str);
}

/// The gateway side: one JSON request, and waiting between polls.
pub trait Gateway {
    /// POST `body` to `path`: the status and the JSON answer, or why there is none.
    fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), String>;
    fn wait(&self, d: Duration);
}

/// The module's answer to libpam.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny,
}

/// Approval on the portal can take at most this long (the gateway's own expiry is 2 minutes).
const DEVICE_FLOW_LIMIT: Duration = Duration::from_secs(150);

struct Ask<'a> {
    config: &'a Config,
    user: String,
    service: String,
    rhost: Option<String>,
    now_unix: i64,
}

impl Ask<'_> {
    fn body(&self) -> Value {
        json!({
            "device": self.config.device_id,
            "user": self.user,
            "service": self.service,
            "rhost": self.rhost,
            "time": self.now_unix,
        })
    }

    fn who(&self) -> String {
        format!(
            "user={} service={} rhost={}",
            self.user,
            self.service,
            self.rhost.as_deref().unwrap_or("-")
        )
    }
}

/// Authenticate the person PAM names, as `config` says.
pub fn authenticate(
    conv: &mut dyn Conversation,
    gateway: &dyn Gateway,
    config: &Config,
    now_unix: i64,
) -> Verdict {
    let user = match conv.user() {
        Ok(u) if !u.trim().is_empty() => u,
        Ok(_) | Err(_) => {
            conv.log(Level::Err, "sekimori: no user name from PAM");
            return Verdict::Deny;
        }
    };
    let ask = Ask {
        config,
        user,
        service: conv.item(Item::Service).unwrap_or_default(),
        rhost: conv.item(Item::RHost).filter(|h| !h.is_empty()),
        now_unix,
    };
    match config.mode {
        Mode::DeviceFlow => device_flow(conv, gateway, &ask),
        Mode::SecondFactor | Mode::PasswordAndCode => with_code(conv, gateway, &ask),
    }
}

fn with_code(conv: &mut dyn Conversation, gateway: &dyn Gateway, ask: &Ask<'_>) -> Verdict {
    let mut body = ask.body();
    if ask.config.mode == Mode::PasswordAndCode {
        let Ok(password) = conv.ask(PASSWORD_PROMPT, false) else {
            conv.log(
                Level::Notice,
                &format!("sekimori: no password given ({})", ask.who()),
            );
            return Verdict::Deny;
        };
        body["password"] = json!(password.as_str());
    }
    let code = match conv.ask(CODE_PROMPT, false) {
        Ok(c) => c,
        Err(e) => {
            conv.log(
                Level::Notice,
                &format!("sekimori: no code given ({}): {e}", ask.who()),
            );
            return Verdict::Deny;
        }
    };
    body["code"] = json!(code.trim());
    let answer = gateway.post("/api/v1/pam/authenticate", &body);
    if let Some(p) = body.get_mut("password") {
        *p = Value::Null;
    }
    conclude(conv, ask, answer)
}

/// Turn the gateway's answer into a verdict, telling the person and syslog why.
fn conclude(
    conv: &mut dyn Conversation,
    ask: &Ask<'_>,
    answer: Result<(u16, Value), String>,
) -> Verdict {
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    match answer {
        Ok((200, v)) if text(&v, "result") == "allow" => {
            conv.log(Level::Info, &format!("sekimori: allowed ({})", ask.who()));
            Verdict::Allow
        }
        Ok((200, v)) => {
            let reason = text(&v, "reason");
            let message = text(&v, "message");
            conv.tell(
                if message.is_empty() {
                    "認証できませんでした。 / Authentication failed."
                } else {
                    &message
                },
                true,
            );
            conv.log(
                Level::Notice,
                &format!("sekimori: denied: {reason} ({})", ask.who()),
            );
            Verdict::Deny
        }
        Ok((status, v)) => {
            let code = text(&v, "error");
            let why = match (status, code.as_str()) {
                (401, _) | (_, "device_unauthorized") => format!(
                    "the gateway refused this device's credential (device_id `{}`): check the device register and credential_file",
                    ask.config.device_id
                ),
                _ => format!("the gateway answered {status} {code}"),
            };
            conv.tell(
                "認証サービスを利用できません。 / The sign-in service is unavailable.",
                true,
            );
            conv.log(
                Level::Err,
                &format!("sekimori: denied: {why} ({})", ask.who()),
            );
            Verdict::Deny
        }
        Err(why) => {
            conv.tell(
                "認証サービスに接続できません。 / Cannot reach the sign-in service.",
                true,
            );
            conv.log(
                Level::Err,
                &format!("sekimori: denied: {why} ({})", ask.who()),
            );
            Verdict::Deny
        }
    }
}

/// A session of the break-glass account opens (the stack runs this line only for it): tell
/// syslog at alert level and the gateway, so that its use is in the audit log and reported.
/// Never refuses: the emergency account must work when the gateway does not.
pub fn report_break_glass(
    conv: &mut dyn Conversation,
    gateway: Option<&dyn Gateway>,
    config: Option<&Config>,
    now_unix: i64,
) {
    let user = conv.user().unwrap_or_default();
    let service = conv.item(Item::Service).unwrap_or_default();
    let rhost = conv.item(Item::RHost).filter(|h| !h.is_empty());
    let who = format!(
        "user={user} service={service} rhost={}",
        rhost.as_deref().unwrap_or("-")
    );
    conv.log(
        Level::Alert,
        &format!("sekimori: BREAK-GLASS session opened ({who})"),
    );
    let (Some(gateway), Some(config)) = (gateway, config) else {
        conv.log(
            Level::Alert,
            "sekimori: break-glass use NOT reported to the gateway: no configuration",
        );
        return;
    };
    let body = json!({
        "device": config.device_id,
        "user": user,
        "service": service,
        "rhost": rhost,
        "time": now_unix,
    });
    match gateway.post("/api/v1/pam/break-glass", &body) {
        Ok((200, _)) => conv.log(
            Level::Notice,
            "sekimori: break-glass use recorded by the gateway",
        ),
        Ok((status, _)) => conv.log(
            Level::Alert,
            &format!(
                "sekimori: break-glass use NOT recorded: the gateway answered {status} ({who})"
            ),
        ),
        Err(why) => conv.log(
            Level::Alert,
            &format!("sekimori: break-glass use NOT recorded: {why} ({who})"),
        ),
    }
}

/// Show a short code and the portal address; poll until the person approves there with a
/// security key, denies, or the request expires.
fn device_flow(conv: &mut dyn Conversation, gateway: &dyn Gateway, ask: &Ask<'_>) -> Verdict {
    let started = match gateway.post("/api/v1/pam/device-flow", &ask.body()) {
        Ok((200, v)) => v,
        other => return conclude(conv, ask, other),
    };
    let field = |k: &str| {
        started
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (flow, code, url) = (
        field("flow_id"),
        field("user_code"),
        field("verification_uri"),
    );
    if flow.is_empty() || code.is_empty() {
        return conclude(
            conv,
            ask,
            Err("the gateway's device-flow answer lacks a flow id".into()),
        );
    }
    let interval = started
        .get("interval")
        .and_then(Value::as_u64)
        .unwrap_or(2)
        .clamp(1, 10);
    // A prompt, not only an information line: sshd's keyboard-interactive passes information
    // on together with the next prompt, so a line alone would wait unseen.
    let shown = format!(
        "ポータルでセキュリティキーを使って承認してください / Approve with your security key on the portal:\n  {url}\n  コード / Code: {code}\n承認したら Enter / Press Enter once approved: "
    );
    if conv.ask(&shown, true).is_err() {
        conv.tell(&shown, false);
    }
    let mut waited = Duration::ZERO;
    while waited < DEVICE_FLOW_LIMIT {
        gateway.wait(Duration::from_secs(interval));
        waited += Duration::from_secs(interval);
        let mut body = ask.body();
        body["flow_id"] = json!(flow);
        match gateway.post("/api/v1/pam/device-flow/poll", &body) {
            Ok((200, v)) if v.get("result").and_then(Value::as_str) == Some("pending") => {}
            other => return conclude(conv, ask, other),
        }
    }
    conclude(
        conv,
        ask,
        Ok((
            200,
            json!({ "result": "deny", "reason": "expired", "message": "承認の期限が切れました。 / The approval expired." }),
        )),
    )
}

#[cfg(test)]
mod tests;
