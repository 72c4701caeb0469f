//! HTTP: the router, the API error, extractors, and response headers common to every answer.

pub mod api;
pub mod authz;
pub mod client;
pub mod control;
pub mod cross_site;
pub mod error;
pub mod extract;
pub mod health;
pub mod openapi;
pub mod pages;
mod terminal;
pub mod wellknown;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::app::AppState;
use error::ApiError;

async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Pages send `same-origin`: with `no-referrer` a browser sends `Origin: null` on form
    // posts, and the CSRF check needs the real origin.
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    // Pages set their own (scripts from this origin); everything else loads nothing.
    h.entry(HeaderName::from_static("content-security-policy"))
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    res
}

async fn fallback() -> impl IntoResponse {
    ApiError::not_found()
}

/// The whole router; tests drive it directly.
pub fn build_router(state: AppState) -> Router {
    let body_limit = state.config.server.max_body_bytes;
    Router::new()
        .route("/healthz", get(health::get_healthz))
        .route("/readyz", get(health::get_readyz))
        .route("/metrics", get(health::get_metrics))
        .route("/api/v1/openapi.json", get(openapi::get_openapi))
        .route("/api/docs", get(openapi::get_docs))
        .route(
            "/api/v1/password/check",
            post(api::password::post_password_check),
        )
        .route("/factors/security-keys", get(pages::get_security_keys))
        .route("/static/webauthn.js", get(pages::get_script))
        .route("/static/portal.css", get(pages::get_style))
        .route(
            "/login",
            get(pages::login::get_login).post(pages::login::post_login),
        )
        .route("/login/step", post(pages::login::post_step))
        .route("/login/enrol/totp", post(pages::login::post_enrol_totp))
        .route("/logout", post(pages::login::post_logout))
        .route(
            "/account",
            get(pages::account::get_account).post(pages::account::post_account),
        )
        .route("/audit", get(pages::audit::get_audit))
        .route("/admin", get(pages::admin::get_admin))
        .route("/admin/accounts/{name}", get(pages::admin::get_account))
        .route("/admin/devices", get(pages::admin_devices::get_devices))
        .route(
            "/admin/devices/{name}/enrolment-link",
            post(pages::admin_devices::post_enrolment_link),
        )
        .route(
            "/admin/accounts/{name}/{action}",
            post(pages::admin::post_action),
        )
        .route(
            "/admin/vendors",
            get(pages::admin_vendors::get_vendors).post(pages::admin_vendors::post_window),
        )
        .route(
            "/admin/vendors/{id}/report.csv",
            get(pages::admin_vendors::get_report),
        )
        .route(
            "/admin/vendors/{id}/{action}",
            post(pages::admin_vendors::post_close),
        )
        .route(
            "/admin/break-glass/{id}/acknowledge",
            post(pages::admin::post_acknowledge),
        )
        .route("/audit/export.csv", get(pages::audit::get_export))
        .route("/report", get(pages::report::get_report))
        .route("/report.json", get(pages::report::get_report_json))
        .route("/report.csv", get(pages::report::get_report_csv))
        .route("/report/print.css", get(pages::report::get_print_style))
        .route("/static/report.css", get(pages::report::get_style))
        .route("/api/v1/login", post(api::login::post_login))
        .route("/api/v1/logout", post(api::login::post_logout))
        .route("/api/v1/session", get(api::login::get_session))
        .route("/api/v1/factors", get(api::factors::get_factors))
        .route("/api/v1/factors/totp", post(api::factors::post_totp))
        .route(
            "/api/v1/factors/totp/confirm",
            post(api::factors::post_totp_confirm),
        )
        .route(
            "/api/v1/factors/recovery-codes",
            post(api::factors::post_recovery_codes),
        )
        .route(
            "/api/v1/factors/{id}",
            axum::routing::patch(api::factors::patch_factor).delete(api::factors::delete_factor),
        )
        .route(
            "/api/v1/factors/webauthn",
            post(api::webauthn::post_register),
        )
        .route(
            "/api/v1/factors/webauthn/confirm",
            post(api::webauthn::post_register_confirm),
        )
        .route(
            "/api/v1/login/webauthn/challenge",
            post(api::webauthn::post_login_challenge),
        )
        .route(
            "/api/v1/login/passkey/challenge",
            post(api::webauthn::post_passkey_challenge),
        )
        .route(
            "/api/v1/admin/devices",
            get(api::devices::get_devices).post(api::devices::post_device),
        )
        .route(
            "/api/v1/admin/devices/{name}",
            get(api::devices::get_device),
        )
        .route(
            "/api/v1/admin/devices/{name}/disable",
            post(api::devices::post_disable),
        )
        .route(
            "/api/v1/admin/devices/{name}/rotate-credential",
            post(api::devices::post_rotate),
        )
        .route(
            "/api/v1/admin/accounts/{name}/factors",
            get(api::admin::get_factors),
        )
        .route(
            "/api/v1/admin/accounts/{name}/factors/reset",
            post(api::admin::post_reset_factors),
        )
        .route(
            "/api/v1/admin/accounts/{name}/lock",
            get(api::admin::get_lock),
        )
        .route(
            "/api/v1/admin/accounts/{name}/unlock",
            post(api::admin::post_unlock),
        )
        .route(
            "/api/v1/admin/accounts/{name}/sessions",
            get(api::admin::get_sessions),
        )
        .route(
            "/api/v1/admin/accounts/{name}/sessions/revoke",
            post(api::admin::post_revoke),
        )
        .route(
            "/api/v1/pam/authenticate",
            post(api::pam::post_authenticate),
        )
        .route("/api/v1/pam/device-flow", post(api::pam::post_device_flow))
        .route("/api/v1/pam/break-glass", post(api::pam::post_break_glass))
        .route(
            "/api/v1/pam/device-flow/poll",
            post(api::pam::post_device_flow_poll),
        )
        .route(
            "/api/v1/device/challenge",
            post(api::pam::post_approval_challenge),
        )
        .route("/api/v1/device/approve", post(api::pam::post_approve))
        .route("/api/v1/device/deny", post(api::pam::post_deny))
        .route("/device", get(pages::device::get_device))
        .route(
            "/terminal/enrol",
            get(pages::terminal::get_enrol).post(pages::terminal::post_enrol),
        )
        .route(
            "/api/v1/admin/devices/{name}/enrolment-link",
            post(api::devices::post_enrolment_link),
        )
        .route("/api/v1/authz/auth-request", get(authz::get_auth_request))
        .route("/api/v1/authz/forward-auth", get(authz::get_forward_auth))
        .route("/.well-known/jwks.json", get(wellknown::get_jwks))
        .fallback(fallback)
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(cross_site::guard))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            terminal::rotate_after_sign_in,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(state)
}
