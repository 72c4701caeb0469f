//! A person's own second factors: list (`GET /api/v1/factors`), TOTP enrolment
//! (`POST /api/v1/factors/totp`, a secret and QR code shown once, then `…/totp/confirm` with
//! the first valid code), recovery codes (`POST /api/v1/factors/recovery-codes`, shown once),
//! rename (`PATCH /api/v1/factors/{id}`) and removal (`DELETE /api/v1/factors/{id}`, after
//! re-entering the password; the last factor of an account that needs two stays).
//!
//! Enrolment works with a session or, after `enrolment_required`, with the login flow's id:
//! then the confirmed factor completes the sign-in and the answer is the login's answer.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::account::{Account, AccountId};
use crate::app::AppState;
use crate::audit::{AuditEvent, EventKind, Outcome};
use crate::auth::flow::FlowRecord;
use crate::crypto::SecretString;
use crate::error::Error;
use crate::http::api::answers::{require_session, respond};
use crate::http::client::Client;
use crate::http::error::ApiError;
use crate::http::extract::{AppJson, AppPath};
use crate::session::SessionRecord;
use crate::totp::service::{Check, TotpService};

/// Who is enrolling: a signed-in person, or a login flow that asks for a first factor.
pub enum Enroller {
    Session(Arc<SessionRecord>, Account),
    Flow(Box<FlowRecord>, Account),
}

impl Enroller {
    pub fn account(&self) -> &Account {
        match self {
            Enroller::Session(_, a) | Enroller::Flow(_, a) => a,
        }
    }

    /// The audit event of an enrolment step, with who did it and from where.
    pub fn event(&self, state: &AppState, kind: &str, ok: bool) -> AuditEvent {
        let a = self.account();
        let mut e = AuditEvent::new(
            state.config.facility.id.clone(),
            EventKind::FactorEnrolled,
            if ok {
                Outcome::Success
            } else {
                Outcome::Failure
            },
        )
        .actor(format!("account:{}", a.username))
        .subject(a.username.as_str())
        .detail("kind", kind);
        match self {
            Enroller::Session(s, _) => {
                e = e.detail("sid", s.sid.as_str());
                e.ip = Some(s.ip.clone());
            }
            Enroller::Flow(r, _) => {
                e = e.detail("during_login", true);
                e.ip = Some(r.ip.clone());
            }
        }
        e
    }

    /// The flow goes on under a new id after a step that did not finish it.
    pub async fn reopen(&self, state: &AppState) -> Result<Option<SecretString>, ApiError> {
        match self {
            Enroller::Session(..) => Ok(None),
            Enroller::Flow(r, _) => Ok(Some(state.login.reopen(r).await.map_err(login_err)?)),
        }
    }

    /// A failed enrolment step: the error (a spent or unknown enrolment as `spent_code`),
    /// with the flow id to go on with.
    pub async fn failed(
        &self,
        state: &AppState,
        e: Error,
        spent_code: &'static str,
        spent_message: &'static str,
    ) -> ApiError {
        let err = match e {
            Error::FlowInvalid => {
                ApiError::new(StatusCode::UNAUTHORIZED, spent_code, spent_message)
            }
            other => ApiError::from(other),
        };
        match self.reopen(state).await {
            Ok(flow_id) => with_flow(err, flow_id),
            Err(reopen) => reopen,
        }
    }

    /// A factor was enrolled: a session's answer, or the flow's sign-in.
    pub async fn finish(
        self,
        state: &AppState,
        client: &Client,
        body: serde_json::Value,
        methods: Vec<String>,
    ) -> Result<Response, ApiError> {
        match self {
            Enroller::Session(..) => Ok(Json(body).into_response()),
            Enroller::Flow(record, account) => {
                let outcome = state
                    .login
                    .enrolled(*record, &account, methods, &client.origin)
                    .await
                    .map_err(login_err)?;
                let secure = !state.config.server.danger_insecure_cookies;
                Ok(respond(state, outcome, None, secure))
            }
        }
    }
}

