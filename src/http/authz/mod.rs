//! Forward-auth: `GET /api/v1/authz/auth-request` (nginx `auth_request`, `X-Original-URL`)
//! and `GET /api/v1/authz/forward-auth` (Traefik, Caddy: `X-Forwarded-Method/Proto/Host/Uri`).
//! 200 with the identity headers, 401 (or 302 for a browser on forward-auth) towards the login
//! portal with a safe return URL, 403 when `access` denies. Forwarded headers are believed
//! only from configured proxies, and the target is normalised before anything matches it.

pub mod target;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::app::AppState;
use crate::audit::{AuditEvent, EventKind, Outcome};
use crate::config::{Config, SystemConfig};
use crate::http::api::login::session_from;
use crate::http::client::{Client, header_str};
use crate::http::error::ApiError;
use crate::policy::cache::DecisionCache;
use crate::policy::{AccessFacts, AccountFacts, SystemFacts, Verdict};
use target::{Target, TargetError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// nginx: `X-Original-URL`, `X-Original-Method`; 401 means "send to login".
    AuthRequest,
    /// Traefik and Caddy: `X-Forwarded-*`; the answer goes to the browser as it is.
    ForwardAuth,
}

/// The system a host belongs to.
pub fn system_for_host<'a>(config: &'a Config, host: &str) -> Option<&'a SystemConfig> {
    config
        .systems
        .iter()
        .find(|s| s.hosts.iter().any(|h| h == host))
}

/// `url` if it is an absolute http(s) URL on a protected host (or the gateway itself),
/// normalised; otherwise `None`. Nothing else may be a post-login destination.
pub fn safe_return_url(url: &str, config: &Config) -> Option<String> {
    let t = target::parse_url(url, "GET").ok()?;
    let normalised = t.url();
    // The gateway itself only at its exact origin (scheme, host and port).
    let ours = normalised.starts_with(&format!("{}/", config.server.public_url));
    (ours || system_for_host(config, &t.host).is_some()).then_some(normalised)
}

fn target_of(mode: Mode, h: &HeaderMap) -> Result<Target, TargetError> {
    match mode {
        Mode::AuthRequest => {
            let url =
                header_str(h, "x-original-url").ok_or(TargetError::Missing("X-Original-URL"))?;
            let method = header_str(h, "x-original-method").unwrap_or("GET");
            target::parse_url(url, method)
        }
        Mode::ForwardAuth => target::parts(
            header_str(h, "x-forwarded-proto").ok_or(TargetError::Missing("X-Forwarded-Proto"))?,
            header_str(h, "x-forwarded-host").ok_or(TargetError::Missing("X-Forwarded-Host"))?,
            header_str(h, "x-forwarded-uri").unwrap_or("/"),
            header_str(h, "x-forwarded-method").unwrap_or("GET"),
        ),
    }
}

fn login_url(config: &Config, target: &Target) -> String {
    format!(
        "{}/login?rd={}",
        config.server.public_url,
        utf8_percent_encode(&target.url(), NON_ALPHANUMERIC)
    )
}

/// Header values are bytes; names may be Japanese. Non-ASCII and control characters are
/// percent-encoded (ASCII names pass unchanged); the assertion carries the exact text.
fn header_text(s: &str) -> HeaderValue {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'%')
        && let Ok(v) = HeaderValue::from_str(s)
    {
        return v;
    }
    const SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');
    HeaderValue::from_str(&utf8_percent_encode(s, SET).to_string())
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

