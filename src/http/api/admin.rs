//! The administrators' API (role `it_admin`): lock state and unlock, sessions and revoke.
//! The same use cases as `sekimori user unlock` and `sekimori session …`, audited with the
//! administrator's account as the actor.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::http::api::answers::require_session;
use crate::http::error::ApiError;
use crate::http::extract::{AppJson, AppPath};
use crate::session::SessionRecord;

/// The role that may administer accounts.
pub const ADMIN_ROLE: &str = "it_admin";

/// The signed-in administrator behind a request, as an extractor: every handler of the
/// administrators' API takes one, so none can forget the role check. It runs before the path
/// and the body are read, so a caller without the role learns nothing of their validation.
pub struct Admin(std::sync::Arc<SessionRecord>);

impl Admin {
    /// The audit log's actor for what this administrator does.
    pub(crate) fn actor(&self) -> String {
        actor(&self.0)
    }
}

/// The audit log's actor for an administrator's session, in the API and the console alike.
pub(crate) fn actor(s: &SessionRecord) -> String {
    format!("account:{}", s.username)
}

impl axum::extract::FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let s = require_session(state, &parts.headers).await?;
        if !s.roles.iter().any(|r| r == ADMIN_ROLE) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "not_an_administrator",
                "This needs the it_admin role.",
            ));
        }
        Ok(Admin(s))
    }
}

/// Why an administrator acts: it goes into the audit log. The schema's bounds are the
/// validation's (`admin::require_reason`): not blank, at most 500 characters, no control
/// characters.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub(crate) reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// One session; all of the account's sessions when absent.
    #[schema(max_length = 128)]
    sid: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    reason: String,
}

#[utoipa::path(get, path = "/api/v1/admin/accounts/{name}/lock", tag = "admin", security(("session" = [])), params(("name" = String, Path)), responses((status = 200, description = "Lock state per zone", body = crate::http::openapi::schemas::LockState)))]
pub async fn get_lock(
    State(state): State<AppState>,
    _admin: Admin,
    AppPath(name): AppPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (account, zones) = state.admin.lock_state(&name).await?;
    Ok(Json(
        json!({ "username": account.username, "zones": zones }),
    ))
}

#[utoipa::path(post, path = "/api/v1/admin/accounts/{name}/unlock", tag = "admin", security(("session" = [])), params(("name" = String, Path)), request_body = ReasonBody, responses((status = 200, description = "Unlocked in every zone", body = crate::http::openapi::schemas::Unlocked)))]
pub async fn post_unlock(
    State(state): State<AppState>,
    admin: Admin,
    AppPath(name): AppPath<String>,
    AppJson(body): AppJson<ReasonBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let before = state
        .admin
        .unlock(&name, &body.reason, &admin.actor())
        .await?;
    Ok(Json(json!({ "unlocked": true, "before": before })))
}

#[utoipa::path(get, path = "/api/v1/admin/accounts/{name}/sessions", tag = "admin", security(("session" = [])), params(("name" = String, Path)), responses((status = 200, description = "The account's live sessions", body = crate::http::openapi::schemas::SessionList)))]
pub async fn get_sessions(
    State(state): State<AppState>,
    _admin: Admin,
    AppPath(name): AppPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (account, list) = state.admin.sessions(&name).await?;
    let sessions: Vec<_> = list
        .iter()
        .map(|s| {
            json!({
                "sid": s.sid,
                "created_at": s.created_at.to_rfc3339(),
                "expires_at": s.absolute_expiry.to_rfc3339(),
                "amr": s.amr,
                "zone": s.zone,
                "ip": s.ip,
                "user_agent": s.user_agent,
            })
        })
        .collect();
    Ok(Json(
        json!({ "username": account.username, "sessions": sessions }),
    ))
}

#[utoipa::path(post, path = "/api/v1/admin/accounts/{name}/sessions/revoke", tag = "admin", security(("session" = [])), params(("name" = String, Path)), request_body = RevokeBody, responses((status = 200, description = "Sessions ended", body = crate::http::openapi::schemas::SessionsEnded)))]
pub async fn post_revoke(
    State(state): State<AppState>,
    admin: Admin,
    AppPath(name): AppPath<String>,
    AppJson(body): AppJson<RevokeBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let ended = state
        .admin
        .revoke_sessions(&name, body.sid.as_deref(), &body.reason, &admin.actor())
        .await?;
    Ok(Json(json!({ "sessions_ended": ended })))
}

#[utoipa::path(get, path = "/api/v1/admin/accounts/{name}/factors", tag = "admin", security(("session" = [])), params(("name" = String, Path)), responses((status = 200, description = "The account's second factors", body = crate::http::openapi::schemas::FactorList)))]
pub async fn get_factors(
    State(state): State<AppState>,
    _admin: Admin,
    AppPath(name): AppPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (account, list) = state.admin.factors(&name).await?;
    let mut body = super::factors::factor_listing(&list);
    body["username"] = json!(account.username);
    Ok(Json(body))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    reason: String,
    /// How the person's identity was checked before the reset (e.g. "staff ID card seen").
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    identity_check: String,
}

#[utoipa::path(post, path = "/api/v1/admin/accounts/{name}/factors/reset", tag = "admin", security(("session" = [])), params(("name" = String, Path)), request_body = ResetBody, responses((status = 200, description = "Every factor removed", body = crate::http::openapi::schemas::FactorsRemoved)))]
pub async fn post_reset_factors(
    State(state): State<AppState>,
    admin: Admin,
    AppPath(name): AppPath<String>,
    AppJson(body): AppJson<ResetBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let removed = state
        .admin
        .reset_factors(&name, &body.reason, &body.identity_check, &admin.actor())
        .await?;
    Ok(Json(json!({ "removed": removed })))
}
