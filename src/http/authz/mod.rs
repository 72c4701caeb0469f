//! Forward-auth: `GET /api/v1/authz/auth-request` (nginx `auth_request`, `X-Original-URL`)
//! and `GET /api/v1/authz/forward-auth` (Traefik, Caddy: `X-Forwarded-Method/Proto/Host/Uri`).
//! The request description becomes one canonical target (`target`, read as `canon` reads
//! paths) or a refusal: `400 ambiguous_request` (`414 target_too_long`), audited with its
//! reason; the auth-request endpoint answers every refusal `403` (nginx passes only 2xx, 401
//! and 403 on as themselves) with the reason in `Sekimori-Refusal`. Then: 200 with the
//! identity headers; 401 (302 for a browser on forward-auth) towards the login portal with a safe return URL, without a session or when the page needs
//! a second factor the session lacks (`step_up=1`); 403 when the policy denies. Forwarded
//! headers are believed only from configured proxies.

pub mod target;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::app::AppState;
use crate::audit::{AuditEvent, EventKind, Outcome};
use crate::config::{Config, SystemConfig};
use crate::http::api::answers::session_from;
use crate::http::client::Client;
use crate::http::error::ApiError;
use crate::policy::cache::DecisionCache;
use crate::policy::{AccessFacts, AccountFacts, Decision, SessionFacts, SystemFacts, Verdict};
use crate::session::SessionRecord;
use target::{Mode, Refused, Target};

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
    let t = target::parse_url(url.as_bytes(), b"GET").ok()?;
    let normalised = t.url();
    // The gateway itself only at its exact origin (scheme, host and port).
    let ours = normalised.starts_with(&format!("{}/", config.server.public_url));
    (ours || system_for_host(config, &t.host).is_some()).then_some(normalised)
}

fn login_url(config: &Config, target: &Target, step_up: bool) -> String {
    format!(
        "{}/login?rd={}{}",
        config.server.public_url,
        utf8_percent_encode(&target.url(), NON_ALPHANUMERIC),
        if step_up { "&step_up=1" } else { "" }
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
#[utoipa::path(get, path = "/api/v1/authz/auth-request", tag = "forward-auth",
    security((), ("session" = [])),
    params(
        ("X-Original-URL" = String, Header, description = "The URL the proxy is asked for (nginx: $scheme://$http_host$request_uri)"),
        ("X-Original-Method" = String, Header, description = "Its method"),
    ),
    responses(
        (status = 200, description = "Allowed: identity headers (Remote-User, Remote-Groups, Remote-Name, Remote-Email) and the Sekimori-Assertion JWT"),
        (status = 401, description = "No session, or a second factor needed (the Location header points at the portal)", body = crate::http::openapi::schemas::ErrorBody),
        (status = 403, description = "The policy denies (access_denied), or the description is refused (ambiguous_request, target_too_long: answered 403 so that nginx passes it on; the reason in the Sekimori-Refusal header and in details)", body = crate::http::openapi::schemas::ErrorBody),
    ))]
pub async fn get_auth_request(
    State(state): State<AppState>,
    client: Client,
    req: Request,
) -> Response {
    measured(&state, &client, req.headers(), Mode::AuthRequest).await
}

#[utoipa::path(get, path = "/api/v1/authz/forward-auth", tag = "forward-auth",
    security((), ("session" = [])),
    params(
        ("X-Forwarded-Method" = String, Header, description = "The request's method"),
        ("X-Forwarded-Proto" = String, Header, description = "http or https"),
        ("X-Forwarded-Host" = String, Header, description = "The host asked for"),
        ("X-Forwarded-Uri" = String, Header, description = "The request target (path and query)"),
    ),
    responses(
        (status = 200, description = "Allowed: identity headers (Remote-User, Remote-Groups, Remote-Name, Remote-Email) and the Sekimori-Assertion JWT"),
        (status = 302, description = "To the sign-in portal (browsers), or for a second factor (step-up)"),
        (status = 401, description = "No session, or a second factor needed (JSON clients)", body = crate::http::openapi::schemas::ErrorBody),
        (status = 414, description = "target_too_long", body = crate::http::openapi::schemas::ErrorBody),
    ))]
pub async fn get_forward_auth(
    State(state): State<AppState>,
    client: Client,
    req: Request,
) -> Response {
    measured(&state, &client, req.headers(), Mode::ForwardAuth).await
}

/// The system a decision was about, for the metrics (set once the host is known).
#[derive(Debug, Clone)]
struct DecidedFor(String);

