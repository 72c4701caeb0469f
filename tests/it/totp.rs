//! TOTP with an independent client: codes from `oathtool` (Debian) for the secret the gateway
//! enrolled are accepted once; replays, wrong codes and malformed input are refused, also
//! across two gateways sharing one Redis.

use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use sekimori::account::AccountType;
use sekimori::clock::Clock as _;
use sekimori::error::Error;
use sekimori::totp::service::{Check, TotpService};

use crate::gateway::Gw;
use crate::support::Env;

pub fn oathtool(secret_base32: &str, at: DateTime<Utc>) -> String {
    let out = Command::new("oathtool")
        .args([
            "--totp",
            "-b",
            secret_base32,
            "-N",
            &format!("@{}", at.timestamp()),
        ])
        .output()
        .expect("oathtool must be installed (tests/run.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub fn service(gw: &Gw, env: &Env) -> TotpService {
    let key =
        TotpService::load_key(&env.dir.path().join("data/keys/factor-seal.key"), true).unwrap();
    TotpService::new(gw.state.stores.clone(), gw.state.state.clone(), key)
}

async fn enrolled(gw: &Gw, env: &Env, name: &str, now: DateTime<Utc>) -> (TotpService, String) {
    gw.user(name, AccountType::Staff, &["nurse"]).await;
    let account = gw.state.admin.find(name).await.unwrap();
    let totp = service(gw, env);
    let e = totp.begin(&account, now).await.unwrap();
    assert!(
        e.otpauth_uri
            .expose()
            .starts_with(&format!("otpauth://totp/Sekimori:{name}?"))
    );
    let secret = e.secret_base32.expose().to_owned();
    // A wrong first code does not enrol anything; the right one does, once.
    let right = oathtool(&secret, now);
    let wrong = format!(
        "{}{}",
        if right.starts_with('9') { '0' } else { '9' },
        &right[1..]
    );
    assert_eq!(
        totp.confirm(&account, e.id.expose(), &wrong, "phone", now)
            .await
            .unwrap(),
        Err(Check::Wrong)
    );
    let id = totp
        .confirm(
            &account,
            e.id.expose(),
            &oathtool(&secret, now),
            "phone",
            now,
        )
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        totp.confirm(
            &account,
            e.id.expose(),
            &oathtool(&secret, now),
            "phone",
            now
        )
        .await,
        Err(Error::FlowInvalid)
    ));
    let factors = gw
        .state
        .stores
        .factors
        .list_factors(account.id)
        .await
        .unwrap();
    assert_eq!(
        (factors.len(), factors[0].id, factors[0].label.as_str()),
        (1, id, "phone")
    );
    (totp, secret)
}

#[tokio::test]
async fn oathtool_codes_are_accepted_once() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    let now = sekimori::clock::SystemClock.now();
    let (totp, secret) = enrolled(&gw, &env, "ota", now).await;
    let id = gw.state.admin.find("ota").await.unwrap().id;
    // The enrolment's code was used: the same code again is a replay.
    assert_eq!(
        totp.check(id, &oathtool(&secret, now), now).await.unwrap(),
        Check::Replayed
    );
    let next = now + Duration::seconds(30);
    let code = oathtool(&secret, next);
    assert!(matches!(
        totp.check(id, &code, next).await.unwrap(),
        Check::Accepted(_)
    ));
    assert_eq!(totp.check(id, &code, next).await.unwrap(), Check::Replayed);
    assert_eq!(
        totp.check(id, &code, next + Duration::seconds(30))
            .await
            .unwrap(),
        Check::Replayed
    );
    let later = next + Duration::seconds(120);
    assert_eq!(
        totp.check(id, &code, later).await.unwrap(),
        Check::Wrong,
        "outside ±1 step"
    );
    for (bad, want) in [
        ("123 456", "code_has_spaces"),
        ("１２３４５６", "code_full_width"),
        ("12345", "code_wrong_length"),
        ("1234567", "code_wrong_length"),
        ("12a456", "code_not_digits"),
    ] {
        let e = totp.check(id, bad, later).await.unwrap_err();
        assert_eq!(e.code(), want, "{bad}");
    }
    let stored = gw
        .state
        .stores
        .factors
        .factor_secrets(id, "totp")
        .await
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&stored[0].1).contains(&secret),
        "the secret is sealed at rest"
    );
}

#[tokio::test]
async fn a_code_accepted_by_one_gateway_is_refused_by_another_sharing_redis() {
    let redis = crate::redis_server::RedisServer::start();
    let extra = format!(
        "[state]\nbackend = \"redis\"\nredis_url = \"{}\"\n",
        redis.url()
    );
    let env = Env::new();
    let a = Gw::new(env.state_with(&extra).await);
    let now = sekimori::clock::SystemClock.now();
    let (totp_a, secret) = enrolled(&a, &env, "shared-totp", now).await;
    let b = Gw::new(env.state_with(&extra).await);
    let totp_b = service(&b, &env);
    let id = a.state.admin.find("shared-totp").await.unwrap().id;
    let next = now + Duration::seconds(30);
    let code = oathtool(&secret, next);
    assert!(matches!(
        totp_a.check(id, &code, next).await.unwrap(),
        Check::Accepted(_)
    ));
    assert_eq!(
        totp_b.check(id, &code, next).await.unwrap(),
        Check::Replayed
    );
}

