//! `[[access.rules]]` at the gate: the README's EMR example decides as its comments say (the
//! first match wins, case-insensitive prefixes, no match is denied, policy ids in the answer
//! and the audit), the CLI shows the compiled rules and names shadowed ones, and a one-factor
//! session steps up to a `two_factor` rule through the JSON login (a new id, the old end, the
//! old id revoked, `session_upgraded` audited).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use sekimori::account::AccountType;
use sekimori::clock::Clock as _;
use serde_json::json;

use crate::factors::{clock_at, enrol_totp};
use crate::gateway::{Gw, PROXY, Reply};
use crate::support::{Env, text};
use crate::totp::oathtool;

pub const EXAMPLE: &str = include_str!("../../config/access-rules.example.toml");

fn gate(method: &str, path: &str, cookie: &str) -> Request<Body> {
    Request::get("/api/v1/authz/auth-request")
        .header(
            "x-original-url",
            format!("https://emr.clinic.example{path}"),
        )
        .header("x-original-method", method)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap()
}

fn forward(method: &str, path: &str, cookie: &str) -> Request<Body> {
    Request::get("/api/v1/authz/forward-auth")
        .header("x-forwarded-method", method)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "emr.clinic.example")
        .header("x-forwarded-uri", path)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap()
}

fn first_id(r: &Reply) -> String {
    r.body["error"]["details"]["policy_ids"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_emr_example_decides_as_its_comments_say() {
    let env = Env::new();
    let gw = Gw::new(env.state_with(EXAMPLE).await);
    let mut sessions = std::collections::HashMap::new();
    for (name, role) in [
        ("doc", "doctor"),
        ("nurse", "nurse"),
        ("clerk", "clerk"),
        ("it", "it_admin"),
    ] {
        gw.user(name, AccountType::Staff, &[role]).await;
        sessions.insert(name, gw.session(name).await);
    }
    for (who, method, path, status, id) in [
        ("doc", "GET", "/charts/17", 200, ""),
        ("nurse", "GET", "/Charts", 200, ""),
        ("clerk", "GET", "/charts", 403, "access-rules-no-match"),
        ("clerk", "POST", "/billing/invoices", 200, ""),
        ("doc", "GET", "/prescriptions/9", 200, ""),
        ("doc", "POST", "/prescriptions", 403, "access-rule-7"),
        ("nurse", "GET", "/prescriptions/9", 403, "access-rule-7"),
        ("nurse", "GET", "/admin", 403, "access-rule-2"),
        ("doc", "GET", "/Admin/users", 403, "access-rule-2"),
        (
            "it",
            "GET",
            "/ADMIN/users",
            401,
            "access-rule-1-second-factor",
        ),
        ("nurse", "GET", "/maintenance/logs", 403, "access-rule-4"),
        ("nurse", "GET", "/ward-board", 403, "access-rules-no-match"),
        ("doc", "GET", "/static/app.js", 200, ""),
        ("doc", "GET", "/STATIC/app.js", 403, "access-rules-no-match"),
        (
            "doc",
            "GET",
            "/administration",
            403,
            "access-rules-no-match",
        ),
        ("doc", "GET", "/", 403, "access-rules-no-match"),
    ] {
        let r = gw.send(gate(method, path, &sessions[who]), PROXY).await;
        let what = format!("{who} {method} {path}");
        assert_eq!(r.status.as_u16(), status, "{what}: {}", r.body);
        if !id.is_empty() {
            assert_eq!(first_id(&r), id, "{what}: {}", r.body);
        }
    }
    let audit = gw.audit_kinds().await;
    assert!(audit.iter().any(|(k, s, d)| k == "access_denied"
        && s == "nurse"
        && d["path"] == "/admin"
        && d["policy_ids"][0] == "access-rule-2"));
    assert!(audit.iter().any(|(k, s, d)| k == "step_up_required"
        && s == "it"
        && d["path"] == "/ADMIN/users"
        && d["kinds"] == json!(["possession", "inherence"])));
}

#[tokio::test]
async fn the_cli_shows_the_rules_and_names_shadowed_ones() {
    let env = Env::new();
    let shadowed = format!(
        "{EXAMPLE}\n[[access.rules]]\npaths = [\"/charts/print\"]\nroles = [\"doctor\"]\npolicy = \"deny\"\n"
    );
    std::fs::write(env.config_path(), env.config_toml(&shadowed)).unwrap();
    let o = env.run(&["config", "check"], None);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(
            "access.rules[11] (access-rule-12) is shadowed by access.rules[7] (access-rule-8)"
        ),
        "{out}"
    );
    let o = env.run(&["policy", "check", "--json"], None);
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<(String, String)> = listed["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["file"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for id in [
        "access-rule-1",
        "access-rule-1-second-factor",
        "access-rule-2",
        "access-rule-12",
        "access-rules-no-match",
    ] {
        assert!(
            ids.contains(&(id.to_owned(), "[[access.rules]]".to_owned())),
            "{id} in {ids:?}"
        );
    }
    // A bad rule stops the start with its key and a fix.
    std::fs::write(
        env.config_path(),
        env.config_toml(&format!(
            "{EXAMPLE}\n[[access.rules]]\npaths = [\"/ａｄｍｉｎ\"]\npolicy = \"deny\"\n"
        )),
    )
    .unwrap();
    let o = env.run(&["config", "check"], None);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).contains("access.rules[11].paths"), "{}", text(&o));
}

