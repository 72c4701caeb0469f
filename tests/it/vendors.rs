//! Vendors' maintenance windows (G-18): a vendor account signs in to a system only inside an
//! approved window of that system; its session ends with the window; each sign-in, each
//! request the gate passes and the window's opening and closing are audited with the window
//! id, and the work report lists them. In-process on a clock the test moves; then from the
//! CLI, through a real nginx and a real gateway whose housekeeping runs every second; then
//! PAM sign-ins on a server with pamtester.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use sekimori::account::AccountType;
use sekimori::clock::Clock as _;
use sekimori::vendor::NewWindow;
use serde_json::json;

use crate::factors::{clock_at, enrol_totp};
use crate::gateway::{Gw, PASSWORD, PROXY};
use crate::support::{Env, text};

const SYSTEMS: &str = "[systems.emr]\nkind = \"web\"\nhosts = [\"emr.clinic.example\"]\n\
    [systems.lab]\nkind = \"web\"\nhosts = [\"lab.clinic.example\"]\n";

fn at_gate(host: &str, path: &str, cookie: &str) -> Request<Body> {
    Request::get("/api/v1/authz/auth-request")
        .header("x-original-url", format!("https://{host}{path}"))
        .header("x-original-method", "GET")
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap()
}

async fn vendor_login(gw: &Gw) -> crate::gateway::Reply {
    gw.login_json(
        json!({ "username": "maint-co", "password": PASSWORD, "system": "emr" }),
        "192.0.2.50",
    )
    .await
}

