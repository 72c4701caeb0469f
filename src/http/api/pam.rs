//! `POST /api/v1/pam/authenticate`: the PAM module of a registered server or terminal asks
//! whether a person may sign in there. The device proves itself with its credential
//! (`Authorization: Bearer …`); the answer is `allow` or `deny` with a message to show,
//! always as 200 so that the module has one shape to read. Anything else (a refused device,
//! an outage) is an error status, which the module also treats as deny.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::app::AppState;
use crate::auth::pam::{PamOutcome, message};
use crate::auth::{Channel, Origin};
use crate::crypto::SecretString;
use crate::device::Device;
use crate::http::client::{Client, header_str, zone_of};
use crate::http::error::ApiError;
use crate::http::extract::AppJson;
use crate::lockout::Zone;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthenticateBody {
    /// The device's registered name (its `device_id` in pam.toml).
    device: String,
    user: String,
    #[schema(value_type = String)]
    code: SecretString,
    /// Only in password + code mode.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
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

/// Where a PAM sign-in comes from. An SSH login comes from its client's address; a console
/// login from the device itself, which is registered: the trusted zone.
fn pam_origin(
    state: &AppState,
    client: &Client,
    device: &Device,
    rhost: Option<&str>,
    service: &str,
) -> Origin {
    let remote = rhost.and_then(|h| h.trim().parse::<std::net::IpAddr>().ok());
    Origin {
        ip: remote.unwrap_or(client.origin.ip),
        zone: remote.map_or(Zone::Trusted, |ip| zone_of(ip, &state.config.network)),
        user_agent: format!("pam:{}", service.chars().take(32).collect::<String>()),
        device: Some(device.name.clone()),
        channel: Channel::Pam,
    }
}

/// What every request of the module names: the device it speaks for and where the sign-in
/// comes from. Each module request is read as a [`Module`].
pub trait FromModule {
    fn device(&self) -> &str;
    fn rhost(&self) -> Option<&str>;
    fn service(&self) -> &str;
}

macro_rules! from_module {
    ($($body:ty),+) => {$(
        impl FromModule for $body {
            fn device(&self) -> &str {
                &self.device
            }
            fn rhost(&self) -> Option<&str> {
                self.rhost.as_deref()
            }
            fn service(&self) -> &str {
                &self.service
            }
        }
    )+};
}

from_module!(AuthenticateBody, DeviceFlowBody);

/// A request of the module, its first step done: the body read, the device it speaks for
/// (its credential checked, refusals audited) and where the sign-in comes from. Every
/// handler of the module takes one, so none can skip the device's check.
pub struct Module<B> {
    device: Device,
    origin: Origin,
    body: B,
}

impl<B: FromModule + DeserializeOwned + Send> FromRequest<AppState> for Module<B> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let client = Client::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let AppJson(body) =
            AppJson::<B>::from_request(Request::from_parts(parts, body), state).await?;
        let device = state
            .devices
            .authenticate(
                body.device(),
                bearer(&headers).unwrap_or_default(),
                client.origin.ip,
            )
            .await?;
        let origin = pam_origin(state, &client, &device, body.rhost(), body.service());
        Ok(Module {
            device,
            origin,
            body,
        })
    }
}

/// The device credential from `Authorization: Bearer`.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    header_str(headers, header::AUTHORIZATION.as_str())?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

#[utoipa::path(post, path = "/api/v1/pam/authenticate", tag = "pam", security(("device" = [])), request_body = AuthenticateBody, responses((status = 200, description = "allow or deny, with the reason", body = crate::http::openapi::schemas::PamAnswer)))]
pub async fn post_authenticate(
    State(state): State<AppState>,
    Module {
        device,
        origin,
        body,
    }: Module<AuthenticateBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    Ok(Json(answer(outcome)))
}

fn answer(outcome: PamOutcome) -> serde_json::Value {
    match outcome {
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
    }
}

/// What the module sends to start or poll a device flow.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceFlowBody {
    device: String,
    user: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    rhost: Option<String>,
    #[serde(default)]
    time: Option<i64>,
    /// Only when polling.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    flow_id: Option<SecretString>,
}

/// `POST /api/v1/pam/device-flow`: a short code to approve on the portal.
#[utoipa::path(post, path = "/api/v1/pam/device-flow", tag = "pam", security(("device" = [])), request_body = DeviceFlowBody, responses((status = 200, description = "A code to approve on the portal, or a deny at once", body = crate::http::openapi::schemas::DeviceFlowAnswer)))]
pub async fn post_device_flow(
    State(state): State<AppState>,
    Module {
        device,
        origin,
        body,
    }: Module<DeviceFlowBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let started = state
        .login
        .device_flow_start(&device, &body.user, &body.service, body.time, &origin)
        .await?;
    Ok(Json(match started {
        Ok(s) => json!({
            "flow_id": s.flow_id.expose(),
            "user_code": s.user_code,
            "verification_uri": format!("{}/device", state.config.server.public_url.trim_end_matches('/')),
            "verification_uri_complete": format!("{}/device?code={}", state.config.server.public_url.trim_end_matches('/'), s.user_code),
            "interval": 2,
            "expires_in": crate::auth::device_flow::DEVICE_FLOW_TTL.num_seconds(),
            "expires_at": s.expires_at.to_rfc3339(),
        }),
        Err(refused) => answer(refused),
    }))
}

