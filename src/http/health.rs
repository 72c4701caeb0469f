//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "The process runs", body = crate::http::openapi::schemas::Health)))]
pub async fn get_healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the durable store answers and can be written, and the state
/// store answers. Each check names its failure. `audit` tells how the evidence is kept: the
/// last signed checkpoint and the syslog copy's lag. Neither makes the gateway unready: a
/// collector that is down is caught up later.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, description = "Ready: the stores answer", body = crate::http::openapi::schemas::Health), (status = 503, description = "Not ready: `checks` names the store that does not answer", body = crate::http::openapi::schemas::Health)))]
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
    (
        status,
        Json(json!({ "status": word, "checks": checks, "audit": audit_detail(&state) })),
    )
        .into_response()
}

fn audit_detail(state: &AppState) -> serde_json::Value {
    let signer = state.signer.as_ref().map(|s| s.status());
    let checkpoint = json!({
        "last": signer.as_ref().and_then(|s| s.last.as_ref()).map(|c| json!({ "seq": c.seq, "at": c.at })),
        "problem": state.audit_key_problem.clone()
            .or_else(|| signer.as_ref().and_then(|s| s.refused.clone().or(s.file_error.clone()))),
    });
    let syslog = state.forwarder.as_ref().map(|f| {
        let s = f.status();
        json!({
            "target": s.target,
            "connected": s.connected,
            "delivered_seq": s.delivered_seq,
            "head_seq": s.head_seq,
            "lag": s.lag(),
            "last_error": s.last_error,
        })
    });
    json!({ "checkpoint": checkpoint, "syslog": syslog })
}

/// `GET /metrics`: Prometheus text, for peers in `[metrics] allow` (the direct peer, not a
/// forwarded address) or a request with the bearer token.
pub async fn get_metrics(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
) -> Response {
    let m = &state.config.metrics;
    let token_ok = m.bearer_token.as_ref().is_some_and(|t| {
        headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| {
                crate::crypto::constant_time_eq(given.as_bytes(), t.expose().as_bytes())
            })
    });
    if !m.allows(peer.ip()) && !token_ok {
        return crate::http::error::ApiError::new(
            StatusCode::FORBIDDEN,
            "metrics_forbidden",
            "Metrics are served to the networks in [metrics] allow, or with the bearer token.",
        )
        .into_response();
    }
    match crate::metrics::render() {
        Some(text) => (
            StatusCode::OK,
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
