//! Factor management around the ceremonies: privileged accounts enrol before their first
//! session, reminders and the grace count, recovery codes, removing one's own factors after
//! re-authentication (never the last one an account needs), and the helpdesk reset.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, TimeZone, Utc};
use sekimori::account::AccountType;
use sekimori::clock::Clock as _;
use serde_json::json;

use crate::gateway::{Gw, PASSWORD, Reply};
use crate::support::{Env, text};
use crate::totp::oathtool;

const CLIENT: &str = "192.0.2.90";

/// Enrol a TOTP factor (with a session cookie, or inside a login flow) and confirm it with
/// the code oathtool gives at `at`: the confirmation's reply.
pub async fn enrol_totp(
    gw: &Gw,
    cookie: &str,
    flow: Option<&str>,
    label: &str,
    at: DateTime<Utc>,
) -> Reply {
    let start = flow.map(|f| json!({ "flow_id": f }));
    let e = gw.call("POST", "/api/v1/factors/totp", cookie, start).await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.body);
    let mut body = json!({
        "enrolment_id": e.body["enrolment_id"],
        "code": oathtool(e.body["secret"].as_str().unwrap(), at),
        "label": label,
    });
    if flow.is_some() {
        body["flow_id"] = e.body["flow_id"].clone();
    }
    gw.call("POST", "/api/v1/factors/totp/confirm", cookie, Some(body))
        .await
}

pub fn clock_at(y: i32, m: u32, d: u32) -> Arc<sekimori::clock::ManualClock> {
    Arc::new(sekimori::clock::ManualClock::new(
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap(),
    ))
}

#[tokio::test]
async fn an_administrator_enrols_before_the_first_session() {
    let env = Env::new();
    let clock = clock_at(2026, 12, 1);
    let gw = Gw::new(env.state_with_clock("", clock.clone()).await);
    gw.user("it-yamada", AccountType::Admin, &["it_admin"])
        .await;
    let r = gw.login("it-yamada", PASSWORD, CLIENT).await;
    assert_eq!(r.body["outcome"], "enrolment_required", "{}", r.body);
    assert!(r.headers.get("set-cookie").is_none(), "no session yet");
    let flow = r.body["flow_id"].as_str().unwrap();

    // The flow id stands in for the session while enrolling.
    let e = gw
        .call(
            "POST",
            "/api/v1/factors/totp",
            "",
            Some(json!({ "flow_id": flow })),
        )
        .await;
    assert_eq!(e.status, StatusCode::OK, "{}", e.body);
    assert!(e.body["qr_svg"].as_str().unwrap().starts_with("<?xml"));
    let secret = e.body["secret"].as_str().unwrap();
    let flow = e.body["flow_id"].as_str().unwrap();
    let t = clock.now();
    let r = gw
        .call(
            "POST",
            "/api/v1/factors/totp/confirm",
            "",
            Some(json!({
                "enrolment_id": e.body["enrolment_id"],
                "code": "000000",
                "flow_id": flow,
            })),
        )
        .await;
    assert_eq!(r.code(), "invalid_code", "{}", r.body);
    let flow = r.body["error"]["details"]["flow_id"].as_str().unwrap();
    let r = gw
        .call(
            "POST",
            "/api/v1/factors/totp/confirm",
            "",
            Some(json!({
                "enrolment_id": e.body["enrolment_id"],
                "code": oathtool(secret, t),
                "label": "管理用スマホ",
                "flow_id": flow,
            })),
        )
        .await;
    assert_eq!(r.body["outcome"], "authenticated", "{}", r.body);
    assert_eq!(r.body["amr"], json!(["pwd", "otp"]));
    assert!(r.headers.get("set-cookie").is_some());
    // With one factor, the enrolment flow is closed to this account.
    let again = gw.login("it-yamada", PASSWORD, CLIENT).await;
    assert_eq!(again.body["outcome"], "second_factor_required");
    let r = gw
        .call(
            "POST",
            "/api/v1/factors/totp",
            "",
            Some(json!({ "flow_id": again.body["flow_id"] })),
        )
        .await;
    assert_eq!(r.code(), "flow_invalid", "{}", r.body);
}

