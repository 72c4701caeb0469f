//! The signed-in user's own second factors: `GET /api/v1/factors`, and TOTP enrolment with
//! `POST /api/v1/factors/totp` (a secret shown once) and `POST /api/v1/factors/totp/confirm`
//! (the first valid code makes it count).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::account::AccountId;
use crate::app::AppState;
use crate::audit::{AuditEvent, EventKind, Outcome};
use crate::error::Error;
use crate::http::api::login::require_session;
use crate::http::error::ApiError;
use crate::http::extract::AppJson;
use crate::session::SessionRecord;
use crate::totp::service::{Check, TotpService};

async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(std::sync::Arc<SessionRecord>, crate::account::Account), ApiError> {
    let s = require_session(state, headers).await?;
    let id = uuid::Uuid::parse_str(&s.account_id)
        .map_err(|e| ApiError::from(Error::Invalid(e.to_string())))?;
    let account = state
        .stores
        .accounts
        .get_account(AccountId(id))
        .await
        .map_err(ApiError::from)?;
    Ok((s, account))
}

fn totp(state: &AppState) -> Result<&TotpService, ApiError> {
    state.totp.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "totp_unavailable",
            "TOTP is not available on this gateway.",
        )
    })
}

pub async fn get_factors(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (_, account) = signed_in(&state, &headers).await?;
    let list = state
        .stores
        .factors
        .list_factors(account.id)
        .await
        .map_err(ApiError::from)?;
    let factors: Vec<_> = list
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "kind": f.kind,
                "label": f.label,
                "created_at": f.created_at.to_rfc3339(),
                "last_used_at": f.last_used_at.map(|t| t.to_rfc3339()),
            })
        })
        .collect();
    Ok(Json(json!({ "factors": factors })))
}

pub async fn post_totp(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (_, account) = signed_in(&state, &headers).await?;
    let e = totp(&state)?
        .begin(&account, state.clock.now())
        .await
        .map_err(ApiError::from)?;
    // Shown once: the secret is sealed at rest and never returned again.
    Ok(Json(json!({
        "enrolment_id": e.id.expose(),
        "secret": e.secret_base32.expose(),
        "otpauth_uri": e.otpauth_uri.expose(),
        "expires_at": e.expires_at.to_rfc3339(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    enrolment_id: String,
    code: String,
    #[serde(default)]
    label: String,
}

pub async fn post_totp_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppJson(body): AppJson<ConfirmBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (session, account) = signed_in(&state, &headers).await?;
    crate::account::validate_text_field("label", &body.label, 64)
        .map_err(|m| ApiError::from(Error::Invalid(m)))?;
    let now = state.clock.now();
    let result = totp(&state)?
        .confirm(&account, &body.enrolment_id, &body.code, &body.label, now)
        .await
        .map_err(|e| match e {
            Error::FlowInvalid => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "enrolment_invalid",
                "The enrolment is unknown, expired or already confirmed; start again.",
            ),
            other => ApiError::from(other),
        })?;
    let mut event = AuditEvent::new(
        state.config.facility.id.clone(),
        EventKind::FactorEnrolled,
        if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        },
    )
    .actor(format!("account:{}", account.username))
    .subject(account.username.as_str())
    .detail("kind", "totp")
    .detail("sid", session.sid.as_str());
    event.ip = Some(session.ip.clone());
    match result {
        Ok(id) => {
            state.auditor.record(event.detail("factor_id", id)).await?;
            Ok(Json(json!({ "factor_id": id, "kind": "totp" })))
        }
        Err(check) => {
            let code = if check == Check::Replayed {
                "code_already_used"
            } else {
                "invalid_code"
            };
            state.auditor.record(event.detail("reason", code)).await?;
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                code,
                "The code is not correct; try the current one.",
            ))
        }
    }
}