fn login_err(e: Error) -> ApiError {
    match e {
        Error::FlowInvalid => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "flow_invalid",
            "The login flow is unknown, expired or already used; start again.",
        ),
        other => ApiError::from(other),
    }
}

/// The signed-in account.
pub async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Arc<SessionRecord>, Account), ApiError> {
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

/// The enroller of a request: the flow when a `flow_id` is sent, the session otherwise.
pub async fn enroller(
    state: &AppState,
    headers: &HeaderMap,
    flow_id: Option<&str>,
) -> Result<Enroller, ApiError> {
    match flow_id {
        Some(id) => {
            let (record, account) = state.login.take_enrolment(id).await.map_err(login_err)?;
            Ok(Enroller::Flow(Box::new(record), account))
        }
        None => {
            let (s, a) = signed_in(state, headers).await?;
            refuse_emergency(&a)?;
            Ok(Enroller::Session(s, a))
        }
    }
}

/// Emergency accounts use break-glass codes only: a factor enrolled during a break-glass
/// session would outlive the sealing that follows a use.
pub fn refuse_emergency(account: &crate::account::Account) -> Result<(), ApiError> {
    if account.account_type == crate::account::AccountType::Emergency {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "emergency_account",
            "Emergency accounts sign in with break-glass codes only; they enrol no other factor.",
        ));
    }
    Ok(())
}

fn totp(state: &AppState) -> Result<&TotpService, ApiError> {
    state.totp.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "factor_unavailable",
            "TOTP is not available on this gateway.",
        )
    })
}

#[utoipa::path(get, path = "/api/v1/factors", tag = "factors", security(("session" = [])), responses((status = 200, description = "The signed-in account's second factors", body = crate::http::openapi::schemas::FactorList)))]
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
    Ok(Json(factor_listing(&list)))
}

/// Factors as JSON: recovery codes as a count, never one by one.
pub fn factor_listing(list: &[crate::store::FactorRecord]) -> serde_json::Value {
    let factors: Vec<_> = list
        .iter()
        .filter(|f| f.kind != "recovery")
        .map(|f| {
            json!({
                "id": f.id,
                "kind": f.kind,
                "label": f.label,
                "aaguid": f.aaguid,
                "created_at": f.created_at.to_rfc3339(),
                "last_used_at": f.last_used_at.map(|t| t.to_rfc3339()),
            })
        })
        .collect();
    let recovery = list.iter().filter(|f| f.kind == "recovery").count();
    json!({ "factors": factors, "recovery_codes_remaining": recovery })
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    flow_id: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/factors/totp", tag = "factors", security(("session" = [])), request_body(content = Option<StartBody>, description = "A login flow's id when enrolling before the first session"), responses((status = 200, description = "A new TOTP secret, shown once", body = crate::http::openapi::schemas::TotpStart)))]
pub async fn post_totp(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Option<AppJson<StartBody>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = body.map(|AppJson(b)| b).unwrap_or_default();
    let who = enroller(&state, &headers, body.flow_id.as_deref()).await?;
    let e = totp(&state)?
        .begin(who.account(), state.clock.now())
        .await
        .map_err(ApiError::from)?;
    let flow_id = who.reopen(&state).await?;
    // Shown once: the secret is sealed at rest and never returned again.
    Ok(Json(json!({
        "enrolment_id": e.id.expose(),
        "secret": e.secret_base32.expose(),
        "otpauth_uri": e.otpauth_uri.expose(),
        "qr_svg": crate::totp::qr_svg(e.otpauth_uri.expose()),
        "expires_at": e.expires_at.to_rfc3339(),
        "flow_id": flow_id.as_ref().map(SecretString::expose),
    })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TotpConfirmBody)]
pub struct ConfirmBody {
    enrolment_id: String,
    code: String,
    #[serde(default)]
    #[schema(max_length = 64, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    label: String,
    flow_id: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/factors/totp/confirm", tag = "factors", security(("session" = [])), request_body = ConfirmBody, responses((status = 200, description = "The factor is stored (or, inside a login flow, the sign-in completes)", body = crate::http::openapi::schemas::FactorAdded)))]
pub async fn post_totp_confirm(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    AppJson(body): AppJson<ConfirmBody>,
) -> Result<Response, ApiError> {
    check_label(&body.label)?;
    let who = enroller(&state, &headers, body.flow_id.as_deref()).await?;
    if let Err(e) = crate::totp::parse_code(&body.code) {
        let event = who.event(&state, "totp", false).detail("reason", e.code());
        state.auditor.record(event).await?;
        return Err(who.failed(&state, Error::Code(e), "", "").await);
    }
    let now = state.clock.now();
    let result = totp(&state)?
        .confirm(
            who.account(),
            &body.enrolment_id,
            &body.code,
            &body.label,
            now,
        )
        .await;
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            return Err(who
                .failed(
                    &state,
                    e,
                    "enrolment_invalid",
                    "The enrolment is unknown, expired or already confirmed; start again.",
                )
                .await);
        }
    };
    match result {
        Ok(id) => {
            let event = who.event(&state, "totp", true).detail("factor_id", id);
            state.auditor.record(event).await?;
            who.finish(
                &state,
                &client,
                json!({ "factor_id": id, "kind": "totp" }),
                vec!["otp".into()],
            )
            .await
        }
        Err(check) => {
            let code = if check == Check::Replayed {
                "code_already_used"
            } else {
                "invalid_code"
            };
            let event = who.event(&state, "totp", false).detail("reason", code);
            state.auditor.record(event).await?;
            let flow_id = who.reopen(&state).await?;
            // A used code and a wrong one get one answer; the audit record tells them apart.
            Err(with_flow(
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_code",
                    "The code is not correct, or it was already used; try the current one.",
                ),
                flow_id,
            ))
        }
    }
}

