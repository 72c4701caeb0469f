//! The login flow through the router: outcomes, uniform failures, lockout by zone and by
//! address, the lockout race, sessions, and bad input.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::TimeZone as _;
use sekimori::account::AccountType;
use sekimori::clock::ManualClock;
use serde_json::json;

use crate::gateway::{FIRST, Gw, PASSWORD, PROXY};
use crate::support::Env;

#[tokio::test]
async fn first_login_changes_the_password_then_authenticates_once_per_flow() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    gw.user_with_one_time_password("sato").await;
    let r = gw.login("ＳＡＴＯ", FIRST, "192.0.2.1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["outcome"], "password_change_required");
    assert_eq!(r.body["reason"], "must_change");
    let flow = r.body["flow_id"].as_str().unwrap().to_owned();

    // A refused password spends the flow id but hands out a new one.
    let weak = gw
        .login_json(
            json!({ "flow_id": flow, "new_password": "password1" }),
            "192.0.2.1",
        )
        .await;
    assert_eq!(
        (weak.status, weak.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "password_rejected")
    );
    let again = weak.body["error"]["details"]["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let replay = gw
        .login_json(
            json!({ "flow_id": flow, "new_password": PASSWORD }),
            "192.0.2.1",
        )
        .await;
    assert_eq!(
        (replay.status, replay.code()),
        (StatusCode::UNAUTHORIZED, "flow_invalid")
    );

    let ok = gw
        .login_json(
            json!({ "flow_id": again, "new_password": PASSWORD }),
            "192.0.2.1",
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["outcome"], "authenticated");
    assert_eq!(ok.body["amr"], json!(["pwd"]));
    let set_cookie = ok.headers["set-cookie"].to_str().unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    let reused = gw
        .login_json(
            json!({ "flow_id": again, "new_password": "another-long-9-passphrase" }),
            "192.0.2.1",
        )
        .await;
    assert_eq!(
        reused.code(),
        "flow_invalid",
        "a flow id works once, also after success"
    );

    // The session answers, logout ends it.
    let cookie = ok.cookie();
    let who = gw.call("GET", "/api/v1/session", &cookie, None).await;
    assert_eq!(
        (who.status, who.body["username"].as_str()),
        (StatusCode::OK, Some("sato"))
    );
    let out = gw.call("POST", "/api/v1/logout", &cookie, None).await;
    assert!(
        out.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let who = gw.call("GET", "/api/v1/session", &cookie, None).await;
    assert_eq!(
        (who.status, who.code()),
        (StatusCode::UNAUTHORIZED, "no_session")
    );
    let kinds: Vec<String> = gw.audit_kinds().await.into_iter().map(|k| k.0).collect();
    assert!(kinds.contains(&"password_changed".to_owned()) && kinds.contains(&"logout".to_owned()));
}

#[tokio::test]
async fn unknown_wrong_and_disabled_look_the_same_and_cost_the_same() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    gw.user("tanaka", AccountType::Staff, &["nurse"]).await;
    gw.user("kimura", AccountType::Staff, &["nurse"]).await;
    gw.state
        .admin
        .disable("kimura", "left the clinic", "test")
        .await
        .unwrap();

    let mut bodies = Vec::new();
    let mut times: Vec<Vec<Duration>> = vec![vec![], vec![], vec![]];
    for round in 0..5 {
        for (i, (user, pw)) in [
            ("tanaka", "wrong-password-1"),
            ("nobody-here", "wrong-password-1"),
            ("kimura", PASSWORD),
        ]
        .into_iter()
        .enumerate()
        {
            // A fresh address each time keeps the per-address limit out of the way.
            let t = Instant::now();
            let r = gw
                .login(user, pw, &format!("198.51.100.{}", round * 10 + i))
                .await;
            times[i].push(t.elapsed());
            bodies.push((r.status, r.body));
        }
    }
    for (s, b) in &bodies {
        assert_eq!(*s, StatusCode::UNAUTHORIZED);
        assert_eq!(b, &bodies[0].1);
    }
    assert_eq!(bodies[0].1["error"]["code"], "invalid_credentials");
    // Same timing class: every path computes one argon2id hash.
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[2]
    };
    let m: Vec<Duration> = times.iter_mut().map(median).collect();
    let slowest = *m.iter().max().unwrap();
    for (i, t) in m.iter().enumerate() {
        assert!(
            *t * 3 >= slowest,
            "path {i} took {t:?} against {slowest:?}: a timing oracle"
        );
    }
}