/// A decision, counted and timed by its result and system.
async fn measured(state: &AppState, client: &Client, headers: &HeaderMap, mode: Mode) -> Response {
    let started = std::time::Instant::now();
    let res = check(state, client, headers, mode)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    let result = match res.status().as_u16() {
        _ if res.extensions().get::<RefusedTarget>().is_some() => "refused",
        200..=299 => "allow",
        302 | 401 => "sign_in",
        403 => "deny",
        400 | 414 => "refused",
        _ => "error",
    };
    let system = res.extensions().get::<DecidedFor>();
    crate::metrics::forward_auth(
        result,
        system.map_or("unknown", |s| s.0.as_str()),
        system.is_some(),
        started.elapsed(),
    );
    res
}

/// A target that has no single reading: audited with the reason, answered 400 (414 when too
/// long). The raw headers go into the record escaped and cut, for the auditor to see.
async fn refuse(
    state: &AppState,
    client: &Client,
    headers: &HeaderMap,
    mode: Mode,
    refused: Refused,
) -> Result<Response, ApiError> {
    let raw = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .map(|v| {
                v.as_bytes()
                    .escape_ascii()
                    .to_string()
                    .chars()
                    .take(512)
                    .collect()
            })
            .collect()
    };
    let mut described = serde_json::Map::new();
    for n in target::own(mode) {
        described.insert((*n).to_owned(), serde_json::json!(raw(n)));
    }
    // The other scheme's headers that came along, as the upstream would have seen them.
    for n in target::DESCRIBING {
        if headers.contains_key(*n) && !described.contains_key(*n) {
            described.insert((*n).to_owned(), serde_json::json!(raw(n)));
        }
    }
    // Whose browser sent it, when a session came along.
    let who = session_from(state, headers)
        .await
        .ok()
        .flatten()
        .map(|s| s.username.clone());
    let mut event = AuditEvent::new(
        state.config.facility.id.clone(),
        EventKind::RequestRefused,
        Outcome::Denied,
    )
    .detail("reason", refused.refusal.code)
    .detail("header", refused.header)
    .detail("request", serde_json::Value::Object(described))
    .detail("zone", client.origin.zone.as_str());
    event.subject = who;
    event.ip = Some(client.origin.ip.to_string());
    event.device = client.origin.device.clone();
    state.auditor.record(event).await?;
    let too_long = refused.refusal.status() == 414;
    let code = if too_long {
        "target_too_long"
    } else {
        "ambiguous_request"
    };
    let status = match (mode, too_long) {
        // nginx's auth_request turns every answer but 2xx, 401 and 403 into its own 500.
        (Mode::AuthRequest, _) => StatusCode::FORBIDDEN,
        (Mode::ForwardAuth, true) => StatusCode::URI_TOO_LONG,
        (Mode::ForwardAuth, false) => StatusCode::BAD_REQUEST,
    };
    let mut res = ApiError::new(status, code, refused.to_string())
        .with_details(serde_json::json!({
            "reason": refused.refusal.code,
            "header": refused.header,
        }))
        .into_response();
    res.headers_mut().insert(
        HeaderName::from_static(REFUSAL_HEADER),
        HeaderValue::from_static(refused.refusal.code),
    );
    res.extensions_mut().insert(RefusedTarget);
    Ok(res)
}

/// The answer header naming why a description was refused (nginx:
/// `auth_request_set $sekimori_refusal $upstream_http_sekimori_refusal;`).
pub const REFUSAL_HEADER: &str = "sekimori-refusal";

/// Marks a refusal of the description, which the auth-request endpoint answers as 403.
#[derive(Debug, Clone, Copy)]
struct RefusedTarget;

/// The account as the gate sees it: from the session, which a disable ends.
fn account_of(session: &SessionRecord) -> AccountFacts {
    AccountFacts {
        id: session.account_id.clone(),
        account_type: session.account_type.clone(),
        status: "active".into(),
        roles: session.roles.clone(),
        groups: session.groups.clone(),
        facility: session.facility.clone(),
        has_second_factor: session.has_second_factor,
        second_factor_required: session.second_factor_required,
    }
}

/// What the gate decides for one request: first whether this session's factors are enough to
/// be in this system at all (`issue_session` for it: a session made for one system carries no
/// more than that system allows into another), then `access` for the request itself.
fn decide(
    state: &AppState,
    client: &Client,
    session: &SessionRecord,
    system: &SystemConfig,
    target: &Target,
    now: chrono::DateTime<chrono::Utc>,
) -> Decision {
    let account = account_of(session);
    let sys = SystemFacts::of(system, &state.config.facility.id);
    let device = client.origin.device.clone().unwrap_or_default();
    let entry = state.policy.issue_session(
        &account,
        &sys,
        &SessionFacts {
            now,
            amr: session.amr.clone(),
            zone: client.origin.zone,
            password_state: "ok".into(),
            enrolment_overdue: false,
            device: device.clone(),
            channel: "web",
            // A vendor's session carries its window into that window's system only.
            maintenance_window: session
                .maintenance_window
                .clone()
                .filter(|_| session.window_system.as_deref() == Some(system.id.as_str()))
                .unwrap_or_default(),
            break_glass: session.break_glass,
        },
    );
    match entry.verdict {
        Verdict::Issue => {}
        // A live session's password was fine when it was made; anything else denies.
        Verdict::NeedPasswordChange => {
            return Decision {
                verdict: Verdict::Deny,
                ..entry
            };
        }
        _ => return entry,
    }
    state.policy.access(
        &account,
        &sys,
        &AccessFacts {
            now,
            host: target.host.clone(),
            path: target.path.clone(),
            path_folded: target.folded.clone(),
            method: target.method.clone(),
            zone: client.origin.zone,
            amr: session.amr.clone(),
            device,
        },
    )
}

