//! The portal's forms through the real router: CSRF and origin checks, the return URL kept
//! only for protected hosts, security headers, and the page flow's answers as HTML.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use sekimori::account::AccountType;
use tower::ServiceExt as _;

use crate::gateway::{Gw, PASSWORD};
use crate::support::Env;

pub struct Page {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub html: String,
}

pub async fn send(gw: &Gw, req: Request<Body>) -> Page {
    let mut req = req;
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40000,
        ))));
    let res = gw.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        headers,
        html: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The token a page made for this CSRF nonce and session cookie (`sekimori_session=…`)
/// carries: forms are bound to the session, or to no session before sign-in.
pub fn form_token(nonce: &str, session: Option<&str>) -> String {
    let sid = session.map(|c| {
        c.split(';')
            .find_map(|p| p.trim().strip_prefix("sekimori_session="))
            .unwrap_or(c)
    });
    sekimori::http::pages::layout::csrf_token(nonce, sid)
}

/// The CSRF cookie's nonce that a first visit sets.
pub async fn csrf(gw: &Gw) -> String {
    let p = send(gw, Request::get("/login").body(Body::empty()).unwrap()).await;
    let c = p.headers["set-cookie"].to_str().unwrap();
    c.split(';')
        .next()
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap()
        .to_owned()
}

fn post(path: &str, cookie: Option<&str>, origin: Option<&str>, form: &str) -> Request<Body> {
    let mut b = Request::post(path).header("content-type", "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        b = b.header("cookie", format!("sekimori_csrf={c}"));
    }
    if let Some(o) = origin {
        b = b.header("origin", o);
    }
    b.body(Body::from(form.to_owned())).unwrap()
}