// The handlers take the request rather than a `HeaderMap` so the headers are not copied.
pub async fn get_auth_request(
    State(state): State<AppState>,
    client: Client,
    req: Request,
) -> Response {
    check(&state, &client, req.headers(), Mode::AuthRequest)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn get_forward_auth(
    State(state): State<AppState>,
    client: Client,
    req: Request,
) -> Response {
    check(&state, &client, req.headers(), Mode::ForwardAuth)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn check(
    state: &AppState,
    client: &Client,
    headers: &HeaderMap,
    mode: Mode,
) -> Result<Response, ApiError> {
    if !client.via_trusted_proxy {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "proxy_not_trusted",
            "Forward-auth requests are accepted only from the proxies in network.trusted_proxies.",
        )
        .with_internal(format!("peer {}", client.peer)));
    }
    let target = target_of(mode, headers)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "ambiguous_request", e.to_string()))?;
    let system = system_for_host(&state.config, &target.host).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "unknown_host",
            "This host is not a protected system of the gateway.",
        )
        .with_internal(format!("host {}", target.host))
    })?;
    let Some(session) = session_from(state, headers).await? else {
        let location = login_url(&state.config, &target);
        let browser = mode == Mode::ForwardAuth && matches!(target.method.as_str(), "GET" | "HEAD");
        let status = if browser {
            StatusCode::FOUND
        } else {
            StatusCode::UNAUTHORIZED
        };
        let mut res = ApiError::new(status, "no_session", "Sign in first.")
            .with_details(serde_json::json!({ "login_url": location }))
            .into_response();
        *res.status_mut() = status;
        if let Ok(v) = HeaderValue::from_str(&location) {
            res.headers_mut().insert(header::LOCATION, v);
        }
        return Ok(res);
    };

    let now = state.clock.now();
    let device = client.origin.device.clone().unwrap_or_default();
    let key = DecisionCache::key(
        &session.sid,
        &system.id,
        &target.method,
        &target.path,
        client.origin.zone.as_str(),
        &device,
    );
    let decision = match state.access_cache.get(&key) {
        Some(d) => d,
        None => {
            let account = AccountFacts {
                id: session.account_id.clone(),
                account_type: session.account_type.clone(),
                // Disabling an account ends its sessions, so a live session is active.
                status: "active".into(),
                roles: session.roles.clone(),
                groups: session.groups.clone(),
                facility: session.facility.clone(),
                has_second_factor: false,
            };
            let sys = SystemFacts::of(system, &state.config.facility.id);
            let facts = AccessFacts {
                now,
                host: target.host.clone(),
                path: target.path.clone(),
                method: target.method.clone(),
                zone: client.origin.zone,
                amr: session.amr.clone(),
                device,
            };
            let d = std::sync::Arc::new(state.policy.access(&account, &sys, &facts));
            state.access_cache.put(key, d.clone());
            d
        }
    };
    if decision.verdict != Verdict::Issue {
        let mut event = AuditEvent::new(
            state.config.facility.id.clone(),
            EventKind::AccessDenied,
            Outcome::Denied,
        )
        .subject(session.username.as_str())
        .detail("system", system.id.as_str())
        .detail("method", target.method.as_str())
        .detail("path", target.path.as_str())
        .detail("zone", client.origin.zone.as_str())
        .detail("policy_ids", decision.policy_ids.clone());
        event.ip = Some(client.origin.ip.to_string());
        state.auditor.record(event).await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            "The access policy does not allow this request.",
        )
        .with_details(serde_json::json!({ "policy_ids": decision.policy_ids })));
    }

    let assertions = state.assertions.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "signing_unavailable",
            "The gateway cannot sign assertions.",
        )
    })?;
    let jwt = assertions
        .for_session(&session, &system.id, now)
        .map_err(ApiError::from)?;
    let mut groups: Vec<&str> = session.roles.iter().map(String::as_str).collect();
    groups.extend(session.groups.iter().map(String::as_str));
    let mut res = StatusCode::OK.into_response();
    let h = res.headers_mut();
    // Never empty: a username is 1-64 characters.
    h.insert(
        HeaderName::from_static("remote-user"),
        header_text(&session.username),
    );
    h.insert(
        HeaderName::from_static("remote-groups"),
        header_text(&groups.join(",")),
    );
    h.insert(
        HeaderName::from_static("remote-name"),
        header_text(&session.display_name),
    );
    h.insert(
        HeaderName::from_static("remote-email"),
        header_text(session.email.as_deref().unwrap_or("")),
    );
    if let Ok(v) = HeaderValue::from_str(&jwt) {
        h.insert(HeaderName::from_static("sekimori-assertion"), v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_urls_only_point_at_protected_hosts() {
        let c = Config::from_toml_str(
            "[systems.emr]\nkind = \"web\"\nhosts = [\"emr.clinic.example\"]\n",
        )
        .unwrap();
        assert_eq!(
            safe_return_url("https://EMR.clinic.example/chart/../x?id=1", &c).as_deref(),
            Some("https://emr.clinic.example/x?id=1")
        );
        assert!(safe_return_url("http://localhost:8080/me", &c).is_some());
        assert!(safe_return_url("http://localhost:9999/me", &c).is_none());
        assert!(safe_return_url("https://localhost:8080/me", &c).is_none());
        for bad in [
            "https://evil.example/",
            "https://emr.clinic.example.evil.example/",
            "//evil.example/",
            "/relative",
            "javascript:alert(1)",
            "https://emr.clinic.example@evil.example/",
            "https://emr.clinic.example\\@evil.example/",
        ] {
            assert_eq!(safe_return_url(bad, &c), None, "{bad}");
        }
    }

    #[test]
    fn japanese_names_are_percent_encoded_in_headers() {
        assert_eq!(
            header_text("Yamada Hanako").to_str().unwrap(),
            "Yamada Hanako"
        );
        assert_eq!(header_text("山田").to_str().unwrap(), "%E5%B1%B1%E7%94%B0");
        assert_eq!(header_text("a\r\nb").to_str().unwrap(), "a%0D%0Ab");
    }
}
