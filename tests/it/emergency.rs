//! Emergency (break-glass) accounts (G-13): created with a sealed-envelope set of codes shown
//! once; a web sign-in with the password and one code needs no other factor (no TOTP, no key
//! anywhere); each use is critical in the audit log, an alert on syslog (a socket this test
//! listens on) and a banner in both consoles until an administrator acknowledges it with a
//! reason; the session is time-boxed; afterwards the password must change and new codes be
//! issued before the account works again. PAM's break-glass reports join the same banner.

use std::os::unix::net::UnixDatagram;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Duration;
use sekimori::account::AccountType;
use sekimori::clock::Clock as _;
use serde_json::json;

use crate::factors::clock_at;
use crate::gateway::{FIRST, Gw, PASSWORD, Reply};
use crate::portal::{csrf, form_token, get, send};
use crate::support::{Env, text};

const CLIENT: &str = "192.0.2.99";

fn codes_of(out: &str) -> Vec<String> {
    out.lines()
        .skip_while(|l| !l.contains("Break-glass codes"))
        .skip(2)
        .map(str::trim)
        .take_while(|l| l.len() == 14 && l.matches('-').count() == 2)
        .map(str::to_owned)
        .collect()
}

async fn answer(gw: &Gw, flow: &serde_json::Value, code: &str) -> Reply {
    gw.login_json(json!({ "flow_id": flow, "break_glass_code": code }), CLIENT)
        .await
}

