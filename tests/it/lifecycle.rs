//! Fixed-term and dormant accounts (G-17, checklist 2-⑤): an account with an expiry stops
//! signing in when the date comes and the housekeeping task disables it (reason `expired`,
//! sessions ended); dormant accounts are listed, and disabled when the configuration asks
//! (reason `dormant`, never service or emergency accounts); the yearly review is a CSV. On a
//! manual clock in-process, then against a real gateway whose housekeeping runs every second.

use chrono::{Duration, Utc};
use sekimori::account::{AccountStatus, AccountType, NewAccount, Role};
use sekimori::admin::InitialPassword;
use sekimori::clock::Clock as _;
use serde_json::json;

use crate::factors::clock_at;
use crate::gateway::{FIRST, Gw, PASSWORD};
use crate::support::{Env, text};

fn account(name: &str, kind: AccountType, expires: Option<chrono::DateTime<Utc>>) -> NewAccount {
    NewAccount {
        expires_at: expires,
        account_type: kind,
        roles: vec![Role::parse("nurse").unwrap()],
        ..crate::gateway_new_account(name)
    }
}

async fn create(gw: &Gw, new: NewAccount) {
    let name = new.login_name.clone();
    gw.state
        .admin
        .create(new, InitialPassword::Given(FIRST.into()), "cli:it")
        .await
        .unwrap();
    gw.state
        .admin
        .change_own_password(&name, &FIRST.into(), &PASSWORD.into())
        .await
        .unwrap();
}

#[tokio::test]
async fn fixed_term_accounts_end_on_their_date() {
    let env = Env::new();
    let clock = clock_at(2027, 3, 20);
    let gw = Gw::new(env.state_with_clock("", clock.clone()).await);
    let end = sekimori::config::systems::start_of_jst_day("2027-04-01").unwrap();
    create(&gw, account("resident", AccountType::Staff, Some(end))).await;
    let cookie = gw.session("resident").await;
    // An expiry in the past is refused at creation.
    let past = gw
        .state
        .admin
        .create(
            account("late", AccountType::Staff, Some(clock.now())),
            InitialPassword::Given(FIRST.into()),
            "t",
        )
        .await;
    assert!(past.is_err());

    // The date begins: the password no longer opens the account, even before the task runs
    // (the same answer as a wrong password).
    clock.set(end + Duration::minutes(1));
    let r = gw.login("resident", PASSWORD, "192.0.2.5").await;
    assert_eq!(r.code(), "invalid_credentials", "{}", r.body);
    let s = sekimori::app::housekeeping::run_once(&gw.state, clock.now())
        .await
        .unwrap();
    assert_eq!(s.expired, 1);
    let a = gw.state.admin.find("resident").await.unwrap();
    assert_eq!(a.status, AccountStatus::Disabled);
    let r = gw.call("GET", "/api/v1/session", &cookie, None).await;
    assert_eq!(r.code(), "no_session", "its sessions ended");
    let audit = gw.audit_kinds().await;
    assert!(audit.iter().any(|(k, s, d)| k == "account_disabled"
        && s == "resident"
        && d["reason"] == "expired"
        && d["sessions_ended"] == 1));
    // Disabled accounts are not touched again.
    let s = sekimori::app::housekeeping::run_once(&gw.state, clock.now())
        .await
        .unwrap();
    assert_eq!(s.expired, 0);
}