#[tokio::test]
async fn staff_are_reminded_then_enrol_once_the_grace_is_used() {
    let env = Env::new();
    let gw = Gw::new(
        env.state_with_clock(
            "[factors]\nenrolment_grace_logins = 2\n",
            clock_at(2026, 12, 1),
        )
        .await,
    );
    gw.user("nurse-ono", AccountType::Staff, &["nurse"]).await;
    for left in [1, 0] {
        let r = gw.login("nurse-ono", PASSWORD, CLIENT).await;
        assert_eq!(r.body["outcome"], "authenticated", "{}", r.body);
        let n = &r.body["notices"][0];
        assert_eq!(n["notice"], "enrolment_recommended");
        assert_eq!(n["grace_remaining"], left);
        assert!(
            n["required_from"]
                .as_str()
                .unwrap()
                .starts_with("2027-04-01")
        );
    }
    let r = gw.login("nurse-ono", PASSWORD, CLIENT).await;
    assert_eq!(r.body["outcome"], "enrolment_required", "{}", r.body);
    assert_eq!(r.body["policy_ids"], json!(["enrolment-after-grace"]));
}

#[tokio::test]
async fn recovery_codes_stand_in_once_each_and_warn_when_few_remain() {
    let env = Env::new();
    let clock = clock_at(2027, 5, 1);
    let gw = Gw::new(
        env.state_with_clock("[systems.ward-pc]\nkind = \"terminal\"\n", clock.clone())
            .await,
    );
    gw.user("rec", AccountType::Staff, &["nurse"]).await;
    let cookie = gw.session("rec").await;
    let r = gw
        .call("POST", "/api/v1/factors/recovery-codes", &cookie, None)
        .await;
    assert_eq!(r.code(), "no_second_factor", "{}", r.body);
    let c = enrol_totp(&gw, &cookie, None, "phone", clock.now()).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    let r = gw
        .call("POST", "/api/v1/factors/recovery-codes", &cookie, None)
        .await;
    let codes: Vec<String> = r.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let list = gw.call("GET", "/api/v1/factors", &cookie, None).await;
    assert_eq!(list.body["recovery_codes_remaining"], 10);
    assert!(!list.body.to_string().contains(&codes[0]));

    let login = || async {
        let r = gw
            .login_json(
                json!({ "username": "rec", "password": PASSWORD, "system": "ward-pc" }),
                CLIENT,
            )
            .await;
        assert_eq!(r.body["outcome"], "second_factor_required", "{}", r.body);
        assert_eq!(r.body["methods"], json!(["totp", "recovery_code"]));
        r.body["flow_id"].as_str().unwrap().to_owned()
    };
    let recover = |code: &str| {
        let body = json!({ "recovery_code": code });
        let (gw, login) = (&gw, &login);
        async move {
            let mut body = body;
            body["flow_id"] = json!(login().await);
            gw.login_json(body, CLIENT).await
        }
    };
    // Typed from paper in full-width capitals: still the code.
    let full_width: String = codes[0]
        .to_uppercase()
        .chars()
        .map(|c| match c {
            '-' => '－',
            c if c.is_ascii_digit() => char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap(),
            c => char::from_u32(c as u32 - 'A' as u32 + 0xFF21).unwrap(),
        })
        .collect();
    let r = recover(&full_width).await;
    assert_eq!(r.body["outcome"], "authenticated", "{}", r.body);
    let r = recover(&codes[0]).await;
    assert_eq!(r.code(), "invalid_recovery_code", "{}", r.body);
    let r = recover("abc").await;
    assert_eq!(r.code(), "recovery_code_malformed", "{}", r.body);
    for c in &codes[1..8] {
        let r = recover(c).await;
        assert_eq!(r.body["outcome"], "authenticated", "{}", r.body);
    }
    let r = recover(&codes[8]).await;
    let notices = r.body["notices"].as_array().unwrap();
    assert!(
        notices.contains(&json!({ "notice": "recovery_codes_low", "remaining": 1 })),
        "{notices:?}"
    );
    // Refused input is audited too: a malformed answer (named by its flow's account) and an
    // unknown flow id.
    let r = gw
        .login_json(
            json!({ "flow_id": "x".repeat(43), "code": "123456" }),
            CLIENT,
        )
        .await;
    assert_eq!(r.code(), "flow_invalid");
    let audit = gw.audit_kinds().await;
    let refused: Vec<(&str, &str)> = audit
        .iter()
        .filter(|(k, _, d)| k == "login_attempt" && d["step"] == "second_factor")
        .filter_map(|(_, _, d)| Some((d["reason"].as_str()?, d["method"].as_str()?)))
        .collect();
    assert!(
        refused.contains(&("recovery_code_malformed", "recovery_code")),
        "{refused:?}"
    );
    assert!(refused.contains(&("flow_invalid", "totp")), "{refused:?}");
}

