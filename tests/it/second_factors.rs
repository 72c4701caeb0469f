//! Second factors that are enrolled or required are asked for: the account's flag and an
//! enrolled factor each make the policy ask for a second kind at every web sign-in, before
//! and after 2027-04-01; a system relaxes that only with a recorded reason, approver and end;
//! and the password's minimum follows: a password that became too short for an account that
//! may sign in with it alone must be changed at the next sign-in (`too_short`).

use axum::http::StatusCode;
use chrono::{Duration, TimeZone, Utc};
use sekimori::account::AccountType;
use sekimori::clock::Clock as _;
use serde_json::json;

use crate::factors::{clock_at, enrol_totp};
use crate::gateway::{Gw, PASSWORD, Reply};
use crate::support::{Env, text};
use crate::totp::oathtool;

const CLIENT: &str = "192.0.2.77";
/// Ten characters: enough with a second factor (minimum 8), too short without (15). (Eight
/// random characters are not enough for zxcvbn's score 3, so the floor itself is out of reach.)
const SHORT: &str = "Kq7#vX2mPa";

const SYSTEMS: &str = "[systems.emr]\nkind = \"web\"\nhosts = [\"emr.clinic.example\"]\n\
    [systems.legacy]\nkind = \"web\"\nhosts = [\"legacy.clinic.example\"]\n\
    enrolled_factors_optional_until = \"2027-06-30\"\n\
    enrolled_factors_optional_reason = \"The legacy viewer cannot show a code prompt; replaced at the FY2027 renewal\"\n\
    enrolled_factors_optional_approved_by = \"情報セキュリティ責任者 佐藤\"\n";

async fn login_at(gw: &Gw, user: &str, password: &str, system: &str) -> Reply {
    gw.login_json(
        json!({ "username": user, "password": password, "system": system }),
        CLIENT,
    )
    .await
}

