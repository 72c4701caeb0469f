//! The portal's forms through the real router: CSRF and origin checks, the return URL kept
//! only for protected hosts, security headers, and the page flow's answers as HTML.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use sekimori::account::AccountType;
use tower::ServiceExt as _;

use crate::gateway::{Gw, PASSWORD};
use crate::support::Env;

struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    html: String,
}

async fn send(gw: &Gw, req: Request<Body>) -> Page {
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

/// The CSRF cookie a first visit sets.
async fn csrf(gw: &Gw) -> String {
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
    let form = format!(
        "csrf={token}&username=form-user&password={PASSWORD}&rd=https%3A%2F%2Femr.localhost%2Fchart"
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
        "csrf={token}&username=form-user&password={PASSWORD}&rd=https%3A%2F%2Fevil.example%2F"
    );
    let p = send(&gw, post("/login", Some(&token), None, &form)).await;
    assert!(!p.html.contains("evil.example"), "{}", p.html);
    assert!(p.html.contains(r#"class="button" href="/login""#));

    // A wrong password: the form again, the error tied to the fields, in English on request.
    let form = format!("csrf={token}&username=form-user&password=wrong-one-1&lang=en");
    let p = send(&gw, post("/login", Some(&token), None, &form)).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.html.contains("The username or password is incorrect."));
    assert!(p.html.contains(r#"aria-describedby="login-error""#));
    assert!(
        p.html.contains(r#"value="form-user""#),
        "the username is kept"
    );
}
