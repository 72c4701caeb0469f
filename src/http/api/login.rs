//! `POST /api/v1/login` (a step of the login flow), `POST /api/v1/logout` and
//! `GET /api/v1/session`. The handlers translate between JSON and `auth::LoginService`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::PublicKeyCredential;

use super::answers::{login_error, respond};
use super::answers::{require_session, session_from};
use crate::app::AppState;
use crate::auth::{Answer, LoginOutcome};
use crate::crypto::SecretString;
use crate::error::Error;
use crate::http::authz::safe_return_url;
use crate::http::client::Client;
use crate::http::error::ApiError;
use crate::http::extract::AppJson;

/// Either the first step (username and password) or a continuation (flow id and the step's
/// answer). Unknown fields are refused, so a typo is a 422 that names it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: Option<String>,
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
    /// The system being entered (a `[systems.*]` id); the portal by default.
    system: Option<String>,
    /// Where to go afterwards; kept only if it points at a configured protected host.
    return_to: Option<String>,
    flow_id: Option<String>,
    #[schema(value_type = Option<String>)]
    new_password: Option<SecretString>,
    /// A TOTP code for the second-factor step.
    #[schema(value_type = Option<String>)]
    code: Option<SecretString>,
    /// A recovery code instead of the second factor.
    #[schema(value_type = Option<String>)]
    recovery_code: Option<SecretString>,
    /// An emergency account's break-glass code.
    #[schema(value_type = Option<String>)]
    break_glass_code: Option<SecretString>,
    /// A WebAuthn assertion (`PublicKeyCredential` JSON) for the flow's challenge.
    #[schema(value_type = Option<Object>)]
    webauthn: Option<serde_json::Value>,
    /// Add a second factor to the session this request's cookie carries (for `system`): the
    /// answer continues as a flow, and ends with a new session that replaces the old one.
    #[serde(default)]
    step_up: bool,
}

/// Longest password accepted on the wire before any work: far above `max_length`, so every
/// character of a legal password is still verified.
const MAX_PASSWORD_BYTES: usize = 4096;

fn missing(field: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        format!("missing field `{field}`"),
    )
}

fn check_password_field(name: &str, p: &SecretString) -> Result<(), ApiError> {
    if p.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("`{name}` is empty"),
        ));
    }
    if p.expose().len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            format!("`{name}` is longer than {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/login", tag = "sign-in", request_body = LoginRequest, responses((status = 200, description = "The next step, or a session (its cookie set)", body = crate::http::openapi::schemas::LoginAnswer)))]
pub async fn post_login(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let return_to = match &req.return_to {
        Some(url) => Some(safe_return_url(url, &state.config).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_return_to",
                "`return_to` must be a URL on a protected host of this gateway.",
            )
        })?),
        None => None,
    };
    let secure = !state.config.server.danger_insecure_cookies;
    let (outcome, rejected) = if req.step_up {
        if req.flow_id.is_some() || req.username.is_some() || req.password.is_some() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                "step_up goes with the session cookie and `system` alone; answer with the flow_id it returns",
            ));
        }
        let session = require_session(&state, &headers).await?;
        let system = req.system.as_deref().unwrap_or("portal");
        let o = state
            .login
            .step_up(&session, system, &client.origin)
            .await
            .map_err(login_error)?;
        (o, None)
    } else if let Some(flow_id) = &req.flow_id {
        if req.username.is_some() || req.password.is_some() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                "send either username and password, or flow_id with the next step",
            ));
        }
        let answer = match (
            req.new_password,
            req.code,
            req.recovery_code,
            req.webauthn,
            req.break_glass_code,
        ) {
            (Some(new_password), None, None, None, None) => {
                check_password_field("new_password", &new_password)?;
                Err(new_password)
            }
            (None, Some(code), None, None, None) => Ok(Answer::Code(code)),
            (None, None, Some(code), None, None) => Ok(Answer::RecoveryCode(code)),
            (None, None, None, None, Some(code)) => Ok(Answer::BreakGlassCode(code)),
            (None, None, None, Some(cred), None) => {
                match super::webauthn::parse_credential::<PublicKeyCredential>(cred) {
                    Ok(c) => Ok(Answer::WebAuthn(Box::new(c))),
                    Err(detail) => {
                        super::webauthn::audit_malformed(&state, &client).await?;
                        return Err(super::webauthn::malformed(&detail));
                    }
                }
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    "with flow_id, send exactly one answer: new_password, code, recovery_code, break_glass_code or webauthn",
                ));
            }
        };
        match answer {
            Err(new_password) => state
                .login
                .change_password(flow_id, &new_password, &client.origin)
                .await
                .map_err(login_error)?,
            Ok(answer) => {
                let o = state
                    .login
                    .second_factor(flow_id, answer, &client.origin)
                    .await
                    .map_err(login_error)?;
                (o, None)
            }
        }
    } else {
        let username = req.username.as_deref().ok_or_else(|| missing("username"))?;
        let password = req.password.as_ref().ok_or_else(|| missing("password"))?;
        check_password_field("password", password)?;
        let system = req.system.as_deref().unwrap_or("portal");
        let o = state
            .login
            .login(username, password, system, &client.origin)
            .await
            .map_err(login_error)?;
        (o, None)
    };
    if let Some(Error::PasswordRejected(reasons)) = rejected {
        let mut e = ApiError::from(Error::PasswordRejected(reasons));
        if let (
            LoginOutcome::PasswordChangeRequired {
                flow_id,
                expires_at,
                ..
            },
            Some(d),
        ) = (&outcome, e.details.as_mut())
        {
            d["flow_id"] = json!(flow_id.expose());
            d["expires_at"] = json!(expires_at.to_rfc3339());
        }
        return Err(e);
    }
    Ok(respond(&state, outcome, return_to, secure))
}

#[utoipa::path(post, path = "/api/v1/logout", tag = "sign-in", request_body(content = Option<crate::http::openapi::schemas::NoBody>, content_type = "application/json", description = "None is read; the type must be application/json"), security((), ("session" = [])), responses((status = 200, description = "The session (if any) ended; the cookie cleared", body = crate::http::openapi::schemas::LoggedOut)))]
pub async fn post_logout(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secure = !state.config.server.danger_insecure_cookies;
    if let Some(session) = session_from(&state, &headers).await? {
        state
            .login
            .logout(&session, &client.origin)
            .await
            .map_err(login_error)?;
        if let Some(a) = &state.assertions {
            a.forget(&session.sid);
        }
    }
    let mut res = Json(json!({ "outcome": "logged_out" })).into_response();
    if let Ok(v) = HeaderValue::from_str(&state.sessions.clear_cookie_header(secure)) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[utoipa::path(get, path = "/api/v1/session", tag = "sign-in", security(("session" = [])), responses((status = 200, description = "The signed-in session", body = crate::http::openapi::schemas::SessionInfo)))]
pub async fn get_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let s = require_session(&state, &headers).await?;
    Ok(Json(json!({
        "sid": s.sid,
        "username": s.username,
        "display_name": s.display_name,
        "roles": s.roles,
        "groups": s.groups,
        "amr": s.amr,
        "acr": s.acr(),
        "zone": s.zone,
        "created_at": s.created_at.to_rfc3339(),
        "expires_at": s.absolute_expiry.to_rfc3339(),
    }))
    .into_response())
}