#[tokio::test]
async fn own_factors_are_removed_after_reauthentication_but_not_the_last_needed_one() {
    let env = Env::new();
    let clock = clock_at(2026, 12, 1);
    let gw = Gw::new(env.state_with_clock("", clock.clone()).await);
    gw.user("own", AccountType::Staff, &["nurse"]).await;
    let cookie = gw.session("own").await;
    let enrol = |cookie: String, label: &'static str, at: DateTime<Utc>| {
        let gw = &gw;
        async move {
            let r = enrol_totp(gw, &cookie, None, label, at).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            r.body["factor_id"].as_i64().unwrap()
        }
    };
    let first = enrol(cookie.clone(), "phone", clock.now()).await;
    let r = gw
        .call(
            "PATCH",
            &format!("/api/v1/factors/{first}"),
            &cookie,
            Some(json!({ "label": "古い電話" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let path = format!("/api/v1/factors/{first}");
    let r = gw
        .call(
            "DELETE",
            &path,
            &cookie,
            Some(json!({ "password": "wrong-password-1" })),
        )
        .await;
    assert_eq!(r.code(), "reauthentication_failed");
    // Before 2027-04-01 a staff account may go back to no second factor.
    let r = gw
        .call(
            "DELETE",
            &path,
            &cookie,
            Some(json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // After the deadline, the last factor stays until another one is enrolled.
    clock.advance(Duration::days(200));
    let cookie = gw.session("own").await;
    let only = enrol(cookie.clone(), "phone", clock.now()).await;
    let path = format!("/api/v1/factors/{only}");
    let r = gw
        .call(
            "DELETE",
            &path,
            &cookie,
            Some(json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "last_factor"),
        "{}",
        r.body
    );
    clock.advance(Duration::seconds(60));
    enrol(cookie.clone(), "tablet", clock.now()).await;
    let r = gw
        .call(
            "DELETE",
            &path,
            &cookie,
            Some(json!({ "password": PASSWORD })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let kinds: Vec<String> = gw
        .audit_kinds()
        .await
        .into_iter()
        .map(|(k, _, _)| k)
        .collect();
    assert!(kinds.contains(&"factor_removed".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn the_helpdesk_lists_and_resets_factors_with_a_reason_and_an_identity_check() {
    let env = Env::new();
    let clock = clock_at(2026, 12, 1);
    let gw = Gw::new(env.state_with_clock("", clock.clone()).await);
    gw.user("lost-phone", AccountType::Staff, &["nurse"]).await;
    let cookie = gw.session("lost-phone").await;
    let r = enrol_totp(&gw, &cookie, None, "phone", clock.now()).await;
    assert_eq!(r.status, StatusCode::OK);

    // The CLI shows it; an API reset without an identity check is refused.
    let out = env.run(&["user", "factors", "lost-phone"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("totp"), "{}", text(&out));
    gw.user("helpdesk", AccountType::Admin, &["it_admin"]).await;
    let admin = {
        // An administrator signs in with a factor of their own.
        let r = gw.login("helpdesk", PASSWORD, CLIENT).await;
        let flow = r.body["flow_id"].as_str().unwrap();
        let r = enrol_totp(&gw, "", Some(flow), "phone", clock.now()).await;
        assert_eq!(r.body["outcome"], "authenticated", "{}", r.body);
        r.cookie()
    };
    let path = "/api/v1/admin/accounts/lost-phone/factors/reset";
    let r = gw
        .call(
            "POST",
            path,
            &admin,
            Some(json!({ "reason": "紛失", "identity_check": " " })),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = gw
        .call(
            "POST",
            path,
            &admin,
            Some(json!({ "reason": "スマートフォン紛失", "identity_check": "職員証を窓口で確認" })),
        )
        .await;
    assert_eq!(r.body["removed"], 1, "{}", r.body);
    let list = gw
        .call(
            "GET",
            "/api/v1/admin/accounts/lost-phone/factors",
            &admin,
            None,
        )
        .await;
    assert_eq!(list.body["factors"], json!([]));
    let r = gw.call("GET", "/api/v1/session", &cookie, None).await;
    assert_eq!(r.code(), "no_session", "the person's sessions ended");
    let audit = gw.audit_kinds().await;
    let reset = audit
        .iter()
        .find(|(k, _, _)| k == "factors_reset")
        .expect("audited");
    assert_eq!(reset.2["identity_check"], "職員証を窓口で確認");
    assert_eq!(reset.2["reason"], "スマートフォン紛失");
}