#[tokio::test]
async fn five_failures_lock_for_existing_and_unknown_names_alike() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    gw.user("suzuki", AccountType::Staff, &["clerk"]).await;
    for user in ["suzuki", "ghost"] {
        for i in 1..=5 {
            let r = gw.login(user, "not-the-password", "203.0.113.7").await;
            assert_eq!(r.code(), "invalid_credentials", "attempt {i}");
        }
        let r = gw
            .login(
                user,
                if user == "suzuki" {
                    PASSWORD
                } else {
                    "x-password"
                },
                "203.0.113.7",
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::TOO_MANY_REQUESTS, "login_temporarily_blocked")
        );
        let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((890..=900).contains(&retry), "{retry}");
    }
    let audit = gw.audit_kinds().await;
    let locked: Vec<_> = audit.iter().filter(|a| a.0 == "account_locked").collect();
    assert_eq!(locked.len(), 2);
    assert_eq!(locked[0].2["failures_in_window"], 5);
    assert_eq!(locked[0].2["zone"], "external");
    let failure = audit.iter().find(|a| a.0 == "login_attempt").unwrap();
    assert_eq!(failure.2["consecutive_failures"], 1);
    assert!(
        audit
            .iter()
            .any(|a| a.0 == "login_blocked" && a.1 == "suzuki")
    );
}

#[tokio::test]
async fn outsiders_cannot_lock_a_clinician_out_at_the_clinic() {
    let env = Env::new();
    let gw = Gw::new(
        env.state_with("[network]\nclinic_networks = [\"10.9.0.0/16\"]\n")
            .await,
    );
    gw.user("ito", AccountType::Staff, &["doctor"]).await;
    for _ in 0..5 {
        gw.login("ito", "guess-guess-guess", "203.0.113.50").await;
    }
    assert_eq!(
        gw.login("ito", PASSWORD, "203.0.113.50").await.code(),
        "login_temporarily_blocked"
    );
    let inside = gw.login("ito", PASSWORD, "10.9.3.4").await;
    assert_eq!(inside.body["outcome"], "authenticated", "{}", inside.body);
    // Spoofed X-Forwarded-For from an untrusted peer is ignored: still the outside zone.
    let mut req = Request::post("/api/v1/login")
        .header("content-type", "application/json")
        .header("x-forwarded-for", "10.9.3.4")
        .body(Body::from(
            json!({"username": "ito", "password": PASSWORD}).to_string(),
        ))
        .unwrap();
    req.headers_mut()
        .insert("x-real-ip", "10.9.3.4".parse().unwrap());
    assert_eq!(
        gw.send(req, [203, 0, 113, 50]).await.code(),
        "login_temporarily_blocked"
    );
}

#[tokio::test]
async fn one_address_cannot_spray_many_usernames() {
    let env = Env::new();
    let gw = Gw::new(env.state_with("[lockout]\nip_limit = 10\n").await);
    for i in 0..10 {
        let r = gw
            .login(&format!("user{i}"), "Spring2026!", "203.0.113.99")
            .await;
        assert_eq!(r.code(), "invalid_credentials");
    }
    let r = gw.login("user-next", "Spring2026!", "203.0.113.99").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "login_temporarily_blocked")
    );
    assert_eq!(
        gw.login("user-next", "Spring2026!", "203.0.113.100")
            .await
            .code(),
        "invalid_credentials"
    );
}