#[tokio::test]
async fn policy_explain_follows_a_request_through_the_gate() {
    let env = Env::new();
    std::fs::write(env.config_path(), env.config_toml(EXAMPLE)).unwrap();
    let gw = Gw::new(env.state_with(EXAMPLE).await);
    gw.user("it", AccountType::Staff, &["it_admin"]).await;
    let explain = |path: &str, factors: &str| {
        let o = env.run(
            &[
                "policy",
                "explain",
                "--user",
                "it",
                "--system",
                "emr",
                "--path",
                path,
                "--factors",
                factors,
            ],
            None,
        );
        text(&o)
    };
    let out = explain("/Admin/%75sers", "pwd");
    assert!(out.starts_with("STEP-UP"), "{out}");
    assert!(out.contains("/Admin/%75sers → /Admin/users"), "{out}");
    assert!(out.contains("access-rule-1 (two_factor)"), "{out}");
    assert!(explain("/admin", "pwd,otp").starts_with("ALLOW"));
    let out = explain("/nothing", "pwd");
    assert!(out.starts_with("DENY"), "{out}");
    assert!(out.contains("access-rules-no-match"), "{out}");
    let out = explain("/%2e%2e/admin", "pwd");
    assert!(
        out.contains("forward-auth refuses") && out.contains("encoded_separator"),
        "{out}"
    );
}

#[tokio::test]
async fn a_one_factor_session_steps_up_at_the_gate_and_keeps_its_end() {
    let env = Env::new();
    let clock = clock_at(2026, 12, 1);
    let gw = Gw::new(env.state_with_clock(EXAMPLE, clock.clone()).await);
    gw.user("it", AccountType::Staff, &["it_admin"]).await;
    let old = gw.session("it").await;
    let before = gw.call("GET", "/api/v1/session", &old, None).await;
    assert_eq!(before.body["amr"], json!(["pwd"]));

    // The gate: a browser is sent to the portal's step-up, a script gets 401.
    let r = gw.send(forward("GET", "/admin", &old), PROXY).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    let location = r.headers["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://localhost:8080/login?rd=https%3A%2F%2Femr"),
        "{location}"
    );
    assert!(location.ends_with("&step_up=1"), "{location}");
    let r = gw.send(forward("POST", "/admin", &old), PROXY).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "second_factor_required")
    );
    assert_eq!(
        r.body["error"]["details"]["kinds"],
        json!(["possession", "inherence"])
    );

    // The JSON login's step: the account has no factor yet, so it enrols one in the flow.
    let step = gw
        .call(
            "POST",
            "/api/v1/login",
            &old,
            Some(json!({ "step_up": true, "system": "emr" })),
        )
        .await;
    assert_eq!(step.body["outcome"], "enrolment_required", "{}", step.body);
    let flow = step.body["flow_id"].as_str().unwrap().to_owned();
    let done = enrol_totp(&gw, "", Some(&flow), "phone", clock.now()).await;
    assert_eq!(done.body["outcome"], "authenticated", "{}", done.body);
    assert_eq!(done.body["amr"], json!(["pwd", "otp"]));
    assert_eq!(done.body["replaces_sid"], before.body["sid"]);
    assert_eq!(
        done.body["session"]["expires_at"], before.body["expires_at"],
        "the upgraded session keeps the end of the one it replaces"
    );
    let new = done.cookie();
    assert_ne!(new, old);

    // The old id is gone; the new one passes, and cannot step up again.
    let r = gw.send(forward("POST", "/admin", &old), PROXY).await;
    assert_eq!(r.code(), "no_session");
    let r = gw.send(forward("GET", "/admin/users", &new), PROXY).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let again = gw
        .call(
            "POST",
            "/api/v1/login",
            &new,
            Some(json!({ "step_up": true, "system": "emr" })),
        )
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "step_up_not_needed")
    );
    let audit = gw.audit_kinds().await;
    assert!(audit.iter().any(|(k, s, d)| k == "session_upgraded"
        && s == "it"
        && d["previous_sid"] == before.body["sid"]
        && d["amr"] == json!(["pwd", "otp"])));
}