/// A factor's name: at most 64 characters, no control characters.
pub fn check_label(label: &str) -> Result<(), ApiError> {
    crate::account::validate_text_field("label", label, 64)
        .map_err(|m| ApiError::from(Error::Invalid(m)))
}

/// An error that tells the flow id to go on with.
pub fn with_flow(err: ApiError, flow_id: Option<SecretString>) -> ApiError {
    match flow_id {
        Some(id) => err.with_details(json!({ "flow_id": id.expose() })),
        None => err,
    }
}

/// New recovery codes (the old ones stop working), shown once.
#[utoipa::path(post, path = "/api/v1/factors/recovery-codes", tag = "factors", request_body(content = Option<crate::http::openapi::schemas::NoBody>, content_type = "application/json", description = "None is read; the type must be application/json"), security(("session" = [])), responses((status = 200, description = "A new set of recovery codes, shown once", body = crate::http::openapi::schemas::RecoveryCodes)))]
pub async fn post_recovery_codes(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (session, account) = signed_in(&state, &headers).await?;
    let codes = issue_recovery_codes(&state, &session, &account).await?;
    let shown: Vec<&str> = codes.iter().map(SecretString::expose).collect();
    Ok(Json(json!({ "recovery_codes": shown })))
}

/// A new set of recovery codes for the signed-in person (the old ones stop working), audited.
pub async fn issue_recovery_codes(
    state: &AppState,
    session: &SessionRecord,
    account: &Account,
) -> Result<Vec<SecretString>, ApiError> {
    let has_factor = crate::auth::factor_facts(&state.stores, &state.config, account)
        .await?
        .has_second_factor;
    if !has_factor {
        return Err(ApiError::from(Error::Refused {
            code: "no_second_factor",
            message: "Enrol a second factor first; recovery codes stand in for a lost one.",
        }));
    }
    let codes = crate::recovery::generate();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| crate::recovery::normalise(c.expose()).ok())
        .map(|n| crate::recovery::hash(&account.id, &n))
        .collect();
    state
        .stores
        .factors
        .replace_codes(
            account.id,
            crate::recovery::KIND,
            &hashes,
            state.clock.now(),
        )
        .await
        .map_err(ApiError::from)?;
    let mut event = AuditEvent::new(
        state.config.facility.id.clone(),
        EventKind::RecoveryCodesIssued,
        Outcome::Success,
    )
    .actor(format!("account:{}", account.username))
    .subject(account.username.as_str())
    .detail("count", hashes.len())
    .detail("sid", session.sid.as_str());
    event.ip = Some(session.ip.clone());
    state.auditor.record(event).await?;
    Ok(codes)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    #[schema(max_length = 64, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    label: String,
}

