//! `POST /api/v1/password/check`: evaluate a candidate password against the configured rules
//! without storing anything. It powers strength meters and lets vendors show the same reasons
//! the gateway would give. History is not checked here (that needs an authenticated account).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::account::username::normalise;
use crate::app::AppState;
use crate::http::error::ApiError;
use crate::http::extract::AppJson;
use crate::password::RuleContext;
use crate::password::reason::Explained;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    pub password: String,
    #[serde(default)]
    #[schema(max_length = 128, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub username: Option<String>,
    #[serde(default)]
    #[schema(max_length = 128, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub display_name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 128, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub kana_name: Option<String>,
    /// Whether the account will have an enforced second factor (decides the minimum length).
    #[serde(default)]
    pub second_factor: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckResponse {
    pub acceptable: bool,
    pub score: Option<u8>,
    pub min_length: usize,
    pub length: usize,
    pub reasons: Vec<Explained>,
}

const MAX_HINT_BYTES: usize = 512;

#[utoipa::path(post, path = "/api/v1/password/check", tag = "sign-in", request_body = CheckRequest, responses((status = 200, description = "Whether the password would be accepted, and why not", body = CheckResponse)))]
pub async fn post_password_check(
    State(state): State<AppState>,
    AppJson(req): AppJson<CheckRequest>,
) -> Result<Json<CheckResponse>, ApiError> {
    let mut inputs = Vec::new();
    for (field, value) in [
        ("username", &req.username),
        ("display_name", &req.display_name),
        ("kana_name", &req.kana_name),
    ] {
        if let Some(v) = value {
            if v.len() > MAX_HINT_BYTES || v.chars().any(char::is_control) {
                return Err(ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    format!("{field}: at most {MAX_HINT_BYTES} bytes and no control characters"),
                ));
            }
            inputs.push(normalise(v));
        }
    }
    let policy = state.passwords.policy();
    let min_length = if req.second_factor {
        policy.min_length_with_second_factor
    } else {
        policy.min_length_without_second_factor
    };
    let a = state.passwords.assess(
        &req.password,
        RuleContext {
            second_factor_enforced: req.second_factor,
            personal_inputs: inputs,
        },
    );
    Ok(Json(CheckResponse {
        acceptable: a.is_acceptable(),
        score: a.score,
        min_length,
        length: a.normalised_len,
        reasons: a.reasons.iter().map(Explained::from).collect(),
    }))
}
