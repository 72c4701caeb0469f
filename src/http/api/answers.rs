//! What the JSON front ends share, below every handler: the session behind a request (or
//! `401 no_session`), the login service's answers in JSON (a step, a session and its cookie),
//! and the error answers of sign-in (invalid credentials, a state store that does not answer:
//! 503, failing closed). Handlers and the forward-auth gate import it; it imports none of them.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::auth::LoginOutcome;
use crate::crypto::SecretString;
use crate::error::Error;
use crate::http::client::cookie;
use crate::http::error::ApiError;

pub fn state_unavailable(internal: String) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "state_unavailable",
        "The session store is unavailable; nobody can sign in until it is back.",
    )
    .with_internal(internal)
}

/// Map the login service's errors; state outages are 503 (fail closed).
pub fn login_error(e: Error) -> ApiError {
    match e {
        Error::State(s) => state_unavailable(s.to_string()),
        Error::FlowInvalid => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "flow_invalid",
            "The login flow is unknown, expired or already used; start again.",
        ),
        other => ApiError::from(other),
    }
}

pub fn respond(
    state: &AppState,
    outcome: LoginOutcome,
    return_to: Option<String>,
    secure: bool,
) -> Response {
    match outcome {
        LoginOutcome::Authenticated {
            cookie,
            session,
            policy_ids,
            notices,
            upgraded,
        } => {
            let set_cookie = state.sessions.cookie_header(&cookie, secure);
            let body = json!({
                "outcome": "authenticated",
                "session": {
                    "sid": session.sid,
                    "username": session.username,
                    "expires_at": session.absolute_expiry.to_rfc3339(),
                    "idle_timeout_seconds": state.config.session.idle_timeout.as_secs(),
                },
                "amr": session.amr,
                "acr": session.acr(),
                "policy_ids": policy_ids,
                "notices": notices,
                "return_to": return_to,
                "replaces_sid": upgraded,
            });
            let mut res = (StatusCode::OK, Json(body)).into_response();
            if let Ok(v) = HeaderValue::from_str(&set_cookie) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        LoginOutcome::SecondFactorRequired {
            flow_id,
            kinds,
            methods,
            expires_at,
            policy_ids,
        } => Json(json!({
            "outcome": "second_factor_required",
            "flow_id": flow_id.expose(),
            "kinds": kinds,
            "methods": methods,
            "expires_at": expires_at.to_rfc3339(),
            "policy_ids": policy_ids,
        }))
        .into_response(),
        LoginOutcome::EnrolmentRequired {
            flow_id,
            kinds,
            expires_at,
            policy_ids,
        } => Json(json!({
            "outcome": "enrolment_required",
            "flow_id": flow_id.expose(),
            "kinds": kinds,
            "methods": ["totp", "webauthn"],
            "expires_at": expires_at.to_rfc3339(),
            "policy_ids": policy_ids,
        }))
        .into_response(),
        LoginOutcome::PasswordChangeRequired {
            flow_id,
            reason,
            expires_at,
        } => Json(json!({
            "outcome": "password_change_required",
            "flow_id": flow_id.expose(),
            "reason": reason,
            "expires_at": expires_at.to_rfc3339(),
        }))
        .into_response(),
        // The PAM channel's answer never reaches the login API.
        LoginOutcome::Denied { policy_ids } | LoginOutcome::Allowed { policy_ids, .. } => {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "denied",
                "The access policy does not allow a session here.",
            )
            .with_details(json!({ "policy_ids": policy_ids }))
            .into_response()
        }
        LoginOutcome::InvalidCredentials => invalid_credentials().into_response(),
        LoginOutcome::CodeRefused {
            reason,
            message,
            locked,
            flow_id,
            expires_at,
        } => ApiError::new(StatusCode::UNAUTHORIZED, reason, message)
            .with_details(json!({
                "flow_id": flow_id.as_ref().map(SecretString::expose),
                "expires_at": expires_at.to_rfc3339(),
                "second_factor_locked": locked,
            }))
            .into_response(),
        LoginOutcome::Blocked { until } => {
            let now = state.clock.now();
            let secs = until.map_or(86_400, |t| (t - now).num_seconds().max(1));
            let mut res = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "login_temporarily_blocked",
                "Too many failed sign-ins. Try again later, or ask an administrator to unlock the account.",
            )
            .with_details(json!({ "retry_after_seconds": secs }))
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
    }
}

/// One answer for an unknown user, a wrong password and a disabled account.
pub fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "The username or password is incorrect.",
    )
}

pub fn no_session() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "no_session",
        "There is no valid session; sign in.",
    )
}

pub async fn session_from(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<std::sync::Arc<crate::session::SessionRecord>>, ApiError> {
    let Some(value) = cookie(headers, &state.config.session.cookie_name) else {
        return Ok(None);
    };
    state
        .sessions
        .lookup(value, state.clock.now())
        .await
        .map_err(|e| state_unavailable(e.to_string()))
}

/// The live session, or `401 no_session`.
pub async fn require_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<std::sync::Arc<crate::session::SessionRecord>, ApiError> {
    session_from(state, headers).await?.ok_or_else(no_session)
}
