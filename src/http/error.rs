//! The API error: a stable code and a safe message for clients; the internal detail goes to
//! the log only. Domain errors are converted here, at the edge.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::Error;
use crate::password::reason::Explained;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Box<serde_json::Value>>,
    /// Logged, never sent.
    pub internal: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            internal: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    pub fn with_internal(mut self, internal: impl Into<String>) -> Self {
        self.internal = Some(internal.into());
        self
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "No such endpoint.")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "This endpoint does not accept that method.",
        )
    }

    fn internal_error(detail: String) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "An internal error occurred.",
        )
        .with_internal(detail)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ReadOnly(_) | StoreError::Corrupt(_) | StoreError::Unavailable(_) => {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "The data store is unavailable; nothing was changed.",
                )
                .with_internal(e.to_string())
            }
            other => ApiError::internal_error(other.to_string()),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Username(u) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, u.code(), u.to_string())
            }
            Error::Invalid(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", m)
            }
            Error::PasswordRejected(reasons) => {
                let explained: Vec<Explained> = reasons.iter().map(Explained::from).collect();
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "password_rejected",
                    "The password was refused.",
                )
                .with_details(serde_json::json!({ "reasons": explained }))
            }
            Error::Store(s) => ApiError::from(s),
            Error::Code(c) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                c.code(),
                format!("{c} / {}", c.message_ja()),
            ),
            Error::State(s) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "state_unavailable",
                "The session store is unavailable; nothing was changed.",
            )
            .with_internal(s.to_string()),
            Error::AccountExists(_) => ApiError::new(
                StatusCode::CONFLICT,
                "account_exists",
                "An account with that name exists.",
            ),
            Error::AccountNotFound(_) => ApiError::new(
                StatusCode::NOT_FOUND,
                "account_not_found",
                "No such account.",
            ),
            Error::Refused { code, message } => ApiError::new(
                match code {
                    "passwordless_disabled" => StatusCode::FORBIDDEN,
                    "factor_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
                    "factor_not_found" | "device_not_found" => StatusCode::NOT_FOUND,
                    "device_unauthorized" => StatusCode::UNAUTHORIZED,
                    "device_code_invalid" => StatusCode::NOT_FOUND,
                    "too_many_attempts" => StatusCode::TOO_MANY_REQUESTS,
                    _ => StatusCode::CONFLICT,
                },
                code,
                message,
            ),
            Error::ReasonRequired => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "reason_required",
                "A reason is required for this action; it goes into the audit log.",
            ),
            other => ApiError::internal_error(other.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => {
                // axum's text names the field path (`password: invalid type…`); it holds no
                // secrets since values are not echoed by serde for type errors.
                let text = e.body_text();
                let detail = text
                    .split_once(": ")
                    .map_or(text.as_str(), |(_, rest)| rest)
                    .to_owned();
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", detail)
            }
            JsonRejection::JsonSyntaxError(e) => {
                let text = e.body_text();
                let detail = text
                    .split_once(": ")
                    .map_or(text.as_str(), |(_, rest)| rest)
                    .to_owned();
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    format!("The request body is not valid JSON: {detail}"),
                )
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as JSON with Content-Type: application/json.",
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "The request body is too large.",
                )
            }
            other => ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "The request body could not be read.",
            )
            .with_internal(other.body_text()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(internal) = &self.internal {
            if self.status.is_server_error() {
                tracing::error!(code = self.code, status = self.status.as_u16(), detail = %internal, "request failed");
            } else {
                tracing::info!(code = self.code, status = self.status.as_u16(), detail = %internal, "request refused");
            }
        }
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                details: self.details.as_deref(),
            },
        };
        (self.status, Json(body)).into_response()
    }
}