#[tokio::test]
async fn a_step_up_asks_for_the_enrolled_factor_and_never_revives_a_revoked_session() {
    let env = Env::new();
    let clock = clock_at(2026, 12, 1);
    let gw = Gw::new(env.state_with_clock(EXAMPLE, clock.clone()).await);
    gw.user("it2", AccountType::Staff, &["it_admin"]).await;
    // Signed in with the password alone, the person enrols TOTP in the session.
    let old = gw.session("it2").await;
    let e = enrol_totp(&gw, &old, None, "phone", clock.now()).await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.body);
    let secret = {
        // The secret is only shown at enrolment: enrol a second factor to know one.
        let s = gw.call("POST", "/api/v1/factors/totp", &old, None).await;
        let secret = s.body["secret"].as_str().unwrap().to_owned();
        clock.advance(chrono::Duration::seconds(30));
        let c = gw
            .call(
                "POST",
                "/api/v1/factors/totp/confirm",
                &old,
                Some(json!({ "enrolment_id": s.body["enrolment_id"], "code": oathtool(&secret, clock.now()), "label": "tablet" })),
            )
            .await;
        assert_eq!(c.status, StatusCode::OK, "{}", c.body);
        secret
    };
    let step = gw
        .call(
            "POST",
            "/api/v1/login",
            &old,
            Some(json!({ "step_up": true, "system": "emr" })),
        )
        .await;
    assert_eq!(
        step.body["outcome"], "second_factor_required",
        "{}",
        step.body
    );
    assert_eq!(step.body["methods"], json!(["totp"]));
    // A wrong code counts and is answered as one; the right one upgrades the session.
    let wrong = gw
        .login_json(
            json!({ "flow_id": step.body["flow_id"], "code": "000000" }),
            "192.0.2.10",
        )
        .await;
    assert_eq!(wrong.code(), "invalid_code");
    clock.advance(chrono::Duration::seconds(30));
    let done = gw
        .login_json(
            json!({ "flow_id": wrong.body["error"]["details"]["flow_id"], "code": oathtool(&secret, clock.now()) }),
            "192.0.2.10",
        )
        .await;
    assert_eq!(done.body["outcome"], "authenticated", "{}", done.body);
    let upgraded = done.cookie();
    let r = gw.send(gate("GET", "/admin", &upgraded), PROXY).await;
    assert_eq!(r.status, StatusCode::OK);

    // Once a factor is enrolled, sign-ins ask for it anyway: no new one-factor sessions.
    let fresh = gw
        .login_json(
            json!({ "username": "it2", "password": crate::gateway::PASSWORD }),
            "192.0.2.10",
        )
        .await;
    assert_eq!(
        fresh.body["outcome"], "second_factor_required",
        "an enrolled factor is used"
    );

    // A session revoked (logged out) while its step-up was open stays revoked.
    gw.user("it3", AccountType::Staff, &["it_admin"]).await;
    let third = gw.session("it3").await;
    let step = gw
        .call(
            "POST",
            "/api/v1/login",
            &third,
            Some(json!({ "step_up": true, "system": "emr" })),
        )
        .await;
    assert_eq!(step.body["outcome"], "enrolment_required", "{}", step.body);
    let out = gw
        .call("POST", "/api/v1/logout", &third, Some(json!({})))
        .await;
    assert_eq!(out.status, StatusCode::OK);
    let flow = step.body["flow_id"].as_str().unwrap().to_owned();
    let done = enrol_totp(&gw, "", Some(&flow), "phone", clock.now()).await;
    assert_eq!(done.code(), "flow_invalid", "{}", done.body);
    assert!(done.headers.get("set-cookie").is_none());
}