#[tokio::test]
async fn login_forms_check_csrf_and_origin_and_keep_only_safe_return_urls() {
    let env = Env::new();
    let gw = Gw::new(
        env.state_with("[systems.emr]\nkind = \"web\"\nhosts = [\"emr.localhost\"]\n")
            .await,
    );
    gw.user("form-user", AccountType::Staff, &["nurse"]).await;
    let page = send(
        &gw,
        Request::get("/login?rd=https%3A%2F%2Femr.localhost%2Fchart")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(page.html.contains(r#"<html lang="ja">"#));
    assert!(
        page.html
            .contains(r#"name="rd" value="https://emr.localhost/chart""#)
    );
    assert!(
        page.html.contains(r#"<label for="username">"#)
            && page.html.contains(r#"<label for="password">"#)
    );

    let token = csrf(&gw).await;
    let field = form_token(&token, None);
    let form = format!(
        "csrf={field}&username=form-user&password={PASSWORD}&rd=https%3A%2F%2Femr.localhost%2Fchart"
    );
    // Without the cookie, or from another origin: refused, nothing attempted.
    let p = send(&gw, post("/login", None, None, &form)).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = send(
        &gw,
        post("/login", Some(&token), Some("https://evil.example"), &form),
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(
        gw.audit_kinds()
            .await
            .iter()
            .all(|(k, _, _)| k != "login_attempt")
    );

    // Our own origin: signed in, with a session cookie; the reminder to enrol a second
    // factor comes first, then "continue" leads back to the protected page.
    let p = send(
        &gw,
        post("/login", Some(&token), Some("http://localhost:8080"), &form),
    )
    .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    assert!(
        p.headers["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("sekimori_session=")
    );
    assert!(p.html.contains("2027年4月1日から"), "{}", p.html);
    assert!(
        p.html
            .contains(r#"class="button" href="https://emr.localhost/chart""#)
    );

    // A return URL elsewhere is dropped: the portal's own page instead.
    let form = format!(
        "csrf={field}&username=form-user&password={PASSWORD}&rd=https%3A%2F%2Fevil.example%2F"
    );
    let p = send(&gw, post("/login", Some(&token), None, &form)).await;
    assert!(!p.html.contains("evil.example"), "{}", p.html);
    assert!(p.html.contains(r#"class="button" href="/login""#));

    // A wrong password: the form again, the error tied to the fields, in English on request.
    let form = format!("csrf={field}&username=form-user&password=wrong-one-1&lang=en");
    let p = send(&gw, post("/login", Some(&token), None, &form)).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.html.contains("The username or password is incorrect."));
    assert!(p.html.contains(r#"aria-describedby="login-error""#));
    assert!(
        p.html.contains(r#"value="form-user""#),
        "the username is kept"
    );
}

pub async fn get(gw: &Gw, path: &str, cookie: &str) -> Page {
    send(
        gw,
        Request::get(path)
            .header("cookie", cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn the_auditor_console_filters_pages_and_exports_read_only() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    gw.user("kansa", AccountType::Staff, &["auditor"]).await;
    gw.user("nurse-a", AccountType::Staff, &["nurse"]).await;
    gw.user("clerk-b", AccountType::Staff, &["clerk"]).await;
    for _ in 0..6 {
        gw.login("nurse-a", "wrong-password-9", "198.51.100.7")
            .await;
    }
    for i in 0..60 {
        gw.login(&format!("nobody{i}"), "wrong-password-9", "198.51.100.8")
            .await;
    }
    let auditor = gw.session("kansa").await;
    let nurse = gw.session("clerk-b").await;
    // Others are refused; without a session, the login page with the way back.
    assert_eq!(
        get(&gw, "/audit", &nurse).await.status,
        StatusCode::FORBIDDEN
    );
    let p = get(&gw, "/audit", "").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(
        p.headers["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?rd=")
    );

    let p = get(&gw, "/audit", &auditor).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.html.contains(r#"id="chain">ハッシュチェーン正常"#),
        "the chain state is shown"
    );
    assert_eq!(p.html.matches("<tr><td>").count(), 50, "one page");
    assert!(p.html.contains(r#"rel="next""#));
    assert!(
        !p.html.contains("<form method=\"post\""),
        "nothing to change here"
    );

    // Lockout events of one user, then the next page of everything.
    let p = get(
        &gw,
        "/audit?kind=account_locked&user=nurse-a&lang=en",
        &auditor,
    )
    .await;
    assert_eq!(p.html.matches("<tr><td>").count(), 1, "{}", p.html);
    assert!(p.html.contains("account_locked"));
    let first_page = get(&gw, "/audit", &auditor).await.html;
    let before = first_page
        .split("before=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let p = get(&gw, &format!("/audit?before={before}"), &auditor).await;
    let seqs: Vec<i64> = p
        .html
        .split("<tr><td>")
        .skip(1)
        .map(|r| r.split('<').next().unwrap().parse().unwrap())
        .collect();
    assert!(seqs.iter().all(|s| *s < before.parse::<i64>().unwrap()));
    assert!(!seqs.is_empty());

    // The CSV of the filtered view, Japanese headers.
    let p = get(
        &gw,
        "/audit/export.csv?zone=external&kind=login_blocked",
        &auditor,
    )
    .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let csv = p.html.trim_start_matches('\u{feff}');
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("連番,日時,施設,種別,結果")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|l| l.contains("ロック中のログイン拒否")),
        "{rows:?}"
    );
}

#[tokio::test]
async fn the_account_page_manages_own_factors_and_sessions() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    gw.user("self-serve", AccountType::Staff, &["nurse"]).await;
    let other = gw.session("self-serve").await;
    let session = gw.session("self-serve").await;
    let token = csrf(&gw).await;
    let cookies = format!("{session}; sekimori_csrf={token}");
    let form = |body: String| {
        Request::post("/account")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookies.clone())
            .body(Body::from(format!(
                "csrf={}&lang=en&{body}",
                form_token(&token, Some(&session))
            )))
            .unwrap()
    };
    let p = get(&gw, "/account?lang=en", &session).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(
        p.html.matches(">End</button>").count(),
        2,
        "both sessions listed"
    );
    assert!(p.html.contains("Recent sign-ins"));

    // An authenticator app from the page, confirmed with oathtool.
    let p = send(&gw, form("op=totp".into())).await;
    let secret = p
        .html
        .split(r#"id="totp-secret">"#)
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    let eid = p
        .html
        .split(r#"name="enrolment_id" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let code = crate::totp::oathtool(
        secret,
        sekimori::clock::Clock::now(&sekimori::clock::SystemClock),
    );
    let p = send(&gw, form(format!("op=totp&enrolment_id={eid}&code={code}"))).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(
        p.headers["location"].to_str().unwrap().contains("done="),
        "{:?}",
        p.headers
    );
    let page = get(&gw, "/account?lang=en", &session).await.html;
    let id = page
        .split(r#"name="id" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    // Recovery codes shown once; rename; a wrong password does not remove.
    let p = send(&gw, form("op=recovery-codes".into())).await;
    assert_eq!(p.html.matches("<li><code>").count(), 10);
    let p = send(
        &gw,
        form(format!(
            "op=rename&id={id}&label=%E6%A5%AD%E5%8B%99%E7%94%A8"
        )),
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(get(&gw, "/account", &session).await.html.contains("業務用"));
    let p = send(&gw, form(format!("op=remove&id={id}&password=not-it-123"))).await;
    assert!(p.headers["location"].to_str().unwrap().contains("error="));
    let p = send(&gw, form(format!("op=remove&id={id}&password={PASSWORD}"))).await;
    assert!(p.headers["location"].to_str().unwrap().contains("done="));

    // End the other session from here.
    let sid = {
        let s = gw.call("GET", "/api/v1/session", &other, None).await;
        s.body["sid"].as_str().unwrap().to_owned()
    };
    let p = send(&gw, form(format!("op=revoke&sid={sid}"))).await;
    assert!(p.headers["location"].to_str().unwrap().contains("done="));
    assert_eq!(
        gw.call("GET", "/api/v1/session", &other, None).await.code(),
        "no_session"
    );
    let kinds: Vec<String> = gw
        .audit_kinds()
        .await
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    for k in ["factor_enrolled", "recovery_codes_issued", "factor_removed"] {
        assert!(kinds.contains(&k.to_owned()), "{k}: {kinds:?}");
    }
}