fn ids(r: &Reply) -> Vec<String> {
    let v = if r.body["policy_ids"].is_array() {
        &r.body["policy_ids"]
    } else {
        &r.body["error"]["details"]["policy_ids"]
    };
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A staff account whose own password is `password`.
async fn staff(gw: &Gw, name: &str, required: bool, password: &str) {
    gw.user_with(name, AccountType::Staff, &["nurse"], required, password)
        .await;
}

/// Answer a flow with the TOTP code of `secret` at `at`.
async fn code(gw: &Gw, flow: &Reply, secret: &str, at: chrono::DateTime<Utc>) -> Reply {
    gw.login_json(
        json!({ "flow_id": flow.body["flow_id"], "code": oathtool(secret, at) }),
        CLIENT,
    )
    .await
}

/// Enrol TOTP with a session and return the secret (from the confirmation's start).
async fn totp_for(gw: &Gw, cookie: &str, at: chrono::DateTime<Utc>) -> String {
    let start = gw.call("POST", "/api/v1/factors/totp", cookie, None).await;
    let secret = start.body["secret"].as_str().unwrap().to_owned();
    let r = gw
        .call(
            "POST",
            "/api/v1/factors/totp/confirm",
            cookie,
            Some(json!({
                "enrolment_id": start.body["enrolment_id"],
                "code": oathtool(&secret, at),
                "label": "phone",
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    secret
}

#[tokio::test]
async fn a_required_second_factor_is_asked_for_at_every_sign_in() {
    let env = Env::new();
    let clock = clock_at(2026, 12, 1);
    let gw = Gw::new(env.state_with_clock(SYSTEMS, clock.clone()).await);
    // The flag allows an 8-character password, and so the sign-in must ask for more.
    staff(&gw, "flagged", true, SHORT).await;
    let r = login_at(&gw, "flagged", SHORT, "emr").await;
    assert_eq!(r.body["outcome"], "enrolment_required", "{}", r.body);
    assert!(
        ids(&r).contains(&"required-second-factor".to_owned()),
        "{:?}",
        ids(&r)
    );
    assert!(r.headers.get("set-cookie").is_none());
    let flow = r.body["flow_id"].as_str().unwrap().to_owned();
    let e = enrol_totp(&gw, "", Some(&flow), "phone", clock.now()).await;
    assert_eq!(e.body["outcome"], "authenticated", "{}", e.body);
    assert_eq!(e.body["amr"], json!(["pwd", "otp"]));

    // Next time: the code, on the relaxed system too (a flag is never relaxed).
    clock.advance(Duration::minutes(2));
    for system in ["emr", "legacy", "portal"] {
        let r = login_at(&gw, "flagged", SHORT, system).await;
        assert_eq!(
            r.body["outcome"], "second_factor_required",
            "{system}: {}",
            r.body
        );
        assert_eq!(r.body["methods"], json!(["totp"]));
    }
}

#[tokio::test]
async fn enrolled_factors_are_used_before_and_after_the_deadline() {
    let env = Env::new();
    let clock = clock_at(2026, 12, 1);
    let gw = Gw::new(env.state_with_clock(SYSTEMS, clock.clone()).await);
    staff(&gw, "enrolled", false, PASSWORD).await;
    // Signed in with the password alone (no factor yet), the person enrols TOTP.
    let r = login_at(&gw, "enrolled", PASSWORD, "portal").await;
    assert_eq!(r.body["outcome"], "authenticated", "{}", r.body);
    let secret = totp_for(&gw, &r.cookie(), clock.now()).await;

    for (when, at) in [
        (
            "before 2027-04-01",
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 5, 0).unwrap(),
        ),
        (
            "from 2027-04-01",
            Utc.with_ymd_and_hms(2027, 4, 1, 0, 0, 0).unwrap(),
        ),
    ] {
        clock.set(at);
        for system in ["portal", "emr"] {
            let r = login_at(&gw, "enrolled", PASSWORD, system).await;
            assert_eq!(
                r.body["outcome"], "second_factor_required",
                "{when} {system}: {}",
                r.body
            );
            assert!(
                ids(&r).contains(&"enrolled-factors-are-used".to_owned()),
                "{when}: {:?}",
                ids(&r)
            );
            assert!(r.headers.get("set-cookie").is_none());
        }
        let r = login_at(&gw, "enrolled", PASSWORD, "emr").await;
        let done = code(&gw, &r, &secret, clock.now()).await;
        assert_eq!(
            done.body["outcome"], "authenticated",
            "{when}: {}",
            done.body
        );
        assert_eq!(done.body["acr"], "aal2");
    }
}

#[tokio::test]
async fn a_relaxation_is_per_system_recorded_and_ends() {
    let env = Env::new();
    std::fs::write(env.config_path(), env.config_toml(SYSTEMS)).unwrap();
    let clock = clock_at(2026, 12, 1);
    let gw = Gw::new(env.state_with_clock(SYSTEMS, clock.clone()).await);
    staff(&gw, "legacy-user", false, PASSWORD).await;
    let r = login_at(&gw, "legacy-user", PASSWORD, "portal").await;
    let secret = totp_for(&gw, &r.cookie(), clock.now()).await;

    // The legacy system takes the password alone; emr does not.
    let legacy = login_at(&gw, "legacy-user", PASSWORD, "legacy").await;
    assert_eq!(legacy.body["outcome"], "authenticated", "{}", legacy.body);
    assert_eq!(legacy.body["amr"], json!(["pwd"]));
    let r = login_at(&gw, "legacy-user", PASSWORD, "emr").await;
    assert_eq!(r.body["outcome"], "second_factor_required");

    // The session made at the legacy system carries no more than that system allows: at the
    // gate of emr it is asked for the factor it skipped.
    let cookie = legacy.cookie();
    let at = |host: &str, path: &str| {
        axum::http::Request::get("/api/v1/authz/auth-request")
            .header("x-original-url", format!("https://{host}{path}"))
            .header("x-original-method", "GET")
            .header("cookie", &cookie)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let r = gw
        .send(at("legacy.clinic.example", "/view"), crate::gateway::PROXY)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = gw
        .send(at("emr.clinic.example", "/chart"), crate::gateway::PROXY)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "second_factor_required"),
        "{}",
        r.body
    );
    assert!(ids(&r).contains(&"enrolled-factors-are-used".to_owned()));
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .ends_with("&step_up=1")
    );

    // While some system relaxes the rule, an enrolled factor does not lower the minimum.
    let refused = gw
        .state
        .admin
        .change_own_password("legacy-user", &PASSWORD.into(), &SHORT.into())
        .await;
    assert!(
        matches!(&refused, Err(sekimori::error::Error::PasswordRejected(r)) if r.iter().any(|x| x.code() == "too_short")),
        "{refused:?}"
    );

    // `policy explain` shows the relaxation with its reason, approver and end.
    let o = env.run(
        &[
            "policy",
            "explain",
            "--user",
            "legacy-user",
            "--system",
            "legacy",
            "--at",
            "2026-12-02",
        ],
        None,
    );
    let out = text(&o);
    assert!(out.contains("ISSUE"), "{out}");
    assert!(
        out.contains("relaxation of enrolled-factors-are-used legacy: until 2027-06-30"),
        "{out}"
    );
    assert!(out.contains("情報セキュリティ責任者 佐藤"), "{out}");

    // After its end the legacy system asks for the code too.
    clock.set(Utc.with_ymd_and_hms(2027, 6, 30, 15, 0, 0).unwrap());
    let r = login_at(&gw, "legacy-user", PASSWORD, "legacy").await;
    assert_eq!(r.body["outcome"], "second_factor_required", "{}", r.body);
    let done = code(&gw, &r, &secret, clock.now()).await;
    assert_eq!(done.body["outcome"], "authenticated");
}

#[tokio::test]
async fn a_password_too_short_for_one_factor_must_change_at_the_next_sign_in() {
    let env = Env::new();
    let clock = clock_at(2026, 12, 1);
    let gw = Gw::new(env.state_with_clock("", clock.clone()).await);
    staff(&gw, "short-pw", false, PASSWORD).await;
    // Without a factor, eight characters are refused.
    let r = gw
        .state
        .admin
        .change_own_password("short-pw", &PASSWORD.into(), &SHORT.into())
        .await;
    assert!(
        matches!(r, Err(sekimori::error::Error::PasswordRejected(_))),
        "{r:?}"
    );
    // With an enrolled factor (always used), they are enough.
    let s = login_at(&gw, "short-pw", PASSWORD, "portal").await;
    let secret = totp_for(&gw, &s.cookie(), clock.now()).await;
    gw.state
        .admin
        .change_own_password("short-pw", &PASSWORD.into(), &SHORT.into())
        .await
        .unwrap();
    clock.advance(Duration::minutes(1));
    let r = login_at(&gw, "short-pw", SHORT, "portal").await;
    let done = code(&gw, &r, &secret, clock.now()).await;
    assert_eq!(done.body["outcome"], "authenticated", "{}", done.body);

    // The helpdesk removes the factors (a lost phone): the short password now stands alone.
    let o = env.run(
        &[
            "user",
            "reset-factors",
            "short-pw",
            "--reason",
            "lost phone",
            "--identity-check",
            "staff card",
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let r = login_at(&gw, "short-pw", SHORT, "portal").await;
    assert_eq!(
        (r.body["outcome"].as_str(), r.body["reason"].as_str()),
        (Some("password_change_required"), Some("too_short")),
        "{}",
        r.body
    );
    assert!(r.headers.get("set-cookie").is_none());
    let again = gw
        .login_json(
            json!({ "flow_id": r.body["flow_id"], "new_password": "Zp4!wQ8rNu" }),
            CLIENT,
        )
        .await;
    assert_eq!(again.code(), "password_rejected", "{}", again.body);
    let reasons = again.body["error"]["details"]["reasons"].to_string();
    assert!(reasons.contains("too_short"), "{reasons}");
    let done = gw
        .login_json(
            json!({ "flow_id": again.body["error"]["details"]["flow_id"], "new_password": "harbor-violet-58-quill" }),
            CLIENT,
        )
        .await;
    assert_eq!(done.body["outcome"], "authenticated", "{}", done.body);
    let audit = gw.audit_kinds().await;
    assert!(audit.iter().any(|(k, s, d)| k == "login_attempt"
        && s == "short-pw"
        && d["password_state"] == "too_short"));
}

#[tokio::test]
async fn dropping_the_flag_shortens_nothing_but_asks_for_a_longer_password() {
    let env = Env::new();
    let gw = Gw::new(env.state_with("").await);
    staff(&gw, "flag-off", true, SHORT).await;
    let r = login_at(&gw, "flag-off", SHORT, "portal").await;
    assert_eq!(r.body["outcome"], "enrolment_required", "{}", r.body);
    let o = env.run(
        &[
            "user",
            "second-factor",
            "flag-off",
            "optional",
            "--reason",
            "moved to a role without remote access",
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let r = login_at(&gw, "flag-off", SHORT, "portal").await;
    assert_eq!(r.body["reason"], "too_short", "{}", r.body);
    let audit = gw.audit_kinds().await;
    assert!(audit.iter().any(|(k, s, d)| k == "admin_action"
        && s == "flag-off"
        && d["action"] == "second_factor_required"
        && d["after"] == false));
    // And the other way: required again, the 8 characters are enough, with a factor.
    let o = env.run(
        &[
            "user",
            "second-factor",
            "flag-off",
            "required",
            "--reason",
            "remote access again",
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let r = login_at(&gw, "flag-off", SHORT, "portal").await;
    assert_eq!(r.body["outcome"], "enrolment_required", "{}", r.body);
}
