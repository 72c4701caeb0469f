//! `/.well-known/jwks.json`: the public keys that verify `Sekimori-Assertion` tokens.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::http::error::ApiError;

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "health", responses((status = 200, description = "The assertion verification keys (RFC 7517)", body = crate::http::openapi::schemas::Jwks)))]
pub async fn get_jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let assertions = state.assertions.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "signing_unavailable",
            "The gateway has no signing keys loaded.",
        )
    })?;
    let jwks = assertions.jwks(state.clock.now()).map_err(ApiError::from)?;
    let mut res = Json(jwks).into_response();
    // Public and safe to cache briefly; the security middleware sets no-store elsewhere.
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(res)
}