/// 200 parallel wrong attempts on one account compute exactly `threshold` hashes.
pub async fn race(gws: &[Gw], user: &str) -> (u64, usize) {
    let before: u64 = gws
        .iter()
        .map(|g| g.state.passwords.hasher().computed())
        .sum();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let app = gws[i % gws.len()].app.clone();
        let state = gws[i % gws.len()].state.clone();
        let user = user.to_owned();
        tasks.push(tokio::spawn(async move {
            let gw = Gw { state, app };
            gw.login(
                &user,
                "wrong-wrong-wrong",
                &format!("198.18.{}.{}", i / 200, i % 200 + 1),
            )
            .await
            .status
        }));
    }
    let mut unauthorized = 0;
    for t in tasks {
        if t.await.unwrap() == StatusCode::UNAUTHORIZED {
            unauthorized += 1;
        }
    }
    let after: u64 = gws
        .iter()
        .map(|g| g.state.passwords.hasher().computed())
        .sum();
    (after - before, unauthorized)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_attempts_compute_at_most_threshold_hashes() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    gw.user("race", AccountType::Staff, &["nurse"]).await;
    let (hashes, failed) = race(std::slice::from_ref(&gw), "race").await;
    assert_eq!(
        (hashes, failed),
        (5, 5),
        "the slot is reserved before hashing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gateways_sharing_redis_compute_threshold_hashes_together() {
    let redis = crate::redis_server::RedisServer::start();
    let extra = format!(
        "[state]\nbackend = \"redis\"\nredis_url = \"{}\"\n",
        redis.url()
    );
    let env = Env::new();
    let a = Gw::new(env.state_with(&extra).await);
    a.user("shared", AccountType::Staff, &["nurse"]).await;
    let b = Gw::new(env.state_with(&extra).await);
    let (hashes, failed) = race(&[a, b], "shared").await;
    assert_eq!((hashes, failed), (5, 5));
}

#[tokio::test]
async fn a_hundred_failures_need_an_administrator_who_gives_a_reason() {
    let env = Env::new();
    let clock = Arc::new(ManualClock::new(
        chrono::Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    ));
    let gw = Gw::new(
        env.state_with_clock("[lockout]\nip_limit = 100000\n", clock.clone())
            .await,
    );
    gw.user("mori", AccountType::Staff, &["nurse"]).await;
    let mut failures = 0;
    while failures < 100 {
        let r = gw.login("mori", "wrong-wrong-wrong", "203.0.113.1").await;
        match r.code() {
            "invalid_credentials" => failures += 1,
            "login_temporarily_blocked" => {
                let s: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
                clock.advance(chrono::Duration::seconds(s + 1));
            }
            other => panic!("{other}"),
        }
    }
    clock.advance(chrono::Duration::days(30));
    assert_eq!(
        gw.login("mori", PASSWORD, "203.0.113.1").await.code(),
        "login_temporarily_blocked"
    );
    let (_, zones) = gw.state.admin.lock_state("mori").await.unwrap();
    assert!(zones.iter().any(|z| z.admin_unlock_required));
    assert!(
        gw.state.admin.unlock("mori", "  ", "admin").await.is_err(),
        "a reason is required"
    );
    gw.state
        .admin
        .unlock("mori", "本人確認済み (phone)", "admin")
        .await
        .unwrap();
    assert_eq!(
        gw.login("mori", PASSWORD, "203.0.113.1").await.body["outcome"],
        "authenticated"
    );
    let audit = gw.audit_kinds().await;
    let unlock = audit.iter().find(|a| a.0 == "account_unlocked").unwrap();
    assert_eq!(unlock.2["reason"], "本人確認済み (phone)");
    assert!(
        audit
            .iter()
            .any(|a| a.0 == "account_locked" && a.2["admin_unlock_required"] == true)
    );
}

