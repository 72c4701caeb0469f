//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;

/// The process is up.
pub async fn get_healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the durable store answers and can be written, and the state
/// store answers. Each check names its failure.
pub async fn get_readyz(State(state): State<AppState>) -> Response {
    let (store, st) = tokio::join!(state.stores.health.ping(), state.state.ping());
    let store_check = store.as_ref().map_or_else(|e| e.code(), |()| "ok");
    let state_check = st.as_ref().map_or_else(|e| e.code(), |()| "ok");
    let checks = json!({ "store": store_check, "state": state_check });
    if let Err(e) = &store {
        tracing::warn!(error = %e, "readiness: store failed");
    }
    if let Err(e) = &st {
        tracing::warn!(error = %e, "readiness: state store failed");
    }
    let (status, word) = if store.is_ok() && st.is_ok() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    (status, Json(json!({ "status": word, "checks": checks }))).into_response()
}
