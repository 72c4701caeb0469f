//! The device register for administrators (role `it_admin`): `GET|POST /api/v1/admin/devices`,
//! `GET /api/v1/admin/devices/{name}`, `POST …/{name}/disable` and `…/{name}/rotate-credential`.
//! The same audited use cases as `sekimori device …`; a credential is returned once.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::admin::{Admin, ReasonBody};
use crate::app::AppState;
use crate::device::DeviceKind;
use crate::device::service::NewDevice;
use crate::http::error::ApiError;
use crate::http::extract::{AppJson, AppPath};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddBody {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    name: String,
    #[schema(pattern = "^(terminal|server|network)$")]
    kind: String,
    #[serde(default)]
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    location: String,
    #[serde(default)]
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    owner: String,
}

#[utoipa::path(get, path = "/api/v1/admin/devices", tag = "admin", security(("session" = [])), responses((status = 200, description = "The device register", body = crate::http::openapi::schemas::DeviceList)))]
pub async fn get_devices(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list = state.devices.list().await?;
    Ok(Json(json!({ "devices": list })))
}

#[utoipa::path(post, path = "/api/v1/admin/devices", tag = "admin", security(("session" = [])), request_body = AddBody, responses((status = 201, description = "Registered; the credential is shown once", body = crate::http::openapi::schemas::DeviceAnswer)))]
pub async fn post_device(
    State(state): State<AppState>,
    admin: Admin,
    AppJson(body): AppJson<AddBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let kind = DeviceKind::parse(&body.kind).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "`kind` must be terminal, server or network",
        )
    })?;
    let (device, token) = state
        .devices
        .add(
            NewDevice {
                name: body.name,
                kind,
                location: body.location,
                owner: body.owner,
            },
            &admin.actor(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "device": device, "credential": token.expose() })),
    ))
}

#[utoipa::path(get, path = "/api/v1/admin/devices/{name}", tag = "admin", security(("session" = [])), params(("name" = String, Path)), responses((status = 200, description = "One device", body = crate::http::openapi::schemas::DeviceAnswer)))]
pub async fn get_device(
    State(state): State<AppState>,
    _admin: Admin,
    AppPath(name): AppPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(json!({ "device": state.devices.find(&name).await? })))
}

#[utoipa::path(post, path = "/api/v1/admin/devices/{name}/disable", tag = "admin", security(("session" = [])), params(("name" = String, Path)), request_body = ReasonBody, responses((status = 200, description = "Disabled", body = crate::http::openapi::schemas::DeviceAnswer)))]
pub async fn post_disable(
    State(state): State<AppState>,
    admin: Admin,
    AppPath(name): AppPath<String>,
    AppJson(body): AppJson<ReasonBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let d = state
        .devices
        .disable(&name, &body.reason, &admin.actor())
        .await?;
    Ok(Json(json!({ "device": d })))
}

#[utoipa::path(post, path = "/api/v1/admin/devices/{name}/rotate-credential", tag = "admin", security(("session" = [])), params(("name" = String, Path)), request_body = ReasonBody, responses((status = 200, description = "A new credential, shown once", body = crate::http::openapi::schemas::DeviceAnswer)))]
pub async fn post_rotate(
    State(state): State<AppState>,
    admin: Admin,
    AppPath(name): AppPath<String>,
    AppJson(body): AppJson<ReasonBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (d, token) = state
        .devices
        .rotate(&name, &body.reason, &admin.actor())
        .await?;
    Ok(Json(json!({ "device": d, "credential": token.expose() })))
}

/// `POST /api/v1/admin/devices/{name}/enrolment-link`: a one-time link (24 hours) that binds
/// the browser opening it to this terminal. Shown once.
#[utoipa::path(post, path = "/api/v1/admin/devices/{name}/enrolment-link", tag = "admin", request_body(content = Option<crate::http::openapi::schemas::NoBody>, content_type = "application/json", description = "None is read; the type must be application/json"), security(("session" = [])), params(("name" = String, Path)), responses((status = 200, description = "A terminal's one-time enrolment link, shown once", body = crate::http::openapi::schemas::DeviceAnswer)))]
pub async fn post_enrolment_link(
    State(state): State<AppState>,
    admin: Admin,
    AppPath(name): AppPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (device, url) = state
        .devices
        .enrolment_link(&name, &state.config.server.public_url, &admin.actor())
        .await?;
    Ok(Json(json!({
        "device": device,
        "enrolment_url": url.expose(),
        "expires_at": device.terminal.enrol_expires_at.map(|t| t.to_rfc3339()),
    })))
}