#[tokio::test]
async fn sessions_end_on_logout_password_change_disable_and_absolute_timeout() {
    let env = Env::new();
    let clock = Arc::new(ManualClock::new(
        chrono::Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    ));
    let gw = Gw::new(env.state_with_clock("", clock.clone()).await);
    gw.user("abe", AccountType::Staff, &["nurse"]).await;
    let who = |c: String| {
        Request::get("/api/v1/session")
            .header("cookie", c)
            .body(Body::empty())
            .unwrap()
    };
    let a = gw.session("abe").await;
    let b = gw.session("abe").await;
    assert_ne!(a, b, "every login gets a new id");
    let (_, list) = gw.state.admin.sessions("abe").await.unwrap();
    assert_eq!(list.len(), 2);
    // Admin revokes everything.
    assert_eq!(
        gw.state
            .admin
            .revoke_sessions("abe", None, "lost badge", "admin")
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        gw.send(who(a), PROXY).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Absolute timeout: 12 hours, however active the session is.
    let d = gw.session("abe").await;
    clock.advance(chrono::Duration::hours(11));
    assert_eq!(gw.send(who(d.clone()), PROXY).await.status, StatusCode::OK);
    clock.advance(chrono::Duration::hours(1));
    assert_eq!(
        gw.send(who(d), PROXY).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A password change ends the other sessions.
    let e = gw.session("abe").await;
    gw.state
        .admin
        .change_own_password("abe", &PASSWORD.into(), &"violet-canyon-8-pebble".into())
        .await
        .unwrap();
    assert_eq!(
        gw.send(who(e), PROXY).await.status,
        StatusCode::UNAUTHORIZED
    );
    gw.state
        .admin
        .change_own_password(
            "abe",
            &"violet-canyon-8-pebble".into(),
            &"copper-meadow-2-falcon".into(),
        )
        .await
        .unwrap();
    // Disable ends sessions too.
    let r = gw
        .login("abe", "copper-meadow-2-falcon", "192.0.2.10")
        .await;
    let c = r.cookie();
    gw.state
        .admin
        .disable("abe", "leave", "admin")
        .await
        .unwrap();
    assert_eq!(
        gw.send(who(c), PROXY).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Garbage and oversized cookies are simply no session.
    for junk in [
        "sekimori_session=",
        "sekimori_session=%00%ff",
        &format!("sekimori_session={}", "A".repeat(8000)),
    ] {
        let r = gw.send(who(junk.to_owned()), PROXY).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "no_session")
        );
    }
}

#[tokio::test]
async fn policy_outcomes_reach_the_client() {
    let env = Env::new();
    let dir = env.dir.path().join("policies");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("clerks.cedar"),
        "@id(\"no-clerks-on-the-lab-server\")\nforbid (principal, action == Sekimori::Action::\"issue_session\", resource == Sekimori::System::\"lab\")\nwhen { principal.roles.contains(\"clerk\") };\n",
    )
    .unwrap();
    let extra = format!(
        "[policy]\ndir = \"{}\"\n[systems.lab]\nkind = \"web\"\nhosts = [\"lab.clinic.example\"]\n",
        dir.display()
    );
    let gw = Gw::new(env.state_with(&extra).await);
    gw.user("clerk1", AccountType::Staff, &["clerk"]).await;
    gw.user("root1", AccountType::Admin, &["it_admin"]).await;
    let r = gw
        .login_json(
            json!({"username": "clerk1", "password": PASSWORD, "system": "lab"}),
            "192.0.2.5",
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "denied"));
    assert_eq!(
        r.body["error"]["details"]["policy_ids"],
        json!(["no-clerks-on-the-lab-server"])
    );
    // An administrator without a second factor enrols one before the first session.
    let r = gw.login("root1", PASSWORD, "192.0.2.5").await;
    assert_eq!(r.body["outcome"], "enrolment_required", "{}", r.body);
    assert_eq!(r.body["kinds"], json!(["possession", "inherence"]));
    assert_eq!(r.body["flow_id"].as_str().unwrap().len(), 43);
    let r = gw
        .login_json(
            json!({"username": "clerk1", "password": PASSWORD, "system": "nope"}),
            "192.0.2.5",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let audit = gw.audit_kinds().await;
    assert!(
        audit
            .iter()
            .any(|a| a.2["policy_ids"] == json!(["no-clerks-on-the-lab-server"]))
    );
}

