//! Registered web terminals through the real router: an administrator's one-time enrolment
//! link, the browser bound by the form post (signed, HttpOnly cookie), sign-ins from it carry
//! the device into the policy context and the lockout zone, the cookie's secret rotates at each
//! sign-in, a copied cookie is caught and the binding revoked, a disabled terminal stops
//! counting.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, TimeZone as _, Utc};
use http_body_util::BodyExt as _;
use sekimori::account::AccountType;
use sekimori::device::DeviceKind;
use sekimori::device::service::NewDevice;
use serde_json::json;
use tower::ServiceExt as _;

use crate::gateway::{Gw, PASSWORD, PROXY};
use crate::support::Env;

/// A system only registered terminals may enter (a clinic's own deployment policy).
const TERMINALS_ONLY: &str = r#"
@id("emr-from-registered-terminals-only")
forbid (principal, action == Sekimori::Action::"issue_session", resource == Sekimori::System::"emr")
when { context.device == "" };

@id("emr-pages-from-registered-terminals-only")
forbid (principal, action == Sekimori::Action::"access", resource == Sekimori::System::"emr")
when { context.device == "" };
"#;

struct Page {
    status: StatusCode,
    set_cookies: Vec<String>,
    text: String,
}

async fn page(gw: &Gw, req: Request<Body>) -> Page {
    let mut req = req;
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            PROXY, 40000,
        ))));
    let res = gw.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let set_cookies = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let text =
        String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
    Page {
        status,
        set_cookies,
        text,
    }
}

