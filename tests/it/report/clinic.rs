//! The seeded clinic the report is checked against: accounts of every type with their
//! factors and sign-ins, devices, vendor windows, exemptions and audit events at known days,
//! so that every figure of the report has one value the seed implies.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sekimori::account::{AccountType, NewAccount, Role};
use sekimori::admin::InitialPassword;
use sekimori::audit::{AuditEvent, EventKind, Outcome};
use sekimori::clock::{Clock as _, ManualClock, jst};
use sekimori::device::DeviceKind;
use sekimori::device::service::NewDevice;
use serde_json::json;

use crate::gateway::{FIRST, Gw, PASSWORD};
use crate::support::Env;

/// The seed's reference instant: now, so that the gateway process (on the system clock) sees
/// the same days.
pub(super) fn t0() -> DateTime<Utc> {
    Utc::now()
}

pub(super) fn jst_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&jst()).date_naive()
}

pub(super) fn day(t: DateTime<Utc>, days: i64) -> String {
    (jst_date(t) + Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// Systems with a two-factor exemption ending in 60 days (flagged), one ending in 200 days,
/// and a web system where enrolled factors are optional for 150 days; one access rule.
pub(super) fn extra(t0: DateTime<Utc>) -> String {
    format!(
        r#"
[systems.emr]
kind = "web"
hosts = ["emr.clinic.example"]
enrolled_factors_optional_until = "{optional}"
enrolled_factors_optional_reason = "旧電子カルテに二要素の画面がない"
enrolled_factors_optional_approved_by = "院長 山田"
[systems.reception-pc]
kind = "terminal"
exemption_until = "{soon}"
exemption_reason = "端末の更新まで"
exemption_approved_by = "情報セキュリティ責任者 佐藤"
[systems.pacs]
kind = "server"
exemption_until = "{later}"
exemption_reason = "次期システム更新まで"
exemption_approved_by = "情報セキュリティ責任者 佐藤"
[[access.rules]]
hosts = ["emr.clinic.example"]
paths = ["/admin"]
roles = ["it_admin"]
policy = "two_factor"
"#,
        soon = day(t0, 60),
        later = day(t0, 200),
        optional = day(t0, 150),
    )
}

pub(super) struct Seed {
    pub(super) env: Env,
    pub(super) clock: Arc<ManualClock>,
    /// The auditor's TOTP key, for the browser.
    pub(super) auditor_secret: String,
}

pub(super) fn new_account(name: &str, kind: AccountType, roles: &[&str]) -> NewAccount {
    NewAccount {
        display_name: format!("{name} 太郎"),
        account_type: kind,
        roles: roles.iter().map(|r| Role::parse(r).unwrap()).collect(),
        ..crate::gateway_new_account(name)
    }
}

pub(super) async fn create(gw: &Gw, new: NewAccount) -> sekimori::account::Account {
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
    gw.state.admin.find(&name).await.unwrap()
}

pub(super) async fn factor(gw: &Gw, a: &sekimori::account::Account, kind: &str, at: DateTime<Utc>) {
    gw.state
        .stores
        .factors
        .add_factor(a.id, kind, "seed", b"not a real secret", at)
        .await
        .unwrap();
}

pub(super) async fn signed_in(gw: &Gw, a: &sekimori::account::Account, at: DateTime<Utc>) {
    gw.state
        .stores
        .accounts
        .touch_last_login(a.id, at)
        .await
        .unwrap();
}

pub(super) async fn record(gw: &Gw, clock: &ManualClock, at: DateTime<Utc>, e: AuditEvent) {
    let now = clock.now();
    clock.set(at);
    gw.state.auditor.record(e).await.unwrap();
    clock.set(now);
}

/// The clinic: eleven accounts of every type, five devices, a vendor window, sign-ins and
/// failures over forty days, a password reset, a checkpoint.
pub(super) async fn seed() -> Seed {
    let env = Env::new();
    let t0 = t0();
    std::fs::write(env.config_path(), env.config_toml(&extra(t0))).unwrap();
    let clock = Arc::new(ManualClock::new(t0 - Duration::days(200)));
    let gw = Gw::new(env.state_with_clock(&extra(t0), clock.clone()).await);
    let recent = t0 - Duration::days(1);

    let kango_a = create(&gw, new_account("kango-a", AccountType::Staff, &["nurse"])).await;
    let kango_b = create(&gw, new_account("kango-b", AccountType::Staff, &["nurse"])).await;
    let jimu_c = create(&gw, new_account("jimu-c", AccountType::Staff, &["clerk"])).await;
    let ishi_d = create(&gw, new_account("ishi-d", AccountType::Staff, &["doctor"])).await;
    let mut kenshu = new_account("kenshu-e", AccountType::Staff, &["doctor"]);
    kenshu.second_factor_required = true;
    kenshu.expires_at = Some(t0 + Duration::days(30));
    let kenshu_e = create(&gw, kenshu).await;
    let kanri = create(&gw, new_account("kanri", AccountType::Admin, &["it_admin"])).await;
    let ishi_kanri = create(
        &gw,
        new_account("ishi-kanri", AccountType::Staff, &["doctor", "it_admin"]),
    )
    .await;
    create(&gw, new_account("hoshu", AccountType::Vendor, &["vendor"])).await;
    let kinkyu = create(
        &gw,
        new_account("kinkyu", AccountType::Emergency, &["doctor"]),
    )
    .await;
    create(&gw, new_account("kansa", AccountType::Staff, &["auditor"])).await;
    create(&gw, new_account("taishoku", AccountType::Staff, &["nurse"])).await;
    gw.state
        .admin
        .disable("taishoku", "退職", "cli:it")
        .await
        .unwrap();
    gw.state
        .emergency
        .issue_codes(&kinkyu, "封筒に保管", "cli:it")
        .await
        .unwrap();

    factor(&gw, &kango_a, "totp", t0 - Duration::days(100)).await;
    factor(&gw, &kango_b, "webauthn", t0 - Duration::days(10)).await;
    factor(&gw, &kanri, "totp", t0 - Duration::days(150)).await;
    factor(&gw, &ishi_kanri, "totp", t0 - Duration::days(40)).await;
    for a in [&kango_a, &kango_b, &jimu_c, &kenshu_e, &kanri, &ishi_kanri] {
        signed_in(&gw, a, recent).await;
    }
    signed_in(&gw, &ishi_d, t0 - Duration::days(120)).await;

    // Devices: one complete and heard from, a server without owner silent for 40 days, a
    // switch without owner or location (never heard from: network devices never are), a
    // terminal never heard from, a disabled one.
    let add = |name: &str, kind, owner: &str, location: &str| NewDevice {
        name: name.into(),
        kind,
        owner: owner.into(),
        location: location.into(),
    };
    let (uketsuke, _) = gw
        .state
        .devices
        .add(
            add("uketsuke-pc", DeviceKind::Terminal, "受付 田中", "1階受付"),
            "cli:it",
        )
        .await
        .unwrap();
    let (karte, _) = gw
        .state
        .devices
        .add(
            add("karte-sv", DeviceKind::Server, "", "サーバー室"),
            "cli:it",
        )
        .await
        .unwrap();
    gw.state
        .devices
        .add(add("core-switch", DeviceKind::Network, "", ""), "cli:it")
        .await
        .unwrap();
    gw.state
        .devices
        .add(
            add("byoto-pc", DeviceKind::Terminal, "看護部", "3階病棟"),
            "cli:it",
        )
        .await
        .unwrap();
    gw.state
        .devices
        .add(
            add("old-pc", DeviceKind::Terminal, "総務", "倉庫"),
            "cli:it",
        )
        .await
        .unwrap();
    gw.state
        .devices
        .disable("old-pc", "廃棄", "cli:it")
        .await
        .unwrap();
    let devices = &gw.state.stores.devices;
    devices.touch_device(uketsuke.id, recent).await.unwrap();
    devices
        .touch_device(karte.id, t0 - Duration::days(40))
        .await
        .unwrap();

    clock.set(t0 - Duration::days(5));
    let (_, one_time) = gw
        .state
        .admin
        .reset_password(
            "jimu-c",
            InitialPassword::Generate,
            "本人が窓口で身分証を提示",
            "cli:it",
        )
        .await
        .unwrap();
    gw.state
        .admin
        .change_own_password(
            "jimu-c",
            &one_time.unwrap(),
            &"meadow-copper-71-lantern-quiet".into(),
        )
        .await
        .unwrap();
    let start = t0 - Duration::days(3);
    gw.state
        .windows
        .add(
            "hoshu",
            sekimori::vendor::NewWindow {
                system: "emr".into(),
                starts_at: start,
                ends_at: start + Duration::hours(2),
                reason: "定期保守".into(),
                approved_by: "院長 山田".into(),
            },
            "cli:it",
        )
        .await
        .unwrap();
    clock.set(t0);

    // Sign-ins: web 2 of 3 with a second factor, terminal 2 of 2, server 0 of 1.
    let facility = gw.state.config.facility.id.clone();
    let sign_in = |system: &str, amr: &[&str], zone: &str| {
        AuditEvent::new(facility.clone(), EventKind::LoginAttempt, Outcome::Success)
            .subject("kango-a")
            .detail("zone", zone)
            .detail("system", system)
            .detail(
                "amr",
                amr.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            )
    };
    for (system, amr) in [
        ("emr", &["pwd", "otp"][..]),
        ("emr", &["pwd", "hwk"][..]),
        ("emr", &["pwd"][..]),
        ("device:uketsuke-pc", &["pwd", "otp"][..]),
        ("reception-pc", &["pwd", "otp"][..]),
        ("pacs", &["pwd"][..]),
    ] {
        record(
            &gw,
            &clock,
            t0 - Duration::hours(2),
            sign_in(system, amr, "trusted"),
        )
        .await;
    }
    // Failures and locks: yesterday 3 outside + 1 clinic + a lock outside; today 2 clinic;
    // 40 days ago 5 (outside the 30 days).
    let failure = |zone: &str| {
        let mut e = AuditEvent::new(facility.clone(), EventKind::LoginAttempt, Outcome::Failure)
            .subject("jimu-c")
            .detail("zone", zone)
            .detail("reason", "invalid_credentials")
            .detail("system", "emr")
            .detail("admin_unlock_required", false);
        e.ip = Some(
            if zone == "trusted" {
                "10.0.1.23"
            } else {
                "203.0.113.9"
            }
            .into(),
        );
        e
    };
    let lock = AuditEvent::new(facility.clone(), EventKind::AccountLocked, Outcome::Info)
        .subject("jimu-c")
        .detail("zone", "external");
    for (at, e) in [
        (recent, failure("external")),
        (recent, failure("external")),
        (recent, failure("external")),
        (recent, failure("trusted")),
        (recent, lock),
        (t0 - Duration::minutes(5), failure("trusted")),
        (t0 - Duration::minutes(4), failure("trusted")),
    ] {
        record(&gw, &clock, at, e).await;
    }
    for _ in 0..5 {
        record(&gw, &clock, t0 - Duration::days(40), failure("external")).await;
    }

    // The auditor enrols an authenticator app for real (the browser signs in with it).
    let cookie = gw.session("kansa").await;
    let e = gw.call("POST", "/api/v1/factors/totp", &cookie, None).await;
    let secret = e.body["secret"].as_str().unwrap().to_owned();
    let confirm = gw
        .call(
            "POST",
            "/api/v1/factors/totp/confirm",
            &cookie,
            Some(json!({
                "enrolment_id": e.body["enrolment_id"],
                "code": crate::totp::oathtool(&secret, clock.now()),
                "label": "phone",
            })),
        )
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    gw.state
        .signer
        .as_ref()
        .unwrap()
        .sign_now(clock.now())
        .await
        .unwrap();
    gw.state.close().await;
    Seed {
        env,
        clock,
        auditor_secret: secret,
    }
}