#[tokio::test]
async fn a_breached_password_must_be_changed_even_when_correct() {
    let env = Env::new();
    let list = env.dir.path().join("breached.txt");
    std::fs::write(&list, format!("{PASSWORD}\nanother\n")).unwrap();
    let filter = env.dir.path().join("breach.bin");
    let out = env.run(
        &[
            "breach",
            "build",
            "--input",
            list.to_str().unwrap(),
            "--output",
            filter.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", crate::support::text(&out));
    // The account's password was accepted before the filter existed.
    let gw = Gw::new(env.state().await);
    gw.user("okada", AccountType::Staff, &["nurse"]).await;
    let gw = Gw::new(
        env.state_with(&format!(
            "[password]\nbreach_filter_file = \"{}\"\n",
            filter.display()
        ))
        .await,
    );
    let r = gw.login("okada", PASSWORD, "192.0.2.8").await;
    assert_eq!(
        (r.body["outcome"].as_str(), r.body["reason"].as_str()),
        (Some("password_change_required"), Some("breached"))
    );
}

#[tokio::test]
async fn bad_input_gets_precise_codes() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    let raw = |body: String| {
        Request::post("/api/v1/login")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    for (body, status, code) in [
        (
            json!({"username": "a".repeat(10_000), "password": "x"}).to_string(),
            422,
            "username_too_long",
        ),
        (
            json!({"username": "a\u{0}b", "password": "x"}).to_string(),
            422,
            "username_control_character",
        ),
        (
            r#"{"username": "\ud800", "password": "x"}"#.to_owned(),
            400,
            "invalid_json",
        ),
        (
            json!({"username": 5, "password": "x"}).to_string(),
            422,
            "invalid_field",
        ),
        (json!({"username": "a"}).to_string(), 422, "invalid_field"),
        (
            json!({"username": "a", "password": ""}).to_string(),
            422,
            "invalid_field",
        ),
        (
            json!({"username": "a", "password": "x", "admin": true}).to_string(),
            422,
            "invalid_field",
        ),
        (
            json!({"flow_id": "x", "new_password": "y"}).to_string(),
            401,
            "flow_invalid",
        ),
        (
            json!({"username": "a", "password": "x".repeat(20_000)}).to_string(),
            413,
            "payload_too_large",
        ),
        (
            json!({"username": "a", "password": "x", "return_to": "https://evil.example/"})
                .to_string(),
            422,
            "invalid_return_to",
        ),
        ("{".to_owned(), 400, "invalid_json"),
    ] {
        let r = gw.send(raw(body.clone()), PROXY).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, code),
            "{}",
            &body[..body.len().min(80)]
        );
    }
}

