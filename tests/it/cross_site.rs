//! Requests another site makes a browser send: every console and sign-in form refuses a
//! planted CSRF pair (a nonce cookie with the token a page made for another session, or for
//! none), and every state-changing request the browser marks `Sec-Fetch-Site: cross-site`
//! or `same-site` is refused with or without `Origin`; every state-changing JSON operation
//! of the OpenAPI document refuses the content types a page can send without a preflight.
//! In each case nothing changes: no audit row is written and the victim's session and
//! account stay as they were.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use sekimori::account::AccountType;

use crate::gateway::Gw;
use crate::portal::{csrf, form_token, send};
use crate::support::Env;

/// Every form the portal and the consoles post (path, body without the token).
const FORMS: &[(&str, &str)] = &[
    ("/login", "username=victim&password=Kusuri-Bako-2027"),
    ("/login/step", "flow_id=x&code=123456"),
    ("/login/enrol/totp", "flow_id=x"),
    ("/logout", "lang=en"),
    ("/account", "op=revoke&sid=x"),
    ("/admin/accounts/victim/disable", "reason=forged"),
    ("/admin/accounts/victim/unlock", "reason=forged"),
    ("/admin/devices/pc-1/enrolment-link", "lang=en"),
    (
        "/admin/vendors",
        "account=victim&system=emr&from=2027-01-01T00:00:00Z&to=2027-01-01T01:00:00Z&reason=r&approved_by=a",
    ),
    ("/admin/vendors/1/cancel", "reason=forged"),
    ("/admin/break-glass/1/acknowledge", "reason=forged"),
    ("/terminal/enrol", "device=pc-1&token=x"),
];

fn form(path: &str, cookies: &str, body: String, extra: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookies);
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body)).unwrap()
}

async fn rows(gw: &Gw) -> usize {
    gw.audit_kinds().await.len()
}

/// The victim's session still works and the account is still active.
async fn unchanged(gw: &Gw, admin: &str, what: &str) {
    let who = gw.call("GET", "/api/v1/session", admin, None).await;
    assert_eq!(who.status, StatusCode::OK, "{what}: the session was ended");
    let victim = gw.state.admin.find("victim").await.unwrap();
    assert_eq!(victim.status.as_str(), "active", "{what}");
}

#[tokio::test]
async fn planted_pairs_and_cross_site_posts_change_nothing() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    gw.user("it-lead", AccountType::Staff, &["it_admin"]).await;
    gw.user("victim", AccountType::Staff, &["nurse"]).await;
    gw.user("mallory", AccountType::Staff, &["it_admin"]).await;
    let admin = gw.session("it-lead").await;
    let attacker = gw.session("mallory").await;
    let nonce = csrf(&gw).await;
    let planted = format!("{admin}; sekimori_csrf={nonce}");
    let before = rows(&gw).await;
    for (path, body) in FORMS {
        // The attacker's own pair, planted in the victim's browser: a nonce cookie and the
        // token a page made for the attacker's session, or made before any session.
        for token in [
            form_token(&nonce, Some(&attacker)),
            form_token(&nonce, None),
            nonce.clone(),
        ] {
            let p = send(
                &gw,
                form(path, &planted, format!("csrf={token}&{body}"), &[]),
            )
            .await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}: {}", p.html);
        }
        // The victim's own valid pair, sent by another site's page.
        let token = form_token(&nonce, Some(&admin));
        for site in ["cross-site", "same-site"] {
            for origin in [
                None,
                Some("https://evil.example"),
                Some("http://localhost:8080"),
            ] {
                let mut extra = vec![("sec-fetch-site", site)];
                if let Some(o) = origin {
                    extra.push(("origin", o));
                }
                let p = send(
                    &gw,
                    form(path, &planted, format!("csrf={token}&{body}"), &extra),
                )
                .await;
                assert_eq!(p.status, StatusCode::FORBIDDEN, "{path} {site} {origin:?}");
                assert!(p.html.contains("cross_site_request"), "{path}: {}", p.html);
            }
        }
    }
    assert_eq!(
        rows(&gw).await,
        before,
        "a refused request wrote an audit row"
    );
    unchanged(&gw, &admin, "forms").await;

    // The control: the same browser's own page, same-origin, acts.
    let token = form_token(&nonce, Some(&admin));
    let p = send(
        &gw,
        form(
            "/admin/accounts/victim/disable",
            &planted,
            format!("csrf={token}&reason=left+the+clinic&lang=en"),
            &[
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://localhost:8080"),
            ],
        ),
    )
    .await;
    assert!(
        p.status.is_success() || p.status.is_redirection(),
        "{}",
        p.html
    );
    let victim = gw.state.admin.find("victim").await.unwrap();
    assert_eq!(victim.status.as_str(), "disabled");
}

/// Every state-changing JSON operation the OpenAPI document lists, with its path parameters
/// filled in: the document is generated from the router's handlers, so a new operation is
/// covered without being added here.
fn state_changing_operations() -> Vec<(String, String)> {
    let doc: serde_json::Value = serde_json::from_str(&sekimori::http::openapi::json()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                let filled = path.replace("{name}", "victim").replace("{id}", "1");
                ops.push((method.to_uppercase(), filled));
            }
        }
    }
    ops
}

#[tokio::test]
async fn json_operations_refuse_simple_request_bodies_and_cross_site_marks() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    gw.user("it-lead", AccountType::Staff, &["it_admin"]).await;
    gw.user("victim", AccountType::Staff, &["nurse"]).await;
    let admin = gw.session("it-lead").await;
    let ops = state_changing_operations();
    assert!(ops.len() >= 15, "{ops:?}");
    assert!(ops.iter().any(|(_, p)| p == "/api/v1/logout"));
    let before = rows(&gw).await;
    for (method, path) in &ops {
        for (content_type, body) in [
            (None, ""),
            (Some("text/plain"), "{\"username\":\"victim\"}"),
            (Some("application/x-www-form-urlencoded"), "username=victim"),
            (Some("multipart/form-data; boundary=x"), "--x--"),
        ] {
            let mut b = Request::builder()
                .method(method.as_str())
                .uri(path.as_str())
                .header("cookie", &admin);
            if let Some(t) = content_type {
                b = b.header("content-type", t);
            }
            let r = gw
                .send(b.body(Body::from(body)).unwrap(), crate::gateway::PROXY)
                .await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
                "{method} {path} as {content_type:?}"
            );
        }
        for site in ["cross-site", "same-site"] {
            let r = gw
                .send(
                    Request::builder()
                        .method(method.as_str())
                        .uri(path.as_str())
                        .header("cookie", &admin)
                        .header("content-type", "application/json")
                        .header("sec-fetch-site", site)
                        .body(Body::from("{}"))
                        .unwrap(),
                    crate::gateway::PROXY,
                )
                .await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::FORBIDDEN, "cross_site_request"),
                "{method} {path} {site}"
            );
        }
    }
    assert_eq!(rows(&gw).await, before);
    unchanged(&gw, &admin, "JSON").await;
    // The JSON logout itself, sent as a client sends it, ends the session.
    let out = gw.call("POST", "/api/v1/logout", &admin, None).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    let who = gw.call("GET", "/api/v1/session", &admin, None).await;
    assert_eq!(who.status, StatusCode::UNAUTHORIZED);
}
