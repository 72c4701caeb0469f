//! The PAM endpoints in-process, where the clock can be moved: a device with the wrong
//! credential, a device clock that is off, and the device flow approved with a software
//! security key, polled once, refused for another device, and expired after 2 minutes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, TimeZone as _, Utc};
use sekimori::account::AccountType;
use sekimori::clock::Clock as _;
use sekimori::device::DeviceKind;
use sekimori::device::service::NewDevice;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs::prelude::RequestChallengeResponse;

use crate::gateway::{Gw, PROXY, Reply};
use crate::support::Env;

pub async fn device(gw: &Gw, name: &str) -> String {
    let (_, token) = gw
        .state
        .devices
        .add(
            NewDevice {
                name: name.into(),
                kind: DeviceKind::Server,
                location: String::new(),
                owner: String::new(),
            },
            "test",
        )
        .await
        .unwrap();
    token.expose().to_owned()
}

async fn pam(gw: &Gw, path: &str, bearer: &str, body: Value) -> Reply {
    let req = Request::post(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {bearer}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    gw.send(req, PROXY).await
}

async fn start(gw: &Gw, cred: &str, now: i64) -> Reply {
    let body = json!({"device": "srv-a", "user": "flow-nurse", "service": "sshd",
                      "rhost": "192.0.2.33", "time": now});
    pam(gw, "/api/v1/pam/device-flow", cred, body).await
}

async fn poll(gw: &Gw, bearer: &str, dev: &str, flow: &str) -> Reply {
    let body = json!({"device": dev, "user": "flow-nurse", "flow_id": flow});
    pam(gw, "/api/v1/pam/device-flow/poll", bearer, body).await
}

#[tokio::test]
async fn device_credentials_clock_skew_and_the_device_flow() {
    let env = Env::new();
    let clock = Arc::new(sekimori::clock::ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    ));
    let gw = Gw::new(env.state_with_clock("", clock.clone()).await);
    gw.user("flow-nurse", AccountType::Staff, &["nurse"]).await;
    let cookie = gw.session("flow-nurse").await;
    let (mut key, _) = SoftToken::new(false).unwrap();
    let r = crate::webauthn::register(&gw, &cookie, "security_key", &mut key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let cred = device(&gw, "srv-a").await;
    let other = device(&gw, "srv-b").await;
    let now = clock.now().timestamp();
    let ask =
        |t: i64| json!({"device": "srv-a", "user": "flow-nurse", "code": "123456", "time": t});

    // The wrong credential, or another device's: 401, audited, nothing else looked at.
    let r = pam(&gw, "/api/v1/pam/authenticate", &other, ask(now)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.code(), "device_unauthorized");
    let r = pam(&gw, "/api/v1/pam/authenticate", "", ask(now)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // A device clock ten minutes off: refused and audited.
    let r = pam(&gw, "/api/v1/pam/authenticate", &cred, ask(now - 600)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["result"], "deny");
    assert_eq!(r.body["reason"], "clock_skew");
    assert!(r.body["message"].as_str().unwrap().contains("時刻"));
    let kinds = gw.audit_kinds().await;
    assert!(kinds.iter().any(|(k, s, d)| k == "device_auth_failed"
        && s == "device:srv-a"
        && d["reason"] == "wrong_credential"));
    assert!(kinds.iter().any(|(_, _, d)| d["reason"] == "clock_skew"));
    // The device flow applies the same check, in the same place.
    let skewed = start(&gw, &cred, now - 600).await;
    assert_eq!(skewed.body["reason"], "clock_skew", "{}", skewed.body);
    let audited = gw
        .audit_kinds()
        .await
        .iter()
        .filter(|(_, _, d)| d["reason"] == "clock_skew")
        .count();
    assert_eq!(audited, 2, "both refusals are audited");

    // The device flow: a code, approved with the key on the portal's API, polled.
    let s = start(&gw, &cred, now).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    let code = s.body["user_code"].as_str().unwrap().to_owned();
    let flow = s.body["flow_id"].as_str().unwrap().to_owned();
    assert_eq!(s.body["expires_in"], 120);
    assert!(
        s.body["verification_uri"]
            .as_str()
            .unwrap()
            .ends_with("/device")
    );
    assert_eq!(
        poll(&gw, &cred, "srv-a", &flow).await.body["result"],
        "pending"
    );

    // Typed in lower case with a full-width hyphen: the same code.
    let typed = code.to_lowercase().replace('-', "－");
    let c = gw
        .call(
            "POST",
            "/api/v1/device/challenge",
            "",
            Some(json!({"user_code": typed})),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    assert_eq!(c.body["pending"]["device"], "srv-a");
    assert_eq!(c.body["pending"]["from"], "192.0.2.33");
    let options: RequestChallengeResponse =
        serde_json::from_value(c.body["options"].clone()).unwrap();
    let assertion = key
        .do_authentication(crate::webauthn::origin(), options)
        .unwrap();
    let a = gw
        .call(
            "POST",
            "/api/v1/device/approve",
            "",
            Some(json!({"user_code": code, "webauthn": assertion})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["result"], "allow", "{}", a.body);
    // Another device cannot collect the answer; this one gets it once.
    assert_eq!(
        poll(&gw, &other, "srv-b", &flow).await.body["reason"],
        "expired"
    );
    let done = poll(&gw, &cred, "srv-a", &flow).await;
    assert_eq!(done.body["result"], "allow", "{}", done.body);
    assert!(done.body["amr"].as_array().unwrap().contains(&json!("hwk")));
    assert_eq!(
        poll(&gw, &cred, "srv-a", &flow).await.body["reason"],
        "expired"
    );

    // Nobody approves within 2 minutes: expired for the module and the page.
    let s = start(&gw, &cred, now).await;
    let code = s.body["user_code"].as_str().unwrap().to_owned();
    let flow = s.body["flow_id"].as_str().unwrap().to_owned();
    clock.advance(Duration::seconds(121));
    assert_eq!(
        poll(&gw, &cred, "srv-a", &flow).await.body["reason"],
        "expired"
    );
    let c = gw
        .call(
            "POST",
            "/api/v1/device/challenge",
            "",
            Some(json!({"user_code": code})),
        )
        .await;
    assert_eq!(c.status, StatusCode::NOT_FOUND, "{}", c.body);
    assert_eq!(c.code(), "device_code_invalid");
}

/// Unknown codes count toward the address's limit: the code space cannot be walked.
#[tokio::test]
async fn unknown_device_codes_are_limited_per_address() {
    let env = Env::new();
    let gw = Gw::new(env.state_with("[lockout]\nip_limit = 10\n").await);
    let codes = ["BCDF-GHJK", "not a code", "ＢＣＤＦ－ＧＨＪＬ"];
    for code in codes.iter().cycle().take(10) {
        let c = gw
            .call(
                "POST",
                "/api/v1/device/challenge",
                "",
                Some(json!({"user_code": code})),
            )
            .await;
        assert_eq!(c.status, StatusCode::NOT_FOUND, "{}", c.body);
    }
    let c = gw
        .call(
            "POST",
            "/api/v1/device/challenge",
            "",
            Some(json!({"user_code": "BCDF-GHJM"})),
        )
        .await;
    assert_eq!(c.status, StatusCode::TOO_MANY_REQUESTS, "{}", c.body);
    assert_eq!(c.code(), "too_many_attempts");
    let page = gw
        .send(
            Request::get("/device?code=BCDF-GHJN")
                .body(Body::empty())
                .unwrap(),
            PROXY,
        )
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
}

/// A sign-in at a server is a sign-in: it moves the account's last sign-in (dormancy counts
/// from it), in the same commit as its audit rows.
#[tokio::test]
async fn a_sign_in_at_a_server_counts_against_dormancy() {
    let env = Env::new();
    let clock = Arc::new(sekimori::clock::ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    ));
    let gw = Gw::new(env.state_with_clock("", clock.clone()).await);
    gw.user("srv-admin", AccountType::Staff, &["it_admin"])
        .await;
    let account = gw.state.admin.find("srv-admin").await.unwrap();
    assert_eq!(account.last_login_at, None);
    let totp = crate::totp::service(&gw, &env);
    let e = totp.begin(&account, clock.now()).await.unwrap();
    let secret = e.secret_base32.expose().to_owned();
    let code = crate::totp::oathtool(&secret, clock.now());
    totp.confirm(&account, e.id.expose(), &code, "phone", clock.now())
        .await
        .unwrap()
        .unwrap();
    let cred = device(&gw, "srv-x").await;
    clock.advance(Duration::days(3));
    let at = clock.now();
    let code = crate::totp::oathtool(&secret, at);
    let r = pam(
        &gw,
        "/api/v1/pam/authenticate",
        &cred,
        json!({"device": "srv-x", "user": "srv-admin", "code": code, "time": at.timestamp()}),
    )
    .await;
    assert_eq!(r.body["result"], "allow", "{}", r.body);
    let after = gw.state.admin.find("srv-admin").await.unwrap();
    assert_eq!(after.last_login_at, Some(at));
    assert!(!after.dormant_since(at + Duration::days(89), 90));
}