/// The answer that sends the browser (or the proxy) to the login portal: to sign in, or to
/// add the second factor a page asks for (`step_up=1`).
fn to_portal(
    state: &AppState,
    mode: Mode,
    target: &Target,
    code: &'static str,
    message: &str,
    extra: serde_json::Value,
) -> Response {
    let step_up = code != "no_session";
    let location = login_url(&state.config, target, step_up);
    let browser = mode == Mode::ForwardAuth && matches!(target.method.as_str(), "GET" | "HEAD");
    let status = if browser {
        StatusCode::FOUND
    } else {
        StatusCode::UNAUTHORIZED
    };
    let mut details = serde_json::json!({ "login_url": location });
    if let (Some(d), serde_json::Value::Object(more)) = (details.as_object_mut(), extra) {
        d.extend(more);
    }
    let mut res = ApiError::new(status, code, message)
        .with_details(details)
        .into_response();
    *res.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
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
    let target = match target::from_headers(mode, headers) {
        Ok(t) => t,
        Err(refused) => return refuse(state, client, headers, mode, refused).await,
    };
    let system = system_for_host(&state.config, &target.host).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "unknown_host",
            "This host is not a protected system of the gateway.",
        )
        .with_internal(format!("host {}", target.host))
    })?;
    let mut res = decide_in(state, client, headers, mode, &target, system)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    res.extensions_mut().insert(DecidedFor(system.id.clone()));
    Ok(res)
}

/// The decision once the request's system is known.
async fn decide_in(
    state: &AppState,
    client: &Client,
    headers: &HeaderMap,
    mode: Mode,
    target: &Target,
    system: &SystemConfig,
) -> Result<Response, ApiError> {
    let Some(session) = session_from(state, headers).await? else {
        return Ok(to_portal(
            state,
            mode,
            target,
            "no_session",
            "Sign in first.",
            serde_json::Value::Null,
        ));
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
            let d = std::sync::Arc::new(decide(state, client, &session, system, target, now));
            state.access_cache.put(key, d.clone());
            d
        }
    };
    let event = |kind, outcome| {
        let mut e = AuditEvent::new(state.config.facility.id.clone(), kind, outcome)
            .subject(session.username.as_str())
            .detail("system", system.id.as_str())
            .detail("method", target.method.as_str())
            .detail("path", target.path.as_str())
            .detail("zone", client.origin.zone.as_str())
            .detail("amr", session.amr.clone())
            .detail("policy_ids", decision.policy_ids.clone());
        e.ip = Some(client.origin.ip.to_string());
        e.device = client.origin.device.clone();
        e
    };
    match &decision.verdict {
        Verdict::Issue => {
            // A record of the work (G-18): each request a vendor makes in its window.
            if let Some(window) = &session.maintenance_window {
                state
                    .auditor
                    .record(
                        event(EventKind::MaintenanceRequest, Outcome::Success)
                            .detail(crate::vendor::service::DETAIL_KEY, window.as_str()),
                    )
                    .await?;
            }
            allow(state, &session, system, now)
        }
        Verdict::NeedFactor { kinds } => {
            let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            state
                .auditor
                .record(
                    event(EventKind::StepUpRequired, Outcome::Info).detail("kinds", names.clone()),
                )
                .await?;
            Ok(to_portal(
                state,
                mode,
                target,
                "second_factor_required",
                "This page needs a second factor; continue at the login portal.",
                serde_json::json!({ "kinds": names, "policy_ids": decision.policy_ids }),
            ))
        }
        Verdict::Deny | Verdict::NeedPasswordChange => {
            state
                .auditor
                .record(
                    event(EventKind::AccessDenied, Outcome::Denied)
                        .detail("policy_errors", decision.errors.clone()),
                )
                .await?;
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "access_denied",
                "The access policy does not allow this request.",
            )
            .with_details(serde_json::json!({ "policy_ids": decision.policy_ids })))
        }
    }
}

/// 200 with the identity headers and a signed assertion for the upstream.
fn allow(
    state: &AppState,
    session: &SessionRecord,
    system: &SystemConfig,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Response, ApiError> {
    let assertions = state.assertions.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "signing_unavailable",
            "The gateway cannot sign assertions.",
        )
    })?;
    let jwt = assertions
        .for_session(session, &system.id, now)
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