#[tokio::test]
async fn a_break_glass_sign_in_works_alone_is_loud_and_seals_the_account() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("log");
    let listener = UnixDatagram::bind(&socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    let extra = format!("[emergency]\nalert_socket = \"{}\"\n", socket.display());
    let clock = clock_at(2026, 12, 20);
    let gw = Gw::new(env.state_with_clock(&extra, clock.clone()).await);
    // Created from the CLI: the codes are printed once.
    let add = env.run(
        &[
            "user",
            "add",
            "glass",
            "--display-name",
            "緊急 用",
            "--type",
            "emergency",
            "--role",
            "doctor",
            "--password-stdin",
        ],
        Some(format!("{FIRST}\n").as_bytes()),
    );
    assert!(add.status.success(), "{}", text(&add));
    let codes = codes_of(&String::from_utf8_lossy(&add.stdout));
    assert_eq!(codes.len(), 10, "{}", text(&add));

    // The first sign-in changes the password, then asks for a break-glass code only.
    let r = gw.login("glass", FIRST, CLIENT).await;
    let r = gw
        .login_json(
            json!({ "flow_id": r.body["flow_id"], "new_password": PASSWORD }),
            CLIENT,
        )
        .await;
    assert_eq!(r.body["outcome"], "second_factor_required", "{}", r.body);
    assert_eq!(r.body["methods"], json!(["break_glass_code"]));
    let wrong = answer(&gw, &r.body["flow_id"], "2345-6789-abcd").await;
    assert_eq!(wrong.code(), "invalid_break_glass_code", "{}", wrong.body);
    let flow = wrong.body["error"]["details"]["flow_id"].clone();
    let done = answer(&gw, &flow, &codes[3].to_uppercase()).await;
    assert_eq!(done.body["outcome"], "authenticated", "{}", done.body);
    assert_eq!(done.body["amr"], json!(["pwd", "otp"]));
    assert_eq!(
        done.body["session"]["expires_at"],
        (clock.now() + Duration::minutes(240)).to_rfc3339(),
        "time-boxed by [emergency] session_minutes"
    );

    // Loud: a critical audit row, an alert on syslog.
    let audit = gw.audit_kinds().await;
    let used = audit.iter().find(|a| a.0 == "break_glass_used").unwrap();
    assert_eq!(
        (used.1.as_str(), &used.2["severity"]),
        ("glass", &json!("critical"))
    );
    assert_eq!(used.2["channel"], "web");
    assert_eq!(used.2["codes_voided"], 9);
    let mut buf = [0u8; 2048];
    let n = listener.recv(&mut buf).expect("an alert reached syslog");
    let alert = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(alert.starts_with("<81>1 "), "authpriv.alert: {alert}");
    assert!(alert.contains("emergency account glass used"), "{alert}");

    // A banner in both consoles until an administrator acknowledges it.
    gw.user("it-boss", AccountType::Staff, &["it_admin"]).await;
    gw.user("inspector", AccountType::Staff, &["auditor"]).await;
    let admin = gw.session("it-boss").await;
    let auditor = gw.session("inspector").await;
    let page = get(&gw, "/admin?lang=en", &admin).await;
    assert!(
        page.html.contains("An emergency account was used"),
        "{}",
        page.html
    );
    assert!(page.html.contains("<strong>glass</strong>"));
    let page = get(&gw, "/audit?lang=ja", &auditor).await;
    assert!(
        page.html.contains("緊急用アカウントが使用されました"),
        "{}",
        page.html
    );
    assert!(
        !page.html.contains("/acknowledge"),
        "auditors read, administrators act"
    );
    let id = gw.state.emergency.uses(true).await.unwrap()[0].id;
    let token = csrf(&gw).await;
    let ack = |reason: &str| {
        Request::post(format!("/admin/break-glass/{id}/acknowledge"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("{admin}; sekimori_csrf={token}"))
            .body(Body::from(format!(
                "csrf={}&lang=en&reason={reason}",
                form_token(&token, Some(&admin))
            )))
            .unwrap()
    };
    let p = send(&gw, ack("")).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(
        !gw.state.emergency.uses(true).await.unwrap().is_empty(),
        "a reason is required"
    );
    let p = send(&gw, ack("server+room+fire+drill+confirmed+with+Dr+Sato")).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let page = get(&gw, "/admin?lang=en", &admin).await;
    assert!(!page.html.contains("An emergency account was used"));
    let audit = gw.audit_kinds().await;
    assert!(audit.iter().any(|(k, s, d)| k == "break_glass_acknowledged"
        && s == "glass"
        && d["reason"] == "server room fire drill confirmed with Dr Sato"));

    // Sealed: the same code, another code, and the password alone all fail; the password
    // must change, and then there are no codes until new ones are issued.
    let r = gw.login("glass", PASSWORD, CLIENT).await;
    assert_eq!(
        (r.body["outcome"].as_str(), r.body["reason"].as_str()),
        (Some("password_change_required"), Some("compromised")),
        "{}",
        r.body
    );
    let r = gw
        .login_json(
            json!({ "flow_id": r.body["flow_id"], "new_password": "cedar-lantern-74-quay" }),
            CLIENT,
        )
        .await;
    assert_eq!(r.code(), "denied", "no codes left: {}", r.body);
    let audit = gw.audit_kinds().await;
    assert!(
        audit
            .iter()
            .any(|(_, s, d)| s == "glass" && d["reason"] == "break_glass_codes_required")
    );
    let o = env.run(
        &["emergency", "codes", "glass", "--reason", "after the drill"],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let fresh = codes_of(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(fresh.len(), 10);
    let r = gw.login("glass", "cedar-lantern-74-quay", CLIENT).await;
    assert_eq!(r.body["outcome"], "second_factor_required", "{}", r.body);
    let old = answer(&gw, &r.body["flow_id"], &codes[4]).await;
    assert_eq!(
        old.code(),
        "invalid_break_glass_code",
        "the old set is void"
    );
    let again = answer(&gw, &old.body["error"]["details"]["flow_id"], &fresh[0]).await;
    assert_eq!(again.body["outcome"], "authenticated", "{}", again.body);

    // Emergency accounts enrol no other factor.
    let cookie = again.cookie();
    let e = gw.call("POST", "/api/v1/factors/totp", &cookie, None).await;
    assert_eq!(
        (e.status, e.code()),
        (StatusCode::CONFLICT, "emergency_account")
    );
    // `emergency uses` lists both uses, the first acknowledged.
    let o = env.run(&["emergency", "uses", "--all", "--json"], None);
    let uses: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(uses.as_array().unwrap().len(), 2);
    assert_eq!(uses[1]["acknowledged_by"], "account:it-boss");
    assert!(uses[0]["acknowledged_by"].is_null());
}