#[tokio::test]
async fn a_vendor_signs_in_only_inside_its_window_and_its_work_is_recorded() {
    let env = Env::new();
    let clock = clock_at(2026, 12, 10);
    let t0 = clock.now();
    let gw = Gw::new(env.state_with_clock(SYSTEMS, clock.clone()).await);
    gw.user("maint-co", AccountType::Vendor, &["vendor"]).await;
    let windows = &gw.state.windows;
    let w = windows
        .add(
            "maint-co",
            NewWindow {
                system: "emr".into(),
                starts_at: t0 + Duration::hours(1),
                ends_at: t0 + Duration::hours(3),
                reason: "EMR version 12.3 update".into(),
                approved_by: "情報セキュリティ責任者 佐藤".into(),
            },
            "cli:it",
        )
        .await
        .unwrap();
    // Only vendor accounts, only known systems, only sensible times.
    gw.user("nurse-x", AccountType::Staff, &["nurse"]).await;
    let bad = |system: &str, from: i64, to: i64| NewWindow {
        system: system.into(),
        starts_at: t0 + Duration::hours(from),
        ends_at: t0 + Duration::hours(to),
        reason: "x".into(),
        approved_by: "y".into(),
    };
    assert!(windows.add("nurse-x", bad("emr", 1, 2), "t").await.is_err());
    assert!(
        windows
            .add("maint-co", bad("nowhere", 1, 2), "t")
            .await
            .is_err()
    );
    assert!(
        windows
            .add("maint-co", bad("emr", 2, 1), "t")
            .await
            .is_err()
    );
    assert!(
        windows
            .add("maint-co", bad("emr", -3, -1), "t")
            .await
            .is_err()
    );

    // Before the window: no session, whatever the password.
    let r = vendor_login(&gw).await;
    assert_eq!(r.code(), "denied", "{}", r.body);
    assert!(
        r.body["error"]["details"]["policy_ids"]
            .to_string()
            .contains("vendor-accounts-inside-a-maintenance-window")
    );

    // Inside: a vendor always needs two factors; it enrols one in the flow.
    clock.set(t0 + Duration::hours(1) + Duration::minutes(5));
    let r = vendor_login(&gw).await;
    assert_eq!(r.body["outcome"], "enrolment_required", "{}", r.body);
    let flow = r.body["flow_id"].as_str().unwrap().to_owned();
    let done = enrol_totp(&gw, "", Some(&flow), "phone", clock.now()).await;
    assert_eq!(done.body["outcome"], "authenticated", "{}", done.body);
    assert_eq!(
        done.body["session"]["expires_at"],
        (t0 + Duration::hours(3)).to_rfc3339(),
        "the session ends with the window"
    );
    let cookie = done.cookie();

    // The gate: the window's system passes (each request recorded), another system does not.
    let r = gw
        .send(
            at_gate("emr.clinic.example", "/admin/update", &cookie),
            PROXY,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = gw
        .send(at_gate("lab.clinic.example", "/", &cookie), PROXY)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Housekeeping records the opening; ending the window early records the closing and
    // ends the vendor's session.
    sekimori::app::housekeeping::run_once(&gw.state, clock.now())
        .await
        .unwrap();
    let closed = windows
        .close(&w.id, false, "wrong verb", "cli:it")
        .await
        .unwrap_err();
    assert!(closed.to_string().contains("end it instead"), "{closed}");
    windows
        .close(&w.id, true, "update finished early", "cli:it")
        .await
        .unwrap();
    let r = gw
        .send(at_gate("emr.clinic.example", "/", &cookie), PROXY)
        .await;
    assert_eq!(r.code(), "no_session", "{}", r.body);

    // The work report: approval, opening, sign-in, the request, closing, in order.
    let (_, vendor, rows) = windows.report(&w.id).await.unwrap();
    assert_eq!(vendor, "maint-co");
    let kinds: Vec<&str> = rows.iter().map(|r| r.event.kind.as_str()).collect();
    for k in [
        "maintenance_window_scheduled",
        "login_attempt",
        "maintenance_request",
        "maintenance_window_opened",
        "maintenance_window_closed",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    let request = rows
        .iter()
        .find(|r| r.event.kind.as_str() == "maintenance_request")
        .unwrap();
    assert_eq!(request.event.detail["path"], "/admin/update");
    let closing = rows.last().unwrap();
    assert_eq!(closing.event.detail["closed"], "ended_early");
    assert_eq!(closing.event.detail["sessions_ended"], 1);
    let csv = sekimori::vendor::report::csv(&w, &vendor, &rows, true).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("\u{feff}作業枠ID,連番,日時,種別"), "{csv}");
    assert!(
        csv.contains("保守作業中のリクエスト") && csv.contains("/admin/update"),
        "{csv}"
    );

    // A window not yet open can be cancelled; the closing is recorded once.
    let later = windows
        .add("maint-co", bad("emr", 24, 26), "cli:it")
        .await
        .unwrap();
    let c = windows
        .close(&later.id, false, "postponed", "cli:it")
        .await
        .unwrap();
    assert_eq!(c.state, sekimori::vendor::WindowState::Cancelled);
    assert_eq!(windows.announce(clock.now()).await.unwrap(), 0);
}

/// A vendor account's window through the real binary: the CLI approves it, a real nginx
/// passes requests during it, and the real gateway's housekeeping (every second here) ends
/// the session when it ends.
#[test]
fn a_window_from_the_cli_ends_a_session_behind_nginx() {
    let p = crate::process::Proxied::new("[accounts]\nhousekeeping_interval_seconds = 1\n");
    let (env, gw) = (&p.env, &p.gw);
    let _nginx = crate::nginx::start(
        p.dir.path(),
        p.port,
        &crate::nginx::conf(p.dir.path(), p.port, gw.port, p.upstream, true),
    );
    let first = crate::gateway::FIRST;
    let add = env.run(
        &[
            "user",
            "add",
            "cli-vendor",
            "--display-name",
            "保守 太郎",
            "--type",
            "vendor",
            "--role",
            "vendor",
            "--password-stdin",
        ],
        Some(format!("{first}\n").as_bytes()),
    );
    assert!(add.status.success(), "{}", text(&add));
    let from = (Utc::now() - Duration::minutes(1)).to_rfc3339();
    let to = (Utc::now() + Duration::seconds(12)).to_rfc3339();
    let o = env.run(
        &[
            "--lang",
            "ja",
            "vendor",
            "window",
            "add",
            "cli-vendor",
            "--system",
            "emr",
            "--from",
            &from,
            "--to",
            &to,
            "--reason",
            "ログ採取",
            "--approved-by",
            "院長",
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let id = text(&o)
        .split_whitespace()
        .find(|w| w.starts_with("mw-"))
        .unwrap()
        .to_owned();
    // First sign-in inside the window: new password, then a factor.
    let step = gw.post(
        "/api/v1/login",
        &[],
        &json!({"username": "cli-vendor", "password": first, "system": "emr"}),
    );
    let step = gw.post(
        "/api/v1/login",
        &[],
        &json!({"flow_id": step.json()["flow_id"], "new_password": PASSWORD}),
    );
    assert_eq!(
        step.json()["outcome"],
        "enrolment_required",
        "{}",
        step.body
    );
    let flow = step.json()["flow_id"].as_str().unwrap().to_owned();
    let begin = gw.post("/api/v1/factors/totp", &[], &json!({ "flow_id": flow }));
    let secret = begin.json()["secret"].as_str().unwrap().to_owned();
    let done = gw.post(
        "/api/v1/factors/totp/confirm",
        &[],
        &json!({"enrolment_id": begin.json()["enrolment_id"], "code": crate::totp::oathtool(&secret, Utc::now()), "flow_id": begin.json()["flow_id"]}),
    );
    assert_eq!(done.json()["outcome"], "authenticated", "{}", done.body);
    let cookie = done.cookie();
    let r = p.get("/records/today", &[("Cookie", &cookie)]);
    assert_eq!(r.status, 200, "{}", r.head);
    assert!(
        r.body
            .to_ascii_lowercase()
            .contains("remote-user: cli-vendor")
    );
    // After the window (and a housekeeping run): back to the login page.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = p.get("/records/today", &[("Cookie", &cookie)]);
        if r.status == 302 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the session outlived its window"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let o = env.run(&["vendor", "window", "list", "--json"], None);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["phase"], "over");
    // The closing is recorded by the next housekeeping run after the end.
    let report = p.dir.path().join("report.csv");
    let csv = loop {
        let o = env.run(
            &[
                "--lang",
                "ja",
                "vendor",
                "window",
                "report",
                &id,
                "-o",
                report.to_str().unwrap(),
            ],
            None,
        );
        assert!(o.status.success(), "{}", text(&o));
        let csv = std::fs::read_to_string(&report).unwrap();
        if csv.contains("保守作業枠の終了") || std::time::Instant::now() > deadline {
            break csv;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    for row in [
        "保守作業枠の登録",
        "保守作業枠の開始",
        "/records/today",
        "保守作業枠の終了",
    ] {
        assert!(csv.contains(row), "{row}: {csv}");
    }
    // Outside any window the vendor cannot even sign in.
    let r = gw.post(
        "/api/v1/login",
        &[],
        &json!({"username": "cli-vendor", "password": PASSWORD, "system": "emr"}),
    );
    assert_eq!(r.json()["error"]["code"], "denied", "{}", r.body);
}

/// PAM sign-ins of a vendor account on a server obey the same windows.
#[test]
fn pam_sign_ins_of_a_vendor_obey_the_windows() {
    crate::pam::require_root();
    let env = Env::new();
    std::fs::write(env.config_path(), env.config_toml(SYSTEMS)).unwrap();
    let gw = crate::process::Gateway::start(&env, &[]);
    let first = crate::gateway::FIRST;
    let add = env.run(
        &[
            "user",
            "add",
            "pam-vendor",
            "--display-name",
            "保守 花子",
            "--type",
            "vendor",
            "--role",
            "vendor",
            "--password-stdin",
        ],
        Some(format!("{first}\n").as_bytes()),
    );
    assert!(add.status.success(), "{}", text(&add));
    let window = |system: &str| {
        let from = (Utc::now() - Duration::minutes(1)).to_rfc3339();
        let to = (Utc::now() + Duration::hours(1)).to_rfc3339();
        let o = env.run(
            &[
                "vendor",
                "window",
                "add",
                "pam-vendor",
                "--system",
                system,
                "--from",
                &from,
                "--to",
                &to,
                "--reason",
                "kernel update",
                "--approved-by",
                "CISO",
            ],
            None,
        );
        assert!(o.status.success(), "{}", text(&o));
    };
    // A portal window to enrol the factor in.
    window("portal");
    let step = gw.post(
        "/api/v1/login",
        &[],
        &json!({"username": "pam-vendor", "password": first}),
    );
    let step = gw.post(
        "/api/v1/login",
        &[],
        &json!({"flow_id": step.json()["flow_id"], "new_password": PASSWORD}),
    );
    let flow = step.json()["flow_id"].as_str().unwrap().to_owned();
    let begin = gw.post("/api/v1/factors/totp", &[], &json!({ "flow_id": flow }));
    let secret = begin.json()["secret"].as_str().unwrap().to_owned();
    let enrolled = Utc::now();
    let done = gw.post(
        "/api/v1/factors/totp/confirm",
        &[],
        &json!({"enrolment_id": begin.json()["enrolment_id"], "code": crate::totp::oathtool(&secret, enrolled), "flow_id": begin.json()["flow_id"]}),
    );
    assert_eq!(done.json()["outcome"], "authenticated", "{}", done.body);

    let credential = crate::pam::register(&env, "srv-vendor", "server");
    let pam = crate::pam::PamService::new(
        "vendor",
        &format!("http://127.0.0.1:{}", gw.port),
        "srv-vendor",
        &credential,
        "second_factor",
    );
    let code = crate::totp::oathtool(&secret, enrolled + Duration::seconds(30));
    let (ok, said) = pam.authenticate("pam-vendor", &[&code]);
    assert!(!ok, "{said}");
    let export = env.run(&["audit", "export", "--format", "jsonl"], None);
    assert!(
        said.contains("Outside an approved maintenance window"),
        "{said}\n{}",
        String::from_utf8_lossy(&export.stdout)
    );
    window("srv-vendor");
    // The refused attempt spent nothing: the same step's code now signs in.
    let (ok, said) = pam.authenticate("pam-vendor", &[&code]);
    assert!(ok, "{said}");
    let export = env.run(&["audit", "export", "--format", "jsonl"], None);
    let log = String::from_utf8_lossy(&export.stdout);
    assert!(
        log.lines().any(|l| l.contains("\"channel\":\"pam\"")
            && l.contains("\"success\"")
            && l.contains("\"maintenance_window\":\"mw-")),
        "{log}"
    );
}

/// The same from the administrators' console: approve a window with the form (JST times),
/// see it listed in both languages, cancel it with a reason, download its report; set an
/// account's expiry and issue an emergency account's codes from its page.
#[tokio::test]
async fn the_console_manages_windows_expiry_and_break_glass_codes() {
    use crate::portal::{csrf, form_token, get, send};
    let env = Env::new();
    let clock = clock_at(2026, 12, 10);
    let gw = Gw::new(env.state_with_clock(SYSTEMS, clock.clone()).await);
    gw.user("maint-co", AccountType::Vendor, &["vendor"]).await;
    gw.user("it-lead", AccountType::Staff, &["it_admin"]).await;
    gw.user("glass-3", AccountType::Emergency, &["doctor"])
        .await;
    gw.user("intern", AccountType::Staff, &["nurse"]).await;
    let admin = gw.session("it-lead").await;
    let token = csrf(&gw).await;
    let post = |path: &str, body: &str| {
        Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("{admin}; sekimori_csrf={token}"))
            .body(Body::from(format!(
                "csrf={}&{body}",
                form_token(&token, Some(&admin))
            )))
            .unwrap()
    };
    let page = get(&gw, "/admin/vendors?lang=ja", &admin).await;
    assert!(
        page.html.contains("保守作業枠（ベンダー）")
            && page.html.contains(r#"<option value="maint-co">"#),
        "{}",
        page.html
    );
    // 2026-12-11 09:00-11:00 JST.
    let p = send(
        &gw,
        post(
            "/admin/vendors",
            "lang=en&account=maint-co&system=emr&from=2026-12-11T09%3A00&to=2026-12-11T11%3A00&reason=PACS+link+check&approved_by=CISO+Sato",
        ),
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let location = p.headers["location"].to_str().unwrap().to_owned();
    assert!(location.contains("done=mw-"), "{location}");
    let listed = gw.state.windows.list(Some("maint-co")).await.unwrap();
    assert_eq!(listed.len(), 1);
    let w = &listed[0].0;
    assert_eq!(w.starts_at.to_rfc3339(), "2026-12-11T00:00:00+00:00");
    let page = get(&gw, "/admin/vendors?lang=en", &admin).await;
    assert!(
        page.html.contains("PACS link check") && page.html.contains("Upcoming"),
        "{}",
        page.html
    );
    // Without a reason nothing is cancelled; with one it is.
    let p = send(
        &gw,
        post(
            &format!("/admin/vendors/{}/cancel", w.id),
            "lang=en&reason=",
        ),
    )
    .await;
    assert!(p.headers["location"].to_str().unwrap().contains("error="));
    let p = send(
        &gw,
        post(
            &format!("/admin/vendors/{}/cancel", w.id),
            "lang=en&reason=postponed",
        ),
    )
    .await;
    assert!(
        p.headers["location"].to_str().unwrap().contains("done="),
        "{:?}",
        p.headers
    );
    let page = get(&gw, "/admin/vendors?lang=ja", &admin).await;
    assert!(page.html.contains("取消"), "{}", page.html);
    let csv = get(
        &gw,
        &format!("/admin/vendors/{}/report.csv?lang=ja", w.id),
        &admin,
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.html.contains("保守作業枠の登録") && csv.html.contains("保守作業枠の終了"),
        "{}",
        csv.html
    );

    // An account's expiry from its page, and an emergency account's codes (shown once).
    let p = send(
        &gw,
        post(
            "/admin/accounts/intern/expiry",
            "lang=en&expires=2027-03-31&reason=residency+ends",
        ),
    )
    .await;
    assert!(
        p.headers["location"]
            .to_str()
            .unwrap()
            .contains("done=expiry"),
        "{:?}",
        p.headers
    );
    let intern = gw.state.admin.find("intern").await.unwrap();
    assert_eq!(
        intern.expires_at.unwrap().to_rfc3339(),
        "2027-03-30T15:00:00+00:00"
    );
    let page = get(&gw, "/admin/accounts/intern?lang=ja", &admin).await;
    assert!(
        page.html.contains("利用期限") && page.html.contains("2027-03-31"),
        "{}",
        page.html
    );
    let p = send(
        &gw,
        post(
            "/admin/accounts/glass-3/break-glass-codes",
            "lang=en&reason=new+envelope",
        ),
    )
    .await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.html.matches("<li><code>").count(), 10, "{}", p.html);
    assert_eq!(
        gw.state
            .emergency
            .codes_left(&gw.state.admin.find("glass-3").await.unwrap())
            .await
            .unwrap(),
        10
    );
    let p = send(
        &gw,
        post(
            "/admin/accounts/intern/break-glass-codes",
            "lang=en&reason=x",
        ),
    )
    .await;
    assert!(
        p.headers["location"].to_str().unwrap().contains("error="),
        "only for emergency accounts"
    );
}
