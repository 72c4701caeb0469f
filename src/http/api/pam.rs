//! `POST /api/v1/pam/authenticate`: the PAM module of a registered server or terminal asks
//! whether a person may sign in there. The device proves itself with its credential
//! (`Authorization: Bearer …`); the answer is `allow` or `deny` with a message to show,
//! always as 200 so that the module has one shape to read. Anything else (a refused device,
//! an outage) is an error status, which the module also treats as deny.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::auth::pam::{PamOutcome, message};
use crate::auth::{Channel, Origin};
use crate::crypto::SecretString;
use crate::http::client::{Client, header_str, zone_of};
use crate::http::error::ApiError;
use crate::http::extract::AppJson;
use crate::lockout::Zone;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthenticateBody {
    /// The device's registered name (its `device_id` in pam.toml).
    device: String,
    user: String,
    code: SecretString,
    /// Only in password + code mode.
    #[serde(default)]
    password: Option<SecretString>,
    /// The PAM service (`sshd`, `login` …), for the audit log.
    #[serde(default)]
    service: String,
    /// The remote host of an SSH login (PAM_RHOST); absent at the console.
    #[serde(default)]
    rhost: Option<String>,
    /// The device's clock, unix seconds.
    #[serde(default)]
    time: Option<i64>,
}

/// The device credential from `Authorization: Bearer`.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    header_str(headers, header::AUTHORIZATION.as_str())?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

pub async fn post_authenticate(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    AppJson(body): AppJson<AuthenticateBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let device = state
        .devices
        .authenticate(
            &body.device,
            bearer(&headers).unwrap_or_default(),
            client.origin.ip,
        )
        .await?;
    // An SSH login comes from its client's address; a console login from the device itself,
    // which is registered: the trusted zone.
    let remote = body
        .rhost
        .as_deref()
        .and_then(|h| h.trim().parse::<std::net::IpAddr>().ok());
    let origin = Origin {
        ip: remote.unwrap_or(client.origin.ip),
        zone: remote.map_or(Zone::Trusted, |ip| zone_of(ip, &state.config.network)),
        user_agent: format!("pam:{}", body.service.chars().take(32).collect::<String>()),
        device: Some(device.name.clone()),
        channel: Channel::Pam,
    };
    let outcome = state
        .login
        .pam_authenticate(
            &device,
            &body.user,
            body.password.as_ref(),
            body.code,
            body.time,
            &origin,
        )
        .await?;
    Ok(Json(match outcome {
        PamOutcome::Allow { amr, policy_ids } => json!({
            "result": "allow",
            "message": message("allow"),
            "amr": amr,
            "policy_ids": policy_ids,
        }),
        PamOutcome::Deny { reason, until } => json!({
            "result": "deny",
            "reason": reason,
            "message": message(reason),
            "until": until.map(crate::clock::to_jst_string),
        }),
    }))
}