#[tokio::test]
async fn dormant_accounts_are_listed_and_disabled_when_asked() {
    let env = Env::new();
    // Accounts made and last used in August; "now" is December (the CLI's own clock too).
    let then = clock_at(2026, 8, 1);
    let extra = "[accounts]\ndisable_dormant = true\ndormant_after_days = 90\n";
    std::fs::write(env.config_path(), env.config_toml(extra)).unwrap();
    let old = Gw::new(env.state_with_clock(extra, then.clone()).await);
    for (name, kind) in [
        ("sleeper", AccountType::Staff),
        ("batch-job", AccountType::Service),
        ("glass-2", AccountType::Emergency),
    ] {
        create(&old, account(name, kind, None)).await;
    }
    create(&old, account("active-one", AccountType::Staff, None)).await;
    drop(old);
    let now = clock_at(2026, 12, 1);
    let gw = Gw::new(env.state_with_clock(extra, now.clone()).await);
    gw.session("active-one").await;

    let o = env.run(&["user", "list", "--dormant", "--json"], None);
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    for n in ["sleeper", "batch-job", "glass-2"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    assert!(!names.contains(&"active-one"));
    let o = env.run(
        &["--lang", "ja", "user", "list", "--dormant", "--days", "400"],
        None,
    );
    assert!(
        text(&o).contains("400日以上サインインのないアカウント"),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("sleeper"));

    let s = sekimori::app::housekeeping::run_once(&gw.state, now.now())
        .await
        .unwrap();
    assert_eq!(
        s.dormant, 1,
        "service and emergency accounts are never disabled this way"
    );
    let status = |n: &'static str| {
        let gw = &gw;
        async move { gw.state.admin.find(n).await.unwrap().status }
    };
    assert_eq!(status("sleeper").await, AccountStatus::Disabled);
    assert_eq!(status("batch-job").await, AccountStatus::Active);
    assert_eq!(status("glass-2").await, AccountStatus::Active);
    assert_eq!(status("active-one").await, AccountStatus::Active);
    assert!(
        gw.audit_kinds()
            .await
            .iter()
            .any(|(k, s, d)| k == "account_disabled" && s == "sleeper" && d["reason"] == "dormant")
    );

    // The yearly review lists every account, with creator and factors, in Japanese.
    let file = env.dir.path().join("review.csv");
    let o = env.run(
        &[
            "--lang",
            "ja",
            "user",
            "review",
            "-o",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(&file).unwrap();
    assert!(csv.starts_with("\u{feff}利用者ID,氏名,種別,状態"), "{csv}");
    let sleeper = csv.lines().find(|l| l.starts_with("sleeper,")).unwrap();
    assert!(
        sleeper.contains("無効") && sleeper.contains("cli:it"),
        "{sleeper}"
    );
    let glass = csv.lines().find(|l| l.starts_with("glass-2,")).unwrap();
    assert!(glass.contains("非常時用"), "{glass}");
}

/// The same against a real gateway process, its housekeeping every second.
#[test]
fn a_real_gateway_ends_expired_and_dormant_accounts_on_its_own() {
    let env = Env::new();
    let extra = "[accounts]\nhousekeeping_interval_seconds = 1\ndisable_dormant = true\n";
    std::fs::write(env.config_path(), env.config_toml(extra)).unwrap();
    {
        // A dormant account from long ago, in the same database.
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let old = Gw::new(env.state_with_clock(extra, clock_at(2026, 6, 1)).await);
            create(&old, account("long-gone", AccountType::Staff, None)).await;
        });
    }
    let gw = crate::process::Gateway::start(&env, &[]);
    let soon = (Utc::now() + Duration::seconds(4)).to_rfc3339();
    let add = env.run(
        &[
            "user",
            "add",
            "temp-staff",
            "--display-name",
            "臨時 職員",
            "--role",
            "clerk",
            "--expires",
            &soon,
            "--password-stdin",
        ],
        Some(format!("{FIRST}\n").as_bytes()),
    );
    assert!(add.status.success(), "{}", text(&add));
    let step = gw.post(
        "/api/v1/login",
        &[],
        &json!({"username": "temp-staff", "password": FIRST}),
    );
    let done = gw.post(
        "/api/v1/login",
        &[],
        &json!({"flow_id": step.json()["flow_id"], "new_password": PASSWORD}),
    );
    assert_eq!(done.json()["outcome"], "authenticated", "{}", done.body);
    let cookie = done.cookie();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = |name: &str| {
        let o = env.run(&["user", "show", name, "--json"], None);
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    while status("temp-staff") != "disabled" || status("long-gone") != "disabled" {
        assert!(
            std::time::Instant::now() < deadline,
            "housekeeping did not run"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let r = gw.get("/api/v1/session", &[("Cookie", &cookie)]);
    assert_eq!(r.status, 401, "the expired account's session ended");
    let export = env.run(&["audit", "export", "--format", "jsonl"], None);
    let log = String::from_utf8_lossy(&export.stdout);
    for (who, why) in [("temp-staff", "expired"), ("long-gone", "dormant")] {
        assert!(
            log.lines().any(|l| l.contains("\"account_disabled\"")
                && l.contains(&format!("\"subject\":\"{who}\""))
                && l.contains(&format!("\"reason\":\"{why}\""))
                && l.contains("system:housekeeping")),
            "{who}: {log}"
        );
    }
}