/// `POST /api/v1/pam/device-flow/poll`: `pending`, or the final allow or deny (once).
#[utoipa::path(post, path = "/api/v1/pam/device-flow/poll", tag = "pam", security(("device" = [])), request_body = DeviceFlowBody, responses((status = 200, description = "pending, or the final allow or deny", body = crate::http::openapi::schemas::PamAnswer)))]
pub async fn post_device_flow_poll(
    State(state): State<AppState>,
    Module {
        device,
        origin: _,
        body,
    }: Module<DeviceFlowBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let flow_id = body
        .flow_id
        .as_ref()
        .map(SecretString::expose)
        .unwrap_or_default();
    Ok(Json(
        match state.login.device_flow_poll(&device, flow_id).await? {
            None => json!({ "result": "pending" }),
            Some(done) => answer(done),
        },
    ))
}

/// The code shown at the server (`ABCD-EFGH`; lower case, full-width letters and other
/// dashes are read as the same code).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCodeBody {
    #[schema(min_length = 8, max_length = 64)]
    user_code: String,
}

/// The code and the security key's answer to its challenge.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    #[schema(min_length = 8, max_length = 64)]
    user_code: String,
    #[schema(value_type = Object)]
    webauthn: Box<webauthn_rs::prelude::PublicKeyCredential>,
}

/// `POST /api/v1/device/challenge` (the approval page): what waits under the code, and the
/// WebAuthn options for its account.
#[utoipa::path(post, path = "/api/v1/device/challenge", tag = "pam", security(("session" = [])), request_body = UserCodeBody, responses((status = 200, description = "What waits under the code, and WebAuthn options", body = crate::http::openapi::schemas::ApprovalChallenge)))]
pub async fn post_approval_challenge(
    State(state): State<AppState>,
    client: Client,
    AppJson(body): AppJson<UserCodeBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (options, pending) = state
        .login
        .device_flow_challenge(&body.user_code, client.origin.ip)
        .await?;
    Ok(Json(json!({ "options": options, "pending": pending })))
}

/// `POST /api/v1/device/approve`: the security key's answer.
#[utoipa::path(post, path = "/api/v1/device/approve", tag = "pam", security(("session" = [])), request_body = ApproveBody, responses((status = 200, description = "Approved", body = crate::http::openapi::schemas::PamAnswer)))]
pub async fn post_approve(
    State(state): State<AppState>,
    client: Client,
    AppJson(body): AppJson<ApproveBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let outcome = state
        .login
        .device_flow_approve(&body.user_code, body.webauthn, &client.origin)
        .await?;
    Ok(Json(answer(outcome)))
}

/// `POST /api/v1/device/deny`: "this was not me".
#[utoipa::path(post, path = "/api/v1/device/deny", tag = "pam", security(("session" = [])), request_body = UserCodeBody, responses((status = 200, description = "Denied", body = crate::http::openapi::schemas::PamAnswer)))]
pub async fn post_deny(
    State(state): State<AppState>,
    client: Client,
    AppJson(body): AppJson<UserCodeBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .login
        .device_flow_deny(&body.user_code, &client.origin)
        .await?;
    Ok(Json(json!({ "result": "denied" })))
}

/// `POST /api/v1/pam/break-glass`: the module reports a session of the local emergency
/// account (excluded from the second factor by the stack). Recorded for the auditors and
/// logged as a warning; the module never waits on the answer to let the person in.
#[utoipa::path(post, path = "/api/v1/pam/break-glass", tag = "pam", security(("device" = [])), request_body = DeviceFlowBody, responses((status = 200, description = "Recorded", body = crate::http::openapi::schemas::PamAnswer)))]
pub async fn post_break_glass(
    State(state): State<AppState>,
    Module {
        device,
        origin,
        body,
    }: Module<DeviceFlowBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user: String = body.user.chars().take(64).collect();
    tracing::warn!(device = %device.name, user = %user, "break-glass account used");
    // The same event, alert and console banner as a web sign-in with a break-glass code.
    let account = state.emergency.account_named(&user).await?;
    let (event, seq) = state
        .emergency
        .record_use(
            &user,
            account.as_ref(),
            &crate::emergency::service::UseOrigin {
                channel: "pam",
                ip: Some(origin.ip.to_string()),
                device: Some(device.name.clone()),
            },
            json!({
                "service": body.service.chars().take(32).collect::<String>(),
                "zone": origin.zone.as_str(),
                "device_time": body.time,
            }),
        )
        .await?;
    Ok(Json(
        json!({ "result": "recorded", "seq": seq, "event": event }),
    ))
}