#[tokio::test]
async fn a_redis_outage_fails_closed_with_503() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = Env::new();
    let ok = Gw::new(env.state().await);
    ok.user("nakamura", AccountType::Staff, &["nurse"]).await;
    let gw = Gw::new(
        env.state_with(&format!(
            "[state]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:{port}/\"\n[systems.emr]\nkind = \"web\"\nhosts = [\"emr.clinic.example\"]\n"
        ))
        .await,
    );
    let r = gw.login("nakamura", PASSWORD, "192.0.2.9").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "state_unavailable")
    );
    assert!(r.headers.get("set-cookie").is_none());
    let r = gw
        .send(
            Request::get("/api/v1/authz/auth-request")
                .header("x-original-url", "https://emr.clinic.example/")
                .header("x-original-method", "GET")
                .header("cookie", format!("sekimori_session={}", "A".repeat(43)))
                .body(Body::empty())
                .unwrap(),
            PROXY,
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let ready = gw
        .send(Request::get("/readyz").body(Body::empty()).unwrap(), PROXY)
        .await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn administrators_unlock_and_revoke_through_the_api() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    gw.user("itadmin", AccountType::Staff, &["it_admin"]).await;
    gw.user("nurse2", AccountType::Staff, &["nurse"]).await;
    let admin = gw.session("itadmin").await;
    let nurse = gw.session("nurse2").await;
    for _ in 0..5 {
        gw.login("nurse2", "wrong-wrong-wrong", "203.0.113.3").await;
    }
    let base = "/api/v1/admin/accounts";
    let lock = gw
        .call("GET", &format!("{base}/nurse2/lock"), &admin, None)
        .await;
    assert_eq!(lock.status, StatusCode::OK, "{}", lock.body);
    assert_eq!(lock.body["zones"][1]["zone"], "external");
    assert!(lock.body["zones"][1]["locked_until"].is_string());
    for (who, name, reason, status, code) in [
        (
            &nurse,
            "nurse2",
            "x",
            StatusCode::FORBIDDEN,
            "not_an_administrator",
        ),
        (
            &admin,
            "nurse2",
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason_required",
        ),
        (
            &admin,
            "nobody",
            "x",
            StatusCode::NOT_FOUND,
            "account_not_found",
        ),
        (
            &admin,
            "a%00b",
            "x",
            StatusCode::UNPROCESSABLE_ENTITY,
            "username_control_character",
        ),
    ] {
        let path = format!("{base}/{name}/unlock");
        let r = gw
            .call("POST", &path, who, Some(json!({ "reason": reason })))
            .await;
        assert_eq!((r.status, r.code()), (status, code), "{name} {reason:?}");
    }
    // Full-width ＮＵＲＳＥ２ names the same account.
    let fullwidth = "%EF%BC%AE%EF%BC%B5%EF%BC%B2%EF%BC%B3%EF%BC%A5%EF%BC%92";
    let r = gw
        .call(
            "POST",
            &format!("{base}/{fullwidth}/unlock"),
            &admin,
            Some(json!({"reason": "電話で本人確認"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        gw.login("nurse2", PASSWORD, "203.0.113.3").await.body["outcome"],
        "authenticated"
    );
    let list = gw
        .call("GET", &format!("{base}/nurse2/sessions"), &admin, None)
        .await;
    assert_eq!(list.body["sessions"].as_array().unwrap().len(), 2);
    let sid = list.body["sessions"][0]["sid"].as_str().unwrap().to_owned();
    let revoke = format!("{base}/nurse2/sessions/revoke");
    let r = gw
        .call(
            "POST",
            &revoke,
            &admin,
            Some(json!({"sid": sid, "reason": "shared PC"})),
        )
        .await;
    assert_eq!(r.body["sessions_ended"], 1);
    let r = gw
        .call(
            "POST",
            &revoke,
            &admin,
            Some(json!({"sid": sid, "reason": "again"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let audit = gw.audit_kinds().await;
    assert!(
        audit
            .iter()
            .any(|a| a.0 == "account_unlocked" && a.2["reason"] == "電話で本人確認")
    );
}

#[tokio::test]
async fn a_flow_ends_when_its_account_is_disabled_meanwhile() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    gw.user_with_one_time_password("ueda").await;
    let r = gw.login("ueda", FIRST, "192.0.2.30").await;
    let flow = r.body["flow_id"].as_str().unwrap().to_owned();
    gw.state
        .admin
        .disable("ueda", "left", "admin")
        .await
        .unwrap();
    let r = gw
        .login_json(
            json!({ "flow_id": flow, "new_password": PASSWORD }),
            "192.0.2.30",
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "flow_invalid")
    );
    let kinds: Vec<String> = gw.audit_kinds().await.into_iter().map(|k| k.0).collect();
    assert!(!kinds.contains(&"password_changed".to_owned()), "{kinds:?}");
}
