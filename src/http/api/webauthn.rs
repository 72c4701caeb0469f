//! WebAuthn over HTTP: registering a security key or passkey
//! (`POST /api/v1/factors/webauthn`, then `…/webauthn/confirm` with the browser's answer),
//! a challenge for the second-factor step (`POST /api/v1/login/webauthn/challenge`) and a
//! passwordless sign-in (`POST /api/v1/login/passkey/challenge`). Answers to login challenges
//! go to `POST /api/v1/login` as `{flow_id, webauthn}`.
//!
//! Browser answers are taken as JSON values and parsed here, so a malformed one is a precise
//! `malformed_credential` (audited), not a generic body error.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::factors::{Enroller, check_label, enroller, with_flow};
use crate::app::AppState;
use crate::audit::{AuditEvent, EventKind, Outcome};
use crate::auth::Challenge;
use crate::crypto::SecretString;
use crate::http::client::Client;
use crate::http::error::ApiError;
use crate::http::extract::AppJson;
use crate::webauthn::CredentialKind;
use crate::webauthn::service::WebauthnService;

fn service(state: &AppState) -> Result<&WebauthnService, ApiError> {
    state.webauthn.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "factor_unavailable",
            "Security keys are not available on this gateway.",
        )
    })
}

/// Parse a browser answer; `Err` says which part is malformed.
pub fn parse_credential<T: DeserializeOwned>(v: Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

pub fn malformed(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "malformed_credential",
        "The security key's answer could not be read.",
    )
    .with_internal(detail.to_owned())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    /// `security_key` (a second factor) or `passkey` (can also sign in without a password).
    #[schema(pattern = "^(security_key|passkey)$")]
    kind: String,
    flow_id: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/factors/webauthn", tag = "factors", security(("session" = [])), request_body = RegisterBody, responses((status = 200, description = "Creation options for the browser", body = crate::http::openapi::schemas::WebauthnStart)))]
pub async fn post_register(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppJson(body): AppJson<RegisterBody>,
) -> Result<Json<Value>, ApiError> {
    let kind = CredentialKind::parse(&body.kind).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "`kind` must be \"security_key\" or \"passkey\"",
        )
    })?;
    let wa = service(&state)?;
    let who = enroller(&state, &headers, body.flow_id.as_deref()).await?;
    let start = wa
        .begin_registration(who.account(), kind, state.clock.now())
        .await
        .map_err(ApiError::from)?;
    let flow_id = who.reopen(&state).await?;
    Ok(Json(json!({
        "registration_id": start.id.expose(),
        "options": start.options,
        "expires_at": start.expires_at.to_rfc3339(),
        "flow_id": flow_id.as_ref().map(SecretString::expose),
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebauthnConfirmBody)]
pub struct ConfirmBody {
    registration_id: String,
    #[schema(value_type = Object)]
    credential: Value,
    #[serde(default)]
    #[schema(max_length = 64, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    label: String,
    flow_id: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/factors/webauthn/confirm", tag = "factors", security(("session" = [])), request_body = ConfirmBody, responses((status = 200, description = "The credential is stored (or, inside a login flow, the sign-in completes)", body = crate::http::openapi::schemas::FactorAdded)))]
pub async fn post_register_confirm(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    AppJson(body): AppJson<ConfirmBody>,
) -> Result<Response, ApiError> {
    check_label(&body.label)?;
    let wa = service(&state)?;
    let who = enroller(&state, &headers, body.flow_id.as_deref()).await?;
    let credential: RegisterPublicKeyCredential = match parse_credential(body.credential) {
        Ok(c) => c,
        Err(detail) => {
            let event = who
                .event(&state, "webauthn", false)
                .detail("reason", "malformed_credential");
            state.auditor.record(event).await?;
            let flow_id = who.reopen(&state).await?;
            return Err(with_flow(malformed(&detail), flow_id));
        }
    };
    let result = wa
        .finish_registration(
            who.account(),
            &body.registration_id,
            &credential,
            body.label.trim(),
            state.clock.now(),
        )
        .await;
    let registered = match result {
        Ok(Ok(r)) => r,
        Ok(Err(refusal)) => {
            let event = who
                .event(&state, "webauthn", false)
                .detail("reason", refusal.code)
                .detail("webauthn_error", refusal.detail.as_str());
            state.auditor.record(event).await?;
            let flow_id = who.reopen(&state).await?;
            return Err(with_flow(
                ApiError::new(
                    StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::UNAUTHORIZED),
                    refusal.code,
                    refusal.message(),
                ),
                flow_id,
            ));
        }
        Err(e) => {
            return Err(who
                .failed(
                    &state,
                    e,
                    "registration_invalid",
                    "The registration is unknown, expired or already used; start again.",
                )
                .await);
        }
    };
    let event = who
        .event(&state, "webauthn", true)
        .detail("factor_id", registered.factor_id)
        .detail("credential_kind", registered.kind.as_str())
        .detail("aaguid", registered.aaguid.map(|u| u.to_string()))
        .detail("user_verified", registered.user_verified);
    state.auditor.record(event).await?;
    // Registering proved possession (and, with user verification, the PIN or biometric).
    let methods = crate::webauthn::amr_of(false, registered.user_verified);
    let answer = json!({
        "factor_id": registered.factor_id,
        "kind": "webauthn",
        "credential_kind": registered.kind.as_str(),
        "aaguid": registered.aaguid.map(|u| u.to_string()),
        "user_verified": registered.user_verified,
    });
    match who {
        Enroller::Session(..) => Ok(axum::response::IntoResponse::into_response(Json(answer))),
        flow @ Enroller::Flow(..) => flow.finish(&state, &client, answer, methods).await,
    }
}

fn challenge_json(c: &Challenge) -> Json<Value> {
    Json(json!({
        "options": c.options,
        "flow_id": c.flow_id.expose(),
        "expires_at": c.expires_at.to_rfc3339(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeBody {
    flow_id: String,
}

#[utoipa::path(post, path = "/api/v1/login/webauthn/challenge", tag = "sign-in", request_body = ChallengeBody, responses((status = 200, description = "Request options for the flow's second factor", body = crate::http::openapi::schemas::Challenge)))]
pub async fn post_login_challenge(
    State(state): State<AppState>,
    AppJson(body): AppJson<ChallengeBody>,
) -> Result<Json<Value>, ApiError> {
    let c = state
        .login
        .webauthn_challenge(&body.flow_id)
        .await
        .map_err(super::answers::login_error)?;
    Ok(challenge_json(&c))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyBody {
    username: Option<String>,
    system: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/login/passkey/challenge", tag = "sign-in", request_body(content = Option<PasskeyBody>), responses((status = 200, description = "Request options for a passkey sign-in", body = crate::http::openapi::schemas::Challenge)))]
pub async fn post_passkey_challenge(
    State(state): State<AppState>,
    client: Client,
    body: Option<AppJson<PasskeyBody>>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map(|AppJson(b)| b).unwrap_or_default();
    let system = body.system.as_deref().unwrap_or("portal");
    let c = state
        .login
        .passkey_challenge(body.username.as_deref(), system, &client.origin)
        .await
        .map_err(super::answers::login_error)?;
    Ok(challenge_json(&c))
}

/// Audit a malformed login answer (nothing else is known of the attempt than its address).
pub async fn audit_malformed(state: &AppState, client: &Client) -> Result<(), ApiError> {
    let mut e = AuditEvent::new(
        state.config.facility.id.clone(),
        EventKind::LoginAttempt,
        Outcome::Failure,
    )
    .detail("step", "second_factor")
    .detail("method", "webauthn")
    .detail("reason", "malformed_credential")
    .detail("zone", client.origin.zone.as_str());
    e.ip = Some(client.origin.ip.to_string());
    state.auditor.record(e).await?;
    Ok(())
}