#[utoipa::path(patch, path = "/api/v1/factors/{id}", tag = "factors", security(("session" = [])), params(("id" = i64, Path, description = "The factor's id")), request_body = RenameBody, responses((status = 200, description = "Renamed", body = crate::http::openapi::schemas::Renamed)))]
pub async fn patch_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<RenameBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (_, account) = signed_in(&state, &headers).await?;
    rename_own(&state, &account, id, &body.label).await?;
    Ok(Json(json!({ "id": id, "label": body.label.trim() })))
}

/// Rename one of the signed-in person's own factors.
pub async fn rename_own(
    state: &AppState,
    account: &Account,
    id: i64,
    label: &str,
) -> Result<(), ApiError> {
    check_label(label)?;
    let done = state
        .stores
        .factors
        .rename_factor(account.id, id, label.trim())
        .await
        .map_err(ApiError::from)?;
    if done { Ok(()) } else { Err(not_found()) }
}

fn not_found() -> ApiError {
    ApiError::from(Error::Refused {
        code: "factor_not_found",
        message: "You have no factor with this id.",
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveBody {
    /// Re-authentication: the account's current password.
    #[schema(value_type = String)]
    password: SecretString,
}

#[utoipa::path(delete, path = "/api/v1/factors/{id}", tag = "factors", security(("session" = [])), params(("id" = i64, Path, description = "The factor's id")), request_body = RemoveBody, responses((status = 200, description = "Removed", body = crate::http::openapi::schemas::Removed)))]
pub async fn delete_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppPath(id): AppPath<i64>,
    AppJson(body): AppJson<RemoveBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (session, account) = signed_in(&state, &headers).await?;
    remove_own(&state, &session, &account, id, &body.password).await?;
    Ok(Json(json!({ "removed": id })))
}

/// Remove one of the signed-in person's own factors after re-entering the password; never
/// the last one an account needs. Audited whatever happens.
pub async fn remove_own(
    state: &AppState,
    session: &SessionRecord,
    account: &Account,
    id: i64,
    password: &SecretString,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let event = |outcome, kind: &str| {
        let mut e = AuditEvent::new(
            state.config.facility.id.clone(),
            EventKind::FactorRemoved,
            outcome,
        )
        .actor(format!("account:{}", account.username))
        .subject(account.username.as_str())
        .detail("factor_id", id)
        .detail("kind", kind.to_owned())
        .detail("sid", session.sid.as_str());
        e.ip = Some(session.ip.clone());
        e
    };
    if !state
        .passwords
        .verify(account, password)
        .await
        .map_err(ApiError::from)?
    {
        state
            .auditor
            .record(event(Outcome::Failure, "").detail("reason", "reauthentication_failed"))
            .await?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "reauthentication_failed",
            "The password is not correct.",
        ));
    }
    let list = state
        .stores
        .factors
        .list_factors(account.id)
        .await
        .map_err(ApiError::from)?;
    let Some(target) = list.iter().find(|f| f.id == id && f.kind != "recovery") else {
        return Err(not_found());
    };
    let others = list
        .iter()
        .filter(|f| f.id != id && (f.kind == "totp" || f.kind == "webauthn"))
        .count();
    if others == 0 && crate::auth::needs_second_factor(account, now) {
        state
            .auditor
            .record(event(Outcome::Denied, &target.kind).detail("reason", "last_factor"))
            .await?;
        return Err(ApiError::from(Error::Refused {
            code: "last_factor",
            message: "This is your only second factor and your account needs one: enrol another factor first, then remove this one.",
        }));
    }
    if !state
        .stores
        .factors
        .delete_factor(account.id, id)
        .await
        .map_err(ApiError::from)?
    {
        return Err(not_found());
    }
    state
        .auditor
        .record(event(Outcome::Success, &target.kind))
        .await?;
    Ok(())
}
