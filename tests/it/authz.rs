//! Forward-auth through the router: identity headers and a verifiable assertion, the login
//! redirect, trusted proxies only, normalisation before matching, and `access` denials.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use sekimori::account::AccountType;

use crate::gateway::{Gw, PROXY};
use crate::support::Env;

const SYSTEMS: &str = "[systems.emr]\nkind = \"web\"\nhosts = [\"emr.clinic.example\"]\n";

fn auth_request(url: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get("/api/v1/authz/auth-request")
        .header("x-original-url", url)
        .header("x-original-method", "GET");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    b.body(Body::empty()).unwrap()
}

fn forward_auth(method: &str, host: &str, uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get("/api/v1/authz/forward-auth")
        .header("x-forwarded-method", method)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", host)
        .header("x-forwarded-uri", uri);
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    b.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn a_session_gets_identity_headers_and_a_verifiable_assertion() {
    let env = Env::new();
    let gw = Gw::new(env.state_with(SYSTEMS).await);
    gw.user("yamada", AccountType::Staff, &["nurse"]).await;
    let cookie = gw.session("yamada").await;
    let r = gw
        .send(
            auth_request("https://EMR.clinic.example/chart/1", Some(&cookie)),
            PROXY,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["remote-user"], "yamada");
    assert_eq!(r.headers["remote-groups"], "nurse");
    assert_eq!(
        r.headers["remote-name"],
        "%E5%B1%B1%E7%94%B0 %E8%8A%B1%E5%AD%90"
    );
    assert_eq!(r.headers["remote-email"], "yamada@clinic.example");
    let jwt = r.headers["sekimori-assertion"].to_str().unwrap();
    let claims = gw
        .state
        .assertions
        .as_ref()
        .unwrap()
        .verify(jwt, "emr")
        .unwrap();
    assert_eq!(
        (
            claims.sub.as_str(),
            claims.aud.as_str(),
            claims.acr.as_str()
        ),
        ("yamada", "emr", "aal1")
    );
    assert_eq!(claims.name, "山田 花子");
    // The same token is reused within its half-life; Traefik-style requests work too.
    let r2 = gw
        .send(
            forward_auth("POST", "emr.clinic.example", "/chart/1?x=1", Some(&cookie)),
            PROXY,
        )
        .await;
    assert_eq!(r2.status, StatusCode::OK);
    assert_eq!(r2.headers["sekimori-assertion"].to_str().unwrap(), jwt);
    // The JWKS publishes the signing key.
    let jwks = gw
        .send(
            Request::get("/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
            PROXY,
        )
        .await;
    let header = jwt.split('.').next().unwrap();
    let kid = {
        use base64::Engine as _;
        let h: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header)
                .unwrap(),
        )
        .unwrap();
        h["kid"].as_str().unwrap().to_owned()
    };
    assert_eq!(jwks.body["keys"][0]["kid"], kid.as_str());
    assert_eq!(jwks.body["keys"][0]["crv"], "Ed25519");
}

#[tokio::test]
async fn without_a_session_the_proxy_is_sent_to_the_login_page() {
    let env = Env::new();
    let gw = Gw::new(env.state_with(SYSTEMS).await);
    let r = gw
        .send(
            auth_request("https://emr.clinic.example/chart?id=7", None),
            PROXY,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "no_session")
    );
    assert_eq!(
        r.headers["location"],
        "http://localhost:8080/login?rd=https%3A%2F%2Femr%2Eclinic%2Eexample%2Fchart%3Fid%3D7"
    );
    let r = gw
        .send(forward_auth("GET", "emr.clinic.example", "/", None), PROXY)
        .await;
    assert_eq!(r.status, StatusCode::FOUND);
    let r = gw
        .send(forward_auth("POST", "emr.clinic.example", "/", None), PROXY)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    for bad_cookie in ["sekimori_session=garbage", "sekimori_session=", "other=1"] {
        let r = gw
            .send(
                auth_request("https://emr.clinic.example/", Some(bad_cookie)),
                PROXY,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.headers.get("remote-user").is_none());
    }
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies_and_must_be_unambiguous() {
    let env = Env::new();
    let gw = Gw::new(env.state_with(SYSTEMS).await);
    gw.user("kato", AccountType::Staff, &["nurse"]).await;
    let cookie = gw.session("kato").await;
    let r = gw
        .send(
            auth_request("https://emr.clinic.example/", Some(&cookie)),
            [203, 0, 113, 4],
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "proxy_not_trusted")
    );
    for url in [
        "https://emr.clinic.example/a%2fb",
        "https://emr.clinic.example/..;/admin",
        "https://emr.clinic.example/a\\b",
        "https://emr.clinic.example/%2e%2e/x/../../y",
        "https://emr.clinic.example/x#frag",
        "https://user@emr.clinic.example/",
        "emr.clinic.example/",
        "https://emr.clinic.example//admin",
        "https://emr.clinic.example/admin;v=1",
    ] {
        let r = gw.send(auth_request(url, Some(&cookie)), PROXY).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "ambiguous_request"),
            "{url}"
        );
        assert!(r.headers.get("remote-user").is_none());
    }
    let r = gw
        .send(auth_request("https://other.example/", Some(&cookie)), PROXY)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "unknown_host")
    );
    let r = gw
        .send(
            forward_auth("GET", "emr.clinic.example", "/", Some(&cookie)),
            PROXY,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.headers["remote-user"].is_empty());
}

#[tokio::test]
async fn access_policies_see_the_normalised_path() {
    let env = Env::new();
    let dir = env.dir.path().join("policies");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("admin-pages.cedar"),
        "@id(\"emr-admin-pages-for-it-admins\")\nforbid (principal, action == Sekimori::Action::\"access\", resource == Sekimori::System::\"emr\")\nwhen { context.path like \"/admin*\" && !principal.roles.contains(\"it_admin\") };\n",
    )
    .unwrap();
    let gw = Gw::new(
        env.state_with(&format!("{SYSTEMS}[policy]\ndir = \"{}\"\n", dir.display()))
            .await,
    );
    gw.user("nurse1", AccountType::Staff, &["nurse"]).await;
    let cookie = gw.session("nurse1").await;
    for url in [
        "/admin",
        "/x/../admin/users",
        "/%61dmin",
        "/./admin",
        "/admin/",
    ] {
        let r = gw
            .send(
                auth_request(&format!("https://emr.clinic.example{url}"), Some(&cookie)),
                PROXY,
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "access_denied"),
            "{url}"
        );
        assert_eq!(
            r.body["error"]["details"]["policy_ids"][0],
            "emr-admin-pages-for-it-admins"
        );
    }
    let r = gw
        .send(
            auth_request("https://emr.clinic.example/chart", Some(&cookie)),
            PROXY,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let audit = gw.audit_kinds().await;
    assert!(
        audit
            .iter()
            .any(|a| a.0 == "access_denied" && a.2["path"] == "/admin/users")
    );
}