/// The query parameters of a link (its values need no decoding: a UUID and a token).
fn params(url: &str) -> std::collections::HashMap<String, String> {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `name=value` of the terminal cookie among `set_cookies`.
fn terminal_cookie(p: &Page) -> Option<String> {
    p.set_cookies
        .iter()
        .find(|c| c.starts_with("sekimori_device="))
        .map(|c| c.split(';').next().unwrap().to_owned())
}

async fn login(gw: &Gw, user: &str, password: &str, system: &str, cookie: Option<&str>) -> Page {
    let mut b = Request::post("/api/v1/login")
        .header("content-type", "application/json")
        .header("x-forwarded-for", "203.0.113.9");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    page(
        gw,
        b.body(Body::from(
            json!({"username": user, "password": password, "system": system}).to_string(),
        ))
        .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_terminal_is_enrolled_recognised_rotated_and_a_copy_revoked() {
    let env = Env::new();
    let policies = env.dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(policies.join("clinic.cedar"), TERMINALS_ONLY).unwrap();
    let clock = Arc::new(sekimori::clock::ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    ));
    let extra = format!(
        "[policy]\ndir = \"{}\"\n[systems.emr]\nkind = \"web\"\nhosts = [\"emr.clinic.example\"]\n",
        policies.display()
    );
    let gw = Gw::new(env.state_with_clock(&extra, clock.clone()).await);
    gw.user("it-admin", AccountType::Staff, &["it_admin"]).await;
    gw.user("reception", AccountType::Staff, &["clerk"]).await;
    let admin = gw.session("it-admin").await;
    gw.state
        .devices
        .add(
            NewDevice {
                name: "受付PC-1".into(),
                kind: DeviceKind::Terminal,
                location: "1階受付".into(),
                owner: "事務長".into(),
            },
            "test",
        )
        .await
        .unwrap();

    // The administrator asks for a link; servers get none.
    let r = gw
        .call(
            "POST",
            "/api/v1/admin/devices/%E5%8F%97%E4%BB%98PC-1/enrolment-link",
            &admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let url = r.body["enrolment_url"].as_str().unwrap().to_owned();
    let path = url.split_once("://").unwrap().1;
    let path = &path[path.find('/').unwrap()..];
    assert!(path.starts_with("/terminal/enrol?device="), "{path}");

    // Opening the link shows the terminal and spends nothing.
    for _ in 0..2 {
        let p = page(&gw, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.text);
        assert!(p.text.contains("受付PC-1") && p.text.contains("1階受付"));
    }
    let query = params(path);
    let csrf = sekimori::crypto::random_token();
    let form = format!(
        "csrf={}&device={}&token={}",
        crate::portal::form_token(&csrf, None),
        query["device"],
        query["token"]
    );
    let post = |form: String| {
        Request::post("/terminal/enrol")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("sekimori_csrf={csrf}"))
            .body(Body::from(form))
            .unwrap()
    };
    let bound = page(&gw, post(form.clone())).await;
    assert_eq!(bound.status, StatusCode::OK, "{}", bound.text);
    let set = bound
        .set_cookies
        .iter()
        .find(|c| c.starts_with("sekimori_device="))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("Max-Age=34560000"),
        "{set}"
    );
    let first = terminal_cookie(&bound).unwrap();
    let again = page(&gw, post(form)).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "the link works once");

    // The terminals-only system: refused without the cookie, a session with it.
    let outside = login(&gw, "reception", PASSWORD, "emr", None).await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN, "{}", outside.text);
    let inside = login(&gw, "reception", PASSWORD, "emr", Some(&first)).await;
    assert_eq!(inside.status, StatusCode::OK, "{}", inside.text);
    let second = terminal_cookie(&inside).expect("the secret rotates at sign-in");
    assert_ne!(second, first);

    // Behind forward-auth, the same session reaches the EMR's pages only with the cookie.
    let session = inside
        .set_cookies
        .iter()
        .find(|c| c.starts_with("sekimori_session="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap();
    let pages = |cookies: String| {
        Request::get("/api/v1/authz/auth-request")
            .header("x-original-url", "https://emr.clinic.example/records/42")
            .header("x-original-method", "GET")
            .header("cookie", cookies)
            .body(Body::empty())
            .unwrap()
    };
    let with = page(&gw, pages(format!("{session}; {second}"))).await;
    assert_eq!(with.status, StatusCode::OK, "{}", with.text);
    let without = page(&gw, pages(session.clone())).await;
    assert_eq!(without.status, StatusCode::FORBIDDEN, "{}", without.text);
    let kinds = gw.audit_kinds().await;
    let (_, _, d) = kinds
        .iter()
        .rev()
        .find(|(k, _, d)| k == "login_attempt" && d.get("sid").is_some())
        .unwrap();
    assert_eq!(d["zone"], "trusted", "{d}");
    assert_eq!(d["system"], "emr");
    let seen = gw.state.devices.find("受付PC-1").await.unwrap();
    assert!(
        seen.last_seen_at.is_some(),
        "the terminal's last contact is recorded"
    );

    // The lockout zone: five failures from outside lock the outside only.
    for _ in 0..5 {
        let r = login(&gw, "reception", "wrong-password-1", "portal", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let locked = login(&gw, "reception", PASSWORD, "portal", None).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    let at_terminal = login(&gw, "reception", PASSWORD, "portal", Some(&second)).await;
    assert_eq!(at_terminal.status, StatusCode::OK, "{}", at_terminal.text);
    let third = terminal_cookie(&at_terminal).unwrap();

    // Within the grace the previous secret still counts (requests in flight) …
    clock.advance(Duration::seconds(30));
    let r = login(&gw, "reception", PASSWORD, "emr", Some(&second)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let fourth = terminal_cookie(&r).unwrap();
    // … after it, an old secret is a copy: the binding is revoked and the copy reported.
    // (Past the outside lock too, so that the policy's answer is what shows.)
    clock.advance(Duration::minutes(20));
    let copied = login(&gw, "reception", PASSWORD, "emr", Some(&third)).await;
    assert_eq!(copied.status, StatusCode::FORBIDDEN, "{}", copied.text);
    let kinds = gw.audit_kinds().await;
    assert!(
        kinds.iter().any(|(k, _, _)| k == "terminal_cookie_reused"),
        "{kinds:?}"
    );
    let legit = login(&gw, "reception", PASSWORD, "emr", Some(&fourth)).await;
    assert_eq!(
        legit.status,
        StatusCode::FORBIDDEN,
        "the binding is gone for every copy: IT enrols the terminal again"
    );

    // A forged or mangled cookie is nobody's.
    let forged = login(
        &gw,
        "reception",
        PASSWORD,
        "emr",
        Some(&format!("{}x", fourth)),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // Enrolled again, then the terminal is disabled: its cookie stops counting.
    let (_, url) = gw
        .state
        .devices
        .enrolment_link("受付PC-1", "http://localhost", "test")
        .await
        .unwrap();
    let q = params(url.expose());
    let (_, cookie) = gw
        .state
        .devices
        .bind(&q["device"], &q["token"], "127.0.0.1".parse().unwrap())
        .await
        .unwrap();
    let c = format!("sekimori_device={}", cookie.expose());
    assert_eq!(
        login(&gw, "reception", PASSWORD, "emr", Some(&c))
            .await
            .status,
        StatusCode::OK
    );
    gw.state
        .devices
        .disable("受付PC-1", "廃棄", "test")
        .await
        .unwrap();
    assert_eq!(
        login(&gw, "reception", PASSWORD, "emr", Some(&c))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let kinds = gw.audit_kinds().await;
    for k in ["terminal_enrolment_issued", "terminal_bound"] {
        assert!(kinds.iter().any(|(kind, _, _)| kind == k), "{k}");
    }
}

#[tokio::test]
async fn the_cli_prints_an_enrolment_link_for_terminals_only() {
    let env = Env::new();
    let _state = env.state().await;
    for (name, kind) in [("ward-pc", "terminal"), ("db-1", "server")] {
        let out = env.run(&["device", "add", name, "--kind", kind], None);
        assert!(out.status.success(), "{}", crate::support::text(&out));
    }
    let out = env.run(
        &["--lang", "ja", "device", "enrolment-link", "ward-pc"],
        None,
    );
    let said = crate::support::text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("/terminal/enrol?device="), "{said}");
    assert!(said.contains("端末のブラウザーで一度だけ開いて"), "{said}");
    let show = env.run(&["device", "show", "ward-pc"], None);
    assert!(
        crate::support::text(&show).contains("browser bound"),
        "{}",
        crate::support::text(&show)
    );
    let out = env.run(&["device", "enrolment-link", "db-1"], None);
    assert!(!out.status.success());
    assert!(
        crate::support::text(&out).contains("kind terminal"),
        "{}",
        crate::support::text(&out)
    );
}

#[tokio::test]
async fn the_admin_console_lists_the_register_and_issues_a_link_once() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    gw.user("it-admin", AccountType::Staff, &["it_admin"]).await;
    gw.user("clerk", AccountType::Staff, &["clerk"]).await;
    let admin = gw.session("it-admin").await;
    for (name, kind) in [
        ("受付PC-1", DeviceKind::Terminal),
        ("emr-db", DeviceKind::Server),
    ] {
        gw.state
            .devices
            .add(
                NewDevice {
                    name: name.into(),
                    kind,
                    location: "1階".into(),
                    owner: "事務長".into(),
                },
                "test",
            )
            .await
            .unwrap();
    }
    let csrf = sekimori::crypto::random_token();
    let cookies = format!("{admin}; sekimori_csrf={csrf}");
    let list = page(
        &gw,
        Request::get("/admin/devices?lang=en")
            .header("cookie", &cookies)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(list.text.contains("受付PC-1") && list.text.contains("emr-db"));
    assert!(list.text.contains("not bound"));
    // Only the terminal gets the form.
    assert_eq!(
        list.text.matches("/enrolment-link\"").count(),
        1,
        "{}",
        list.text
    );

    let issue = |cookies: &str, form: String| {
        Request::post("/admin/devices/%E5%8F%97%E4%BB%98PC-1/enrolment-link")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookies)
            .body(Body::from(form))
            .unwrap()
    };
    let field = crate::portal::form_token(&csrf, Some(&admin));
    let issued = page(&gw, issue(&cookies, format!("csrf={field}&lang=en"))).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text);
    assert!(
        issued.text.contains("/terminal/enrol?device="),
        "{}",
        issued.text
    );
    // Without the CSRF token, or by someone who is not an administrator: nothing is issued.
    let forged = page(&gw, issue(&cookies, "csrf=x&lang=en".into())).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let clerk = gw.session("clerk").await;
    let other = page(
        &gw,
        issue(
            &format!("{clerk}; sekimori_csrf={csrf}"),
            format!("csrf={}", crate::portal::form_token(&csrf, Some(&clerk))),
        ),
    )
    .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let issued_events = gw
        .audit_kinds()
        .await
        .into_iter()
        .filter(|(k, _, _)| k == "terminal_enrolment_issued")
        .count();
    assert_eq!(issued_events, 1);
}

/// The writes of a terminal's browser and of a device's last contact change only their own
/// columns: racing an administrator's disable, they cannot re-enable the device.
#[tokio::test]
async fn binding_and_last_contact_writes_never_touch_the_status() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    let (before, _) = gw
        .state
        .devices
        .add(
            NewDevice {
                name: "ward-pc".into(),
                kind: DeviceKind::Terminal,
                location: String::new(),
                owner: String::new(),
            },
            "test",
        )
        .await
        .unwrap();
    gw.state
        .devices
        .disable("ward-pc", "廃棄", "test")
        .await
        .unwrap();
    // What a request that read the device before the disable would write.
    let mut stale = before.terminal.clone();
    stale.bind(
        &sekimori::crypto::random_token(),
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    );
    let store = &gw.state.stores.devices;
    store.set_binding(before.id, &stale).await.unwrap();
    store
        .touch_device(
            before.id,
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
        )
        .await
        .unwrap();
    let after = gw.state.devices.find("ward-pc").await.unwrap();
    assert_eq!(after.status, sekimori::device::DeviceStatus::Disabled);
    assert!(after.terminal.is_bound());
    assert!(after.last_seen_at.is_some());
}