/// Through the API: enrol with the code oathtool gives, then a terminal login (two factor
/// kinds required after 2027-04-01) continues with a code; wrong codes lock the second factor.
#[tokio::test]
async fn a_terminal_login_continues_with_a_totp_code() {
    use axum::http::StatusCode;
    use serde_json::json;
    use std::sync::Arc;

    let env = Env::new();
    let t0 = chrono::TimeZone::with_ymd_and_hms(&Utc, 2027, 5, 1, 0, 0, 0).unwrap();
    let clock = Arc::new(sekimori::clock::ManualClock::new(t0));
    let gw = Gw::new(
        env.state_with_clock(
            "[systems.reception-pc]\nkind = \"terminal\"\n",
            clock.clone(),
        )
        .await,
    );
    gw.user("kondo", AccountType::Staff, &["clerk"]).await;
    let cookie = gw.session("kondo").await;
    let e = gw.call("POST", "/api/v1/factors/totp", &cookie, None).await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.body);
    let secret = e.body["secret"].as_str().unwrap().to_owned();
    let confirm = |code: String| json!({ "enrolment_id": e.body["enrolment_id"], "code": code, "label": "業務用スマホ" });
    let r = gw
        .call(
            "POST",
            "/api/v1/factors/totp/confirm",
            &cookie,
            Some(confirm("１２３４５６".into())),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "code_full_width")
    );
    let r = gw
        .call(
            "POST",
            "/api/v1/factors/totp/confirm",
            &cookie,
            Some(confirm(oathtool(&secret, t0))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = gw.call("GET", "/api/v1/factors", &cookie, None).await;
    assert_eq!(list.body["factors"][0]["label"], "業務用スマホ");
    assert!(
        !list.body.to_string().contains(&secret),
        "the secret is never returned again"
    );

    let start_body = json!({
        "username": "kondo",
        "password": crate::gateway::PASSWORD,
        "system": "reception-pc",
    });
    let r = gw.login_json(start_body.clone(), "192.0.2.44").await;
    assert_eq!(r.body["outcome"], "second_factor_required", "{}", r.body);
    let flow = r.body["flow_id"].as_str().unwrap().to_owned();
    // The enrolment's code is spent: a replay, answered as a wrong code (nothing tells the
    // holder of the password that the code was valid), with a new flow id to try again; the
    // audit log keeps the difference.
    let r = gw
        .login_json(
            json!({ "flow_id": flow, "code": oathtool(&secret, t0) }),
            "192.0.2.44",
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "invalid_code")
    );
    assert!(
        gw.audit_kinds()
            .await
            .iter()
            .any(|(k, _, d)| k == "login_attempt" && d["reason"] == "code_already_used"),
        "the audit log names the replay"
    );
    let flow = r.body["error"]["details"]["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    clock.advance(Duration::seconds(30));
    let r = gw
        .login_json(
            json!({ "flow_id": flow, "code": oathtool(&secret, t0 + Duration::seconds(30)) }),
            "192.0.2.44",
        )
        .await;
    assert_eq!(r.body["outcome"], "authenticated", "{}", r.body);
    assert_eq!(r.body["amr"], json!(["pwd", "otp"]));
    assert_eq!(r.body["acr"], "aal2");

    // Five wrong codes: the flow ends and the second factor is locked.
    let mut flow = gw.login_json(start_body.clone(), "192.0.2.44").await.body["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let right = oathtool(&secret, clock.now());
    let wrong = format!(
        "{}{}",
        if right.starts_with('9') { '0' } else { '9' },
        &right[1..]
    );
    for i in 1..=5 {
        let r = gw
            .login_json(json!({ "flow_id": flow, "code": wrong }), "192.0.2.44")
            .await;
        assert_eq!(r.code(), "invalid_code", "attempt {i}: {}", r.body);
        match r.body["error"]["details"]["flow_id"].as_str() {
            Some(f) => flow = f.to_owned(),
            None => assert_eq!(i, 5, "the flow ends at the fifth wrong code"),
        }
    }
    let f = gw.login_json(start_body.clone(), "192.0.2.44").await.body["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    clock.advance(Duration::seconds(30));
    let r = gw
        .login_json(
            json!({ "flow_id": f, "code": oathtool(&secret, clock.now()) }),
            "192.0.2.44",
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "login_temporarily_blocked")
    );
    let audit = gw.audit_kinds().await;
    assert!(
        audit
            .iter()
            .any(|a| a.0 == "account_locked" && a.2["scope"] == "second_factor")
    );
    assert!(
        audit
            .iter()
            .any(|a| a.0 == "factor_enrolled" && a.2["kind"] == "totp")
    );
}
